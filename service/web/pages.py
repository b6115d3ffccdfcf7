"""The staff inbox in the browser: login, inbox, task pages, case pages, case list, public report page.

Views are thin: they read the request, call the service layer and render a template."""
from __future__ import annotations

from functools import wraps
from typing import Any
from urllib.parse import urlparse

from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..auth import ROLE_NAMES, Principal, verify_password
from ..errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from ..store.repository import Store
from . import csv_response, limiter, page_arg, services
from .formdata import NULL, ROW_SLOTS, fields_of, raw_from_data, raw_from_request, typed

pages = Blueprint("pages", __name__)

LANGUAGES = {"zh_CN": "中文", "en": "English"}


def channels() -> dict[str, str]:
    """Channel codes and their labels, from the deployed intake form (owners edit them there)."""
    deployments = services().deployments
    schema = deployments.engine(deployments.current()).forms.schema("intake")
    return {c["const"]: c.get("title", c["const"]) for c in schema["properties"]["channel"].get("oneOf", [])}


def principal() -> Principal:
    return current_user.principal


def staff_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not principal().is_staff:
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def _safe_next(target: str | None) -> str:
    if target and not urlparse(target).netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.inbox")


# ====================================================================== login

@pages.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    from . import WebUser
    error = None
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        with services().db.session() as s:
            user = Store(s).user(username)
            ok = user is not None and user.active and verify_password(user.password_hash,
                                                                         request.form.get("password", ""))
            if ok:
                web_user = WebUser(Principal(user.username, frozenset(user.roles), user.display_name, user.unit))
        if ok:
            session.clear()
            session.permanent = True
            login_user(web_user)
            return redirect(_safe_next(request.args.get("next")))
        error = _("用户名或密码不正确。")
    return render_template("login.html", error=error, username=username), (401 if error else 200)


@pages.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("pages.login"))


@pages.get("/lang/<code>")
def language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


# ====================================================================== inbox

@pages.get("/")
@login_required
def inbox():
    p = principal()
    filters = {k: request.args[k] for k in ("name", "channel") if request.args.get(k)}
    if request.args.get("overdue"):
        filters["overdue"] = True
    sort = request.args.get("sort") if request.args.get("sort") in ("due", "created", "case") else "due"
    page = page_arg()
    svc = services().cases
    mine = svc.list_tasks(p, filters={**filters, "claimed": None}, page=1, per_page=500, sort=sort)
    personal = [t for t in mine.items if t["assignee"] == p.username or t["claimed_by"] == p.username]
    group_page = svc.list_tasks(p, filters={**filters, "claimed": "none"}, page=page, per_page=25, sort=sort)
    group = [t for t in group_page.items if t["assignee"] is None]
    for t in personal + group:
        t["due_state"] = _due_state(t)
    deployments = services().deployments
    task_names = deployments.engine(deployments.current()).user_task_titles()
    return render_template("inbox.html", personal=personal, group=group, group_page=group_page,
                           filters=request.args, task_names=task_names, channels=channels(), sort=sort)


def _due_state(task: dict[str, Any]) -> str:
    import datetime as dt
    if not task.get("due"):
        return ""
    left = dt.datetime.fromisoformat(task["due"]) - dt.datetime.now(dt.timezone.utc)
    return "overdue" if left.total_seconds() < 0 else ("soon" if left < dt.timedelta(days=3) else "")


@pages.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    return _claim_or_release(task_id, claim=True)


@pages.post("/tasks/<task_id>/release")
@login_required
def release(task_id: str):
    return _claim_or_release(task_id, claim=False)


def _claim_or_release(task_id: str, claim: bool):
    svc = services().cases
    try:
        (svc.claim if claim else svc.release)(principal(), task_id)
        flash(_("已领取任务。") if claim else _("已退回任务，组内其他人可以领取。"), "success")
    except ServiceError as exc:
        reason = _reason(exc)
        flash(_("无法领取：%(reason)s", reason=reason) if claim else _("无法退回：%(reason)s", reason=reason),
              "error")
    return redirect(_safe_next(request.form.get("next")))


def _reason(exc: ServiceError) -> str:
    if isinstance(exc, Conflict):
        return _("任务已被他人领取或已办结")
    if isinstance(exc, Forbidden):
        return _("这不是您的任务")
    if isinstance(exc, NotFound):
        return _("任务不存在")
    return exc.message


# ====================================================================== task page

