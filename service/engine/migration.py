"""Moving a running case to another deployed version, with honest deadlines.

SpiffWorkflow re-reads the steps a case waits in from the new diagram (``migrate_workflow``), which restarts
their timers at the moment of the move and forgets when the steps opened. Here:

* by default every moved step keeps its absolute due dates: a timer fires when it would have, a task's due date
  (shown in the inbox) stays what it was;
* on request (``recompute=True``) the due dates are computed again from when each step originally opened, under
  the new version's periods (e.g. a statement period changed from ``"P7D"`` to ``"P10D"``: due 10 days after the
  hearing opened, not 10 days after the move);
* the moved case is written and read back through the new version's serializer, so the new version's
  multi-instance steps (each person's hearing, the members' ballots) collect their instances as a case loaded
  from the database would;
* a case moves only if a trial move leaves it waiting in the same steps for the same persons.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                             DurationTimerEventDefinition, TimerEventDefinition)
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

from .case import Case

if TYPE_CHECKING:
    from .process import ProcessEngine


@dataclass(frozen=True)
class _Waiting:
    bpmn_id: str
    since: float  # when the step opened (epoch seconds)
    event_value: Any  # a timer's due time as SpiffWorkflow keeps it
    due: dt.datetime | None  # a user task's due date as shown
    limit: dict[str, Any] | None = None  # a user task's limit as fixed when it opened (see ProcessEngine.task_limit)


def _copy(engine: "ProcessEngine", case: Case) -> Case:
    return Case(engine._load(engine.serialize(case)))


def _waiting(engine: "ProcessEngine", case: Case) -> dict[str, _Waiting]:
    dues = {t.id: t.due for t in engine.open_tasks(case)}
    out = {}
    for task in case._wf.get_tasks(state=TaskState.READY | TaskState.WAITING):
        if not task.task_spec.bpmn_id:
            continue
        out[str(task.id)] = _Waiting(task.task_spec.bpmn_id, task.last_state_change,
                                     task.internal_data.get("event_value"), dues.get(str(task.id)),
                                     task.internal_data.get("limit"))
    return out


def removed_steps(source: "ProcessEngine", case: Case, target: "ProcessEngine") -> list[str]:
    """The steps the case went through or waits in that the target version no longer has (in Chinese)."""
    blockers: list[str] = []
    top, subs = diff_workflow(source.serializer.registry, case._wf, target.spec, target.subprocess_specs)
    for task in top.removed:
        if task.task_spec.bpmn_id:
            blockers.append(f"步骤“{task.task_spec.bpmn_name or task.task_spec.bpmn_id}”"
                            f"（{task.task_spec.bpmn_id}）在新版本中不存在")
    for sp_id, sub_diff in subs.items():
        name = case._wf.subprocesses[sp_id].spec.name
        if sub_diff is None:
            blockers.append(f"子流程“{name}”在新版本中不存在")
            continue
        for task in sub_diff.removed:
            if task.task_spec.bpmn_id:
                blockers.append(f"子流程“{name}”中的步骤“{task.task_spec.bpmn_name or task.task_spec.bpmn_id}”"
                                f"（{task.task_spec.bpmn_id}）在新版本中不存在")
    return sorted(set(blockers))


def blockers(source: "ProcessEngine", case: Case, target: "ProcessEngine") -> list[str]:
    """Why the case cannot move (in Chinese); empty when it can. A trial move must leave the case waiting in the
    same steps, for the same persons, as before."""
    return assess(source, case, target, with_deadlines=False)[0]


def assess(source: "ProcessEngine", case: Case, target: "ProcessEngine", *,
           with_deadlines: bool = True) -> tuple[list[str], list[dict[str, Any]]]:
    """(why the case cannot move, its deadlines as :func:`deadlines` gives them) with as few trial moves as can be."""
    reasons = removed_steps(source, case, target)
    if reasons:
        return reasons, []
    try:
        kept = migrate(source, _copy(source, case), target)
    except Exception as exc:  # noqa: BLE001 - any failure of the trial is a reason not to move
        return [f"试迁移时新版本无法继续办理此案件：{_first_line(exc)}"], []
    before, after = _steps(source, case), _steps(target, kept)
    if before != after:
        return [f"迁移后案件等待的环节会改变（迁移前：{'、'.join(before) or '无'}；迁移后：{'、'.join(after) or '无'}）："
                f"请在当前环节办完后再迁移"], []
    if not with_deadlines:
        return [], []
    return [], _deadlines(source, case, target, kept, migrate(source, _copy(source, case), target, recompute=True))


def _steps(engine: "ProcessEngine", case: Case) -> list[str]:
    tasks = [f"{t.title}（{t.person or t.assignee or t.role or ''}）" for t in engine.open_tasks(case)]
    timers = [t.title for t in engine.pending_timers(case)]
    return sorted(tasks + timers)


def migrate(source: "ProcessEngine", case: Case, target: "ProcessEngine", *, recompute: bool = False,
            now: dt.datetime | None = None) -> Case:
    """Move a case to the target version (check :func:`blockers` first); see the module docstring for deadlines.
    ``now``: the case service's clock, from which steps the move opens count their limits."""
    from .limits import utcnow
    from .specs import CaseScriptEngine

    waiting = _waiting(source, case)
    wf = case._wf
    case.changed()  # the workflow is changed in place below
    top, subs = diff_workflow(source.serializer.registry, wf, target.spec, target.subprocess_specs)
    migrate_workflow(top, wf, target.spec)
    for sp_id, sub_diff in subs.items():
        sub = wf.subprocesses[sp_id]
        migrate_workflow(sub_diff, sub, target.subprocess_specs[sub.spec.name])
    wf.subprocess_specs = target.subprocess_specs
    wf.script_engine = CaseScriptEngine(target.catalog)
    moved = Case(target._load(target.serialize(Case(wf))))  # as the new version loads it: its instances connected
    moved._wf.script_engine.now = now or utcnow()
    for task in moved._wf.get_tasks(state=TaskState.READY | TaskState.WAITING):
        before = waiting.get(str(task.id))
        if before is None or before.bpmn_id != task.task_spec.bpmn_id:
            continue
        task.last_state_change = before.since  # the step opened when it opened, not at the move
        event = getattr(task.task_spec, "event_definition", None)
        if isinstance(event, TimerEventDefinition):
            _set_timer(task, event, before, recompute)
            continue
        task.internal_data.pop("due", None)
        opened = dt.datetime.fromisoformat(before.limit["opened"]) if before.limit and before.limit.get("opened") \
            else dt.datetime.fromtimestamp(before.since, dt.timezone.utc)
        if recompute:  # the new version's limit, from when the step opened
            task.internal_data["limit"] = target.task_limit(task, opened)
        elif before.limit is not None:  # the inbox keeps showing the due date it had
            task.internal_data["limit"] = dict(before.limit)
        else:
            task.internal_data["limit"] = {"opened": opened.isoformat(),
                                           "due": before.due.isoformat() if before.due else None, "escalate": None}
    target._advance(moved)
    return moved


