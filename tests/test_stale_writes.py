"""A stale write, not a race (SQLite and PostgreSQL): a copy of a case read before someone else's committed step
must not be written back over it. The case row carries a version; writing the stale copy is a 409 (Conflict)
and the committed step is kept whole."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service.auth import Principal
from service.errors import Conflict
from service.store.models import Case, CaseState, Task
from service.store.repository import Store

OFFICE = Principal("office_li", frozenset({"office"}))
REGISTRATION = {"register": True, "grounds": [7],
                "respondents": [{"person": "zhang_wei", "role": "handler", "unit": "执法一科"}]}


def start(svc) -> int:
    return svc.cases.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                         "grounds": [7], "summary": "未按程序送达", "act_date": "2026-03-02"})["id"]


def snapshot(svc, case_id: int) -> dict:
    with svc.db.session() as s:
        row = s.get(Case, case_id)
        state = s.scalar(select(CaseState.state).where(CaseState.case_id == case_id))
        tasks = sorted((t.name, t.state, t.completed_by) for t in s.scalars(select(Task).where(Task.case_id == case_id)))
        return {"version": row.version, "stage": row.stage, "status": row.status, "state": state, "tasks": tasks}


def read_stale_copy(svc, case_id: int) -> Case:
    """Load the case in a session of its own and keep the loaded copy after that session ends."""
    with svc.db.session() as s:
        row = s.get(Case, case_id)
        s.expunge(row)
    return row


def complete_register(svc, case_id: int) -> None:
    (task,) = svc.cases.list_tasks(OFFICE, filters={"case_id": case_id, "name": "Task_register"}).items
    svc.cases.complete(OFFICE, task["id"], REGISTRATION)


def test_writing_a_stale_copy_of_a_case_is_a_conflict_and_loses_nothing(services):
    svc = services
    case_id = start(svc)
    stale = read_stale_copy(svc, case_id)
    complete_register(svc, case_id)  # someone else's step commits meanwhile
    after = snapshot(svc, case_id)
    assert after["version"] > stale.version
    assert after["stage"] != stale.stage

    with pytest.raises(Conflict):
        with svc.cases._write() as store:  # the service's write transaction
            store.s.add(stale)  # the stale copy, through the store's session
            stale.stage = stale.stage + "（旧）"
            stale.status = "closed"

    assert snapshot(svc, case_id) == after  # nothing lost, nothing half-written


def test_a_stale_copy_flushed_mid_transaction_is_a_conflict_too(services):
    svc = services
    case_id = start(svc)
    stale = read_stale_copy(svc, case_id)
    complete_register(svc, case_id)
    after = snapshot(svc, case_id)

    with pytest.raises(Conflict):
        with svc.cases._write() as store:
            store.log(case_id, "office_li", "note", text="written with the stale copy")
            store.s.add(stale)
            stale.summary = "覆盖"
            store.s.flush()  # StaleDataError here, inside the transaction: mapped to 409 and rolled back

    assert snapshot(svc, case_id) == after
    with svc.db.session() as s:
        assert not [e for e in Store(s).events(case_id) if e.kind == "note"]


def test_a_fresh_copy_writes_and_bumps_the_version(services):
    """The control: the same write on a copy read after the step goes through."""
    svc = services
    case_id = start(svc)
    complete_register(svc, case_id)
    before = snapshot(svc, case_id)
    fresh = read_stale_copy(svc, case_id)
    with svc.cases._write() as store:
        store.s.add(fresh)
        fresh.summary = "更正后的摘要"
    after = snapshot(svc, case_id)
    assert after["version"] == before["version"] + 1
    assert after["state"] == before["state"] and after["tasks"] == before["tasks"]


def test_a_step_on_a_case_that_changed_since_the_task_was_read_runs_on_the_fresh_state(services):
    """The service's own path: a task read (and its case) before another step commits still completes on the
    case as it is now, never on the copy read earlier."""
    svc = services
    case_id = start(svc)
    (register,) = svc.cases.list_tasks(OFFICE, filters={"case_id": case_id, "name": "Task_register"}).items
    page = svc.cases.get_task(OFFICE, register["id"])  # read before the step
    svc.cases.complete(OFFICE, register["id"], REGISTRATION)
    with pytest.raises(Conflict):  # the page's copy is stale: the task is no longer open
        svc.cases.complete(Principal("office_sun", frozenset({"office"})), page["id"], REGISTRATION)
    tasks = snapshot(svc, case_id)["tasks"]
    assert ("Task_register", "completed", "office_li") in tasks
    assert [t for t in tasks if t[1] == "open"] == [("Task_investigate", "open", None)]


def test_intake_and_the_offices_reads_never_fail_with_locked_while_others_write(services):
    """Intake and the office's reads of a case with a reporter (which log that read) write: on SQLite they must
    queue for the write lock, never fail with "database is locked" (a 500) because another writer went first."""
    import threading

    svc = services
    complaint = svc.cases.start_case(None, {"officer": "zhang_wei", "unit": "执法一科", "summary": "s",
                                            "act_date": "2026-03-02", "reporter": {"name": "钱举报人"}})
    (task,) = svc.cases.list_tasks(OFFICE, filters={"case_id": complaint["id"]}).items
    failures: list[str] = []

    def run(calls) -> None:
        for _ in range(12):
            for call in calls:
                try:
                    call()
                except Exception as exc:  # noqa: BLE001 - collected for the assertion
                    failures.append(f"{type(exc).__name__}: {str(exc)[:100]}")

    readers = [lambda: svc.cases.get_case(OFFICE, complaint["id"]), lambda: svc.cases.get_task(OFFICE, task["id"])]
    threads = [threading.Thread(target=run, args=(calls,)) for calls in ([lambda: start(svc)], readers, readers,
                                                                          [lambda: start(svc)])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert failures == []
    with svc.db.session() as s:
        reads = [e for e in Store(s).events(complaint["id"]) if e.kind == "viewed_confidential"]
    assert len(reads) == 2 * 12 * 2  # every read of the reporter logged
