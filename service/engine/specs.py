"""SpiffWorkflow specs and parsers for Camunda-Modeler files: user tasks that keep their Camunda attributes,
business rule tasks evaluated by the project's DMN engine (each trace naming its person, once per element of
a standard multi-instance loop), plain tasks that pass through, literal ISO-8601 timers, the sandboxed script
engine, and the serializer that knows them."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.helpers.spec import TaskSpecConverter
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, IntermediateCatchEvent, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (CamundaBoundaryEventParser,
                                                        CamundaIntermediateCatchEventParser, CamundaStartEventParser)
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import WorkflowException

from .. import sandbox
from ..decisions import Catalog, DecisionError, needed_inputs
from ..decisions.feel import to_json
from .limits import LimitDateTimer, LimitDurationTimer, LimitTimerConverter, deadline
from .timers import timer_expression

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

# --------------------------------------------------------------------------- sandbox

# what diagram code may call besides the sandbox's builtins
FUNCTIONS = {"deadline": deadline}


class SandboxEnvironment(TaskDataEnvironment):
    """Evaluates diagram expressions and scripts with :mod:`service.sandbox`."""

    def evaluate(self, expression, context, external_context=None):
        return sandbox.evaluate(expression, {**(external_context or {}), **context}, FUNCTIONS)

    def execute(self, script, context, external_context=None):
        sandbox.execute(script, context, FUNCTIONS)
        return True


class CaseScriptEngine(PythonScriptEngine):
    """The script engine of every case: sandboxed, carrying the decision catalog and the clock of the step
    (``now``: the case service's time, so limits and timers follow it; None means the machine's clock)."""

    def __init__(self, catalog: Catalog, now: dt.datetime | None = None):
        super().__init__(environment=SandboxEnvironment())
        self.catalog = catalog
        self.now = now


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
    """``camunda:decisionRef`` and ``camunda:resultVariable``; a standard ``multiInstanceLoopCharacteristics``
    with ``camunda:collection``/``camunda:elementVariable`` evaluates the decision once per element, in order,
    into one list (the loop is run by :class:`DecisionTask` itself, so every trace stays on one task).

    The ``collection``/``elementVariable`` Camunda properties that older versions of the diagram used for the
    same loop are still read, so cases on those versions run on."""

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
        collection, element = props.get("collection"), props.get("elementVariable")
        loops = self.xpath("./bpmn:multiInstanceLoopCharacteristics")
        if loops:
            loop = loops[0]
            if self.xpath("./bpmn:multiInstanceLoopCharacteristics/*"):
                self.raise_validation_exception(
                    "a multi-instance business rule task takes only camunda:collection and camunda:elementVariable "
                    "(no loop cardinality, data references or completion condition)")
            collection = loop.get(f"{{{CAMUNDA_NS}}}collection")
            element = loop.get(f"{{{CAMUNDA_NS}}}elementVariable")
            if not collection or not element:
                self.raise_validation_exception(
                    "a multi-instance business rule task needs camunda:collection (the list) and "
                    "camunda:elementVariable (the name of one element)")
        elif self.xpath("./bpmn:standardLoopCharacteristics"):
            self.raise_validation_exception("a business rule task cannot be a standard loop: use multi-instance")
        return DecisionTask(self.spec, self.bpmn_id, decision_ref=ref, result_variable=result,
                            collection=collection, element_variable=element, **self.bpmn_attributes)

    def _add_multiinstance_task(self, loop_characteristics):
        """The decision task runs its own loop (see :meth:`create_task`): no SpiffWorkflow wrapper task."""


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

    ATTRS = ("assignee", "candidateGroups", "candidateUsers", "dueDate", "formKey")  # properties come with super()

    def parse_extensions(self, node=None):
        ext = super().parse_extensions(node)
        for attr in self.ATTRS:
            value = self.node.get(f"{{{CAMUNDA_NS}}}{attr}")
            if value is not None:
                ext[attr] = value
        return ext


class LiteralTimerMixin:
    """Timers hold literal ISO-8601 values (or Python when they say ``language="python"``): see :mod:`.timers`."""

    def parse_timer_event(self, event):
        definition = super().parse_timer_event(event)
        if isinstance(definition, TimerEventDefinition):
            for kind in ("timeDate", "timeDuration", "timeCycle"):
                found = self.xpath(f".//bpmn:{kind}")
                if found:
                    definition.expression = timer_expression(found[0].text, found[0].get("language"))
                    break
        return definition


class CaseStartEventParser(LiteralTimerMixin, CamundaStartEventParser):
    pass


class CaseIntermediateCatchEventParser(LiteralTimerMixin, CamundaIntermediateCatchEventParser):
    pass


class CaseBoundaryEventParser(LiteralTimerMixin, CamundaBoundaryEventParser):
    pass


class PassThroughTask(BpmnSpecMixin):
    """A plain ``bpmn:task``: as in Camunda, it does nothing and the case moves on (no one has to click it)."""


class CaseParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("task"): (CamundaTaskParser, PassThroughTask),
        full_tag("userTask"): (CaseUserTaskParser, UserTask),
        full_tag("businessRuleTask"): (DecisionTaskParser, DecisionTask),
        full_tag("startEvent"): (CaseStartEventParser, StartEvent),
        full_tag("intermediateCatchEvent"): (CaseIntermediateCatchEventParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (CaseBoundaryEventParser, BoundaryEvent),
    }


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """A workflow without its process specs (a case's state: the deployment holds the specs once)."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _serializer(with_spec: bool = True) -> BpmnWorkflowSerializer:
    """The serializer of cases; ``with_spec=False``: one that leaves the specs out (see StateOnlyWorkflowConverter)."""
    config = dict(CAMUNDA_CONFIG)
    if not with_spec:
        config[BpmnWorkflow] = StateOnlyWorkflowConverter
    config[DecisionTask] = DecisionTaskConverter
    config[PassThroughTask] = BpmnTaskSpecConverter
    config[LimitDurationTimer] = LimitTimerConverter
    config[LimitDateTimer] = LimitTimerConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


# --------------------------------------------------------------------------- what callers see

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