def _set_timer(task, event: TimerEventDefinition, before: _Waiting, recompute: bool) -> None:
    if before.event_value is None:
        return
    if not recompute or isinstance(event, CycleTimerEventDefinition):
        task.internal_data["event_value"] = before.event_value  # a cycle keeps its schedule either way
        return
    if isinstance(event, DurationTimerEventDefinition):
        expression = task.workflow.script_engine.evaluate(task, event.expression)
        start = dt.datetime.fromtimestamp(before.since, dt.timezone.utc)
        counting = getattr(event, "counting", None)
        if counting is not None:  # the limit counts working or calendar days as the new version says
            from ..workdays import work_calendar
            task.internal_data["event_value"] = work_calendar().limit_end(start, str(expression), counting).isoformat()
            return
        delta = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(expression),
                                                              start)
        task.internal_data["event_value"] = (start + delta).isoformat()
    # a date timer (timeDate) names its moment itself: the new version's value stands


def deadlines(source: "ProcessEngine", case: Case, target: "ProcessEngine") -> list[dict[str, Any]]:
    """The case's timers and due tasks as they are and as they would be after a move, keeping or recomputing
    the due dates: ``[{"kind": "timer"|"task", "name", "title", "person", "now", "keep", "recompute"}]``
    (datetimes; None where there is none)."""
    kept = migrate(source, _copy(source, case), target)
    return _deadlines(source, case, target, kept, migrate(source, _copy(source, case), target, recompute=True))


def _deadlines(source: "ProcessEngine", case: Case, target: "ProcessEngine", kept: Case,
               recomputed: Case) -> list[dict[str, Any]]:
    rows = []
    persons = _timer_persons(source, case)
    now_t = {t.task_id: t for t in source.pending_timers(case)}
    keep_t = {t.task_id: t for t in target.pending_timers(kept)}
    rec_t = {t.task_id: t for t in target.pending_timers(recomputed)}
    for tid, t in now_t.items():
        rows.append({"kind": "timer", "name": t.name, "title": t.title, "person": persons.get(tid), "now": t.due,
                     "keep": keep_t[tid].due if tid in keep_t else None,
                     "recompute": rec_t[tid].due if tid in rec_t else None})
    now_u = {t.id: t for t in source.open_tasks(case)}
    keep_u = {t.id: t for t in target.open_tasks(kept)}
    rec_u = {t.id: t for t in target.open_tasks(recomputed)}
    for tid, t in now_u.items():
        if t.due is None and (keep_u.get(tid) is None or keep_u[tid].due is None):
            continue
        rows.append({"kind": "task", "name": t.name, "title": t.title, "person": t.person or t.assignee, "now": t.due,
                     "keep": keep_u[tid].due if tid in keep_u else None,
                     "recompute": rec_u[tid].due if tid in rec_u else None})
    return sorted(rows, key=lambda r: (r["person"] or "", r["kind"] != "task", r["title"]))


def _timer_persons(engine: "ProcessEngine", case: Case) -> dict[str, str | None]:
    """Each waiting timer's person: the person of the open task beside it (the same person's hearing or appeal)."""
    by_workflow: dict[int, str | None] = {}
    for t in engine.open_tasks(case):
        task = case._wf.get_task_from_id(uuid.UUID(t.id))
        by_workflow.setdefault(id(task.workflow), t.person or t.assignee)
    out = {}
    for task in case._wf.get_tasks(state=TaskState.WAITING):
        out[str(task.id)] = by_workflow.get(id(task.workflow))
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


__all__ = ["assess", "blockers", "deadlines", "migrate", "removed_steps"]
