"""The case service through its JSON API, on SQLite and on PostgreSQL (same suite, both URLs)."""
from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from service.bundle import Bundle
from service.store.models import Case, CaseState, DecisionRecord, Event, Task
from service.web import build_services, create_app
from tests.databases import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
REPORTER = {"name": "赵举报", "contact": "13912345678"}
FINDING = {"handler_fault": 5, "severity": "light"}
CONCLUSION = {"conclusion": "查明的过错事实。", "findings": [{"person": "zhang_wei", **FINDING}]}
MEMBERS = ["lg_chen", "lg_wu", "lg_zhou"]
UNITS = {"zhang_wei": "执法一科", "wang_fang": "执法二科", "liu_yang": "执法一科"}


@pytest.fixture
def api(services):
    app = create_app(services=services, config={"TESTING": True, "COMPLAINT_RATE_LIMIT": "1000 per minute"})
    return Api(app.test_client())


def registration(*persons: str, grounds: list[int] | None = None) -> dict[str, Any]:
    persons = persons or ("zhang_wei",)
    roles = ["handler", "reviewer", "approver"]
    return {"register": True, "grounds": grounds or [7],
            "respondents": [{"person": p, "role": roles[i], "unit": UNITS[p]} for i, p in enumerate(persons)]}


class Api:
    """Calls the API as a given user (HTTP Basic)."""

    def __init__(self, client):
        self.client = client

    def _headers(self, user: str | None) -> dict[str, str]:
        if user is None:
            return {}
        token = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def get(self, user: str | None, path: str, **params):
        return self.client.get(f"/api/v1{path}", headers=self._headers(user), query_string=params)

    def post(self, user: str | None, path: str, body: Any = None):
        return self.client.post(f"/api/v1{path}", headers=self._headers(user), json=body)

    def ok(self, response, status: int = 200) -> Any:
        assert response.status_code == status, response.get_json()
        return response.get_json()

    # the procedure through the API
    def task(self, user: str, case_id: int, name: str) -> dict[str, Any]:
        items = self.ok(self.get(user, "/tasks", case_id=case_id, name=name))["items"]
        assert items, f"{user} has no {name} in case {case_id}"
        return items[0]

    def complete(self, user: str, case_id: int, name: str, data: dict[str, Any]) -> dict[str, Any]:
        task = self.task(user, case_id, name)
        return self.ok(self.post(user, f"/tasks/{task['id']}/complete", {"data": data}))

    def start(self, **intake) -> int:
        body = {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7],
                "summary": "未按程序送达", "act_date": "2026-03-02", **intake}
        return self.ok(self.post("office_li", "/cases", body), 201)["id"]

    def to_conclusion(self, case_id: int, subject: str = "zhang_wei", act_date: str = "2026-03-02"):
        """Registered with ``subject`` as the one respondent and investigated: waiting for the conclusion."""
        self.complete("office_li", case_id, "Task_register", registration(subject))
        self.complete("office_li", case_id, "Task_investigate", {"facts_found": "事实", "evidence": ["证据一"],
                                                                 "investigators": ["office_li", "office_sun"],
                                                                 "act_date": act_date})

    def conclude(self, case_id: int, subject: str = "zhang_wei", hear: bool = True, **finding) -> None:
        """The office's proposal for ``subject``, then (``hear``) their statement."""
        self.complete("office_li", case_id, "Task_conclude", {
            "conclusion": "查明的过错事实。", "findings": [{"person": subject, **FINDING, **finding}]})
        if hear:
            self.complete(subject, case_id, "Task_statement", {"statement_waived": False, "statement": "我的陈述"})

    def vote_and_serve(self, case_id: int, subject: str = "zhang_wei", measure: str | None = None) -> None:
        choices = [{"person": subject, "measure": measure}] if measure else []
        for member in MEMBERS:
            self.complete(member, case_id, "Task_vote", {"vote": "approve", "measure_choices": choices})
        self.complete("office_li", case_id, "Task_serve", {"decision_number": "明执追〔2026〕9号",
                                                            "served_on": "2026-11-20", "service_method": "direct"})

    def decide(self, case_id: int, subject: str = "zhang_wei", measure: str | None = None, **finding) -> None:
        self.conclude(case_id, subject, **finding)
        self.vote_and_serve(case_id, subject, measure)

    def close(self, case_id: int, subject: str = "zhang_wei") -> None:
        self.complete(subject, case_id, "Task_appeal", {"appeal": False})
        self.complete("office_li", case_id, "Task_recovery", {"compensation_paid": 0, "recovery": []})


