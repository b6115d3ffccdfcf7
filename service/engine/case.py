"""A running case as callers see it: open tasks, timers, the facts, traces and history, never SpiffWorkflow types."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

_ASSIGNEE = re.compile(r"^\$\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}$")
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


@dataclass(frozen=True)
class OpenTask:
    """A user task waiting for a person."""

    id: str
    name: str  # the task's id in the diagram, e.g. "Task_register"
    title: str  # its name in the diagram, e.g. "立案审查"
    role: str | None  # candidate group: office, leading_group; None for a personal task
    assignee: str | None  # a username, e.g. the accused for ${subject}
    form_key: str | None
    due: dt.datetime | None
    lane: str | None
    ready_since: dt.datetime
    person: str | None = None  # the respondent the task is about (a personal task's assignee, or camunda property)
    escalate_at: dt.datetime | None = None  # past this, an unfinished task is escalated to the leading group

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "title": self.title, "role": self.role, "assignee": self.assignee,
                "form_key": self.form_key, "due": self.due.isoformat() if self.due else None, "lane": self.lane,
                "person": self.person}


@dataclass(frozen=True)
class PendingTimer:
    task_id: str
    name: str
    title: str
    due: dt.datetime


@dataclass
class StepResult:
    """What one step did: the decision traces it produced and the timers it fired."""

    traces: list[dict[str, Any]] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)


class Case:
    """A running case: the workflow plus helpers that never expose SpiffWorkflow types."""

    def __init__(self, workflow: BpmnWorkflow):
        self._wf = workflow
        self._saved: str | None = None  # the serialized state while the workflow is unchanged since (see engine)
        self._tasks: list[Any] | None = None  # every task of the workflow, until a step changes which there are

    def changed(self) -> None:
        """The workflow was changed (a step ran, or a move to another version): forget what was read of it."""
        self._saved = self._tasks = None

    def _in_state(self, state: int) -> list[Any]:
        """Every task in one of the states, including those on a branch below a task in another state (a
        non-interrupting timer's branch sits below its waiting timer, which SpiffWorkflow's filter skips)."""
        if self._tasks is None:  # the walk over every task: done once between two steps
            self._tasks = self._wf.get_tasks()
        return [t for t in self._tasks if t.state & state]

    @property
    def data(self) -> dict[str, Any]:
        """The case facts (the data of the last completed task, or the start data)."""
        if self._wf.completed:
            return self._wf.data
        last = None
        for task in self._in_state(TaskState.COMPLETED):
            if task.workflow is not self._wf:  # steps inside a sub-process see a copy; the case's facts are here
                continue
            if last is None or task.last_state_change >= last.last_state_change:
                last = task
        return dict(last.data) if last is not None else dict(self._wf.data)

    def instance_values(self, name: str) -> list[Any]:
        """The latest value of an element variable (e.g. ``service``) in each running or finished instance of a
        multi-instance sub-process, oldest instance first: what each person's branch knows now."""
        latest: dict[Any, Any] = {}
        for task in self._in_state(TaskState.COMPLETED | TaskState.READY | TaskState.WAITING):
            if task.workflow is self._wf or name not in task.data:
                continue
            key = task.workflow
            if key not in latest or task.last_state_change >= latest[key][0]:
                latest[key] = (task.last_state_change, task.data[name])
        if not latest:
            return []
        # the instances themselves, not the sub-processes nested in them (which carry a copy of the variable)
        shallowest = min(getattr(w, "depth", 0) for w in latest)
        return [v for w, (_, v) in sorted(latest.items(), key=lambda x: x[1][0]) if getattr(w, "depth", 0) == shallowest]

    @property
    def completed(self) -> bool:
        return self._wf.completed

    @property
    def end_event(self) -> tuple[str, str] | None:
        """(id, name) of the end event the case reached, if it is closed."""
        for task in self._in_state(TaskState.COMPLETED):
            spec = task.task_spec
            if task.workflow is self._wf and spec.__class__.__name__ == "EndEvent" and spec.bpmn_id:
                return spec.bpmn_id, spec.bpmn_name or spec.bpmn_id
        return None

    def decision_traces(self) -> list[dict[str, Any]]:
        """Every decision evaluated in this case, in the order they ran, with the task that ran them."""
        found = []
        for task in self._in_state(TaskState.COMPLETED):
            for trace in task.internal_data.get("decision_traces", []):
                found.append((task.last_state_change, {**trace, "task": task.task_spec.bpmn_id}))
        return [t for _, t in sorted(found, key=lambda x: x[0])]

    def history(self) -> list[dict[str, Any]]:
        """Completed tasks and events that have a name in the diagram, oldest first."""
        done = [t for t in self._in_state(TaskState.COMPLETED)
                if t.task_spec.bpmn_id and t.task_spec.bpmn_name]
        done.sort(key=lambda t: t.last_state_change)
        return [{"name": t.task_spec.bpmn_id, "title": t.task_spec.bpmn_name,
                 "at": dt.datetime.fromtimestamp(t.last_state_change, dt.timezone.utc).isoformat()} for t in done]

    def active_elements(self) -> list[str]:
        """Diagram ids of the steps the case waits in (user tasks and timers)."""
        ids = [t.task_spec.bpmn_id for t in self._wf.get_tasks(state=TaskState.READY | TaskState.WAITING)
               if t.task_spec.bpmn_id and not isinstance(t.task_spec, (MultiInstanceTask,))]
        return sorted(set(ids))


def _duration(text: str) -> dt.timedelta | None:
    m = _DURATION.match(text.strip())
    if not m or not any(m.groups()):
        return None
    w, d, h, mi, s = (int(g or 0) for g in m.groups())
    return dt.timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)


def _resolve(expression: str | None, data: Mapping[str, Any]) -> str | None:
    """${name} or ${name.member} from case data; any other text is taken literally."""
    if expression is None:
        return None
    m = _ASSIGNEE.match(expression.strip())
    if not m:
        return expression
    value: Any = data
    for part in m.group(1).split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return None if value is None else str(value)

