"""One deployed set of process files: start, open tasks, complete, fire timers, migrate, serialize.

It loads a set of process files (Camunda-Modeler BPMN plus the project's DMN tables), starts
cases, lists open user tasks with role, assignee, form key and due time, completes them with
data checked against their form, fires due timers, and serializes and restores cases.

What SpiffWorkflow 3.2 does not do for Camunda files is done here and in :mod:`.specs`:

* ``camunda:candidateGroups``, ``camunda:assignee`` (``${subject}``, ``${ballot.member}``) and
  ``camunda:dueDate`` (an ISO-8601 duration from the moment the task opens, e.g. ``P15D``) are
  kept on user tasks;
* business rule tasks (``camunda:decisionRef``, ``camunda:resultVariable``) are evaluated by the
  project's own DMN engine, each with its trace kept with the case; a standard multi-instance loop
  (``camunda:collection``, ``camunda:elementVariable``) evaluates the decision once per element of a list;
* timers hold literal ISO-8601 values (``P7D``), or Python where the value says ``language="python"``;
* conditions, scripts and timer expressions run in :mod:`service.sandbox`, never with Python's
  full builtins;
* in a multi-instance user task, the submitted form data is merged into the element variable
  (so each leading-group member's vote lands in their ``ballot``);
* a diagram script may call ``refuse(field, message)``: the step fails, the case stays as it was, and the
  message is shown at that form field.
"""
from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from .. import sandbox
from ..bundle import Bundle
from ..decisions import catalog_from_files
from ..forms import FormErrors, FormLibrary
from .case import Case, OpenTask, PendingTimer, StepResult, _resolve
from ..workdays import local_date
from .limits import element_properties, escalation_time, task_due, use_limit_timers, utcnow
from .specs import CaseParser, CaseScriptEngine, _fix_camunda_multi_instance, _serializer

PROCESS_ID = "accountability_case"
INTAKE_FORM = "intake"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ROLES = ("office", "leading_group")
# Facts the case service computes and hands to the engine; no form ever provides them.
SYSTEM_FACTS = {
    "errors_by_person": "Art. 11(3): for each respondent, their established errors (in any role) in the calendar year "
                        "of the act, this case included (computed by the case service)",
    "leading_group_members": "usernames of the leading group's members; respondents among them do not vote (Art. 7)",
    "case_id": "the case number",
    "today": "the date of the step (YYYY-MM-DD)",
}
# What a version from before the person model (one subject per case) asked for; its running cases finish on it.
LEGACY_FACTS = {
    "errors_this_year": "Art. 11(3) for the one subject of a case on a version before the person model",
}


class EngineError(Exception):
    """A step the engine could not take; the case is left as it was."""


class TaskNotOpen(EngineError):
    """The task does not exist or is no longer open."""