# --------------------------------------------------------------------------- full cases

@pytest.mark.parametrize("channel", ["self_report", "public_complaint", "superior_referral", "inspection"])
def test_a_full_case_through_the_api_for_each_channel(api, channel):
    if channel == "public_complaint":
        code = api.ok(api.post(None, "/complaints", {"officer": "执法一科张某", "summary": "暴力执法",
                                                    "act_date": "2026-03-02", "reporter": REPORTER}), 201)
        assert len(code["receipt_code"]) == 10
        case_id = api.ok(api.get("office_li", "/cases", channel="public_complaint"))["items"][0]["id"]
    elif channel == "self_report":
        case_id = api.ok(api.post("zhang_wei", "/cases", {"channel": "self_report", "subject": "zhang_wei",
                                                          "unit": "执法一科", "grounds": [6], "summary": "主动报告",
                                                          "act_date": "2026-03-02"}), 201)["id"]
    else:
        case_id = api.start(channel=channel)
    api.to_conclusion(case_id)
    api.conclude(case_id, severity="serious")
    for member in MEMBERS:
        api.complete(member, case_id, "Task_vote", {"vote": "approve", "measure_choices": [
            {"person": "zhang_wei", "measure": "警告处分"}]})
    serve = api.task("office_li", case_id, "Task_serve")
    assert serve["person"] == "zhang_wei" and serve["assignee"] is None
    api.complete("office_li", case_id, "Task_serve", {"decision_number": "明执追〔2026〕9号",
                                                       "served_on": "2026-11-20", "service_method": "direct"})
    api.close(case_id)
    case = api.ok(api.get("office_li", f"/cases/{case_id}"))
    assert case["status"] == "closed" and case["end_event"] == "结案"
    [outcome] = case["outcomes"]
    assert (outcome["person"], outcome["tier"], outcome["measure"]) == ("zhang_wei", 3, "警告处分")
    assert "第十二条第（三）项" in outcome["citations"] and outcome["served_on"] == "2026-11-20"
    assert [d["decision"] for d in case["decisions"]] == ["grounds", "exemption", "responsibility", "aggravation",
                                                          "sanction"]
    assert all(d["person"] == "zhang_wei" for d in case["decisions"][1:])
    assert case["respondents"] == [{"person": "zhang_wei", "role": "handler", "unit": "执法一科",
                                    "established": True, "served_on": "2026-11-20"}]
    assert all(t["state"] == "completed" for t in case["tasks"])
    kinds = [e["kind"] for e in case["history"]]
    assert kinds[0] == "created" and kinds[-1] == "closed" and kinds.count("decision_evaluated") == 5
    register = api.ok(api.get("office_li", "/disqualifications", year=2026))["items"]
    assert {"year": 2026, "kind": "person", "name": "zhang_wei", "unit": "执法一科", "case_id": case_id} in register
    assert {"year": 2026, "kind": "unit", "name": "执法一科", "unit": None, "case_id": case_id} in register


def test_not_registered_case_closes_with_reason(api):
    case_id = api.start()
    api.complete("office_li", case_id, "Task_register", {"register": False, "grounds": [7],
                                                          "not_registered_reason": "不构成过错"})
    case = api.ok(api.get("office_li", f"/cases/{case_id}"))
    assert (case["status"], case["end_event"]) == ("closed", "不予立案，结案")
    assert case["outcomes"] in (None, [])


# --------------------------------------------------------------------------- permissions

