"""JSON API under /api/v1, with HTTP Basic credentials of a user. Thin: parse, call the service, answer."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from ..auth import Principal, VerifiedCredentials
from ..errors import Invalid, ServiceError, Unauthenticated
from ..store.repository import Store
from . import limiter, services
from .inputs import INT_MAX, json_object, optional_number
from .openapi import OPENAPI

api = Blueprint("api", __name__, url_prefix="/api/v1")
_credentials = VerifiedCredentials()


def authenticate() -> Principal:
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise Unauthenticated("log in with HTTP Basic credentials (username and password)")
    services().logins.refuse_if_throttled(auth.username, request.remote_addr)
    with services().db.session() as s:
        user = Store(s).user(auth.username)
        if user is not None and user.active and _credentials.remembered(user.username, auth.password or "",
                                                                        user.password_hash):
            return Principal(user.username, frozenset(user.roles), user.display_name, user.unit)
    # a full check: throttled per account and address, constant time for unknown accounts
    principal = services().logins.check(auth.username, auth.password or "", request.remote_addr)
    with services().db.session() as s:
        user = Store(s).user(principal.username)
        _credentials.remember(principal.username, auth.password or "", user.password_hash)
    return principal


def body() -> dict[str, Any]:
    """The JSON object sent: bounded in size and depth, its text free of NUL bytes and lone surrogates."""
    return json_object()


def int_arg(name: str, default: int | None = None, minimum: int = 1, maximum: int = INT_MAX) -> int | None:
    return optional_number(name, default, minimum=minimum, maximum=maximum)


def page_json(page) -> dict[str, Any]:
    return {"items": page.items, "total": page.total, "page": page.page, "per_page": page.per_page,
            "total_capped": page.total_capped, "next_cursor": page.next_cursor}


@api.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


@api.post("/cases")
def start_case():
    principal = authenticate()
    result = services().cases.start_case(principal, body())
    response = jsonify(result)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/cases/{result['id']}"
    return response


def _complaint_limit() -> str:
    return current_app.config["COMPLAINT_RATE_LIMIT"]


@api.post("/complaints")
@limiter.limit(_complaint_limit)
def complaint():
    """The public channel: no login; the reporter's identity is stored for the office only."""
    data = body()
    allowed = {"officer", "unit", "summary", "act_date", "reporter", "grounds"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise Invalid("the complaint has errors", {k: "表单中没有此字段" for k in unknown})
    result = services().cases.start_case(None, data)
    return jsonify({"receipt_code": result["receipt_code"],
                    "message": "举报已收到。请保存回执号，查询时提供。"}), 201


@api.get("/tasks")
def list_tasks():
    principal = authenticate()
    filters = {k: request.args.get(k) for k in ("name", "channel", "role", "claimed") if request.args.get(k)}
    if request.args.get("case_id"):
        filters["case_id"] = int_arg("case_id")
    if request.args.get("overdue") in ("1", "true", "yes"):
        filters["overdue"] = True
    sort = request.args.get("sort", "due")
    if sort not in ("due", "created", "case"):
        raise ServiceError("sort must be due, created or case", {"sort": "请从 due、created、case 中选择"})
    page = services().cases.list_tasks(principal, filters=filters, page=int_arg("page", 1),
                                       per_page=int_arg("per_page", 50), sort=sort,
                                       cursor=request.args.get("cursor") or None)
    return jsonify(page_json(page))


@api.get("/tasks/<task_id>")
def get_task(task_id: str):
    return jsonify(services().cases.get_task(authenticate(), task_id))


@api.post("/tasks/<task_id>/claim")
def claim(task_id: str):
    return jsonify(services().cases.claim(authenticate(), task_id))


@api.post("/tasks/<task_id>/release")
def release(task_id: str):
    return jsonify(services().cases.release(authenticate(), task_id))


@api.post("/tasks/<task_id>/complete")
def complete(task_id: str):
    principal = authenticate()
    payload = body()
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ServiceError('send {"data": {...}} with the form fields', {"data": "应为一个对象（字段名和值）"})
    return jsonify(services().cases.complete(principal, task_id, data))


@api.get("/cases/<int:case_id>")
def get_case(case_id: int):
    return jsonify(services().cases.get_case(authenticate(), case_id))


@api.get("/cases")
def list_cases():
    principal = authenticate()
    filters = {k: request.args.get(k) for k in ("status", "channel", "unit", "subject") if request.args.get(k)}
    if request.args.get("year"):
        filters["year"] = int_arg("year", minimum=1900, maximum=9999)
    page = services().cases.list_cases(principal, filters=filters, search=request.args.get("q") or None,
                                       page=int_arg("page", 1), per_page=int_arg("per_page", 50),
                                       cursor=request.args.get("cursor") or None)
    return jsonify(page_json(page))


@api.post("/decisions/<decision_id>/evaluate")
def evaluate(decision_id: str):
    principal = authenticate()
    payload = body()
    inputs = payload.get("inputs", payload)
    if not isinstance(inputs, dict):
        raise ServiceError('send {"inputs": {...}}', {"inputs": "应为一个对象（输入名和值）"})
    return jsonify(services().cases.evaluate_decision(principal, decision_id, inputs))


@api.get("/disqualifications")
def disqualifications():
    principal = authenticate()
    year = int_arg("year", minimum=1900, maximum=9999)
    return jsonify({"items": services().cases.disqualifications(principal, year)})
