"""Fill a database with many realistic cases quickly, for the benchmark.

One real case is taken through the ten steps of the procedure by the case service; after each step its rows
(the case, its serialized workflow, its task index, respondents and timers) are kept as the template of a case at
that stage. New cases are copies of those templates at a mix of stages, with new ids, task ids, officers, units,
channels and times, written in batches through the store (``Store.bulk_insert``): 100,000 cases in about a minute,
instead of hours of running the workflow. The copies have no serialized workflow (``case_states``): no list reads
it, and at 5–90 KB a case, 100,000 of them would be gigabytes; the benchmark opens none of them.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select

from service.auth import Principal
from service.store.models import Case, CasePerson, CaseState, Task, Timer
from service.store.repository import Store

MEMBERS = ["lg_chen", "lg_wu", "lg_zhou"]
INTAKE = {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7],
          "summary": "未按程序送达", "act_date": "2026-03-02"}
STEPS = [  # (user, task, data): the ten user steps of a case with one respondent and a sanction
    ("office_li", "Task_register", {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"}]}),
    ("office_li", "Task_investigate", {"facts_found": "f", "evidence": ["e"], "investigators": ["a", "b"],
                                       "act_date": "2026-03-02"}),
    ("office_li", "Task_conclude", {"conclusion": "c", "findings": [
        {"person": "zhang_wei", "handler_fault": 5, "severity": "light"}]}),
    ("zhang_wei", "Task_statement", {"statement_waived": True}),
    *[(m, "Task_vote", {"vote": "approve"}) for m in MEMBERS],
    ("office_li", "Task_serve", {"decision_number": "n", "served_on": "2026-11-20", "service_method": "direct"}),
    ("zhang_wei", "Task_appeal", {"appeal": False}),
    ("office_li", "Task_recovery", {"compensation_paid": 0, "recovery": []}),
]
# the system facts the service would supply to the floor (no database to count Art. 11(3) from)
FACTS_FLOOR = {"leading_group_members": MEMBERS, "errors_by_person": {"zhang_wei": 1}, "case_id": 1,
               "today": "2026-11-20"}
# how many steps a seeded case has behind it (share of cases): most wait early, a tenth are closed
STAGE_MIX = {0: 30, 1: 18, 2: 12, 3: 10, 4: 8, 5: 3, 6: 2, 7: 5, 8: 3, 9: 1, 10: 8}
UNITS = ["执法一科", "执法二科", "执法三科", "法制科", "稽查大队", "综合科"]
CHANNELS = ["self_report", "public_complaint", "superior_referral", "inspection"]


def floor_step(engine, state: str, name: str, user: str, data: dict[str, Any]) -> str:
    """The in-process floor of one completion: restore, complete the open task, serialize; the new state."""
    case = engine.restore(state)
    open_task = next(t for t in engine.open_tasks(case) if t.name == name and t.assignee in (None, user))
    engine.complete(case, open_task.id, data, FACTS_FLOOR)
    return engine.serialize(case)


def principal(username: str) -> Principal:
    roles = {"office_li": {"office"}, **{m: {"leading_group"} for m in MEMBERS}}.get(username, set())
    return Principal(username, frozenset(roles))


@dataclass
class Snapshot:
    """The rows of one case at one stage, as plain dicts."""
    case: dict[str, Any]
    state: str
    tasks: list[dict[str, Any]]
    persons: list[dict[str, Any]]
    timers: list[dict[str, Any]] = field(default_factory=list)


def _row(obj) -> dict[str, Any]:
    return {a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs}


def snapshot(services, case_id: int) -> Snapshot:
    with services.db.session() as s:
        case = s.get(Case, case_id)
        return Snapshot(_row(case), s.scalar(select(CaseState.state).where(CaseState.case_id == case_id)),
                        [_row(t) for t in s.scalars(select(Task).where(Task.case_id == case_id))],
                        [_row(p) for p in s.scalars(select(CasePerson).where(CasePerson.case_id == case_id))],
                        [_row(t) for t in s.scalars(select(Timer).where(Timer.case_id == case_id))])


def run_steps(services, case_id: int, steps=STEPS) -> None:
    """Complete ``steps`` of a case through the service, as each step's user."""
    for user, name, data in steps:
        p = principal(user)
        task = next(t for t in services.cases.list_tasks(p, filters={"case_id": case_id}, per_page=50).items
                    if t["name"] == name)
        services.cases.complete(p, task["id"], data)


