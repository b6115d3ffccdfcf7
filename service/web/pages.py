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

from .timefmt import local_time
from ..auth import ROLE_NAMES, Principal
from ..deployments import VersionUnavailable
from ..errors import Conflict, Forbidden, Invalid, NotFound, ServiceError, TooManyAttempts, Unauthenticated
from ..store.repository import Store
from . import csv_response, limiter, page_arg, services
from .formdata import NULL, ROW_SLOTS, fields_of, raw_from_data, raw_from_request, shown, typed

pages = Blueprint("pages", __name__)

LANGUAGES = {"zh_CN": "中文", "en": "English"}


def channels() -> dict[str, str]:
    """Channel codes and their labels, from the deployed intake form (owners edit them there)."""
    deployments = services().deployments
    schema = deployments.reference_engine().forms.schema("intake")  # the live version's, or the newest loadable
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
def login():
    from . import WebUser
    error, status = None, 200
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        try:
            principal = services().logins.check(username, request.form.get("password", ""), request.remote_addr)
        except TooManyAttempts:
            error, status = _("登录失败次数过多，请 15 分钟后再试。"), 429
        except Unauthenticated:
            error, status = _("用户名或密码不正确。"), 401
        else:
            session.clear()
            session.permanent = True
            session["sid"] = services().logins.open_session(principal.username)
            login_user(WebUser(principal))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, username=username), status


@pages.post("/logout")
@login_required
def logout():
    services().logins.close_session(session.get("sid"))  # the cookie stops working everywhere it was copied
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
    svc = services().cases
    # two lists, each read a page at a time in the order of its index: never the whole queue
    mine_page = svc.list_tasks(p, filters=filters, page=page_arg("mine"), per_page=25, sort=sort, scope="personal")
    group_page = svc.list_tasks(p, filters=filters, page=page_arg(), per_page=25, sort=sort, scope="group")
    personal, group = mine_page.items, group_page.items
    for t in personal + group:
        t["due_state"] = _due_state(t)
    deployments = services().deployments
    task_names = deployments.reference_engine().user_task_titles()
    return render_template("inbox.html", personal=personal, group=group, group_page=group_page,
                           mine_page=mine_page, mine_url=_page_url("pages.inbox", "mine"),
                           group_url=_page_url("pages.inbox"), filters=request.args, task_names=task_names,
                           channels=channels(), sort=sort, people=officers())


def _page_url(endpoint: str, param: str = "page"):
    """page number -> the address of this list's page, keeping the other query arguments."""
    args = {k: v for k, v in request.args.items() if k != param}
    return lambda n: url_for(endpoint, **args, **({param: n} if n > 1 else {}))


