"""The JSON API's reading side of a case's records: documents, the caller's notifications, registers and
statistics. Thin like service/web/api.py (same credentials, errors and paging): parse, call the service the
pages call, answer. Described in service/web/openapi.py."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request, url_for

from ..auth import Principal
from ..errors import Forbidden, Invalid, NotFound
from ..reports import may_read
from . import services
from .api import authenticate, int_arg, page_json
from .reports import read_filters

api_records = Blueprint("api_records", __name__, url_prefix="/api/v1")

FORMATS = ("pdf", "docx")
YEARS = {"minimum": 1900, "maximum": 9999}
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


# ---------------------------------------------------------------------------- documents

def _with_links(doc: dict[str, Any]) -> dict[str, Any]:
    links = {fmt: url_for("api_records.document_file", case_id=doc["case_id"], document_id=doc["id"], fmt=fmt)
             for fmt in FORMATS}
    return {**doc, "links": links}


@api_records.get("/cases/<int:case_id>/documents")
def documents(case_id: int):
    """The documents of a case the caller may read: staff who see the case all, a respondent their own (their
    decision once served); a case the caller may not see is 404."""
    items = services().cases.documents(authenticate(), case_id)
    return jsonify({"case_id": case_id, "items": [_with_links(d) for d in items]})


@api_records.get("/cases/<int:case_id>/documents/<int:document_id>")
def document(case_id: int, document_id: int):
    found = [d for d in services().cases.documents(authenticate(), case_id) if d["id"] == document_id]
    if not found:
        raise NotFound(f"document {document_id} does not exist")
    return jsonify(_with_links(found[0]))


@api_records.get("/cases/<int:case_id>/documents/<int:document_id>.<fmt>")
def document_file(case_id: int, document_id: int, fmt: str):
    """The file itself, as PDF or Word; 404 for anyone who may not read it (whether it exists or not)."""
    principal = authenticate()
    if fmt not in FORMATS:
        raise Invalid(f"no document format {fmt!r}: ask for .pdf or .docx", {"format": "请选择 pdf 或 docx"})
    name, content_type, content = services().cases.document_file(principal, case_id, document_id, fmt)
    ascii_name = f"document-{document_id}.{fmt}"  # for clients that do not read filename*
    return Response(content, mimetype=content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


# ---------------------------------------------------------------------------- notifications

def _flag(name: str) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if raw in TRUE:
        return True
    if raw in FALSE or raw == "":
        return False
    raise Invalid(f"{name} must be true or false", {name: "应为 true 或 false"})


@api_records.get("/notifications")
def notifications():
    """The caller's own notifications, newest first; ``unread`` counts all unread ones, whatever the filter."""
    principal = authenticate()
    svc = services().notifications
    page = svc.list(principal, unread_only=_flag("unread"), page=int_arg("page", 1), per_page=int_arg("per_page", 50),
                    cursor=request.args.get("cursor") or None)
    return jsonify({**page_json(page), "unread": svc.unread(principal)})


@api_records.post("/notifications/<int:notification_id>/read")
def notification_read(notification_id: int):
    """Mark one of the caller's notifications read (again: no change); someone else's is 404."""
    principal = authenticate()
    svc = services().notifications
    svc.mark_read(principal, notification_id)
    return jsonify({"id": notification_id, "read": True, "unread": svc.unread(principal)})


@api_records.post("/notifications/read-all")
def notifications_read_all():
    principal = authenticate()
    svc = services().notifications
    marked = svc.mark_read(principal)
    return jsonify({"marked": marked, "unread": svc.unread(principal)})


# ---------------------------------------------------------------------------- registers and statistics

def _reader() -> Principal:
    """The caller, if they may read the registers and statistics (as /reports: office, leading group, reviewers)."""
    principal = authenticate()
    if not may_read(principal):
        raise Forbidden("the registers and statistics are for the office, the leading group and reviewers")
    return principal


def _filters(principal: Principal) -> tuple[Any, dict[str, Any]]:
    """The filters of /reports (year, channel, unit, from, to), checked as the page checks them."""
    svc = services().reports
    f, errors = read_filters(svc.choices(principal), svc.this_year())
    if errors:
        raise Invalid("the filters have errors", errors)
    echo = {"year": f.year, "channel": f.channel, "unit": f.unit,
            "from": f.received_from.isoformat() if f.received_from else None,
            "to": f.received_to.isoformat() if f.received_to else None}
    return f, echo


def _year() -> int:
    return int_arg("year", services().reports.this_year(), **YEARS)


@api_records.get("/reports/filters")
def report_filters():
    """What the filters offer: the years with cases (and this year), the channels and the units."""
    return jsonify(services().reports.choices(_reader()))


@api_records.get("/reports/statistics")
def report_statistics():
    principal = _reader()
    f, echo = _filters(principal)
    return jsonify({"filters": echo, **services().reports.statistics(principal, f)})


@api_records.get("/reports/compliance")
def report_compliance():
    principal = _reader()
    f, echo = _filters(principal)
    return jsonify({"filters": echo, **services().reports.compliance(principal, f)})


@api_records.get("/reports/register")
def report_register():
    """The Art. 15 register of one year (the year the decision was served)."""
    principal = _reader()
    year = _year()
    return jsonify({"year": year, "items": services().cases.disqualifications(principal, year)})


@api_records.get("/reports/watch-list")
def report_watch_list():
    """Art. 11(3): the persons one error short of the count that aggravates, or at it. Reviewers get the number of
    persons only (``hidden``), as on the page."""
    principal = _reader()
    return jsonify(services().reports.watch_list(principal, _year()))