def test_anonymous_callers_get_401_except_complaints_and_the_openapi_document(api):
    for path in ("/tasks", "/cases", "/cases/1", "/disqualifications"):
        r = api.get(None, path)
        assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]
    assert api.post(None, "/cases", {}).status_code == 401
    bad = {"Authorization": "Basic " + base64.b64encode(b"office_li:wrong").decode()}
    assert api.client.get("/api/v1/tasks", headers=bad).status_code == 401
    doc = api.ok(api.get(None, "/openapi.json"))
    assert doc["openapi"].startswith("3.1") and "/tasks/{task_id}/complete" in doc["paths"]
    schemas = doc["components"]["schemas"]
    assert schemas["Case"]["properties"]["outcomes"]["type"] == ["array", "null"]
    assert "outcome" not in schemas["Case"]["properties"] and "person" in schemas["Task"]["properties"]
    assert "respondents" in schemas["CaseDetail"]["allOf"][1]["properties"]


def test_each_role_sees_and_acts_only_on_its_own_tasks(api):
    case_id = api.start()
    register = api.task("office_li", case_id, "Task_register")
    for user in ("lg_chen", "zhang_wei", "reviewer", "admin", "liu_yang"):
        assert api.ok(api.get(user, "/tasks"))["total"] == 0
    assert api.post("lg_chen", f"/tasks/{register['id']}/complete", {"data": {}}).status_code == 403
    assert api.post("zhang_wei", f"/tasks/{register['id']}/complete", {"data": {}}).status_code == 404
    assert api.post("reviewer", f"/tasks/{register['id']}/claim").status_code == 403
    api.to_conclusion(case_id)
    api.conclude(case_id)
    votes = api.ok(api.get("lg_chen", "/tasks"))["items"]
    assert [t["assignee"] for t in votes] == ["lg_chen"]
    vote_of_wu = api.task("lg_wu", case_id, "Task_vote")
    assert api.post("lg_chen", f"/tasks/{vote_of_wu['id']}/complete", {"data": {"vote": "approve"}}).status_code == 403
    assert api.ok(api.get("office_li", "/tasks"))["total"] == 0


def test_only_the_office_records_cases_but_anyone_may_self_report(api):
    body = {"channel": "inspection", "subject": "zhang_wei", "unit": "一科", "grounds": [7], "summary": "s",
            "act_date": "2026-01-01"}
    assert api.post("zhang_wei", "/cases", body).status_code == 403
    assert api.post("lg_chen", "/cases", body).status_code == 403
    assert api.post("zhang_wei", "/cases", {**body, "channel": "self_report", "subject": "liu_yang"}).status_code == 403
    assert api.post("zhang_wei", "/cases", {**body, "channel": "self_report"}).status_code == 201


def test_the_accused_sees_only_their_own_tasks_and_cases(api):
    mine, other = api.start(), api.start(subject="wang_fang", unit="执法二科")
    assert api.get("zhang_wei", f"/cases/{mine}").status_code == 404  # nothing before the hearing
    api.to_conclusion(mine)
    assert api.get("zhang_wei", f"/cases/{mine}").status_code == 404  # nor during the investigation
    api.conclude(mine, hear=False)
    case = api.ok(api.get("zhang_wei", f"/cases/{mine}"))
    assert [(t["name"], t["person"]) for t in case["tasks"]] == [("Task_statement", "zhang_wei")]
    assert "history" not in case and "decisions" not in case and "respondents" not in case
    assert case["outcomes"] == []  # the proposal is told in the statement task, not as an outcome
    statement = api.ok(api.get("zhang_wei", f"/tasks/{case['tasks'][0]['id']}"))
    assert statement["person"] == "zhang_wei" and statement["case"]["hearing"]["notice"]["proposal"]["tier"] == 2
    assert api.get("zhang_wei", f"/cases/{other}").status_code == 404
    assert [c["id"] for c in api.ok(api.get("zhang_wei", "/cases"))["items"]] == [mine]
    api.complete("zhang_wei", mine, "Task_statement", {"statement_waived": True})
    for member in MEMBERS:
        api.complete(member, mine, "Task_vote", {"vote": "approve"})
    assert api.ok(api.get("zhang_wei", f"/cases/{mine}"))["outcomes"] == []  # decided, not yet served
    api.complete("office_li", mine, "Task_serve", {"decision_number": "明执追〔2026〕9号",
                                                    "served_on": "2026-11-20", "service_method": "direct"})
    case = api.ok(api.get("zhang_wei", f"/cases/{mine}"))
    assert [(o["person"], o["tier"]) for o in case["outcomes"]] == [("zhang_wei", 2)]  # served: now it is theirs
    assert [t["name"] for t in case["tasks"]] == ["Task_statement", "Task_appeal"]