def _due_state(task: dict[str, Any]) -> str:
    import datetime as dt
    if not task.get("due"):
        return ""
    left = dt.datetime.fromisoformat(task["due"]) - services().cases.clock()  # the service's clock
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
    people = officers()
    errors: dict[str, str] = {}
    notice = None
    status = 200
    stale = False
    if request.method == "POST" and info["state"] != "open":
        stale, status = True, 409  # done meanwhile (by someone else, or in another tab): nothing of this is saved
    elif request.method == "POST":
        raw = raw_from_request(fields, request.form)
        _fill_units(fields, raw, people)
        data, errors = typed(fields, _without_unanswered_rows(fields, raw))
        files, too_large = _uploads()
        drop = [int(x) for x in request.form.getlist("drop_files") if x.isdigit()]
        if too_large:
            errors["evidence_files"] = too_large
        if request.form.get("action") == "draft":
            errors = {}
            svc.save_draft(p, task_id, raw)
            notice = _("草稿已保存。")
        elif not errors:
            try:
                if drop:
                    svc.keep_files(p, task_id, [], drop)
                    drop = []
                svc.complete(p, task_id, data, files)
                title = info["title"] + (f" — {_person_name(people, info['person'])}" if info.get("person") else "")
                flash(_("已办结“%(title)s”（案件 %(case)s）。", title=title, case=info["case_id"]), "success")
                following = svc.next_task(p, info["case_id"])
                return redirect(url_for("pages.task", task_id=task_id) if following else url_for("pages.inbox"))
            except Invalid as exc:
                errors = {k or "_form": v for k, v in exc.fields.items()} or {"_form": exc.message}
            except (Conflict, Forbidden) as exc:
                fresh = svc.get_task(p, task_id)
                if fresh["state"] != "open":
                    info, stale, status = fresh, True, 409
                else:
                    errors, status = {"_form": _reason(exc)}, 409 if isinstance(exc, Conflict) else 403
        if not stale and info["state"] == "open" and (files or drop or too_large) and _can_act(p, info):
            try:  # kept for the next try (shown in the form); evidence only when the step succeeds
                info["draft_files"] = svc.keep_files(p, task_id, files, drop)
            except ServiceError:
                pass
    if request.method == "GET" or stale:
        raw = (svc.draft(p, task_id) if info["state"] == "open" else None) or raw_from_data(fields,
                                                                                             info.get("data") or {})
    context = info.get("case") or {}
    person_rows = _person_rows(fields, raw, context, people)
    show_decisions = bool(context.get("outcomes")) and p.is_staff
    tables = svc.decision_tables(info["case_id"]) if show_decisions else {}
    traces = svc.traces(p, info["case_id"]) if show_decisions else []
    lookups = {c.lookup for f in fields for c in [f, *f.columns] if c.lookup}
    if errors and request.method == "POST" and status == 200:
        status = 422
    documents = [d for d in svc.documents(p, info["case_id"]) if d["person"] == info.get("person")] \
        if info.get("person") else []  # the notices and decisions of the person the task is about
    following = svc.next_task(p, info["case_id"]) if info["state"] == "completed" and \
        info.get("completed_by") == p.username and not stale else None
    return render_template("task.html", task=info, fields=fields, raw=raw, errors=errors, notice=notice,
                           schema=schema, null=NULL, row_slots=ROW_SLOTS, channels=channels(),
                           traces=traces, trace_groups=_by_person(traces), tables=tables, can_act=_can_act(p, info),
                           people=people, person_rows=person_rows, lookups=lookups,
                           respondents=_respondents_by_person(context), stale=stale, following=following,
                           submitted=shown(fields, info.get("data") or {}), finished_at=_local_time(info.get("finished_at")),
                           upload_limit=upload_limit(), documents=documents), status


def upload_limit() -> str:
    """The one upload limit, as the form, the field message and the 413 page state it."""
    return _("每个文件不超过 20 MB，一次提交合计不超过 60 MB")


def _uploads() -> tuple[list[tuple[str, str, bytes]], str | None]:
    """The evidence files sent with a task form, and the message for any over the per-file limit (not kept)."""
    from ..cases.tasks import MAX_FILE_BYTES
    files, refused = [], []
    for f in request.files.getlist("evidence_files"):
        if not f or not f.filename:
            continue
        content = f.read(MAX_FILE_BYTES + 1)
        if len(content) > MAX_FILE_BYTES:
            refused.append(f.filename)
        elif content:
            files.append((f.filename, f.mimetype, content))
    if not refused:
        return files, None
    return files, _("文件%(names)s过大，未保存：%(limit)s。", names="、".join(f"“{n}”" for n in refused),
                    limit=upload_limit())


_local_time = local_time  # office time, to the minute


# ---------------------------------------------------------------- persons on the pages

ROLE_LABELS = {"handler": "承办人", "reviewer": "审核人", "approver": "批准人"}


def officers() -> dict[str, dict[str, str]]:
    """Every active account with its display name and unit: the lookup behind fields marked x-lookup "officers"."""
    with services().db.session() as s:
        return {u.username: {"name": u.display_name or u.username, "unit": u.unit or ""}
                for u in Store(s).users() if u.active}


def _person_name(people: dict[str, dict[str, str]], username: str | None) -> str:
    return (people.get(username) or {}).get("name") or username or ""


