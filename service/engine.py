"""The engine adapter: the only module that imports SpiffWorkflow.

It loads a set of process files (Camunda-Modeler BPMN plus the project's DMN tables), starts
cases, lists open user tasks with role, assignee, form key and due time, completes them with
data checked against their form, fires due timers, and serializes and restores cases.

What SpiffWorkflow 3.2 does not do for Camunda files is done here:

* ``camunda:candidateGroups``, ``camunda:assignee`` (``${subject}``, ``${ballot.member}``) and
  ``camunda:dueDate`` (an ISO-8601 duration from the moment the task opens, e.g. ``P15D``) are
  kept on user tasks;
* business rule tasks (``camunda:decisionRef``, ``camunda:resultVariable``) are evaluated by the
  project's own DMN engine, each with its trace kept with the case; the Camunda properties
  ``collection`` and ``elementVariable`` evaluate the decision once per element of a list;
* conditions, scripts and timer expressions run in :mod:`service.sandbox`, never with Python's
  full builtins;
* in a multi-instance user task, the submitted form data is merged into the element variable
  (so each leading-group member's vote lands in their ``ballot``).
"""
from __future__ import annotations

import datetime as dt
import io
import json
from contextlib import contextmanager
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.helpers.spec import TaskSpecConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState

from . import sandbox
from .bundle import Bundle
from .decisions import Catalog, DecisionError, catalog_from_files, needed_inputs
from .decisions.feel import to_json
from .forms import FormErrors, FormLibrary

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
_ASSIGNEE = re.compile(r"^\$\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}$")
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class EngineError(Exception):
    """A step the engine could not take; the case is left as it was."""


class TaskNotOpen(EngineError):
    """The task does not exist or is no longer open."""


# --------------------------------------------------------------------------- sandbox

class SandboxEnvironment(TaskDataEnvironment):
    """Evaluates diagram expressions and scripts with :mod:`service.sandbox`."""

    def evaluate(self, expression, context, external_context=None):
        return sandbox.evaluate(expression, {**(external_context or {}), **context})

    def execute(self, script, context, external_context=None):
        sandbox.execute(script, context)
        return True


class CaseScriptEngine(PythonScriptEngine):
    """The script engine of every case: sandboxed, and carrying the decision catalog."""

    def __init__(self, catalog: Catalog):
        super().__init__(environment=SandboxEnvironment())
        self.catalog = catalog


# --------------------------------------------------------------------------- business rule tasks

