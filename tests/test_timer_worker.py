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
PERIOD = 3  # seconds: the statement period and the appeal window of the deployed copy


@pytest.fixture
def services(database_url):
    services = build_services(database_url)
    files = dict(Bundle.from_folders(ROOT / "processes", ROOT / "forms").files)
    bpmn = files["processes/accountability_case.bpmn"].decode()
    for period in ("P7D", "P30D"):  # the statement period and the appeal window
        assert f'>{period}</bpmn:timeDuration>' in bpmn
        bpmn = bpmn.replace(f'>{period}</bpmn:timeDuration>', f'>PT{PERIOD}S</bpmn:timeDuration>')
    files["processes/accountability_case.bpmn"] = bpmn.encode()
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
        case_ids = [case_in_hearing(services, p) for p in ("zhang_wei", "wang_fang")]
        scheduled = time.monotonic()  # (each case's last step, with its documents, scheduled its timer by now)
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


def case_in_appeal(svc, person: str = "zhang_wei") -> int:
    """A case whose decision has just been served on the person: their appeal window is open."""
    case_id = case_in_hearing(svc, person)
    step(svc, Principal(person), case_id, "Task_statement", {"statement_waived": True})
    for member in ("lg_chen", "lg_wu", "lg_zhou"):
        step(svc, Principal(member, frozenset({"leading_group"})), case_id, "Task_vote",
             {"vote": "approve", "measure_choices": []})
    step(svc, OFFICE, case_id, "Task_serve", {"decision_number": "明执追〔2026〕1号", "served_on": "2026-11-20",
                                              "service_method": "direct"})
    return case_id


def open_tasks(svc, case_id: int) -> list[str]:
    return [t["name"] for t in svc.cases.get_case(OFFICE, case_id)["tasks"] if t["state"] == "open"]


def test_the_appeal_window_closes_on_time_once_with_two_workers(services, database_url):
    stop = threading.Event()
    workers = [TimerWorker(build_services(database_url), max_sleep=30.0) for _ in range(2)]
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        case_ids = []
        for p in ("zhang_wei", "wang_fang"):
            case_id = case_in_hearing(services, p)
            step(services, Principal(p), case_id, "Task_statement", {"statement_waived": True})
            case_ids.append(case_id)
        for case_id, p in zip(case_ids, ("zhang_wei", "wang_fang")):
            for member in ("lg_chen", "lg_wu", "lg_zhou"):
                step(services, Principal(member, frozenset({"leading_group"})), case_id, "Task_vote",
                     {"vote": "approve", "measure_choices": []})
        served = time.monotonic()
        for case_id in case_ids:
            step(services, OFFICE, case_id, "Task_serve", {"decision_number": "明执追〔2026〕1号",
                                                           "served_on": "2026-11-20", "service_method": "direct"})
        assert wait_for(lambda: all(open_tasks(services, c) == ["Task_recovery"] for c in case_ids), PERIOD + 8)
        assert time.monotonic() - served < PERIOD + 8
        time.sleep(1.5)
        for case_id in case_ids:  # the window closed once: one firing, no appeal, on to recovery
            with services.db.session() as s:
                timers = [e.detail["timer"] for e in s.scalars(select(Event).where(
                    Event.case_id == case_id, Event.kind == "timer_fired").order_by(Event.id))]
            assert timers == ["Timer_appeal"]
            assert open_tasks(services, case_id) == ["Task_recovery"]
    finally:
        stop.set()
        for t in threads:
            t.join(35)
        for w in workers:
            w.services.db.dispose()


def test_an_appeal_window_that_closed_while_no_worker_ran_closes_once_after_a_restart(services):
    case_id = case_in_appeal(services)
    time.sleep(PERIOD + 0.5)  # the window closed while no worker ran
    assert open_tasks(services, case_id) == ["Task_appeal"]
    assert TimerWorker(services).run_once() == 1
    other = build_services(services.db.url)  # a second worker after the restart
    try:
        assert TimerWorker(other).run_once() == 0
    finally:
        other.db.dispose()
    assert open_tasks(services, case_id) == ["Task_recovery"]