def _respondents_by_person(context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Role and unit of each respondent as the case records them (registration, then the proposal)."""
    found: dict[str, dict[str, Any]] = {}
    for item in (context.get("respondents") or []) + (context.get("outcomes") or []):
        if isinstance(item, dict) and item.get("person"):
            found.setdefault(item["person"], {}).update({k: item[k] for k in ("role", "unit") if item.get(k)})
    return found


def _person_label(people: dict[str, dict[str, str]], person: str, role: str | None, unit: str | None) -> str:
    details = "，".join(x for x in (_(ROLE_LABELS[role]) if role in ROLE_LABELS else role, unit) if x)
    return f"{_person_name(people, person)}（{details}）" if details else _person_name(people, person)


def _fill_units(fields, raw: dict[str, Any], people: dict[str, dict[str, str]]) -> None:
    """A row naming a known person with its unit left empty gets that person's unit (what the lookup does)."""
    for f in fields:
        names = {c.name for c in f.columns}
        if f.kind != "rows" or not {"person", "unit"} <= names:
            continue
        for row in raw.get(f.name) or []:
            who = people.get(str(row.get("person", "")).strip())
            if who and not str(row.get("unit", "")).strip():
                row["unit"] = who["unit"]


def _without_unanswered_rows(fields, raw: dict[str, Any]) -> dict[str, Any]:
    """In an optional list of per-person rows (e.g. measure choices), a row with nothing chosen but its
    person is not an answer."""
    out = dict(raw)
    for f in fields:
        if f.kind == "rows" and not f.required and any(c.name == "person" for c in f.columns):
            out[f.name] = [r for r in raw.get(f.name) or []
                           if any(str(v).strip() for k, v in r.items() if k != "person")]
    return out


def _person_rows(fields, raw: dict[str, Any], context: dict[str, Any],
                 people: dict[str, dict[str, str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """List fields shown as one card per respondent: the findings (prefilled per respondent by the process) and
    the measure choices (one per liable person whose tier offers several measures, with only those measures)."""
    known = _respondents_by_person(context)
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for f in fields:
        if f.kind != "rows" or not any(c.name == "person" for c in f.columns):
            continue
        if f.name == "findings":
            persons = [r["person"] for r in raw.get(f.name) or [] if r.get("person")]
            if persons:
                result[f.name] = {p: {"label": _person_label(people, p, known.get(p, {}).get("role"),
                                                             known.get(p, {}).get("unit"))} for p in persons}
        elif f.name == "measure_choices":
            choosing = [o for o in context.get("outcomes") or []
                        if isinstance(o, dict) and o.get("liable") and len(o.get("measures") or []) > 1]
            if not choosing:
                continue
            rows = [r for r in raw.get(f.name) or [] if r.get("person")]
            have = {r["person"] for r in rows}
            rows += [{"person": o["person"], "measure": ""} for o in choosing if o["person"] not in have]
            raw[f.name] = rows
            result[f.name] = {o["person"]: {"label": _person_label(people, o["person"], o.get("role"), o.get("unit")),
                                            "options": {"measure": [(m, m) for m in o["measures"]]}}
                              for o in choosing}
    return result


def _by_person(traces: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """Decision traces grouped by the respondent they were computed for (None: the case as a whole)."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for t in traces:
        groups.setdefault(t.get("person"), []).append(t)
    return list(groups.items())


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
        people = officers()
        return csv_response("cases.csv", ["案件编号", "来源渠道", "当事人", "姓名", "角色", "单位", "过错年度", "状态",
                                          "当前环节", "结案方式", "认定", "责任档次", "处理措施", "从重", "依据",
                                          "送达日期", "申诉结果"], (
            [c["id"], labels.get(c["channel"], c["channel"]), o.get("person") or "",
             _person_name(people, o.get("person")), ROLE_LABELS.get(o.get("role"), o.get("role") or ""),
             o.get("unit") or "", c["year"], "已结案" if c["status"] == "closed" else "办理中", c["stage"],
             c["end_event"] or "", _finding(o), o.get("tier") or "", _measure(o),
             ("是" if o.get("aggravated") else "否") if o.get("liable") else "", "；".join(o.get("citations") or []),
             o.get("served_on") or "", APPEAL_RESULTS.get(o.get("appeal_result"), "")]
            for c in result.items
            for o in (c.get("outcomes") or [{"person": c["subject"], "unit": c["unit"]}])))
    result = svc.list_cases(p, filters=filters, search=search, page=page_arg(), per_page=25)
    return render_template("cases.html", page=result, page_url=_page_url("pages.cases", "page"),
                           filters=request.args, channels=channels(), people=officers())


APPEAL_RESULTS = {"upheld": "维持", "lowered": "降低", "revoked": "撤销", "dismissed": "驳回申诉"}


def _finding(o: dict[str, Any]) -> str:
    if o.get("exempt"):
        return "免予追究"
    if o.get("revoked"):
        return "申诉撤销"
    if o.get("liable"):
        return "承担责任"
    return "" if o.get("liable") is None else "不承担责任"


def _measure(o: dict[str, Any]) -> str:
    if not o.get("liable"):
        return ""
    return o.get("measure") or "、".join(o.get("measures") or [])


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
    documents = svc.documents(p, case_id)
    people = officers()
    return render_template("case.html", case=view, tables=tables, files=files, documents=documents,
                           channels=channels(),
                           role_names=ROLE_NAMES, people=people, persons=_case_persons(view),
                           trace_groups=_by_person(view.get("decisions") or []),
                           respondents=_respondents_by_person(view))


def _case_persons(view: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per respondent: as registered (staff), with their outcome as far as the case has got."""
    outcomes = {o["person"]: o for o in view.get("outcomes") or [] if isinstance(o, dict) and o.get("person")}
    rows = []
    for r in view.get("respondents") or []:
        o = outcomes.pop(r["person"], {})
        rows.append({"liable": None, **o, "person": r["person"], "role": r.get("role") or o.get("role"),
                     "unit": r.get("unit") or o.get("unit"), "served_on": o.get("served_on") or r.get("served_on")})
    return rows + list(outcomes.values())


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


@pages.get("/cases/<int:case_id>/documents/<int:document_id>.pdf", defaults={"fmt": "pdf"})
@pages.get("/cases/<int:case_id>/documents/<int:document_id>.docx", defaults={"fmt": "docx"})
@login_required
def document(case_id: int, document_id: int, fmt: str):
    """A notice or decision as PDF or Word, for those who may read it (anyone else: 404); made now if the worker
    has not made it yet."""
    try:
        name, content_type, content = services().cases.document_file(principal(), case_id, document_id, fmt)
    except NotFound:
        abort(404)
    except Invalid as exc:  # not rendered yet, and it cannot be now: the reason, for the office
        return render_template("error.html", code=422, reason=None, message=exc.message, fields=exc.fields), 422
    from urllib.parse import quote
    return Response(content, mimetype=content_type,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


# ====================================================================== Art. 15 register

REGISTER_HEADER = ["年度", "类别", "名称", "姓名", "所在单位", "案件编号"]


def register_rows(rows: list[dict[str, Any]], people: dict[str, dict[str, str]]) -> list[list[Any]]:
    """The Art. 15 register as export rows (CSV here and on /reports, and the Excel sheet there)."""
    return [[r["year"], "人员" if r["kind"] == "person" else "科室或单位", r["name"],
             _person_name(people, r["name"]) if r["kind"] == "person" else "",
             r.get("unit") or "" if r["kind"] == "person" else r["name"], r["case_id"]] for r in rows]


@pages.get("/register")
@login_required
@staff_required
def register():
    year = int(request.args["year"]) if request.args.get("year", "").isdigit() else None
    everything = services().cases.disqualifications(principal(), None)
    rows = [r for r in everything if year is None or r["year"] == year]
    if request.args.get("format") == "csv":
        return csv_response("article15-register.csv", REGISTER_HEADER, register_rows(rows, officers()))
    years = sorted({r["year"] for r in everything}, reverse=True)
    return render_template("register.html", rows=rows, year=year, years=years, people=officers())


# ====================================================================== public complaint

REPORT_FIELDS = ("officer", "unit", "act_date", "summary", "reporter_name", "reporter_contact")
REPORT_KEEP = 10  # unused forms and filed receipts a browser session remembers


def _complaint_limit() -> str:
    return current_app.config["COMPLAINT_RATE_LIMIT"]


class _Submissions:
    """Process-wide guard of the one-time submission tokens: two requests carrying the same token (a double click,
    a resend) file one complaint; the later one waits for the first and gets its receipt code. Across browser
    requests the session does the same (Back and resubmit, reload)."""

    def __init__(self, keep: int = 2000):
        import threading
        from collections import OrderedDict
        self.lock = threading.Lock()
        self.filed: "OrderedDict[str, str | None]" = OrderedDict()
        self.keep = keep

    def begin(self, token: str) -> tuple[bool, str | None]:
        """(True, None): this request files it; (False, code): already filed (code None: gave up waiting)."""
        import time
        with self.lock:
            if token not in self.filed:
                self.filed[token] = None
                while len(self.filed) > self.keep:
                    self.filed.popitem(last=False)
                return True, None
        for _i in range(100):
            with self.lock:
                if token not in self.filed:  # the first request failed: this one files it
                    self.filed[token] = None
                    return True, None
                if self.filed[token] is not None:
                    return False, self.filed[token]
            time.sleep(0.05)
        return False, None

    def done(self, token: str, code: str | None) -> None:
        with self.lock:
            if code is None:
                self.filed.pop(token, None)
            else:
                self.filed[token] = code


_submissions = _Submissions()


def _new_report_token() -> str:
    import secrets
    token = secrets.token_urlsafe(18)
    session["report_tokens"] = (list(session.get("report_tokens", [])) + [token])[-REPORT_KEEP:]
    return token


def _digest(data: dict[str, Any]) -> str:
    import hashlib
    import json
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:24]


def _to_receipt(token: str, code: str, digest: str | None = None):
    """Remember the filed form (its token, and a digest of what it said) and show its receipt: Post/Redirect/Get."""
    filed = dict(session.get("report_filed", {}))
    filed[token] = code
    session["report_filed"] = dict(list(filed.items())[-REPORT_KEEP:])
    if digest:
        said = dict(session.get("report_digests", {}))
        said[digest] = code
        session["report_digests"] = dict(list(said.items())[-REPORT_KEEP:])
    session["report_tokens"] = [t for t in session.get("report_tokens", []) if t != token]
    session["receipt"] = code
    return redirect(url_for("pages.report_receipt"), 303)


@pages.route("/report", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def report():
    raw = {k: request.form.get(k, "").strip() for k in REPORT_FIELDS}
    errors: dict[str, str] = {}
    token = request.form.get("submission", "")
    if request.method == "GET":
        token = _new_report_token()
    elif token in session.get("report_filed", {}):  # reload of the POST, or Back and submit again
        return _to_receipt(token, session["report_filed"][token])
    elif token not in session.get("report_tokens", []):
        errors = {"_form": _("此表单已失效（可能已经提交过，或页面停留太久）。请核对以下内容后再提交一次。")}
        token = _new_report_token()
    else:
        data: dict[str, Any] = {k: raw[k] for k in ("officer", "unit", "act_date", "summary") if raw[k]}
        if raw["reporter_name"] or raw["reporter_contact"]:
            data["reporter"] = {k: v for k, v in (("name", raw["reporter_name"]),
                                                  ("contact", raw["reporter_contact"])) if v}
        digest = _digest(data)
        if digest in session.get("report_digests", {}):  # Back, and the same complaint sent on a fresh form
            return _to_receipt(token, session["report_digests"][digest])
        first, code = _submissions.begin(token)
        if not first and code:
            return _to_receipt(token, code, digest)
        if first:
            try:
                code = services().cases.file_complaint(data)["receipt_code"]
            except Invalid as exc:
                errors = {k.replace(".", "_") if k.startswith("reporter") else (k or "_form"): v
                          for k, v in exc.fields.items()} or {"_form": exc.message}
            except VersionUnavailable:  # what was typed stays in the form
                errors = {"_form": _("暂时无法受理举报：系统正在更新办案流程。您填写的内容已保留，请稍后再提交。")}
            finally:
                _submissions.done(token, code)
            if code:
                return _to_receipt(token, code, digest)
        else:
            errors = {"_form": _("正在处理同一份举报，请稍候刷新。")}
    return render_template("report.html", raw=raw, errors=errors, token=token, last_receipt=session.get("receipt"),
                           today=services().cases.local_today().isoformat()), (422 if errors else 200)


@pages.get("/report/receipt")
def report_receipt():
    """The receipt of the complaint this browser filed last (its code is kept in the session, never in the URL)."""
    code = session.get("receipt")
    status = services().cases.complaint_status(code) if code else None
    if status is None:
        return redirect(url_for("pages.report"))
    return render_template("report_done.html", code=code, status=status)


@pages.route("/report/status", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def report_status():
    """A reporter's enquiry by receipt code: received, registered or not, and the reason given when not; an
    unknown code gets the same neutral answer as a malformed one."""
    code = request.form.get("code", "").strip()
    error, status, asked = None, None, False
    if request.method == "POST":
        if not code:
            error = _("请填写回执号")
        else:
            asked = True
            status = services().cases.complaint_status(code)
    return render_template("receipt.html", code=code, error=error, status=status, asked=asked), \
        (422 if error else 200)