@pages.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str):
    p = principal()
    svc = services().cases
    try:
        info = svc.get_task(p, task_id)
    except NotFound:
        abort(404)
    schema = info.get("form") or {"properties": {}}
    fields = fields_of(schema)
    errors: dict[str, str] = {}
    notice = None
    if request.method == "POST" and info["state"] == "open":
        raw = raw_from_request(fields, request.form)
        data, errors = typed(fields, raw)
        uploads = [f for f in request.files.getlist("evidence_files") if f and f.filename]
        if request.form.get("action") == "draft":
            svc.save_draft(p, task_id, raw)
            notice = _("草稿已保存。")
        elif not errors:
            try:
                names = [svc.add_attachment(p, task_id, f.filename, f.mimetype, f.read())["filename"]
                         for f in uploads]
                if names and "evidence" in schema.get("properties", {}):
                    data["evidence"] = list(data.get("evidence", [])) + [f"附件：{n}" for n in names]
                svc.complete(p, task_id, data)
                flash(_("已办结“%(title)s”（案件 %(case)s）。", title=info["title"], case=info["case_id"]), "success")
                return redirect(url_for("pages.inbox"))
            except Invalid as exc:
                errors = {k or "_form": v for k, v in exc.fields.items()} or {"_form": exc.message}
            except (Conflict, Forbidden) as exc:
                errors = {"_form": _reason(exc)}
    else:
        raw = svc.draft(p, task_id) or raw_from_data(fields, info.get("data") or {})
    show_decisions = bool(info.get("case", {}).get("outcome")) and p.is_staff
    tables = svc.decision_tables(info["case_id"]) if show_decisions else {}
    traces = svc.traces(p, info["case_id"]) if show_decisions else []
    status = 422 if errors and request.method == "POST" else 200
    return render_template("task.html", task=info, fields=fields, raw=raw, errors=errors, notice=notice,
                           schema=schema, null=NULL, row_slots=ROW_SLOTS, channels=channels(),
                           traces=traces, tables=tables, can_act=_can_act(p, info)), status


def _can_act(p: Principal, info: dict[str, Any]) -> bool:
    if info["state"] != "open":
        return False
    mine = info["assignee"] == p.username or (info["assignee"] is None and info["role"] in p.roles)
    return mine and info["claimed_by"] in (None, p.username)


# ====================================================================== cases

@pages.get("/cases")
@login_required
@staff_required
def cases():
    p = principal()
    filters: dict[str, Any] = {k: request.args[k] for k in ("status", "channel", "unit", "subject")
                               if request.args.get(k)}
    if request.args.get("year", "").isdigit():
        filters["year"] = int(request.args["year"])
    search = request.args.get("q") or None
    svc = services().cases
    if request.args.get("format") == "csv":
        result = svc.list_cases(p, filters=filters, search=search, page=1, per_page=500)
        labels = channels()
        return csv_response("cases.csv", ["案件编号", "来源渠道", "被追究人员", "单位", "过错年度", "状态", "当前环节",
                                          "结案方式", "责任档次", "处理措施", "依据"], (
            [c["id"], labels.get(c["channel"], c["channel"]), c["subject"], c["unit"], c["year"],
             "已结案" if c["status"] == "closed" else "办理中", c["stage"], c["end_event"] or "",
             (c.get("outcome") or {}).get("tier") or "", (c.get("outcome") or {}).get("measure") or "",
             "；".join((c.get("outcome") or {}).get("citations", []))] for c in result.items))
    page = page_arg()
    result = svc.list_cases(p, filters=filters, search=search, page=page, per_page=25)
    return render_template("cases.html", page=result, filters=request.args, channels=channels())


@pages.get("/cases/<int:case_id>")
@login_required
def case(case_id: int):
    p = principal()
    svc = services().cases
    try:
        view = svc.get_case(p, case_id)
    except NotFound:
        abort(404)
    tables = svc.decision_tables(case_id) if p.is_staff else {}
    files = svc.attachments(p, case_id)
    return render_template("case.html", case=view, tables=tables, files=files, channels=channels(),
                           role_names=ROLE_NAMES)


@pages.get("/cases/<int:case_id>/diagram.json")
@login_required
@staff_required
def case_diagram(case_id: int):
    try:
        return jsonify(services().cases.case_diagram(principal(), case_id))
    except NotFound:
        abort(404)


@pages.get("/files/<int:file_id>")
@login_required
@staff_required
def attachment(file_id: int):
    try:
        name, content_type, content = services().cases.attachment(principal(), file_id)
    except NotFound:
        abort(404)
    from urllib.parse import quote
    return Response(content, mimetype=content_type,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-Type-Options": "nosniff"})


# ====================================================================== Art. 15 register

@pages.get("/register")
@login_required
@staff_required
def register():
    year = int(request.args["year"]) if request.args.get("year", "").isdigit() else None
    everything = services().cases.disqualifications(principal(), None)
    rows = [r for r in everything if year is None or r["year"] == year]
    if request.args.get("format") == "csv":
        return csv_response("article15-register.csv", ["年度", "类别", "名称", "案件编号"], (
            [r["year"], "人员" if r["kind"] == "person" else "科室或单位", r["name"], r["case_id"]] for r in rows))
    years = sorted({r["year"] for r in everything}, reverse=True)
    return render_template("register.html", rows=rows, year=year, years=years)


# ====================================================================== public complaint

REPORT_FIELDS = ("officer", "unit", "act_date", "summary", "reporter_name", "reporter_contact")


def _complaint_limit() -> str:
    return current_app.config["COMPLAINT_RATE_LIMIT"]


@pages.route("/report", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def report():
    raw = {k: request.form.get(k, "").strip() for k in REPORT_FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        data: dict[str, Any] = {k: raw[k] for k in ("officer", "unit", "act_date", "summary") if raw[k]}
        if raw["reporter_name"] or raw["reporter_contact"]:
            data["reporter"] = {k: v for k, v in (("name", raw["reporter_name"]),
                                                  ("contact", raw["reporter_contact"])) if v}
        try:
            result = services().cases.start_case(None, data)
            return render_template("report_done.html", code=result["receipt_code"])
        except Invalid as exc:
            errors = {("reporter_name" if k.startswith("reporter") else k): v for k, v in exc.fields.items()}
    return render_template("report.html", raw=raw, errors=errors), (422 if errors else 200)