class DecisionTask(BpmnSpecMixin):
    """A business rule task evaluated by the project's DMN engine, keeping the trace."""

    def __init__(self, wf_spec, bpmn_id, decision_ref, result_variable, collection=None, element_variable=None,
                 **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.decision_ref = decision_ref
        self.result_variable = result_variable
        self.collection = collection
        self.element_variable = element_variable

    def _run_hook(self, my_task):
        catalog: Catalog = my_task.workflow.script_engine.catalog
        decision = catalog.find(self.decision_ref)
        names = needed_inputs(decision)
        try:
            if self.collection:
                outputs, traces = [], []
                for item in my_task.data.get(self.collection) or []:
                    data = {**my_task.data, self.element_variable: item}
                    result = decision_result(catalog, decision, names, data)
                    outputs.append(to_json(result.outputs))
                    traces.append(_with_person(result.trace, data))
            else:
                result = decision_result(catalog, decision, names, my_task.data)
                outputs, traces = to_json(result.outputs), [_with_person(result.trace, my_task.data)]
        except DecisionError as exc:
            raise WorkflowException(f"{self.bpmn_name or self.bpmn_id}: {exc}") from exc
        my_task.data[self.result_variable] = outputs
        my_task.internal_data["decision_traces"] = traces
        return True


def _with_person(trace: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """A trace evaluated for one respondent names that person (the diagram keeps them in ``person``)."""
    person = data.get("person")
    return {**trace, "person": person} if isinstance(person, str) else trace


def decision_result(catalog: Catalog, decision, names: list[str], data: Mapping[str, Any]):
    """Evaluate a decision on the facts of the case it needs."""
    return catalog.evaluate(decision.id, {n: data[n] for n in names if n in data})


class DecisionTaskParser(CamundaTaskParser):
    @staticmethod
    def get_decision_ref(node):
        return node.get(f"{{{CAMUNDA_NS}}}decisionRef")

    def create_task(self):
        props = self.parse_extensions()
        ref = self.node.get(f"{{{CAMUNDA_NS}}}decisionRef")
        if not ref:
            self.raise_validation_exception("a business rule task needs camunda:decisionRef (the decision id)")
        result = self.node.get(f"{{{CAMUNDA_NS}}}resultVariable")
        if not result:
            self.raise_validation_exception("a business rule task needs camunda:resultVariable")
        return DecisionTask(self.spec, self.bpmn_id, decision_ref=ref, result_variable=result,
                            collection=props.get("collection"), element_variable=props.get("elementVariable"),
                            **self.bpmn_attributes)


class DecisionTaskConverter(TaskSpecConverter):
    def to_dict(self, spec):
        dct = self.get_default_attributes(spec)
        dct.update(decision_ref=spec.decision_ref, result_variable=spec.result_variable,
                   collection=spec.collection, element_variable=spec.element_variable)
        return dct

    def from_dict(self, dct):
        return self.task_spec_from_dict(dct)


# --------------------------------------------------------------------------- user tasks

class CaseUserTaskParser(UserTaskParser):
    """Keeps the Camunda attributes SpiffWorkflow's parser drops."""

    ATTRS = ("assignee", "candidateGroups", "candidateUsers", "dueDate", "formKey")

    def parse_extensions(self, node=None):
        ext = super().parse_extensions(node)
        for attr in self.ATTRS:
            value = self.node.get(f"{{{CAMUNDA_NS}}}{attr}")
            if value is not None:
                ext[attr] = value
        return ext


class PassThroughTask(BpmnSpecMixin):
    """A plain ``bpmn:task``: as in Camunda, it does nothing and the case moves on (no one has to click it)."""


class CaseParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("task"): (CamundaTaskParser, PassThroughTask),
        full_tag("userTask"): (CaseUserTaskParser, UserTask),
        full_tag("businessRuleTask"): (DecisionTaskParser, DecisionTask),
    }


def _serializer() -> BpmnWorkflowSerializer:
    config = dict(CAMUNDA_CONFIG)
    config[DecisionTask] = DecisionTaskConverter
    config[PassThroughTask] = BpmnTaskSpecConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


# --------------------------------------------------------------------------- what callers see

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

    @property
    def data(self) -> dict[str, Any]:
        """The case facts (the data of the last completed task, or the start data)."""
        if self._wf.completed:
            return self._wf.data
        last = None
        for task in self._wf.get_tasks(state=TaskState.COMPLETED):
            if task.workflow is not self._wf:  # steps inside a sub-process see a copy; the case's facts are here
                continue
            if last is None or task.last_state_change >= last.last_state_change:
                last = task
        return dict(last.data) if last is not None else dict(self._wf.data)

    def instance_values(self, name: str) -> list[Any]:
        """The latest value of an element variable (e.g. ``service``) in each running or finished instance of a
        multi-instance sub-process, oldest instance first: what each person's branch knows now."""
        latest: dict[Any, Any] = {}
        for task in self._wf.get_tasks(state=TaskState.COMPLETED | TaskState.READY | TaskState.WAITING):
            if task.workflow is self._wf or name not in task.data:
                continue
            key = task.workflow
            if key not in latest or task.last_state_change >= latest[key][0]:
                latest[key] = (task.last_state_change, task.data[name])
        return [v for _, v in sorted(latest.values(), key=lambda x: x[0])]

    @property
    def completed(self) -> bool:
        return self._wf.completed

    @property
    def end_event(self) -> tuple[str, str] | None:
        """(id, name) of the end event the case reached, if it is closed."""
        for task in self._wf.get_tasks(state=TaskState.COMPLETED):
            spec = task.task_spec
            if task.workflow is self._wf and spec.__class__.__name__ == "EndEvent" and spec.bpmn_id:
                return spec.bpmn_id, spec.bpmn_name or spec.bpmn_id
        return None

    def decision_traces(self) -> list[dict[str, Any]]:
        """Every decision evaluated in this case, in the order they ran, with the task that ran them."""
        found = []
        for task in self._wf.get_tasks(state=TaskState.COMPLETED):
            for trace in task.internal_data.get("decision_traces", []):
                found.append((task.last_state_change, {**trace, "task": task.task_spec.bpmn_id}))
        return [t for _, t in sorted(found, key=lambda x: x[0])]

    def history(self) -> list[dict[str, Any]]:
        """Completed tasks and events that have a name in the diagram, oldest first."""
        done = [t for t in self._wf.get_tasks(state=TaskState.COMPLETED)
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
        for process in (self.spec, *self.subprocess_specs.values()):
            _fix_camunda_multi_instance(process)
        self.serializer = _serializer()
        blank = json.loads(self.serializer.serialize_json(BpmnWorkflow(self.spec, self.subprocess_specs)))
        # the spec is stored once per deployment, not in every case's state
        self._spec_json = json.dumps({"spec": blank["spec"], "subprocess_specs": blank["subprocess_specs"]})

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

    # ---------------------------------------------------------------- lifecycle

    def start(self, intake: Mapping[str, Any], facts: Mapping[str, Any] | None = None) -> Case:
        """Start a case with intake data (checked against the intake form) and system facts."""
        data = self.forms.validate(INTAKE_FORM, intake)
        for key in self.forms.schema(INTAKE_FORM).get("properties", {}):
            data.setdefault(key, None)  # every intake fact exists, known or not (e.g. `reporter is not None`)
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=CaseScriptEngine(self.catalog))
        start = workflow.get_tasks(state=TaskState.READY)[0]
        start.data.update(data)
        start.data.update(self._facts(facts))
        case = Case(workflow)
        self._advance(case)
        return case

    def open_tasks(self, case: Case) -> list[OpenTask]:
        out = []
        for task in case._wf.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            ext = getattr(spec, "extensions", {}) or {}
            ready = dt.datetime.fromtimestamp(task.last_state_change, dt.timezone.utc)
            due = None
            if ext.get("dueDate"):
                delta = _duration(ext["dueDate"])
                due = ready + delta if delta else None
            groups = [g.strip() for g in (ext.get("candidateGroups") or "").split(",") if g.strip()]
            form = getattr(spec, "form", None)
            assignee = _resolve(ext.get("assignee"), task.data)
            person = _resolve(ext.get("person"), task.data)
            out.append(OpenTask(
                id=str(task.id), name=spec.bpmn_id or spec.name, title=spec.bpmn_name or spec.name,
                role=groups[0] if groups else None, assignee=assignee,
                form_key=ext.get("formKey") or (form.key if form is not None else None), due=due,
                lane=spec.lane, ready_since=ready, person=person or (assignee if not groups else None)))
        return out

    def task_data(self, case: Case, task_id: str) -> dict[str, Any]:
        """The case data as the task sees it."""
        return dict(self._ready_task(case, task_id).data)

    def complete(self, case: Case, task_id: str, data: Mapping[str, Any],
                 facts: Mapping[str, Any] | None = None) -> StepResult:
        """Complete a user task with form data; on any failure the case is left exactly as it was.

        Raises FormErrors (one message per field) when the data does not fit the task's form.
        """
        task = self._ready_task(case, task_id)
        form_key = (getattr(task.task_spec, "extensions", {}) or {}).get("formKey")
        clean = self.forms.validate(form_key, data) if form_key else {}
        system = self._facts(facts)
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
                if isinstance(value, str):
                    out.append(PendingTimer(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id,
                                            dt.datetime.fromisoformat(value)))
        return out

    def fire_due_timers(self, case: Case, now: dt.datetime | None = None) -> StepResult:
        """Fire every timer due at ``now`` (default: the current time); returns what fired."""
        now = now or dt.datetime.now(dt.timezone.utc)
        due = [t for t in self.pending_timers(case) if t.due <= now]
        if not due:
            return StepResult()
        before = self._trace_count(case)
        with self._atomic(case):
            for timer in due:
                task = case._wf.get_task_from_id(_uuid(timer.task_id))
                # the timer is due by the caller's clock: move its due time to the past so it fires now
                task.internal_data["event_value"] = (dt.datetime.now(dt.timezone.utc)
                                                     - dt.timedelta(seconds=1)).isoformat()
            case._wf.refresh_timers()
            self._advance(case)
        return StepResult(traces=case.decision_traces()[before:], fired=[t.name for t in due])

    # ---------------------------------------------------------------- versions

    def migration_blockers(self, case: Case, target: "ProcessEngine") -> list[str]:
        """Why a case cannot move to the target version; empty when every step it went through and
        every step it waits in exists there."""
        blockers: list[str] = []
        for task in case._wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            spec = task.task_spec
            if isinstance(spec, MultiInstanceTask) or (task.parent and isinstance(task.parent.task_spec,
                                                                                    MultiInstanceTask)):
                name = spec.bpmn_name or spec.bpmn_id
                blockers.append(f"案件正处于“{name}”（{spec.bpmn_id}），该步骤由多人分别办理，中途迁移会丢失已办理的部分："
                                f"请在该步骤完成后再迁移")
                break
        top, subs = diff_workflow(self.serializer.registry, case._wf, target.spec, target.subprocess_specs)
        for task in top.removed:
            if task.task_spec.bpmn_id:
                blockers.append(f"步骤“{task.task_spec.bpmn_name or task.task_spec.bpmn_id}”"
                                f"（{task.task_spec.bpmn_id}）在新版本中不存在")
        for sp_id, sub_diff in subs.items():
            name = case._wf.subprocesses[sp_id].spec.name
            if sub_diff is None:
                blockers.append(f"流程 {name} 在新版本中不存在")
                continue
            for task in sub_diff.removed:
                if task.task_spec.bpmn_id:
                    blockers.append(f"{name} 的步骤“{task.task_spec.bpmn_name or task.task_spec.bpmn_id}”"
                                    f"（{task.task_spec.bpmn_id}）在新版本中不存在")
        return sorted(set(blockers))

    def migrate(self, case: Case, target: "ProcessEngine") -> Case:
        """Move a case to the target version (check migration_blockers first). Waiting steps are re-read
        from the new diagram; finished steps keep their history."""
        wf = case._wf
        top, subs = diff_workflow(self.serializer.registry, wf, target.spec, target.subprocess_specs)
        migrate_workflow(top, wf, target.spec)
        for sp_id, sub_diff in subs.items():
            sub = wf.subprocesses[sp_id]
            migrate_workflow(sub_diff, sub, target.subprocess_specs[sub.spec.name])
        wf.subprocess_specs = target.subprocess_specs
        wf.script_engine = CaseScriptEngine(target.catalog)
        moved = Case(wf)
        target._advance(moved)
        return moved

    # ---------------------------------------------------------------- persistence

    def serialize(self, case: Case) -> str:
        """The case's state as JSON, without the process spec (the deployment holds that once)."""
        state = json.loads(self.serializer.serialize_json(case._wf))
        state.pop("spec", None)
        state.pop("subprocess_specs", None)
        return json.dumps(state, ensure_ascii=False, separators=(",", ":"))

    def restore(self, state: str) -> Case:
        return Case(self._load(state))

    def _load(self, state: str) -> BpmnWorkflow:
        dct = json.loads(state)
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
        snapshot = self.serializer.serialize_json(case._wf)
        try:
            yield
        except Exception as exc:
            case._wf = self._load(snapshot)
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

    @staticmethod
    def _facts(facts: Mapping[str, Any] | None) -> dict[str, Any]:
        facts = dict(facts or {})
        unknown = set(facts) - set(SYSTEM_FACTS)
        if unknown:
            raise EngineError(f"not system facts: {', '.join(sorted(unknown))}")
        return facts

    @staticmethod
    def _trace_count(case: Case) -> int:
        return len(case.decision_traces())


def _fix_camunda_multi_instance(process_spec) -> None:
    """camunda:collection multi-instance tasks use one list as input and output. SpiffWorkflow 3.2 sets
    that up by changing the task spec when the task starts, which a restored spec forgets, so a case
    saved between two votes appended ballots instead of filling them in. Set it once, in the spec."""
    for spec in process_spec.task_specs.values():
        if (isinstance(spec, MultiInstanceTask) and getattr(spec, "cardinality", "x") is None
                and spec.data_input is None and spec.data_output is not None):
            spec.data_input = TaskDataReference(spec.data_output.bpmn_id)
            if spec.output_item is not None:
                spec.input_item = TaskDataReference(spec.output_item.bpmn_id)


def check_bpmn(files: list[Path], dmn_ids: set[str] | None = None) -> list[tuple[str, str, str]]:
    """Parse BPMN files as the engine will: XSD, then every process's spec. Returns (file, element, message)."""
    problems: list[tuple[str, str, str]] = []
    parser = CaseParser(validator=BpmnValidator())
    for f in files:
        try:
            parser.add_bpmn_file(str(f))
        except ValidationException as exc:
            line = f" (line {exc.line_number})" if getattr(exc, "line_number", None) else ""
            problems.append((str(f), exc.id or "", f"{_first_line(exc)}{line}"))
        except Exception as exc:  # lxml syntax errors and the like
            problems.append((str(f), "", f"cannot be read: {exc}"))
    if problems:
        return problems
    for process_id in parser.get_process_ids():
        file = getattr(parser.process_parsers.get(process_id), "filename", "") or ""
        try:
            parser.get_spec(process_id)
            parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            problems.append((exc.file_name or file, exc.id or process_id, _first_line(exc)))
        except Exception as exc:
            problems.append((file, process_id, f"{exc.__class__.__name__}: {exc}"))
    return problems


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


__all__ = ["Case", "EngineError", "FormErrors", "OpenTask", "PendingTimer", "ProcessEngine", "ROLES",
           "StepResult", "SYSTEM_FACTS", "TaskNotOpen"]