class ProcessEngine:
    """One deployed set of process files (a :class:`Bundle`): BPMN, DMN and forms."""

    def __init__(self, bundle: Bundle, *, process_id: str = PROCESS_ID):
        self.bundle = bundle
        self.forms = FormLibrary.from_files(bundle.forms)
        self.catalog = catalog_from_files(bundle.dmn)
        parser = CaseParser(validator=BpmnValidator())
        try:
            for name, data in bundle.bpmn.items():
                parser.add_bpmn_io(io.BytesIO(data), name)
            self.spec = parser.get_spec(process_id)
            self.subprocess_specs = parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            raise EngineError(f"{exc.file_name or ''} {exc.id or ''}: {_first_line(exc)}".strip()) from exc
        # Camunda properties by element id: how each limit's days count, when to escalate (see .limits)
        self.properties = element_properties(bundle.bpmn)
        self.escalate_after = (self.properties.get(process_id) or {}).get("escalateAfter")
        for process in (self.spec, *self.subprocess_specs.values()):
            _fix_camunda_multi_instance(process)
            use_limit_timers(process, self.properties)
        # a version from before the person model names no respondents and counts Art. 11(3) for its subject only
        self.per_person = any(b"errors_by_person" in data for data in bundle.bpmn.values())
        self.serializer = _serializer()
        self._state_serializer = _serializer(with_spec=False)
        blank = json.loads(self.serializer.serialize_json(BpmnWorkflow(self.spec, self.subprocess_specs)))
        # the spec is stored once per deployment, not in every case's state
        self._spec_json = json.dumps({"spec": blank["spec"], "subprocess_specs": blank["subprocess_specs"]})
        # A restored case runs on specs restored once per version from that JSON (SpiffWorkflow keeps no case's
        # state in them) instead of a copy rebuilt on every restore, unless a multi-instance task with a loop
        # cardinality would rewrite its spec per case. Not on self.spec: the parsed specs are not the same as the
        # restored ones (a case moved to another version in the middle of the vote did not finish it on them).
        spec = json.loads(self._spec_json)
        self._specs = (self.serializer.from_dict(spec["spec"]),
                       {k: self.serializer.from_dict(v) for k, v in spec["subprocess_specs"].items()})
        self._share_specs = not any(isinstance(t, MultiInstanceTask) and getattr(t, "cardinality", None) is not None
                                    for p in (self.spec, *self.subprocess_specs.values())
                                    for t in p.task_specs.values())

    @classmethod
    def from_folders(cls, processes: Path, forms: Path, **kwargs) -> "ProcessEngine":
        return cls(Bundle.from_folders(processes, forms), **kwargs)

    def user_task_titles(self) -> dict[str, str]:
        """Diagram id -> name of every user task of the deployment (e.g. for inbox filters)."""
        titles: dict[str, str] = {}
        for process in (self.spec, *self.subprocess_specs.values()):
            for spec in process.task_specs.values():
                if isinstance(spec, UserTask) and spec.bpmn_id:
                    titles.setdefault(spec.bpmn_id, spec.bpmn_name or spec.bpmn_id)
        return titles

    def due_periods(self) -> dict[str, str]:
        """Form key -> the ``camunda:dueDate`` of the user task with that form (e.g. ``{"appeal": "P30D"}``): the
        time limits the documents state, as the owners set them in the diagram."""
        periods: dict[str, str] = {}
        for process in (self.spec, *self.subprocess_specs.values()):
            for spec in process.task_specs.values():
                ext = getattr(spec, "extensions", {}) or {}
                if isinstance(spec, UserTask) and ext.get("formKey") and ext.get("dueDate"):
                    periods.setdefault(ext["formKey"], ext["dueDate"])
        return periods

    def due_countings(self) -> dict[str, str]:
        """Form key -> how the days of that task's limit count (``working`` or ``calendar``, its ``days`` property)."""
        countings: dict[str, str] = {}
        for process in (self.spec, *self.subprocess_specs.values()):
            for spec in process.task_specs.values():
                ext = getattr(spec, "extensions", {}) or {}
                if isinstance(spec, UserTask) and ext.get("formKey") and ext.get("dueDate"):
                    countings.setdefault(ext["formKey"], ext.get("days") or "calendar")
        return countings

    # ---------------------------------------------------------------- lifecycle

    def start(self, intake: Mapping[str, Any], facts: Mapping[str, Any] | None = None,
              now: dt.datetime | None = None) -> Case:
        """Start a case with intake data (checked against the intake form) and system facts; ``now`` is the
        case service's clock (limits and timers count from it)."""
        data = self.forms.validate(INTAKE_FORM, intake)
        for key in self.forms.schema(INTAKE_FORM).get("properties", {}):
            data.setdefault(key, None)  # every intake fact exists, known or not (e.g. `reporter is not None`)
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs,
                                script_engine=CaseScriptEngine(self.catalog, now or utcnow()))
        start = workflow.get_tasks(state=TaskState.READY)[0]
        start.data.update(data)
        start.data.update(self._facts(facts))
        case = Case(workflow)
        with self._atomic(case, INTAKE_FORM):  # diagram code that fails or breaks a limit: no case at all
            self._advance(case)
        return case

    def open_tasks(self, case: Case) -> list[OpenTask]:
        out = []
        for task in case._wf.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            ext = getattr(spec, "extensions", {}) or {}
            stamped = task.internal_data.get("limit") or {}
            ready = (dt.datetime.fromisoformat(stamped["opened"]) if stamped.get("opened")
                     else dt.datetime.fromtimestamp(task.last_state_change, dt.timezone.utc))
            if stamped:
                due = dt.datetime.fromisoformat(stamped["due"]) if stamped.get("due") else None
                escalate = dt.datetime.fromisoformat(stamped["escalate"]) if stamped.get("escalate") else None
            elif task.internal_data.get("due"):  # kept by a move to another version before limits were stamped
                due = dt.datetime.fromisoformat(task.internal_data["due"])
                escalate = escalation_time(due, ext.get("escalateAfter") or self.escalate_after)
            else:  # opened before limits were stamped: the duration from when it opened, in calendar days
                due = task_due(ext.get("dueDate"), None, task.data, ready)
                escalate = escalation_time(due, ext.get("escalateAfter") or self.escalate_after)
            groups = [g.strip() for g in (ext.get("candidateGroups") or "").split(",") if g.strip()]
            form = getattr(spec, "form", None)
            assignee = _resolve(ext.get("assignee"), task.data)
            person = _resolve(ext.get("person"), task.data)
            out.append(OpenTask(
                id=str(task.id), name=spec.bpmn_id or spec.name, title=spec.bpmn_name or spec.name,
                role=groups[0] if groups else None, assignee=assignee,
                form_key=ext.get("formKey") or (form.key if form is not None else None), due=due,
                lane=spec.lane, ready_since=ready, person=person or (assignee if not groups else None),
                escalate_at=escalate))
        return out

    def task_data(self, case: Case, task_id: str) -> dict[str, Any]:
        """The case data as the task sees it."""
        return dict(self._ready_task(case, task_id).data)

    def complete(self, case: Case, task_id: str, data: Mapping[str, Any],
                 facts: Mapping[str, Any] | None = None, now: dt.datetime | None = None) -> StepResult:
        """Complete a user task with form data; on any failure the case is left exactly as it was.

        Raises FormErrors (one message per field) when the data does not fit the task's form.
        """
        task = self._ready_task(case, task_id)
        now = now or utcnow()
        case._wf.script_engine.now = now
        form_key = (getattr(task.task_spec, "extensions", {}) or {}).get("formKey")
        clean = self.forms.validate(form_key, data) if form_key else {}
        system = {"today": local_date(now).isoformat(), **self._facts(facts)}  # the step's day, unless given
        before = self._trace_count(case)
        if form_key:  # every field of the form exists for the diagram's code, filled in or not
            for key in self.forms.schema(form_key).get("properties", {}):
                if key not in clean and key not in task.data:
                    clean[key] = None
        with self._atomic(case, form_key or ""):
            task.data.update(system)
            target = self._element_variable(task)
            if target:
                task.data[target] = {**(task.data.get(target) or {}), **clean}
            else:
                task.data.update(clean)
            task.run()
            self._advance(case)
        return StepResult(traces=case.decision_traces()[before:])

    def pending_timers(self, case: Case) -> list[PendingTimer]:
        out = []
        for task in case._wf.get_tasks(state=TaskState.WAITING):
            spec = task.task_spec
            event = getattr(spec, "event_definition", None)
            if isinstance(event, TimerEventDefinition):
                value = task.internal_data.get("event_value")
                if isinstance(value, dict) and value.get("cycles") != 0 and value.get("next"):
                    value = value["next"]  # a cycle: its next repetition
                if isinstance(value, str):
                    out.append(PendingTimer(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id,
                                            dt.datetime.fromisoformat(value)))
        return out

    def fire_due_timers(self, case: Case, now: dt.datetime | None = None) -> StepResult:
        """Fire every timer due at ``now`` (default: the current time); returns what fired."""
        now = now or utcnow()
        case._wf.script_engine.now = now
        due = [t for t in self.pending_timers(case) if t.due <= now]
        if not due:
            return StepResult()
        before = self._trace_count(case)
        with self._atomic(case):
            for timer in due:
                task = case._wf.get_task_from_id(_uuid(timer.task_id))
                # the timer is due by the caller's clock: move its due time to the past (by the caller's clock and
                # by the machine's, which SpiffWorkflow's cycle timers read) so it fires now
                past = (min(now, utcnow()) - dt.timedelta(seconds=1)).isoformat()
                value = task.internal_data.get("event_value")
                if isinstance(value, dict):  # a cycle fires this repetition now
                    task.internal_data["event_value"] = {**value, "next": past}
                else:
                    task.internal_data["event_value"] = past
            case._wf.refresh_timers()
            for timer in due:  # a cycle's next repetition keeps its own schedule: one interval after this one
                task = case._wf.get_task_from_id(_uuid(timer.task_id))
                value = task.internal_data.get("event_value")
                if isinstance(value, dict) and value.get("cycles") != 0 and value.get("duration") is not None:
                    value["next"] = (timer.due + dt.timedelta(seconds=value["duration"])).isoformat()
            self._advance(case)
        return StepResult(traces=case.decision_traces()[before:], fired=[t.name for t in due])

    # ---------------------------------------------------------------- versions

    def migration_blockers(self, case: Case, target: "ProcessEngine") -> list[str]:
        """Why a case cannot move to the target version (in Chinese); empty when every step it went through and
        waits in exists there and a trial move leaves it waiting in the same steps for the same persons."""
        from . import migration
        return migration.blockers(self, case, target)

    def migrate(self, case: Case, target: "ProcessEngine", *, recompute: bool = False,
                now: dt.datetime | None = None) -> Case:
        """Move a case to the target version (check migration_blockers first). Timers and task due dates keep their
        absolute times, or with ``recompute`` are computed again from when each step opened under the new periods;
        ``now`` is the case service's clock (steps the move opens count their limits from it)."""
        from . import migration
        return migration.migrate(self, case, target, recompute=recompute, now=now)

    def migration_deadlines(self, case: Case, target: "ProcessEngine") -> list[dict[str, Any]]:
        """The case's timers and due dates now, after a move that keeps them, and after one that recomputes them."""
        from . import migration
        return migration.deadlines(self, case, target)

    def migration_check(self, case: Case, target: "ProcessEngine") -> tuple[list[str], list[dict[str, Any]]]:
        """(migration_blockers, migration_deadlines) at once, with as few trial moves as can be."""
        from . import migration
        return migration.assess(self, case, target)

    # ---------------------------------------------------------------- persistence

    def serialize(self, case: Case) -> str:
        """The case's state as JSON, without the process spec (the deployment holds that once; it is not even
        converted). The case remembers it: a step that starts from it needs no snapshot of its own."""
        ser = self._state_serializer
        ser.registry._encoder_mode = True  # as BpmnWorkflowSerializer.serialize_json does
        try:
            dct = ser.to_dict(case._wf)
            dct[ser.VERSION_KEY] = ser.VERSION
            state = json.dumps(dct, cls=ser._encoder_cls, ensure_ascii=False, separators=(",", ":"))
        finally:
            ser.registry._encoder_mode = False
        case._saved = state
        return state

    def restore(self, state: str) -> Case:
        case = Case(self._load(state))
        case._saved = state  # unchanged until a step runs: the step's snapshot
        return case

    def _load(self, state: str) -> BpmnWorkflow:
        dct = json.loads(state)
        if ("spec" not in dct and self._share_specs
                and dct.get(self.serializer.VERSION_KEY) == self.serializer.VERSION):
            dct.pop(self.serializer.VERSION_KEY)  # the current format: nothing to migrate
            dct["spec"], dct["subprocess_specs"] = self._specs[0], dict(self._specs[1])
        else:
            if "spec" not in dct:
                dct.update(json.loads(self._spec_json))  # from_dict mutates its input: parse a fresh copy
            self.serializer.migrate(dct)
        workflow = self.serializer.from_dict(dct)
        workflow.script_engine = CaseScriptEngine(self.catalog)  # never serialized: re-attach the sandbox
        return workflow

    # ---------------------------------------------------------------- helpers

    @contextmanager
    def _atomic(self, case: Case, form_key: str = "") -> Iterator[None]:
        """Run a step; if anything fails, put the case back exactly as it was and raise EngineError (or
        FormErrors, when a diagram script refused the step with a message on a field)."""
        snapshot = case._saved or self.serialize(case)  # the state the case was restored from, if unchanged since
        case.changed()
        now = case._wf.script_engine.now
        try:
            try:
                yield
            finally:
                case.changed()  # the tasks the step added (or, when it failed, the ones put back)
        except Exception as exc:
            case._wf = self._load(snapshot)
            case._wf.script_engine.now = now
            case.changed()
            case._saved = snapshot
            refusal = _refusal(exc)
            if refusal is not None:
                raise FormErrors(form_key, {refusal.field: refusal.message}) from None
            if isinstance(exc, EngineError):
                raise
            raise EngineError(_first_line(exc)) from exc

    def _advance(self, case: Case) -> None:
        case._wf.do_engine_steps()
        case._wf.refresh_timers()
        case._wf.do_engine_steps()
        errors = case._wf.get_tasks(state=TaskState.ERROR)
        if errors:
            raise EngineError(f"step '{errors[0].task_spec.bpmn_name or errors[0].task_spec.name}' failed")
        self._stamp_limits(case)

    def _stamp_limits(self, case: Case) -> None:
        """Fix the limit of every task that has just opened, by the clock of the step that opened it: when it
        opened, when it is due (``camunda:dueDate`` and the ``days`` property) and when it is escalated."""
        now = case._wf.script_engine.now or utcnow()
        for task in case._wf.get_tasks(state=TaskState.READY, manual=True):
            if "limit" not in task.internal_data:
                task.internal_data["limit"] = self.task_limit(task, now)

    def task_limit(self, task, opened: dt.datetime) -> dict[str, str | None]:
        """A user task's limit as this version writes it, for a task that opened at ``opened`` (a SpiffWorkflow
        task: used here and by :mod:`.migration`)."""
        ext = getattr(task.task_spec, "extensions", {}) or {}
        try:
            due = task_due(ext.get("dueDate"), ext.get("days"), task.data, opened)
            escalate = escalation_time(due, ext.get("escalateAfter") or self.escalate_after)
        except ValueError as exc:
            raise EngineError(f"{task.task_spec.bpmn_name or task.task_spec.bpmn_id}: {exc}") from exc
        return {"opened": opened.isoformat(), "due": due.isoformat() if due else None,
                "escalate": escalate.isoformat() if escalate else None}

    def _ready_task(self, case: Case, task_id: str):
        try:
            task = case._wf.get_task_from_id(_uuid(task_id))
        except Exception:
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotOpen(f"task {task_id} is not open")
        return task

    @staticmethod
    def _element_variable(task) -> str | None:
        parent = task.parent
        spec = parent.task_spec if parent is not None else None
        if isinstance(spec, MultiInstanceTask) and getattr(spec, "input_item", None) is not None:
            return spec.input_item.bpmn_id
        return None

    def _facts(self, facts: Mapping[str, Any] | None) -> dict[str, Any]:
        facts = dict(facts or {})
        unknown = set(facts) - set(SYSTEM_FACTS) - (set() if self.per_person else set(LEGACY_FACTS))
        if unknown:
            raise EngineError(f"not system facts: {', '.join(sorted(unknown))}")
        return facts

    @staticmethod
    def _trace_count(case: Case) -> int:
        return len(case.decision_traces())




def _refusal(exc: BaseException | None) -> sandbox.Refusal | None:
    """The diagram script's refusal behind an engine error, if that is what stopped the step."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, sandbox.Refusal):
            return exc
        inner = getattr(exc, "error", None)  # SpiffWorkflow keeps the script's exception here
        exc = inner if isinstance(inner, BaseException) else (exc.__cause__ or exc.__context__)
        seen += 1
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def _uuid(task_id: str):
    import uuid
    return uuid.UUID(str(task_id))


