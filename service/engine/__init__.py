"""The engine adapter: the only package that imports SpiffWorkflow.

:mod:`.specs` teaches SpiffWorkflow the Camunda attributes and the project's DMN engine, :mod:`.case` is a
running case as callers see it, :mod:`.process` one deployed version (start, complete, timers, migrate,
serialize), :mod:`.checks` parses files for `validate`, :mod:`.timers` reads timer values (literal ISO-8601,
or Python where declared).
"""
from .case import Case, OpenTask, PendingTimer, StepResult, _duration
from .checks import MIN_CYCLE_SECONDS, check_bpmn, timer_problem
from .timers import is_iso_literal, timer_expression, timer_value_problem
from .process import (INTAKE_FORM, LEGACY_FACTS, PROCESS_ID, ROLES, SYSTEM_FACTS, EngineError, FormErrors, ProcessEngine,
                      TaskNotOpen)

__all__ = ["Case", "EngineError", "FormErrors", "INTAKE_FORM", "LEGACY_FACTS", "OpenTask", "PendingTimer", "PROCESS_ID",
           "ProcessEngine", "ROLES", "StepResult", "SYSTEM_FACTS", "TaskNotOpen", "_duration", "check_bpmn",
           "MIN_CYCLE_SECONDS", "is_iso_literal", "timer_expression", "timer_problem", "timer_value_problem"]