def test_reviewers_evaluate_tables_and_officers_may_not(api):
    result = api.ok(api.post("reviewer", "/decisions/sanction/evaluate",
                             {"inputs": {"severity": "grave", "aggravated": True}}))
    assert result["outputs"]["measures"] == ["开除公职"] and result["trace"]["matched"][0]["row"] == 8
    assert api.post("zhang_wei", "/decisions/sanction/evaluate", {"inputs": {}}).status_code == 403
    bad = api.post("reviewer", "/decisions/sanction/evaluate", {"inputs": {"severity": "grave"}})
    assert bad.status_code == 422 and bad.get_json()["fields"]["aggravated"].startswith("missing input")
    assert api.post("reviewer", "/decisions/nonsense/evaluate", {"inputs": {}}).status_code == 404


# --------------------------------------------------------------------------- the reporter stays with the office

def _all_json(api, user: str, case_id: int) -> str:
    texts = [api.get(user, "/tasks").get_data(as_text=True), api.get(user, "/cases").get_data(as_text=True),
             api.get(user, f"/cases/{case_id}").get_data(as_text=True),
             api.get(user, "/disqualifications").get_data(as_text=True),
             api.get(user, "/cases", q="赵").get_data(as_text=True)]
    case = api.get(user, f"/cases/{case_id}").get_json() or {}
    for task in case.get("tasks", []):
        texts.append(api.get(user, f"/tasks/{task['id']}").get_data(as_text=True))
    return "\n".join(texts)


def test_the_reporter_never_reaches_anyone_but_the_office(api, services):
    api.ok(api.post(None, "/complaints", {"officer": "张某", "summary": "s", "act_date": "2026-03-02",
                                          "reporter": REPORTER}), 201)
    case_id = api.ok(api.get("office_li", "/cases"))["items"][0]["id"]
    api.complete("office_li", case_id, "Task_register", registration("zhang_wei", "wang_fang", grounds=[8]))
    api.complete("office_li", case_id, "Task_investigate", {"facts_found": "f", "evidence": ["e"],
                                                            "investigators": ["a", "b"], "act_date": "2026-03-02"})
    api.complete("office_li", case_id, "Task_conclude", {"conclusion": "c", "findings": [
        {"person": "zhang_wei", **FINDING}, {"person": "wang_fang", "reviewer_missed": True, "severity": "light"}]})
    api.complete("zhang_wei", case_id, "Task_statement", {"statement_waived": True})
    for user in ("zhang_wei", "wang_fang", "lg_chen", "lg_wu", "reviewer", "admin", "liu_yang"):
        text = _all_json(api, user, case_id)
        assert REPORTER["name"] not in text and REPORTER["contact"] not in text, user
    office_view = api.ok(api.get("office_li", f"/cases/{case_id}"))
    assert office_view["reporter"] == REPORTER
    with services.db.session() as s:
        events = s.scalars(select(Event).where(Event.case_id == case_id)).all()
    assert all(REPORTER["name"] not in json.dumps(e.detail, ensure_ascii=False) for e in events)
    assert any(e.kind == "viewed_confidential" and e.actor == "office_li" for e in events)


# --------------------------------------------------------------------------- conflicts and atomicity

