"""Documents, notifications and reports through the JSON API, on SQLite and PostgreSQL: cases driven through the
real case service, each endpoint's answer, who may call which (office, leading group, reviewer, a respondent, an
officer with no part, anonymous), paging by cursor, and never the reporter for anyone but the office."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from sqlalchemy import select

from service.auth import Principal
from service.store.models import Document, Notification
from service.web import build_services, create_app
from tests.databases import PASSWORD
from tests.steps import drain_documents
from tests.test_api import Api
from tests.test_documents import REPORTER, WANG, ZHANG, docx_text, named, public_case, serve, step, to_decision
from tests.test_persons_service import decided_case, serve_all, step as persons_step
from tests.test_time_limits import CST, Clock, day_end

OFFICE = Principal("office_li", frozenset({"office"}))
STAFF = ("office_li", "lg_chen", "reviewer")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
INT_MAX = 2**31 - 1


@pytest.fixture
def clock():
    return Clock(dt.datetime(2026, 9, 16, 9, 0, tzinfo=CST))


@pytest.fixture
def svc(database_url, clock):
    services = build_services(database_url, clock=clock)
    yield services
    services.db.dispose()


@pytest.fixture
def api(svc):
    return Api(create_app(services=svc, config={"TESTING": True, "RATELIMIT_ENABLED": False}).test_client())


def no_reporter(text: str, who: str) -> None:
    assert REPORTER["name"] not in text and REPORTER["contact"] not in text, who


# --------------------------------------------------------------------------- documents

def test_documents_list_details_and_files_as_each_caller_may_read_them(api, svc):
    named(svc)
    case_id = public_case(svc.cases)
    to_decision(svc.cases, case_id)
    # documents are rendered after their step (the outbox): listed at once as pending, then ready
    assert {d["state"] for d in api.ok(api.get("office_li", f"/cases/{case_id}/documents"))["items"]} == {"pending"}
    drain_documents(svc)
    listed = api.ok(api.get("office_li", f"/cases/{case_id}/documents"))
    assert listed["case_id"] == case_id and {d["state"] for d in listed["items"]} == {"ready"}
    docs = listed["items"]
    by = {(d["kind"], d["person"]): d for d in docs}
    assert sorted(by) == [("decision", "wang_fang"), ("decision", "zhang_wei"), ("hearing_notice", "wang_fang"),
                          ("hearing_notice", "zhang_wei"), ("registration_notice", "wang_fang"),
                          ("registration_notice", "zhang_wei")]
    with svc.db.session() as s:
        stored = {d.id: d.number for d in s.scalars(select(Document).where(Document.case_id == case_id))}
    for d in docs:
        assert d["number"] == stored[d["id"]] and d["title"] and dt.date.fromisoformat(d["issued_on"])
        assert d["links"] == {"pdf": f"/api/v1/cases/{case_id}/documents/{d['id']}.pdf",
                              "docx": f"/api/v1/cases/{case_id}/documents/{d['id']}.docx"}
    decision = by[("decision", "wang_fang")]
    assert decision["served_on"] is None and decision["title"] == "处理决定书"
    # one document, and its files with their names
    assert api.ok(api.get("lg_chen", f"/cases/{case_id}/documents/{decision['id']}")) == decision
    pdf = api.client.get(decision["links"]["pdf"], headers=api._headers("office_li"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    name = f"{decision['number']}处理决定书（王芳）"
    assert pdf.headers["Content-Disposition"] == (f"attachment; filename=\"document-{decision['id']}.pdf\"; "
                                                  f"filename*=UTF-8''{quote(name + '.pdf')}")
    assert "no-store" in pdf.headers["Cache-Control"]
    word = api.client.get(decision["links"]["docx"], headers=api._headers("reviewer"))
    assert word.status_code == 200 and word.mimetype == DOCX and word.data.startswith(b"PK")
    assert quote(name + ".docx") in word.headers["Content-Disposition"] and "王芳" in docx_text(word.data)
    # the leading group and reviewers see every one, as the office does
    for user in STAFF:
        assert api.ok(api.get(user, f"/cases/{case_id}/documents"))["items"] == docs, user
    # a respondent: their own notices; their decision only once served on them
    mine = api.ok(api.get("wang_fang", f"/cases/{case_id}/documents"))["items"]
    assert {(d["kind"], d["person"]) for d in mine} == {("registration_notice", "wang_fang"),
                                                        ("hearing_notice", "wang_fang")}
    for path in (f"/cases/{case_id}/documents/{decision['id']}", decision["links"]["pdf"][7:],
                 decision["links"]["docx"][7:]):
        response = api.get("wang_fang", path)
        assert response.status_code == 404 and response.get_json()["error"] == "not_found", path
    serve(svc.cases, case_id, "wang_fang")
    mine = api.ok(api.get("wang_fang", f"/cases/{case_id}/documents"))["items"]
    assert [d for d in mine if d["kind"] == "decision"][0]["served_on"] == "2026-11-20"
    assert api.client.get(decision["links"]["docx"], headers=api._headers("wang_fang")).status_code == 200
    # never another respondent's, whether it exists or not
    for d in docs:
        if d["person"] != "wang_fang":
            assert api.get("wang_fang", f"/cases/{case_id}/documents/{d['id']}.pdf").status_code == 404
    assert {d["person"] for d in api.ok(api.get("zhang_wei", f"/cases/{case_id}/documents"))["items"]} == {
        "zhang_wei"}
    # an officer with no part in the case: the case itself is not found
    for path in (f"/cases/{case_id}/documents", f"/cases/{case_id}/documents/{decision['id']}",
                 f"/cases/{case_id}/documents/{decision['id']}.pdf"):
        assert api.get("liu_yang", path).status_code == 404, path
        assert api.get(None, path).status_code == 401, path


def test_document_paths_that_name_nothing_are_404_and_a_bad_format_422(api, svc):
    case_id = public_case(svc.cases)
    to_decision(svc.cases, case_id)
    other = public_case(svc.cases)
    doc = api.ok(api.get("office_li", f"/cases/{case_id}/documents"))["items"][0]
    bad = api.get("office_li", f"/cases/{case_id}/documents/{doc['id']}.html")
    assert bad.status_code == 422 and bad.get_json()["fields"] == {"format": "请选择 pdf 或 docx"}
    assert "pdf or .docx" in bad.get_json()["message"]
    assert api.get(None, f"/cases/{case_id}/documents/{doc['id']}.html").status_code == 401
    for path in (f"/cases/{other}/documents/{doc['id']}.pdf",  # under another case
                 f"/cases/{other}/documents/{doc['id']}",
                 f"/cases/{case_id}/documents/{INT_MAX}.pdf", f"/cases/{case_id}/documents/{INT_MAX + 1}.pdf",
                 f"/cases/{INT_MAX}/documents", f"/cases/{INT_MAX + 1}/documents", f"/cases/{2**63}/documents/1",
                 f"/cases/{case_id}/documents/0.pdf", f"/cases/{case_id}/documents/x.pdf",
                 f"/cases/{case_id}/documents/{doc['id']}."):
        response = api.get("office_li", path)
        assert response.status_code == 404 and response.get_json()["message"], path
    assert api.ok(api.get("office_li", f"/cases/{other}/documents"))["items"] == []  # registered later: none yet
    nul = api.get("office_li", f"/cases/{case_id}/documents/{doc['id']}.p%00df")
    assert nul.status_code in (404, 422) and nul.get_json()["message"]


# --------------------------------------------------------------------------- notifications

def overdue_reminders(svc, clock, cases: int) -> list[int]:
    """``cases`` public complaints whose registration is overdue: one reminder each to both office members."""
    ids = [svc.cases.start_case(None, {"officer": "执法一科 张伟", "summary": f"举报{i}", "act_date": "2026-09-01",
                                       "reporter": REPORTER})["id"] for i in range(cases)]
    clock.set(day_end("2026-10-13") + dt.timedelta(seconds=1))
    assert svc.reminders.run().reminded == cases
    return ids


def test_notifications_newest_first_with_the_unread_count_and_marking_read(api, svc, clock):
    case_ids = overdue_reminders(svc, clock, 3)
    page = api.ok(api.get("office_li", "/notifications"))
    assert page["unread"] == 3 and page["total"] == 3 and page["total_capped"] is False
    assert page["next_cursor"] is None and page["page"] == 1 and page["per_page"] == 50
    items = page["items"]
    assert [n["id"] for n in items] == sorted((n["id"] for n in items), reverse=True)
    assert {n["case_id"] for n in items} == set(case_ids)
    first = items[0]
    assert (first["kind"], first["title"], first["read"]) == ("reminder", "立案审查", False)
    assert first["due"].startswith("2026-10-13T15:59:59") and first["task_id"]
    # one read: the count drops, the filter leaves it out
    assert api.ok(api.post("office_li", f"/notifications/{first['id']}/read")) == {"id": first["id"], "read": True,
                                                                                   "unread": 2}
    assert api.ok(api.post("office_li", f"/notifications/{first['id']}/read"))["unread"] == 2  # again: no change
    unread = api.ok(api.get("office_li", "/notifications", unread="true"))
    assert (unread["total"], unread["unread"]) == (2, 2) and first["id"] not in [n["id"] for n in unread["items"]]
    everything = api.ok(api.get("office_li", "/notifications", unread="false"))["items"]
    assert [n["read"] for n in everything] == [True, False, False]
    # someone else's is not found, and stays unread
    hers = api.ok(api.get("office_sun", "/notifications"))["items"][0]
    response = api.post("office_li", f"/notifications/{hers['id']}/read")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert api.ok(api.get("office_sun", "/notifications"))["unread"] == 3
    for missing in (INT_MAX, INT_MAX + 1, 0):
        assert api.post("office_li", f"/notifications/{missing}/read").status_code == 404
    # all read
    assert api.ok(api.post("office_li", "/notifications/read-all")) == {"marked": 2, "unread": 0}
    assert api.ok(api.post("office_li", "/notifications/read-all")) == {"marked": 0, "unread": 0}
    assert api.ok(api.get("office_li", "/notifications", unread="1"))["items"] == []
    assert api.ok(api.get("office_sun", "/notifications"))["unread"] == 3
    # each person their own: nothing for a respondent or a reviewer here, 401 without credentials
    for user in ("zhang_wei", "reviewer", "liu_yang"):
        assert api.ok(api.get(user, "/notifications")) | {"items": None} == {
            "items": None, "total": 0, "page": 1, "per_page": 50, "total_capped": False, "next_cursor": None,
            "unread": 0}, user
    for method, path in (("get", "/notifications"), ("post", "/notifications/read-all"),
                         ("post", f"/notifications/{first['id']}/read")):
        assert getattr(api, method)(None, path).status_code == 401
    text = json.dumps([api.get(u, "/notifications").get_json() for u in ("office_li", "office_sun", "zhang_wei")],
                      ensure_ascii=False)
    no_reporter(text, "notifications")


def test_notifications_page_by_cursor_however_many_arrive_meanwhile(api, svc, clock):
    overdue_reminders(svc, clock, 5)
    first = api.ok(api.get("office_li", "/notifications", per_page=2))
    assert len(first["items"]) == 2 and first["total"] == 5 and first["next_cursor"]
    seen = [n["id"] for n in first["items"]]
    # two more arrive: newer than every row paged so far, so they come on no later page
    with svc.db.session() as s, s.begin():
        for _ in range(2):
            s.add(Notification(username="office_li", kind="reminder", title="调查取证", created_at=clock()))
    cursor = first["next_cursor"]
    while cursor:
        page = api.ok(api.get("office_li", "/notifications", per_page=2, cursor=cursor))
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 5 and seen == sorted(seen, reverse=True)
    # by page number too, and the new ones now first
    numbered = [n["id"] for p in (1, 2, 3, 4) for n in api.ok(api.get("office_li", "/notifications", per_page=2,
                                                                      page=p))["items"]]
    assert numbered[2:] == seen and len(numbered) == 7
    # unread only, by cursor
    unread = api.ok(api.get("office_li", "/notifications", unread="true", per_page=6))
    assert len(unread["items"]) == 6 and unread["next_cursor"]
    last = api.ok(api.get("office_li", "/notifications", unread="true", per_page=6, cursor=unread["next_cursor"]))
    assert len(last["items"]) == 1 and last["next_cursor"] is None
    # a cursor of another list, or none at all; a bad flag
    tasks_cursor = api.ok(api.get("office_li", "/tasks", per_page=1))["next_cursor"]
    for cursor in ("nonsense", tasks_cursor, "W10", "\u00e9"):
        response = api.get("office_li", "/notifications", cursor=cursor)
        assert response.status_code == 422 and "cursor" in response.get_json()["fields"], cursor
    response = api.get("office_li", "/notifications", unread="maybe")
    assert response.status_code == 422 and response.get_json()["fields"] == {"unread": "应为 true 或 false"}
    for params in ({"per_page": 0}, {"page": INT_MAX + 1}, {"per_page": "x"}):
        assert api.get("office_li", "/notifications", **params).status_code == 422, params
    assert len(api.ok(api.get("office_li", "/notifications", per_page=INT_MAX))["items"]) == 7  # at most 200


# --------------------------------------------------------------------------- reports

def test_reports_as_the_page_shows_them_for_each_role(api, svc):
    year = 2026
    cases = [decided_case(svc, "wang_fang", f"{year}-01-10"), decided_case(svc, "wang_fang", f"{year}-02-10")]
    for case_id in cases:
        serve_all(svc, case_id)
    persons_step(svc, WANG, cases[0], "Task_appeal", {"appeal": False})  # closed: on the Art. 15 register
    persons_step(svc, OFFICE, cases[0], "Task_recovery", {"compensation_paid": 0, "recovery": []})
    complaint = public_case(svc.cases)  # a public complaint with a reporter, open at registration
    f = {"year": year}
    from service.store.statistics import CaseFilter
    expected = svc.reports.overview(OFFICE, CaseFilter(year=year))
    stats = api.ok(api.get("office_li", "/reports/statistics", **f))
    assert stats["filters"] == {"year": year, "channel": None, "unit": None, "from": None, "to": None}
    for key in ("channel", "ground", "status", "outcome", "tier", "step", "age"):
        assert stats[key] == expected[key], key
    assert stats["totals"]["cases"] == 3 and stats["totals"]["persons_liable"] == 2
    assert {r["key"]: r["count"] for r in stats["channel"]}["public_complaint"] == 1
    compliance = api.ok(api.get("lg_chen", "/reports/compliance", **f))
    assert compliance["deadlines"] == expected["deadlines"] and compliance["deadline_totals"] == expected[
        "deadline_totals"]
    assert compliance["deadline_totals"]["on_time"] > 0
    # the filters narrow the statistics as on the page
    inspected = api.ok(api.get("office_li", "/reports/statistics", year=year, channel="inspection"))
    assert inspected["totals"]["cases"] == 2 and inspected["filters"]["channel"] == "inspection"
    assert api.ok(api.get("office_li", "/reports/statistics", year=2025))["totals"]["cases"] == 0
    choices = api.ok(api.get("reviewer", "/reports/filters"))
    assert year in choices["years"] and "public_complaint" in choices["channels"]
    register = api.ok(api.get("office_li", "/reports/register", **f))
    assert register == {"year": year, "items": svc.cases.disqualifications(OFFICE, year)}
    assert {(r["kind"], r["name"]) for r in register["items"]} == {("person", "wang_fang"), ("unit", "执法二科")}
    watch = api.ok(api.get("lg_chen", "/reports/watch-list", **f))
    assert (watch["threshold"], watch["hidden"], watch["count"]) == (3, False, 1)
    assert [(p["person"], p["count"], p["reached"]) for p in watch["persons"]] == [("wang_fang", 2, False)]
    assert sorted(e["case_id"] for e in watch["persons"][0]["errors"]) == cases
    assert watch["quote"].startswith("第十一条")
    # reviewers read everything but the watch list's names
    hidden = api.ok(api.get("reviewer", "/reports/watch-list", **f))
    assert (hidden["hidden"], hidden["count"], hidden["persons"]) == (True, 1, [])
    assert "wang_fang" not in json.dumps(hidden)
    assert api.ok(api.get("reviewer", "/reports/statistics", **f))["totals"] == stats["totals"]
    # anyone else: 403, without credentials 401
    paths = ("/reports/filters", "/reports/statistics", "/reports/compliance", "/reports/register",
             "/reports/watch-list")
    for user in ("admin", "zhang_wei", "wang_fang", "liu_yang"):
        for path in paths:
            response = api.get(user, path, **f)
            assert response.status_code == 403 and response.get_json()["error"] == "forbidden", (user, path)
    for path in paths:
        assert api.get(None, path).status_code == 401, path
    # never the reporter, whoever reads (the office included: reports do not read a reporter)
    for user in ("office_li", "lg_chen", "reviewer"):
        no_reporter("".join(api.get(user, p, **f).get_data(as_text=True) for p in paths), user)
    assert complaint


def test_report_filters_are_checked_as_on_the_page(api):
    for params, field in (({"year": 12345}, "year"), ({"year": "20x6"}, "year"), ({"from": "2026-02-30"}, "from"),
                          ({"from": "2026-05-01", "to": "2026-04-01"}, "to"), ({"channel": "fax"}, "channel"),
                          ({"unit": "科" * 101}, "unit")):
        for path in ("/reports/statistics", "/reports/compliance"):
            response = api.get("office_li", path, **params)
            body = response.get_json()
            assert response.status_code == 422 and field in body["fields"] and body["message"], (path, params)
    for path in ("/reports/register", "/reports/watch-list"):
        assert api.get("office_li", path, year=1899).status_code == 422
        assert api.get("office_li", path, year=INT_MAX + 1).status_code == 422
    assert api.get("office_li", "/reports/statistics", unit="a\x00b").status_code == 422
    # a filter the caller may not use at all is still 403 before it is checked
    assert api.get("zhang_wei", "/reports/statistics", channel="fax").status_code == 403
    # the default year is this year
    this_year = api.ok(api.get("office_li", "/reports/register"))["year"]
    assert api.ok(api.get("office_li", "/reports/statistics"))["filters"]["year"] == this_year


# --------------------------------------------------------------------------- never the reporter

def test_a_respondent_never_sees_the_reporter_in_documents_notifications_or_reports(api, svc, clock):
    named(svc)
    case_id = public_case(svc.cases)
    to_decision(svc.cases, case_id)
    serve(svc.cases, case_id, "zhang_wei")
    step(svc.cases, ZHANG, case_id, "Task_appeal", {"appeal": False})
    clock.set(clock() + dt.timedelta(days=90))
    svc.reminders.run()
    assert WANG and api.ok(api.get("office_li", f"/cases/{case_id}"))["reporter"] == REPORTER  # the control
    for user in ("zhang_wei", "wang_fang"):
        texts = [api.get(user, p).get_data(as_text=True) for p in (
            f"/cases/{case_id}/documents", "/notifications", "/reports/statistics", "/reports/watch-list",
            "/reports/register")]
        for d in api.ok(api.get(user, f"/cases/{case_id}/documents"))["items"]:
            texts.append(api.get(user, f"/cases/{case_id}/documents/{d['id']}").get_data(as_text=True))
            response = api.client.get(d["links"]["docx"], headers=api._headers(user))
            assert response.status_code == 200
            texts.append(docx_text(response.data) + response.headers["Content-Disposition"])
        assert texts[0].count('"person"') >= 2
        no_reporter("\n".join(texts), user)


def test_the_notifications_page_pages_with_the_shared_pager(svc, clock):
    """The page reads the same paged list: previous and next, numbers around this page, ``unread`` kept."""
    with svc.db.session() as s, s.begin():
        s.add_all([Notification(username="office_li", kind="reminder", title=f"任务{i:02d}号", created_at=clock())
                   for i in range(55)])
    app = create_app(services=svc, config={"TESTING": True, "SECRET_KEY": "pager", "WTF_CSRF_ENABLED": False,
                                           "RATELIMIT_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"username": "office_li", "password": PASSWORD}).status_code == 302
    first = client.get("/notifications?unread=1").get_data(as_text=True)
    assert "任务54号" in first and "任务05号" in first and "任务04号" not in first
    assert 'href="/notifications?unread=1&amp;page=2" rel="next"' in first
    second = client.get("/notifications?unread=1&page=2").get_data(as_text=True)
    assert "任务04号" in second and "任务05号" not in second and 'rel="prev"' in second and 'rel="next"' not in second


def test_every_api_route_and_method_is_in_the_openapi_document(api):
    """So the schemathesis run (tests/test_fuzz.py) reaches each of them; anonymous callers are told to use Basic."""
    import re
    routes = {(re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", r.rule[len("/api/v1"):]).replace("{fmt}", "{format}"), m)
              for r in api.client.application.url_map.iter_rules() if r.rule.startswith("/api/v1/")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    doc = api.ok(api.get(None, "/openapi.json"))
    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    assert routes == described
    for path in ("/notifications", "/reports/statistics", "/cases/1/documents", "/cases/1/documents/1.pdf"):
        response = api.get(None, path)
        assert response.status_code == 401 and "Basic" in response.headers["WWW-Authenticate"], path
