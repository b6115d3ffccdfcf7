"""Who may do what, table-driven: every route of the API and the pages (read from the app's url_map, so a new
route without an entry here fails) × every role × every relation to a case, each cell with the status it must
answer; and no response to anyone but the office ever carries the reporter's name or contact.

Roles: anonymous, office (the office that may see the reporter), leading group, admin, reviewer, procedure owner
(the process pages and nothing of the cases), plain officer.
Relations: none; respondent with a task; respondent before their first task; respondent who also holds the
office and leading-group roles (with a task, and before one). Three public complaints, each with a reporter:
  A  at the vote: respondents zhang_wei and liu_yang (statements given), ballots for the three members
  B  at the investigation: respondents wang_fang and liu_yang, no task of theirs yet
  C  at the hearing: respondents zhang_wei and liu_yang, each with their open statement task
"""
from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from service.auth import Principal, hash_password
from service.store.models import Case, Task
from service.store.repository import Store
from service.web import build_services, create_app
from tests.databases import PASSWORD

REPORTER = {"name": "钱举报人", "contact": "13700009999"}
OFFICE = Principal("office_li", frozenset({"office"}))
MEMBERS = [Principal(m, frozenset({"leading_group"})) for m in ("lg_chen", "lg_wu", "lg_zhou")]
STAFF_ROLES = {"office", "leading_group", "admin", "reviewer"}


@dataclass(frozen=True)
class Actor:
    name: str  # what the table calls them
    username: str | None
    roles: frozenset[str] = frozenset()

    @property
    def staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)


ACTORS = [Actor("anonymous", None), Actor("office", "office_li", frozenset({"office"})),
          Actor("leading_group", "lg_chen", frozenset({"leading_group"})), Actor("admin", "admin", frozenset({"admin"})),
          Actor("reviewer", "reviewer", frozenset({"reviewer"})), Actor("owner", "owner_he", frozenset({"owner"})),
          Actor("officer", "zhao_min"),
          Actor("officer zhang_wei", "zhang_wei"), Actor("officer wang_fang", "wang_fang"),
          Actor("office+leading_group liu_yang", "liu_yang", frozenset({"office", "leading_group"}))]
RESPONDENTS = {"A": {"zhang_wei", "liu_yang"}, "B": {"wang_fang", "liu_yang"}, "C": {"zhang_wei", "liu_yang"}}
# the relation of each person to each case, stated here rather than computed by the code under test
RELATION = {("zhang_wei", "A"): "respondent with a task", ("zhang_wei", "C"): "respondent with a task",
            ("wang_fang", "B"): "respondent before their first task",
            ("liu_yang", "A"): "respondent with a task, also office and leading group",
            ("liu_yang", "C"): "respondent with a task, also office and leading group",
            ("liu_yang", "B"): "respondent before their first task, also office and leading group",
            ("office_li", "A"): "the office that sees the reporter", ("office_li", "B"): "the office that sees the reporter",
            ("office_li", "C"): "the office that sees the reporter"}


def case_class(actor: Actor, case: str) -> str:
    if actor.username is None:
        return "anon"
    relation = RELATION.get((actor.username, case), "none")
    if relation.startswith("respondent with a task"):
        return "staff_resp_task" if actor.staff else "resp_task"
    if relation.startswith("respondent before"):
        return "staff_resp_before" if actor.staff else "resp_before"
    return "staff" if actor.staff else "officer"


def global_class(actor: Actor) -> str:
    if actor.username is None:
        return "anon"
    for role in ("office", "admin", "reviewer", "leading_group", "owner"):
        if role in actor.roles:
            return role
    return "officer"


@dataclass
class Target:
    """A task of the world: whose it is, whether it is still open, in which case."""
    key: str
    case: str
    id: str = ""
    assignee: str | None = None
    role: str | None = None
    open: bool = True


def task_class(actor: Actor, t: Target) -> str:
    if actor.username is None:
        return "anon"
    as_staff = actor.staff and actor.username not in RESPONDENTS[t.case]
    mine = t.assignee == actor.username or (as_staff and t.assignee is None and t.role in actor.roles)
    if mine:
        return "mine_open" if t.open else "mine_done"
    if as_staff:
        return "staff_view" if t.open else "staff_done"
    return "hidden"


ALL = ("anon", "office", "leading_group", "admin", "reviewer", "owner", "officer")