def _race(n: int, call) -> list[int]:
    barrier = threading.Barrier(n)
    codes: list[int] = []

    def worker():
        barrier.wait()
        codes.append(call())
    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(codes)


def test_concurrent_completion_has_exactly_one_winner(api, services):
    case_id = api.start()
    task = api.task("office_li", case_id, "Task_register")
    data = registration("zhang_wei")
    codes = _race(6, lambda: api.post("office_li", f"/tasks/{task['id']}/complete", {"data": data}).status_code)
    assert codes == [200] + [409] * 5
    with services.db.session() as s:
        completed = s.scalar(select(func.count()).select_from(Event).where(Event.case_id == case_id,
                                                                          Event.kind == "completed"))
        open_tasks = s.scalars(select(Task.name).where(Task.case_id == case_id, Task.state == "open")).all()
    assert completed == 1 and open_tasks == ["Task_investigate"]


def test_concurrent_claims_have_exactly_one_winner(api):
    case_id = api.start()
    task = api.task("office_li", case_id, "Task_register")
    users = ["office_li", "office_sun"] * 3
    outcomes: list[tuple[str, int]] = []

    def claim():
        user = users.pop()
        code = api.post(user, f"/tasks/{task['id']}/claim").status_code
        outcomes.append((user, code))
        return code
    codes = _race(6, claim)
    claimed_by = api.task("office_li", case_id, "Task_register")["claimed_by"]
    assert claimed_by in ("office_li", "office_sun")
    # only the winner's attempts succeed (claiming a task one holds already is a no-op); the other gets 409s
    assert {u for u, c in outcomes if c == 200} == {claimed_by}
    assert all(c == 409 for u, c in outcomes if u != claimed_by)
    assert codes == [200] * 3 + [409] * 3  # each of the six attempts answered: the winner's three, the other's three
    other = "office_sun" if claimed_by == "office_li" else "office_li"
    assert api.post(other, f"/tasks/{task['id']}/claim").status_code == 409
    assert api.post(other, f"/tasks/{task['id']}/complete", {"data": {}}).status_code == 409
    assert api.post(other, f"/tasks/{task['id']}/release").status_code == 409
    assert api.ok(api.post(claimed_by, f"/tasks/{task['id']}/release"))["claimed_by"] is None


def _snapshot(services, case_id: int) -> dict[str, Any]:
    with services.db.session() as s:
        case = s.get(Case, case_id)
        return {"version": case.version, "stage": case.stage,
                "state": s.scalar(select(CaseState.state).where(CaseState.case_id == case_id)),
                "tasks": sorted((t.id, t.state, t.claimed_by) for t in s.scalars(select(Task).where(
                    Task.case_id == case_id))),
                "events": s.scalar(select(func.count()).select_from(Event).where(Event.case_id == case_id)),
                "decisions": s.scalar(select(func.count()).select_from(DecisionRecord)
                                      .where(DecisionRecord.case_id == case_id))}


def test_a_failure_mid_completion_leaves_no_partial_state(api, services, monkeypatch):
    case_id = api.start()
    api.to_conclusion(case_id)
    before = _snapshot(services, case_id)
    from service.store import repository

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(repository.Store, "replace_timers", broken)  # after state, tasks and decisions were written
    task = api.task("office_li", case_id, "Task_conclude")
    response = api.post("office_li", f"/tasks/{task['id']}/complete", {"data": CONCLUSION})
    assert response.status_code == 500 and "Traceback" not in response.get_data(as_text=True)
    assert _snapshot(services, case_id) == before
    monkeypatch.undo()
    api.complete("office_li", case_id, "Task_conclude", CONCLUSION)  # and the case still goes on
    assert _snapshot(services, case_id)["decisions"] == 5


