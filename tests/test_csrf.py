"""CSRF on every form route of the pages (SQLite and PostgreSQL), with CSRF on as in production: each POST route
of the pages (read from the app's url_map, so a new one without a case here fails) answers 400 without a valid
token — none, or one of another session — and changes no row; the same request with the page's token goes
through (the control that shows the request would have changed something)."""
from __future__ import annotations

import io
import re
from typing import Any, Callable

import pytest
from sqlalchemy import select

from service.auth import Principal
from service.store.models import Base
from service.web import build_services, create_app
from tests.databases import PASSWORD

OFFICE = Principal("office_li", frozenset({"office"}))
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
@pytest.fixture
def site(database_url, one_scenario):
    services = build_services(database_url)
    # TESTING as the other web tests run, but CSRF left on (no WTF_CSRF_ENABLED=False)
    app = create_app(services=services, config={"TESTING": True, "SECRET_KEY": "csrf-test",
                                                "COMPLAINT_RATE_LIMIT": "10000/minute"})
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    yield app, services
    services.db.dispose()


def rows(services) -> dict[str, list[tuple]]:
    """Every row of every table (the last-seen time of a session aside: reading a page touches it)."""
    out = {}
    with services.db.session() as s:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if not (table.name == "web_sessions" and c.name == "last_seen")]
            out[table.name] = sorted(tuple(repr(v) for v in r) for r in s.execute(select(*cols)))
    return out


HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>')


def page_of(client, path: str) -> tuple[str, dict[str, str]]:
    """The page's CSRF token and its other hidden fields (e.g. the report form's submission id)."""
    html = client.get(path).get_data(as_text=True)
    m = TOKEN.search(html)
    assert m, f"no csrf_token on {path}"
    hidden = {}
    for tag in HIDDEN.findall(html):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and value and name.group(1) not in ("csrf_token", "next"):
            hidden[name.group(1)] = value.group(1)
    return m.group(1) or m.group(2), hidden


def token_of(client, path: str) -> str:
    return page_of(client, path)[0]


def logged_in(app, username: str):
    client = app.test_client()
    token = token_of(client, "/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def new_case(services) -> tuple[int, str]:
    case_id = services.cases.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                                 "grounds": [7], "summary": "s", "act_date": "2026-03-02"})["id"]
    (task,) = services.cases.list_tasks(OFFICE, filters={"case_id": case_id, "name": "Task_register"}).items
    return case_id, task["id"]


def new_draft(services) -> int:
    from service.drafts import DraftService
    return DraftService(services.db, services.deployments, services.cases).create(Principal("admin", frozenset({"admin"})))


def unread_reminder(services) -> int:
    """An unread reminder for office_li: the timer worker's run two months on, past the registration limit."""
    import datetime as dt

    from service.store.models import Notification
    services.reminders.run(now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=60))
    with services.db.session() as s:
        return s.scalar(select(Notification.id).where(Notification.username == "office_li",
                                                      Notification.read_at.is_(None)).order_by(Notification.id.desc()))


REGISTER_FORM = {"register": "true", "grounds": "7", "respondents.0.person": "zhang_wei",
                 "respondents.0.role": "handler", "respondents.0.unit": "执法一科"}