def every(status: int, anon: int | None = None) -> dict[str, int]:
    return {k: status for k in ALL} | ({"anon": anon} if anon is not None else {})


def staff_only(anon: int, officer: int, staff: int = 200) -> dict[str, int]:
    return {"anon": anon, "officer": officer, "office": staff, "leading_group": staff, "admin": staff,
            "reviewer": staff}


def admin_only(ok: int | tuple[int, ...] = 200) -> dict[str, Any]:
    return {"anon": 302, "officer": 403, "office": 403, "leading_group": 403, "admin": ok, "reviewer": 403,
            "owner": ok}


# (method, rule) -> how to call it, and the status of each cell
# kind "global": cells by role; "case": by role × relation to the case; "task": by the caller's relation to the task
TABLE: dict[tuple[str, str], dict[str, Any]] = {
    # ------------------------------------------------------------------ API (HTTP Basic)
    ("GET", "/api/v1/openapi.json"): {"kind": "global", "expect": every(200)},
    ("POST", "/api/v1/cases"): {"kind": "global", "json": {"channel": "inspection", "act_date": "kein Datum"},
                                "expect": {"anon": 401, "office": 422, "leading_group": 403, "admin": 403,
                                           "reviewer": 403, "officer": 403}},
    ("GET", "/api/v1/cases"): {"kind": "global", "expect": every(200, anon=401)},
    ("POST", "/api/v1/complaints"): {"kind": "global", "json": {"bogus": 1}, "expect": every(422)},
    ("POST", "/api/v1/decisions/<decision_id>/evaluate"): {
        "kind": "global", "args": {"decision_id": "sanction"},
        "json": {"inputs": {"severity": "light", "aggravated": False}}, "expect": staff_only(401, 403)},
    ("GET", "/api/v1/disqualifications"): {"kind": "global", "expect": staff_only(401, 403)},
    ("GET", "/api/v1/tasks"): {"kind": "global", "expect": every(200, anon=401)},
    ("GET", "/api/v1/cases/<int:case_id>"): {"kind": "case", "expect": {
        "anon": 401, "staff": 200, "officer": 404, "resp_task": 200, "resp_before": 404, "staff_resp_task": 200,
        "staff_resp_before": 404}},
    # a case's documents: the list and one document (the first respondent's 立案通知书) as on the case page
    ("GET", "/api/v1/cases/<int:case_id>/documents"): {"kind": "case", "expect": {
        "anon": 401, "staff": 200, "officer": 404, "resp_task": 200, "resp_before": 404, "staff_resp_task": 200,
        "staff_resp_before": 404}},
    ("GET", "/api/v1/cases/<int:case_id>/documents/<int:document_id>"): {"kind": "case", "expect": {
        "anon": 401, "staff": 200, "officer": 404, "resp_task": 200, "resp_before": 404, "staff_resp_task": 404,
        "staff_resp_before": 404}},
    ("GET", "/api/v1/cases/<int:case_id>/documents/<int:document_id>.<fmt>"): {
        "kind": "case", "args": {"fmt": "docx"}, "expect": {
            "anon": 401, "staff": 200, "officer": 404, "resp_task": 200, "resp_before": 404, "staff_resp_task": 404,
            "staff_resp_before": 404}},
    ("GET", "/api/v1/notifications"): {"kind": "global", "expect": every(200, anon=401)},
    ("POST", "/api/v1/notifications/read-all"): {"kind": "global", "expect": every(200, anon=401)},
    ("POST", "/api/v1/notifications/<int:notification_id>/read"): {"kind": "global",
                                                                   "args": {"notification_id": 999999},
                                                                   "expect": every(404, anon=401)},
    ("GET", "/api/v1/reports/filters"): {"kind": "global", "expect": staff_only(401, 403) | {"admin": 403}},
    ("GET", "/api/v1/reports/statistics"): {"kind": "global", "expect": staff_only(401, 403) | {"admin": 403}},
    ("GET", "/api/v1/reports/compliance"): {"kind": "global", "expect": staff_only(401, 403) | {"admin": 403}},
    ("GET", "/api/v1/reports/register"): {"kind": "global", "expect": staff_only(401, 403) | {"admin": 403}},
    ("GET", "/api/v1/reports/watch-list"): {"kind": "global", "expect": staff_only(401, 403) | {"admin": 403}},
    ("GET", "/api/v1/tasks/<task_id>"): {"kind": "task", "expect": {
        "anon": 401, "mine_open": 200, "mine_done": 200, "staff_view": 200, "staff_done": 200, "hidden": 404}},
    ("POST", "/api/v1/tasks/<task_id>/claim"): {"kind": "task", "expect": {
        "anon": 401, "mine_open": 200, "mine_done": 409, "staff_view": 403, "staff_done": 403, "hidden": 404}},
    ("POST", "/api/v1/tasks/<task_id>/release"): {"kind": "task", "expect": {
        "anon": 401, "mine_open": 409, "mine_done": 409, "staff_view": 403, "staff_done": 403, "hidden": 404}},
    ("POST", "/api/v1/tasks/<task_id>/complete"): {"kind": "task", "json": {"data": {"no_such_field": 1}}, "expect": {
        "anon": 401, "mine_open": 422, "mine_done": 409, "staff_view": 403, "staff_done": 403, "hidden": 404}},
    # ------------------------------------------------------------------ pages (session login)
    ("GET", "/"): {"kind": "global", "expect": every(200, anon=302)},
    ("GET", "/login"): {"kind": "global", "expect": every(200)},
    ("POST", "/login"): {"kind": "global", "form": {"username": "nobody", "password": "wrong"}, "expect": every(401)},
    ("GET", "/lang/<code>"): {"kind": "global", "args": {"code": "en"}, "expect": every(302)},
    ("GET", "/cases"): {"kind": "global", "expect": staff_only(302, 403)},
    ("GET", "/register"): {"kind": "global", "expect": staff_only(302, 403)},
    ("GET", "/reports"): {"kind": "global", "expect": staff_only(302, 403) | {"admin": 403}},
    ("GET", "/decisions"): {"kind": "global", "expect": staff_only(302, 403)},
    ("GET", "/decisions/<decision_id>"): {"kind": "global", "args": {"decision_id": "sanction"},
                                          "expect": staff_only(302, 403)},
    ("POST", "/decisions/<decision_id>"): {"kind": "global", "args": {"decision_id": "sanction"},
                                           "form": {"severity": "light", "aggravated": "false"},
                                           "expect": staff_only(302, 403)},
    ("GET", "/decisions/<decision_id>.csv"): {"kind": "global", "args": {"decision_id": "sanction"},
                                              "expect": staff_only(302, 404)},
    ("GET", "/decisions/<decision_id>/print"): {"kind": "global", "args": {"decision_id": "sanction"},
                                                "expect": staff_only(302, 404)},
    ("GET", "/processes"): {"kind": "global", "expect": admin_only()},
    ("GET", "/processes/dmn-viewer.js"): {"kind": "global", "expect": every(200)},  # a vendored script, public
    ("GET", "/processes/<int:version>"): {"kind": "global", "args": {"version": 1}, "expect": admin_only()},
    ("GET", "/processes/<int:version>/files/<path:name>"): {"kind": "global",
                                                           "args": {"version": 1, "name": "processes/sanction.dmn"},
                                                           "expect": admin_only()},
    ("GET", "/processes/diff"): {"kind": "global", "query": "?old=1&new=1", "expect": admin_only()},
    ("GET", "/processes/migrate"): {"kind": "global", "query": "?source=1&target=1", "expect": admin_only()},
    ("POST", "/processes/migrate"): {"kind": "global", "query": "?source=1&target=1", "form": {},
                                     "expect": admin_only()},
    ("POST", "/processes/upload"): {"kind": "global", "form": {}, "expect": admin_only(422)},
    ("POST", "/processes/deploy"): {"kind": "global", "form": {}, "expect": admin_only((302, 422))},
    ("POST", "/processes/scenarios"): {"kind": "global", "form": {"version": "1"}, "expect": admin_only()},
    ("GET", "/notifications"): {"kind": "global", "expect": every(200, anon=302)},
    ("POST", "/notifications/read-all"): {"kind": "global", "form": {}, "expect": every(302)},
    ("POST", "/notifications/<int:notification_id>/read"): {"kind": "global", "args": {"notification_id": 999999},
                                                            "form": {}, "expect": every(404, anon=302)},
    ("POST", "/processes/<int:version>/activate"): {"kind": "global", "args": {"version": 1}, "form": {},
                                                    "expect": admin_only(302)},
    ("GET", "/report"): {"kind": "global", "expect": every(200)},
    ("POST", "/report"): {"kind": "global", "form": {"summary": ""}, "expect": every(422)},
    ("GET", "/report/receipt"): {"kind": "global", "expect": every(302)},
    ("GET", "/report/status"): {"kind": "global", "expect": every(200)},
    ("POST", "/report/status"): {"kind": "global", "form": {"code": "NOSUCHCODE"}, "expect": every(200)},
    ("GET", "/static/<path:filename>"): {"kind": "global", "args": {"filename": "app.css"}, "expect": every(200)},
    ("GET", "/vendor/<path:filename>"): {"kind": "global", "args": {"filename": "bpmn-js/dist/assets/bpmn-js.css"},
                                         "expect": every(200)},
    ("GET", "/cases/<int:case_id>"): {"kind": "case", "expect": {
        "anon": 302, "staff": 200, "officer": 404, "resp_task": 200, "resp_before": 404, "staff_resp_task": 200,
        "staff_resp_before": 404}},
    ("GET", "/cases/<int:case_id>/diagram.json"): {"kind": "case", "expect": {
        "anon": 302, "staff": 200, "officer": 403, "resp_task": 403, "resp_before": 403, "staff_resp_task": 404,
        "staff_resp_before": 404}},
    # a document of the case's first respondent (their 立案通知书): theirs from their own first task on, never another's
    ("GET", "/cases/<int:case_id>/documents/<int:document_id>.pdf"): {"kind": "case", "expect": {
        "anon": 302, "staff": 200, "officer": 404, "resp_task": 200, "resp_before": 404, "staff_resp_task": 404,
        "staff_resp_before": 404}},
    ("GET", "/cases/<int:case_id>/documents/<int:document_id>.docx"): {"kind": "case", "expect": {
        "anon": 302, "staff": 200, "officer": 404, "resp_task": 200, "resp_before": 404, "staff_resp_task": 404,
        "staff_resp_before": 404}},
    ("GET", "/files/<int:file_id>"): {"kind": "case", "expect": {
        "anon": 302, "staff": 200, "officer": 403, "resp_task": 403, "resp_before": 403, "staff_resp_task": 404,
        "staff_resp_before": 404}},
    ("GET", "/tasks/<task_id>"): {"kind": "task", "expect": {
        "anon": 302, "mine_open": 200, "mine_done": 200, "staff_view": 200, "staff_done": 200, "hidden": 404}},
    ("POST", "/tasks/<task_id>"): {"kind": "task", "form": {"action": "draft"}, "expect": {
        "anon": 302, "mine_open": 200, "mine_done": 409, "staff_view": 403, "staff_done": 409, "hidden": 404}},
    ("POST", "/tasks/<task_id>/claim"): {"kind": "task", "form": {}, "expect": {
        "anon": 302, "mine_open": 302, "mine_done": 302, "staff_view": 302, "staff_done": 302, "hidden": 302}},
    ("POST", "/tasks/<task_id>/release"): {"kind": "task", "form": {}, "expect": {
        "anon": 302, "mine_open": 302, "mine_done": 302, "staff_view": 302, "staff_done": 302, "hidden": 302}},
    # the in-browser modeler and its drafts (drafts 1 and 2 are made by build_world; discarding one already
    # discarded answers as the first did: back to the list, with the reason)
    ("GET", "/processes/edit"): {"kind": "global", "expect": admin_only()},
    ("POST", "/processes/edit/new"): {"kind": "global", "form": {}, "expect": admin_only(302)},
    ("GET", "/processes/edit/assets/<name>"): {"kind": "global", "args": {"name": "modeler.css"},
                                               "expect": every(200)},  # the built bundle, public like /vendor
    ("GET", "/processes/edit/assets/fonts/<font>"): {"kind": "global", "args": {"font": "no-such-font.woff2"},
                                                     "expect": every(404)},
    ("GET", "/processes/edit/<int:draft_id>"): {"kind": "global", "args": {"draft_id": 1}, "expect": admin_only()},
    ("GET", "/processes/edit/<int:draft_id>/files/<path:name>"): {
        "kind": "global", "args": {"draft_id": 1, "name": "processes/sanction.dmn"}, "expect": admin_only()},
    ("POST", "/processes/edit/<int:draft_id>/save"): {"kind": "global", "args": {"draft_id": 1}, "json": {},
                                                      "expect": admin_only(422)},
    ("POST", "/processes/edit/<int:draft_id>/form-problems"): {"kind": "global", "args": {"draft_id": 1},
                                                               "json": {"text": "{}"}, "expect": admin_only()},
    ("POST", "/processes/edit/<int:draft_id>/check"): {"kind": "global", "args": {"draft_id": 1}, "form": {},
                                                       "expect": admin_only(302)},
    ("GET", "/processes/edit/<int:draft_id>/check"): {"kind": "global", "args": {"draft_id": 1},
                                                      "expect": admin_only()},
    ("POST", "/processes/edit/<int:draft_id>/deploy"): {"kind": "global", "args": {"draft_id": 1},
                                                        "form": {"revision": "0"}, "expect": admin_only(409)},
    ("POST", "/processes/edit/<int:draft_id>/discard"): {"kind": "global", "args": {"draft_id": 2}, "form": {},
                                                         "last": True, "expect": admin_only(302)},
    ("POST", "/logout"): {"kind": "global", "last": True, "expect": every(302)},
}