def test_invalid_data_is_422_with_messages_and_changes_nothing(api, services):
    case_id = api.start()
    before = _snapshot(services, case_id)
    task = api.task("office_li", case_id, "Task_register")
    r = api.post("office_li", f"/tasks/{task['id']}/complete", {"data": {"register": "yes", "grounds": [99]}})
    assert r.status_code == 422
    assert r.get_json()["fields"] == {"register": "应为是或否", "grounds[0]": "请从给定的选项中选择",
                                      "respondents": "必填项，请填写"}
    assert _snapshot(services, case_id) == before
    unknown = registration("zhang_wei", "wang_fang")
    unknown["respondents"][1]["person"] = "no_such_officer"
    r = api.post("office_li", f"/tasks/{task['id']}/complete", {"data": unknown})
    assert r.status_code == 422 and list(r.get_json()["fields"]) == ["respondents[1].person"]
    twice = registration("zhang_wei", "zhang_wei")
    r = api.post("office_li", f"/tasks/{task['id']}/complete", {"data": twice})
    assert r.status_code == 422 and "respondents" in r.get_json()["fields"]  # refused by the diagram's script
    assert _snapshot(services, case_id) == before
    assert api.task("office_li", case_id, "Task_register")["id"] == task["id"]


@pytest.mark.parametrize("call", [
    lambda api: api.client.post("/api/v1/cases", data="{not json", content_type="application/json",
                                headers=api._headers("office_li")),
    lambda api: api.get("office_li", "/tasks", page="abc"),
    lambda api: api.get("office_li", "/tasks", per_page="0"),
    lambda api: api.get("office_li", "/tasks", sort="sideways"),
    lambda api: api.get("office_li", "/tasks/not-a-task"),
    lambda api: api.post("office_li", "/tasks/not-a-task/complete", {"data": {}}),
    lambda api: api.post("office_li", "/tasks/x/complete", ["data"]),
    lambda api: api.get("office_li", "/cases/999999"),
    lambda api: api.get("office_li", "/cases", year="last"),
    lambda api: api.post("office_li", "/cases", {"channel": "rumour"}),
    lambda api: api.post(None, "/complaints", {"summary": 5, "hack": 1}),
    lambda api: api.get("office_li", "/nowhere"),
])
def test_bad_input_is_never_a_500(api, call):
    response = call(api)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json and "message" in response.get_json()


# --------------------------------------------------------------------------- versions, Art. 11(3), timers

def test_a_case_finishes_on_the_version_it_started_on(api, services, tmp_path):
    old = api.start()
    api.to_conclusion(old)
    processes = tmp_path / "processes"
    processes.mkdir()
    for f in (ROOT / "processes").iterdir():
        (processes / f.name).write_bytes(f.read_bytes())
    sanction = processes / "sanction.dmn"
    sanction.write_text(sanction.read_text(encoding="utf-8").replace("责令书面检查，给予通报批评", "书面检查并通报"),
                        encoding="utf-8")
    version, created = services.deployments.deploy(Bundle.from_folders(processes, ROOT / "forms"), "owner")
    assert (version, created) == (2, True)
    assert services.deployments.deploy(Bundle.from_folders(processes, ROOT / "forms"), "owner") == (2, False)
    new = api.start()
    api.to_conclusion(new)
    for case_id in (old, new):
        api.complete("office_li", case_id, "Task_conclude", CONCLUSION)
    old_case, new_case = (api.ok(api.get("office_li", f"/cases/{c}")) for c in (old, new))
    assert (old_case["deployment"], old_case["outcomes"][0]["measure"]) == (1, "责令书面检查，给予通报批评")
    assert (new_case["deployment"], new_case["outcomes"][0]["measure"]) == (2, "书面检查并通报")
    with services.db.session() as s:
        versions = dict(s.execute(select(DecisionRecord.case_id, DecisionRecord.deployment_id)
                                  .where(DecisionRecord.decision == "sanction")).all())
    assert versions == {old: 1, new: 2}