def changed(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    return [t for t in before if before[t] != after[t]]


class Attempt:
    """One form route: who posts, to where, what; the control's expected status."""

    def __init__(self, user: str | None, path: Callable[[Any], str], form: Callable[[Any], dict[str, Any]],
                 page: Callable[[Any], str], ok: tuple[int, ...], files: bool = False):
        self.user, self.path, self.form, self.page, self.ok, self.files = user, path, form, page, ok, files


def evidence() -> tuple[io.BytesIO, str]:
    return io.BytesIO(b"evidence bytes"), "evidence.txt"


# one entry per POST route of the pages (the API uses HTTP Basic on every request: no cookies, no CSRF)
ATTEMPTS: dict[str, list[Attempt]] = {
    "/login": [Attempt(None, lambda w: "/login", lambda w: {"username": "office_li", "password": PASSWORD},
                       lambda w: "/login", (302,))],
    "/logout": [Attempt("office_li", lambda w: "/logout", lambda w: {}, lambda w: "/", (302,))],
    "/tasks/<task_id>": [
        # the task form submitted
        Attempt("office_li", lambda w: f"/tasks/{w['task']}", lambda w: dict(REGISTER_FORM),
                lambda w: f"/tasks/{w['task']}", (302,)),
        # a draft
        Attempt("office_li", lambda w: f"/tasks/{w['task']}", lambda w: {**REGISTER_FORM, "action": "draft"},
                lambda w: f"/tasks/{w['task']}", (200,)),
        # an upload with the form
        Attempt("office_li", lambda w: f"/tasks/{w['task']}",
                lambda w: {**REGISTER_FORM, "evidence_files": evidence()},
                lambda w: f"/tasks/{w['task']}", (302,), files=True)],
    "/tasks/<task_id>/claim": [Attempt("office_li", lambda w: f"/tasks/{w['task']}/claim", lambda w: {},
                                       lambda w: "/", (302,))],
    "/tasks/<task_id>/release": [Attempt("office_li", lambda w: f"/tasks/{w['task']}/release", lambda w: {},
                                         lambda w: "/", (302,))],
    "/notifications/<int:notification_id>/read": [Attempt("office_li", lambda w: f"/notifications/{w['note']}/read",
                                                          lambda w: {}, lambda w: "/notifications", (302,))],
    "/notifications/read-all": [Attempt("office_li", lambda w: "/notifications/read-all", lambda w: {},
                                        lambda w: "/notifications", (302,))],
    "/report": [Attempt(None, lambda w: "/report",
                        lambda w: {"officer": "zhang_wei", "unit": "执法一科", "act_date": "2026-03-02",
                                   "summary": "执法人员未出示证件", "reporter_name": "钱举报人",
                                   "reporter_contact": "13700009999"},
                        lambda w: "/report", (200, 302, 303))],
    "/report/status": [Attempt(None, lambda w: "/report/status", lambda w: {"code": "NOSUCHCODE"},
                               lambda w: "/report/status", (200,))],
    "/decisions/<decision_id>": [Attempt("reviewer", lambda w: "/decisions/sanction",
                                         lambda w: {"severity": "light", "aggravated": "false"},
                                         lambda w: "/decisions/sanction", (200,))],
    "/processes/upload": [Attempt("admin", lambda w: "/processes/upload",
                                  lambda w: {"files": (io.BytesIO(b"<not-xml"), "broken.dmn")},
                                  lambda w: "/processes", (422, 302), files=True)],
    "/processes/deploy": [Attempt("admin", lambda w: "/processes/deploy", lambda w: {}, lambda w: "/processes",
                                  (302, 422))],
    "/processes/migrate": [Attempt("admin", lambda w: "/processes/migrate?source=1&target=1",
                                   lambda w: {"case": str(w["case"])},
                                   lambda w: "/processes/migrate?source=1&target=1", (200,))],
    "/processes/scenarios": [Attempt("admin", lambda w: "/processes/scenarios", lambda w: {"version": "1"},
                                     lambda w: "/processes", (200,))],
    # the in-browser modeler (w["draft"] is a fresh draft of the live version)
    "/processes/edit/new": [Attempt("admin", lambda w: "/processes/edit/new", lambda w: {},
                                    lambda w: "/processes/edit", (302,))],
    "/processes/edit/<int:draft_id>/check": [Attempt("admin", lambda w: f"/processes/edit/{w['draft']}/check",
                                                     lambda w: {}, lambda w: f"/processes/edit/{w['draft']}/check",
                                                     (302,))],
    "/processes/edit/<int:draft_id>/discard": [Attempt("admin", lambda w: f"/processes/edit/{w['draft']}/discard",
                                                       lambda w: {}, lambda w: f"/processes/edit/{w['draft']}",
                                                       (302,))],
    "/processes/edit/<int:draft_id>/deploy": [Attempt("admin", lambda w: f"/processes/edit/{w['draft']}/deploy",
                                                      lambda w: {"revision": "1"},
                                                      lambda w: f"/processes/edit/{w['draft']}/check", (422,))],
    # the editor's JSON requests send the token in the X-CSRFToken header (tests/test_web_modeler.py); a form
    # post with the page's token gets past CSRF and is refused as not JSON
    "/processes/edit/<int:draft_id>/save": [Attempt("admin", lambda w: f"/processes/edit/{w['draft']}/save",
                                                    lambda w: {}, lambda w: f"/processes/edit/{w['draft']}",
                                                    (422,))],
    "/processes/edit/<int:draft_id>/form-problems": [
        Attempt("admin", lambda w: f"/processes/edit/{w['draft']}/form-problems", lambda w: {},
                lambda w: f"/processes/edit/{w['draft']}", (422,))],
    # version 1 is live already: the control goes through and says so (roll-backs themselves: tests/test_deploy.py)
    "/processes/<int:version>/activate": [Attempt("admin", lambda w: "/processes/1/activate", lambda w: {},
                                                  lambda w: "/processes", (302,))],
}


def test_every_form_route_has_a_csrf_case(site):
    app, _ = site
    posts = sorted({r.rule for r in app.url_map.iter_rules() if "POST" in r.methods and not r.rule.startswith("/api/")})
    assert posts == sorted(ATTEMPTS), "POST routes of the pages and the CSRF cases differ"


@pytest.mark.parametrize("rule", sorted(ATTEMPTS))
def test_a_form_post_without_a_valid_token_is_400_and_changes_nothing(site, rule):
    app, services = site
    other = logged_in(app, "office_sun")
    foreign_token = token_of(other, "/")  # a token of another session
    for attempt in ATTEMPTS[rule]:
        case_id, task_id = new_case(services)
        world = {"case": case_id, "task": task_id, "draft": new_draft(services)}
        if rule.startswith("/notifications"):
            world["note"] = unread_reminder(services)
        if rule.endswith("/release"):
            services.cases.claim(OFFICE, task_id)  # something to release
        client = logged_in(app, attempt.user) if attempt.user else app.test_client()
        page_token, hidden = page_of(client, attempt.page(world))
        before = rows(services)
        for token in (None, "", "forged-" + page_token[7:], foreign_token):
            form = {**hidden, **attempt.form(world)} if rule == "/report" else attempt.form(world)
            if token is not None:
                form["csrf_token"] = token
            response = client.post(attempt.path(world), data=form,
                                   content_type="multipart/form-data" if attempt.files else None)
            assert response.status_code == 400, (rule, token, response.status_code)
            assert changed(before, rows(services)) == [], (rule, token)
        if rule == "/logout":  # still logged in: the forged logout did nothing
            assert client.get("/").status_code == 200
        # the control: the page's own token goes through, and the route does change something
        form = {**(hidden if rule == "/report" else {}), **attempt.form(world), "csrf_token": page_token}
        response = client.post(attempt.path(world), data=form,
                               content_type="multipart/form-data" if attempt.files else None)
        assert response.status_code in attempt.ok, (rule, response.status_code)
        if rule not in ("/report/status", "/decisions/<decision_id>", "/processes/scenarios", "/processes/deploy",
                        "/processes/upload", "/processes/migrate", "/processes/<int:version>/activate",
                        "/processes/edit/<int:draft_id>/deploy", "/processes/edit/<int:draft_id>/save",
                        "/processes/edit/<int:draft_id>/form-problems"):
            assert changed(before, rows(services)), f"{rule}: the control changed nothing"