# ---------------------------------------------------------------------------- the world

@dataclass
class World:
    cases: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)  # the first respondent's 立案通知书
    tasks: list[Target] = field(default_factory=list)


def _task(svc, who: Principal, case_id: int, name: str, assignee: str | None = None) -> dict[str, Any]:
    found = [t for t in svc.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items
             if assignee is None or t["assignee"] == assignee]
    assert found, (who.username, case_id, name)
    return found[0]


def _step(svc, who: Principal, case_id: int, name: str, data: dict[str, Any]) -> None:
    svc.cases.complete(who, _task(svc, who, case_id, name, who.username if name == "Task_statement" else None)["id"],
                       data)


def build_world(svc) -> World:
    from service.drafts import DraftService
    drafts = DraftService(svc.db, svc.deployments, svc.cases)
    # draft 1 is read, saved and checked by every actor; draft 2 is the one each actor discards, last
    assert [drafts.create(Principal("admin", frozenset({"admin"}))) for _ in range(2)] == [1, 2]
    with svc.db.session() as s, s.begin():
        store = Store(s)
        store.set_roles(store.user("liu_yang"), ["office", "leading_group"])
        store.add_user("zhao_min", display_name="zhao_min", unit="执法三科", password_hash=hash_password(PASSWORD))
    liu = Principal("liu_yang", frozenset({"office", "leading_group"}))
    world = World()
    respondents = {"A": [("zhang_wei", "handler", "执法一科"), ("liu_yang", "approver", "局办公室")],
                   "B": [("wang_fang", "reviewer", "法制科"), ("liu_yang", "approver", "局办公室")],
                   "C": [("zhang_wei", "handler", "执法一科"), ("liu_yang", "approver", "局办公室")]}
    for key in ("A", "B", "C"):
        first = respondents[key][0]
        result = svc.cases.start_case(None, {"officer": first[0], "unit": first[2], "summary": f"案件{key}",
                                             "act_date": "2026-03-02", "reporter": REPORTER})
        case_id = world.cases[key] = result["id"]
        _step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "respondents": [
            {"person": p, "role": r, "unit": u} for p, r, u in respondents[key]]})
        if key == "B":
            continue
        _step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明", "evidence": ["案卷"],
                                                         "investigators": ["office_li", "office_sun"],
                                                         "act_date": "2026-03-02"})
        _step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [
            {"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
            {"person": "liu_yang", "review_lax": True, "severity": "serious"}]})
        if key == "A":
            for who in (Principal("zhang_wei"), liu):
                _step(svc, who, case_id, "Task_statement", {"statement_waived": True})
    with svc.db.session() as s, s.begin():
        store = Store(s)
        for key, case_id in world.cases.items():
            world.files[key] = store.add_attachment(case_id, None, f"证据{key}.txt", "text/plain", b"evidence",
                                                    "office_li").id
            world.documents[key] = store.document_of(case_id, "registration_notice", respondents[key][0][0]).id
        rows = {key: list(s.scalars(select(Task).where(Task.case_id == cid))) for key, cid in world.cases.items()}

    def target(key: str, case: str, name: str, assignee: str | None) -> Target:
        (t,) = [t for t in rows[case] if t.name == name and t.assignee == assignee]
        return Target(key, case, t.id, t.assignee, t.role, t.state == "open")

    world.tasks = [target("A: lg_chen's ballot", "A", "Task_vote", "lg_chen"),
                   target("A: zhang_wei's statement (given)", "A", "Task_statement", "zhang_wei"),
                   target("B: the office's investigation", "B", "Task_investigate", None),
                   target("C: zhang_wei's statement", "C", "Task_statement", "zhang_wei"),
                   target("C: liu_yang's statement", "C", "Task_statement", "liu_yang")]
    # a respondent has no vote, whatever their roles: three ballots, none for liu_yang
    assert sorted(t.assignee for t in rows["A"] if t.name == "Task_vote") == ["lg_chen", "lg_wu", "lg_zhou"]
    assert [t.open for t in world.tasks] == [True, False, True, True, True]
    return world