def templates(services) -> dict[int, Snapshot]:
    """A real case after 0, 1, … 10 steps."""
    case_id = services.cases.start_case(principal("office_li"), INTAKE)["id"]
    out = {0: snapshot(services, case_id)}
    for n, step in enumerate(STEPS, 1):
        run_steps(services, case_id, [step])
        out[n] = snapshot(services, case_id)
    return out


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def clone(services, snap: Snapshot, count: int, *, timer_due: dt.datetime | None = None) -> list[dict[str, str]]:
    """``count`` working copies of a case (its serialized workflow too, every task id in it replaced by a fresh
    one), so the copies can be completed and their timers fired like the original. ``timer_due``: the copies'
    timers fall due then (in the workflow and in the timer index). Returns each copy's open task ids by name."""
    pending = services.deployments.engine(snap.case["deployment_id"]).pending_timers(
        services.deployments.engine(snap.case["deployment_id"]).restore(snap.state))
    with services.db.session() as s:
        next_id = Store(s).max_id(Case) + 1
    out, cases, states, tasks, persons, timers = [], [], [], [], [], []
    for i in range(count):
        cid = next_id + i
        fresh = {old: str(uuid.uuid4()) for old in set(UUID.findall(snap.state))}
        state = UUID.sub(lambda m: fresh[m.group(0)], snap.state)
        for row in snap.tasks + snap.timers:  # rows whose id the workflow no longer holds
            fresh.setdefault(row["id"], str(uuid.uuid4()))
        if timer_due is not None:
            for timer in pending:
                assert timer.due.isoformat() in state, "the timer's due time is not in the state as expected"
                state = state.replace(timer.due.isoformat(), timer_due.isoformat())
        cases.append({**snap.case, "id": cid, "receipt_code": None, "version": 1})
        states.append({"case_id": cid, "state": state})
        tasks += [{**t, "id": fresh.get(t["id"], t["id"]), "case_id": cid} for t in snap.tasks]
        persons += [{**p, "case_id": cid} for p in snap.persons]
        timers += [{**t, "id": fresh.get(t["id"], t["id"]), "case_id": cid, "due": timer_due or t["due"]}
                   for t in snap.timers]
        out.append({t["name"]: fresh.get(t["id"], t["id"]) for t in snap.tasks if t["state"] == "open"})
    with services.db.session() as s, s.begin():
        store = Store(s)
        for model, rows in ((Case, cases), (CaseState, states), (Task, tasks), (CasePerson, persons),
                            (Timer, timers)):
            for start in range(0, len(rows), 2000):
                store.bulk_insert(model, rows[start:start + 2000])
        if timers:
            store.wake_timer_workers()  # as a step that schedules a timer does
    return out


def fill(services, total: int, snaps: dict[int, Snapshot], *, seed: int = 7, batch: int = 5000) -> int:
    """Add copies of the templates until the database holds ``total`` cases; how many were added."""
    rng = random.Random(seed + total)
    with services.db.session() as s:
        have, next_id = Store(s).count(Case), Store(s).max_id(Case) + 1
    stages = [k for k, w in STAGE_MIX.items() for _ in range(w)]
    now = dt.datetime.now(dt.timezone.utc)
    added = 0
    while have + added < total:
        n = min(batch, total - have - added)
        cases, tasks, persons, timers = [], [], [], []
        for i in range(n):
            snap = snaps[rng.choice(stages)]
            cid = next_id + added + i
            officer = f"officer_{rng.randrange(500):03d}"
            unit = rng.choice(UNITS)
            shift = now - dt.timedelta(days=rng.uniform(1, 365)) - snap.case["created_at"]

            def moved(value):
                return value + shift if isinstance(value, dt.datetime) else value

            def person(value):
                return officer if value == "zhang_wei" else value

            case = {**snap.case, "id": cid, "subject": officer, "unit": unit, "channel": rng.choice(CHANNELS),
                    "receipt_code": None, "version": 1}
            for key in ("created_at", "updated_at", "closed_at"):
                case[key] = moved(case[key])
            if case.get("outcome"):
                case["outcome"] = [{**o, "person": officer, "unit": unit} for o in case["outcome"]]
            cases.append(case)
            ids = {t["id"]: str(uuid.uuid4()) for t in snap.tasks}
            for t in snap.tasks:
                tasks.append({**t, "id": ids[t["id"]], "case_id": cid, "assignee": person(t["assignee"]),
                              "person": person(t["person"]), "completed_by": person(t["completed_by"]),
                              "claimed_by": None, "due": moved(t["due"]),
                              "due_order": moved(t["due"]) or t["due_order"], "created_at": moved(t["created_at"]),
                              "finished_at": moved(t["finished_at"])})
            persons += [{**p, "case_id": cid, "person": officer, "unit": unit} for p in snap.persons]
            timers += [{**t, "id": str(uuid.uuid4()), "case_id": cid,
                        "due": max(moved(t["due"]), now + dt.timedelta(days=30))} for t in snap.timers]
        with services.db.session() as s, s.begin():
            store = Store(s)
            for model, rows in ((Case, cases), (Task, tasks), (CasePerson, persons), (Timer, timers)):
                store.bulk_insert(model, rows)
        added += n
    if added:
        services.db.refresh_statistics()  # as PostgreSQL's autovacuum would after a load like this
    return added
