"""Parallel work in one case just works: the members' simultaneous votes are serialised per case and all succeed,
while two people completing the same task still get one success and one conflict."""
from __future__ import annotations

from typing import Any

from service.auth import Principal
from service.errors import Conflict
from tests.concurrency import all_at_once

OFFICE = Principal("office_li", frozenset({"office"}))
MEMBERS = [Principal(m, frozenset({"leading_group"})) for m in ("lg_chen", "lg_wu", "lg_zhou")]
ROUNDS = 10


def step(svc, who: Principal, case_id: int, name: str, data: dict[str, Any]) -> None:
    (task, *_) = svc.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items
    svc.cases.complete(who, task["id"], data)


def case_at_the_vote(svc) -> int:
    case_id = svc.cases.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                            "grounds": [7], "summary": "未按程序送达", "act_date": "2026-03-02"})["id"]
    step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"}]})
    step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明", "evidence": ["案卷"],
                                                    "investigators": ["office_li", "office_sun"],
                                                    "act_date": "2026-03-02"})
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [
        {"person": "zhang_wei", "handler_fault": 5, "severity": "light"}]})
    step(svc, Principal("zhang_wei"), case_id, "Task_statement", {"statement_waived": True})
    return case_id


def test_three_members_voting_at_the_same_moment_all_succeed(services):
    svc = services
    for _ in range(ROUNDS):
        case_id = case_at_the_vote(svc)
        ballots = {m.username: svc.cases.list_tasks(m, filters={"case_id": case_id, "name": "Task_vote"}).items[0]["id"]
                   for m in MEMBERS}
        results = all_at_once([lambda m=m: svc.cases.complete(m, ballots[m.username], {"vote": "approve"})
                               for m in MEMBERS])
        assert [r for r in results if isinstance(r, Exception)] == []
        case = svc.cases.get_case(OFFICE, case_id)
        assert [t["name"] for t in case["tasks"] if t["state"] == "open"] == ["Task_serve"]
        assert sorted(t["completed_by"] for t in case["tasks"] if t["name"] == "Task_vote") == sorted(ballots)


def test_two_people_completing_the_same_task_get_one_success_and_one_conflict(services):
    svc = services
    case_id = svc.cases.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                            "grounds": [7], "summary": "s", "act_date": "2026-03-02"})["id"]
    (task,) = svc.cases.list_tasks(OFFICE, filters={"case_id": case_id, "name": "Task_register"}).items
    data = {"register": True, "grounds": [7], "respondents": [{"person": "zhang_wei", "role": "handler",
                                                                "unit": "执法一科"}]}
    sun = Principal("office_sun", frozenset({"office"}))
    results = all_at_once([lambda who=who: svc.cases.complete(who, task["id"], data) for who in (OFFICE, sun)])
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "dict"]
    assert isinstance(next(r for r in results if isinstance(r, Exception)), Conflict)
    assert [t["name"] for t in svc.cases.get_case(OFFICE, case_id)["tasks"] if t["state"] == "open"] == \
        ["Task_investigate"]