# ---------------------------------------------------------------------------- the test

@pytest.fixture
def site(database_url, one_scenario):
    services = build_services(database_url)
    app = create_app(services=services, config={"TESTING": True, "SECRET_KEY": "matrix", "WTF_CSRF_ENABLED": False,
                                                "COMPLAINT_RATE_LIMIT": "10000/minute", "RATELIMIT_ENABLED": False})
    yield app, services
    services.db.dispose()


def routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return sorted(found)


def test_every_route_has_an_entry_in_the_table(site):
    app, _ = site
    missing = [r for r in routes(app) if r not in TABLE]
    assert missing == [], f"routes without a row in the access table: {missing}"
    gone = [r for r in TABLE if r not in routes(app)]
    assert gone == [], f"rows for routes that no longer exist: {gone}"


def _login(client, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, (username, response.status_code)


def _url(rule: str, args: dict[str, Any]) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(args[m.group(1)]), rule)


def _claimed_by(svc, task_id: str) -> str | None:
    with svc.db.session() as s:
        return s.get(Task, task_id).claimed_by


def _state(svc) -> list[tuple]:
    """Everything the matrix must leave as it was (claims are released after each successful claim)."""
    with svc.db.session() as s:
        tasks = sorted((t.id, t.state, t.claimed_by, t.completed_by) for t in s.scalars(select(Task)))
        cases = sorted((c.id, c.version, c.status) for c in s.scalars(select(Case)))
    return [tuple(tasks), tuple(cases)]