def test_art11_3_fires_on_the_third_established_error_of_the_year_without_anyone_typing_it(api):
    outcomes = []
    for n in range(3):
        case_id = api.start(act_date=f"2026-0{n + 1}-15")
        api.to_conclusion(case_id, act_date=f"2026-0{n + 1}-15")
        api.decide(case_id)
        outcomes.append(api.ok(api.get("office_li", f"/cases/{case_id}"))["outcomes"][0])
        if n < 2:
            api.close(case_id)
    assert [o["aggravated"] for o in outcomes] == [False, False, True]
    assert "第十一条第（三）项" in outcomes[2]["citations"]
    other_year = api.start(act_date="2025-12-30")
    api.to_conclusion(other_year, act_date="2025-12-30")
    api.decide(other_year)
    assert api.ok(api.get("office_li", f"/cases/{other_year}"))["outcomes"][0]["aggravated"] is False
    traces = api.ok(api.get("office_li", f"/cases/{other_year}"))["decisions"]
    assert [t["inputs"]["errors_this_year"] for t in traces if t["decision"] == "aggravation"] == [1]
    for form in (ROOT / "forms").glob("*.json"):  # the count is no form's field: nobody types it
        assert "errors_this_year" not in json.loads(form.read_text(encoding="utf-8"))["properties"]


def test_due_timers_fire_once_even_with_several_workers(api, services):
    cases = [api.start() for _ in range(3)]
    for case_id in cases:
        api.to_conclusion(case_id)
        api.conclude(case_id, hear=False)  # each waits for zhang_wei's statement, with its 7-day timer
    due = services.cases.next_timer()  # 7 working days (政策), to the end of the last one
    later = due + dt.timedelta(seconds=1)
    assert services.cases.fire_due_timers(due - dt.timedelta(minutes=1)) == 0
    fired: list[int] = []
    workers = [build_services(services.db.url) for _ in range(3)]
    barrier = threading.Barrier(3)

    def run(svc):
        barrier.wait()
        fired.append(svc.cases.fire_due_timers(later))
    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in workers:
        w.db.dispose()
    assert sum(fired) == 3
    with services.db.session() as s:
        events = s.scalars(select(Event.case_id).where(Event.kind == "timer_fired")).all()
    assert sorted(events) == sorted(cases)
    for case_id in cases:  # the waiver is recorded and the case goes on to the vote
        assert api.task("lg_chen", case_id, "Task_vote")
        assert api.get("zhang_wei", "/tasks", case_id=case_id).get_json()["total"] == 0


# --------------------------------------------------------------------------- cost shape

def test_the_inbox_reads_only_the_task_index_and_completion_loads_one_case(api, monkeypatch):
    from service.engine import ProcessEngine
    cases = [api.start() for _ in range(3)]
    calls = {"restore": 0, "serialize": 0}
    real_restore, real_serialize = ProcessEngine.restore, ProcessEngine.serialize

    def counting_restore(self, state):
        calls["restore"] += 1
        return real_restore(self, state)

    def counting_serialize(self, case):
        calls["serialize"] += 1
        return real_serialize(self, case)
    monkeypatch.setattr(ProcessEngine, "restore", counting_restore)
    monkeypatch.setattr(ProcessEngine, "serialize", counting_serialize)
    assert api.ok(api.get("office_li", "/tasks"))["total"] == 3
    assert api.ok(api.get("office_li", "/cases"))["total"] == 3
    assert calls == {"restore": 0, "serialize": 0}
    api.complete("office_li", cases[0], "Task_register", registration("zhang_wei"))
    assert calls == {"restore": 1, "serialize": 1}


def test_public_complaints_are_rate_limited(services):
    app = create_app(services=services, config={"TESTING": True, "COMPLAINT_RATE_LIMIT": "2 per minute"})
    client = app.test_client()
    body = {"officer": "某执法人员", "summary": "s", "act_date": "2026-03-02"}
    ip, other_ip = (f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{n}" for n in (7, 8))
    codes = [client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": ip}).status_code
             for _ in range(3)]
    assert codes == [201, 201, 429]
    limited = client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": ip})
    assert limited.is_json and limited.get_json()["error"] == "too_many_requests"
    other = client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": other_ip})
    assert other.status_code == 201
