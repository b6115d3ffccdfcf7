"""Claims are exclusive (SQLite and PostgreSQL): once a claim has answered, nobody else completes or claims the
task until it is released. Claim-versus-complete races, the threads released together: each round either the
claim won and the other's completion was refused, or the completion won and the claim was refused."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from service.auth import Principal
from service.errors import Conflict, Forbidden
from service.store.models import Task
from tests.concurrency import all_at_once

LI = Principal("office_li", frozenset({"office"}))
SUN = Principal("office_sun", frozenset({"office"}))
ROUNDS = 10
REGISTRATION = {"register": True, "grounds": [7],
                "respondents": [{"person": "zhang_wei", "role": "handler", "unit": "执法一科"}]}


def new_task(svc) -> tuple[int, str]:
    case_id = svc.cases.start_case(LI, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                        "grounds": [7], "summary": "s", "act_date": "2026-03-02"})["id"]
    (task,) = svc.cases.list_tasks(LI, filters={"case_id": case_id, "name": "Task_register"}).items
    return case_id, task["id"]


def row(svc, task_id: str) -> tuple[str, str | None, str | None]:
    with svc.db.session() as s:
        t = s.get(Task, task_id)
        return t.state, t.claimed_by, t.completed_by


def test_a_claimed_task_is_nobody_elses_until_released(services):
    svc = services
    case_id, task_id = new_task(svc)
    assert svc.cases.claim(LI, task_id) == {"id": task_id, "claimed_by": "office_li"}
    with pytest.raises(Conflict):
        svc.cases.complete(SUN, task_id, REGISTRATION)
    with pytest.raises(Conflict):
        svc.cases.claim(SUN, task_id)
    with pytest.raises(Conflict):  # only the holder releases
        svc.cases.release(SUN, task_id)
    assert row(svc, task_id) == ("open", "office_li", None)
    svc.cases.release(LI, task_id)
    assert row(svc, task_id) == ("open", None, None)
    svc.cases.claim(SUN, task_id)
    with pytest.raises(Conflict):
        svc.cases.complete(LI, task_id, REGISTRATION)
    svc.cases.complete(SUN, task_id, REGISTRATION)
    assert row(svc, task_id) == ("completed", "office_sun", "office_sun")
    with pytest.raises(Conflict):  # a finished task cannot be claimed
        svc.cases.claim(LI, task_id)


def test_claim_against_complete_never_lets_another_complete_after_a_claim(services):
    svc = services
    outcomes = []
    for _ in range(ROUNDS):
        case_id, task_id = new_task(svc)
        claimed, completed = all_at_once([lambda: svc.cases.claim(LI, task_id),
                                          lambda: svc.cases.complete(SUN, task_id, REGISTRATION)])
        state, claimed_by, completed_by = row(svc, task_id)
        if isinstance(claimed, dict):  # the claim answered: the other's completion must have been refused
            assert isinstance(completed, (Conflict, Forbidden)), (claimed, completed)
            assert (state, claimed_by, completed_by) == ("open", "office_li", None)
            outcomes.append("claim")
            with pytest.raises(Conflict):  # and still is, after the race
                svc.cases.complete(SUN, task_id, REGISTRATION)
        else:
            assert isinstance(claimed, Conflict), claimed
            assert isinstance(completed, dict), completed
            assert (state, completed_by) == ("completed", "office_sun")
            outcomes.append("complete")
        opened = svc.cases.list_tasks(LI, filters={"case_id": case_id}).items
        assert [t["name"] for t in opened] == (["Task_register"] if outcomes[-1] == "claim" else ["Task_investigate"])
    assert len(outcomes) == ROUNDS


def test_two_claims_at_once_have_one_winner(services):
    svc = services
    for _ in range(ROUNDS):
        _, task_id = new_task(svc)
        results = all_at_once([lambda who=who: svc.cases.claim(who, task_id) for who in (LI, SUN)])
        winners = [r for r in results if isinstance(r, dict)]
        assert len(winners) == 1 and all(isinstance(r, Conflict) for r in results if not isinstance(r, dict))
        assert row(svc, task_id) == ("open", winners[0]["claimed_by"], None)