def test_route_role_relation_matrix(site):
    app, svc = site
    world = build_world(svc)
    before = _state(svc)
    failures: list[str] = []
    leaks: list[str] = []
    cells = 0
    timing: dict[tuple[str, str], float] = {}
    bodies: dict[tuple[str, str], str] = {}
    ordered = sorted(TABLE.items(), key=lambda kv: kv[1].get("last", False))
    for actor in ACTORS:
        client = app.test_client()
        headers = {}
        if actor.username:
            _login(client, actor.username)
            token = base64.b64encode(f"{actor.username}:{PASSWORD}".encode()).decode()
            headers = {"Authorization": f"Basic {token}"}
        principal = Principal(actor.username or "", actor.roles)
        for (method, rule), entry in ordered:
            kind = entry["kind"]
            if kind == "global":
                calls = [(global_class(actor), dict(entry.get("args", {})), None)]
            elif kind == "case":
                key = "file_id" if "file_id" in rule else "case_id"
                ids = world.files if key == "file_id" else world.cases
                calls = [(case_class(actor, c), {key: ids[c], "document_id": world.documents[c],
                                                 **entry.get("args", {})}, f"case {c}") for c in world.cases]
            else:
                calls = [(task_class(actor, t), {"task_id": t.id}, t) for t in world.tasks]
            for cls, args, target in calls:
                url = _url(rule, args) + entry.get("query", "")
                api = rule.startswith("/api/")
                kwargs: dict[str, Any] = {"headers": headers if api else {}}
                if "json" in entry:
                    kwargs["json"] = entry["json"]
                if "form" in entry:
                    kwargs["data"] = entry["form"]
                started = time.perf_counter()
                response = client.open(url, method=method, **kwargs)
                timing[(method, rule)] = timing.get((method, rule), 0.0) + time.perf_counter() - started
                cells += 1
                # a procedure owner is a plain officer wherever a route does not name them (it names them on
                # the process pages only)
                expected = entry["expect"].get(cls, entry["expect"].get("officer")) if cls == "owner" else \
                    entry["expect"][cls]
                allowed = expected if isinstance(expected, tuple) else (expected,)
                where = f"{method} {url} as {actor.name} ({cls}{'; ' + str(getattr(target, 'key', target)) if target else ''})"
                if response.status_code not in allowed:
                    failures.append(f"{where}: {response.status_code}, expected {expected}")
                body = response.get_data().decode("utf-8", "replace")  # documents are PDF and Word files
                if actor.username != "office_li" and (REPORTER["name"] in body or REPORTER["contact"] in body):
                    leaks.append(where)
                bodies[(actor.name, f"{method} {url}")] = body
                if isinstance(target, Target) and rule.endswith("/claim"):
                    holder = _claimed_by(svc, target.id)
                    if cls == "mine_open":
                        if holder != actor.username:
                            failures.append(f"{where}: the claim did not hold (claimed_by {holder})")
                        svc.cases.release(principal, target.id)
                    elif holder is not None:
                        failures.append(f"{where}: claimed by {holder} although refused")
    assert failures == [], "\n".join(failures)
    assert leaks == [], f"the reporter reached someone else than the office: {leaks}"
    assert _state(svc) == before  # nothing completed, nothing left claimed, no case created
    # the positive control: the office does see the reporter
    assert REPORTER["name"] in bodies[("office", f"GET /api/v1/cases/{world.cases['A']}")]
    # rows × roles × relations actually checked
    assert cells == len(ACTORS) * sum({"global": 1, "case": 3, "task": len(world.tasks)}[e["kind"]]
                                      for e in TABLE.values())
    slowest = sorted(timing.items(), key=lambda kv: -kv[1])[:5]
    print(f"\naccess matrix: {len(TABLE)} routes × {len(ACTORS)} callers = {cells} cells; slowest: {slowest}")


