"""The timer worker wakes at the next due time (and, on PostgreSQL, when a step schedules a timer), so a statement
period fires within seconds of its end, exactly once even with two workers, and after a restart."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.auth import Principal
from service.bundle import Bundle
from service.store.models import Event
from service.timer_worker import TimerWorker
from service.web import build_services

ROOT = Path(__file__).resolve().parent.parent
OFFICE = Principal("office_li", frozenset({"office"}))
PERIOD = 3  # seconds: the statement period of the deployed copy


@pytest.fixture
def services(database_url):
    services = build_services(database_url)
    files = dict(Bundle.from_folders(ROOT / "processes", ROOT / "forms").files)
    bpmn = files["processes/accountability_case.bpmn"].decode()
    assert '>P7D</bpmn:timeDuration>' in bpmn
    files["processes/accountability_case.bpmn"] = bpmn.replace('>P7D</bpmn:timeDuration>',
                                                               f'>PT{PERIOD}S</bpmn:timeDuration>').encode()
    services.deployments.deploy(Bundle(files), "owner")
    yield services
    services.db.dispose()


def step(svc, who: Principal, case_id: int, name: str, data: dict) -> None:
    (task, *_) = svc.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items
    svc.cases.complete(who, task["id"], data)


def case_in_hearing(svc, person: str = "zhang_wei") -> int:
    """A case whose statement timer has just been scheduled."""
    case_id = svc.cases.start_case(OFFICE, {"channel": "inspection", "subject": person, "unit": "执法一科",
                                            "grounds": [7], "summary": "s", "act_date": "2026-03-02"})["id"]
    step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "respondents": [
        {"person": person, "role": "handler", "unit": "执法一科"}]})
    step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明", "evidence": ["案卷"],
                                                    "investigators": ["office_li", "office_sun"],
                                                    "act_date": "2026-03-02"})
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [
        {"person": person, "handler_fault": 5, "severity": "light"}]})
    return case_id


def fired(svc, case_id: int) -> int:
    with svc.db.session() as s:
        return s.scalar(select(func.count()).select_from(Event).where(Event.case_id == case_id,
                                                                       Event.kind == "timer_fired"))


def wait_for(condition, seconds: float) -> bool:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_a_timer_scheduled_while_the_worker_sleeps_fires_on_time_and_once(services, database_url):
    stop = threading.Event()
    workers = [TimerWorker(build_services(database_url), max_sleep=30.0) for _ in range(2)]  # two workers
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)  # both asleep: nothing is due, the next look is 30 s away
        scheduled = time.monotonic()
        case_ids = [case_in_hearing(services, p) for p in ("zhang_wei", "wang_fang")]
        # due PERIOD s after scheduling; a worker polling every 30 s would be up to 30 s late
        assert wait_for(lambda: all(fired(services, c) for c in case_ids), PERIOD + 6)
        assert time.monotonic() - scheduled < PERIOD + 6
        time.sleep(1.5)
        assert [fired(services, c) for c in case_ids] == [1, 1]  # exactly once, with two workers
        for c in case_ids:
            open_now = [t["name"] for t in services.cases.get_case(OFFICE, c)["tasks"] if t["state"] == "open"]
            assert open_now == ["Task_vote"] * 3  # the period lapsed, the waiver is recorded, the case goes on
    finally:
        stop.set()
        for t in threads:
            t.join(35)
        for w in workers:
            w.services.db.dispose()


def test_a_timer_due_while_no_worker_runs_fires_when_one_starts(services):
    case_id = case_in_hearing(services)
    time.sleep(PERIOD + 0.5)  # due while no worker runs (a restart)
    assert fired(services, case_id) == 0
    assert TimerWorker(services).run_once() == 1
    assert TimerWorker(services).run_once() == 0
    assert fired(services, case_id) == 1