def _ids(items, key="id") -> set:
    return {i[key] for i in items}


def test_lists_show_a_case_only_from_the_callers_own_first_task_on(site):
    """In lists too: a respondent — even one with staff roles — never sees a case before their own first task,
    nor the office's or the group's tasks of their own case."""
    app, svc = site
    world = build_world(svc)
    a, b, c = (world.cases[k] for k in "ABC")
    who = {actor.username: Principal(actor.username, actor.roles) for actor in ACTORS if actor.username}
    expected_cases = {"office_li": {a, b, c}, "lg_chen": {a, b, c}, "admin": {a, b, c}, "reviewer": {a, b, c},
                      "owner_he": set(), "zhao_min": set(), "zhang_wei": {a, c}, "wang_fang": set(), "liu_yang": {a, c}}
    tasks_by_key = {t.key: t.id for t in world.tasks}
    expected_tasks = {"office_li": {tasks_by_key["B: the office's investigation"]},
                      "lg_chen": {tasks_by_key["A: lg_chen's ballot"]}, "admin": set(), "reviewer": set(),
                      "owner_he": set(), "zhao_min": set(), "zhang_wei": {tasks_by_key["C: zhang_wei's statement"]},
                      "wang_fang": set(), "liu_yang": {tasks_by_key["C: liu_yang's statement"]}}
    for username, principal in who.items():
        assert _ids(svc.cases.list_cases(principal).items) == expected_cases[username], username
        assert _ids(svc.cases.list_tasks(principal).items) == expected_tasks[username], username
    # the pages' lists: the staff case list and the inbox of liu_yang (office and leading group, a respondent)
    client = app.test_client()
    _login(client, "liu_yang")
    listing = client.get("/cases").get_data(as_text=True)
    assert f"/cases/{a}" in listing and f"/cases/{c}" in listing
    assert f"/cases/{b}\"" not in listing and f"/cases/{b}'" not in listing
    csv = client.get("/cases?format=csv").get_data(as_text=True)
    assert not [line for line in csv.splitlines()[1:] if line.split(",")[0] == str(b)]
    inbox = client.get("/").get_data(as_text=True)
    for t in world.tasks:
        if t.key != "C: liu_yang's statement":
            assert t.id not in inbox, t.key
    assert tasks_by_key["C: liu_yang's statement"] in inbox
