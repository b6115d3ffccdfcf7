"""Time limits written in the diagram, turned into absolute dates.

SpiffWorkflow knows ISO durations counted from the machine's clock; the procedure counts working days around
the State Council's holidays (:mod:`service.workdays`), months from registration, and runs on the case
service's clock. How a limit is written (the README's "Time limits, reminders and notifications" says it for
owners):

* a user task's ``camunda:dueDate`` is an ISO-8601 duration from when the task opens (``P15D``), or ``${name}``
  naming a date the case holds (``YYYY-MM-DD``: the limit ends at the end of that day);
* a duration timer (``timeDuration``) is a quoted ISO-8601 duration, or a variable holding one; a date timer
  (``timeDate``) an expression giving a date or a date and time (e.g. ``appeal_until``);
* the Camunda property ``days`` on the task or timer says how its days count: ``working`` (工作日) or
  ``calendar`` (自然日, the default);
* the Camunda property ``escalateAfter`` (on the process, for every task, or on one task) is how long past its
  limit an unfinished task is escalated to the leading group, counted in working days;
* diagram scripts may call ``deadline(start, duration, days="calendar")``, which gives the limit's last day
  (``YYYY-MM-DD``), e.g. ``decision_due = deadline(registered_on, "P1M")``.

Every limit is fixed when its task opens or its timer starts, by the clock of the step that opened it.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping

from lxml import etree
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition, TimeDateEventDefinition

from ..workdays import CALENDAR, WORKING, LimitError, end_of_day, office_zone, parse_duration, work_calendar

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_VARIABLE = re.compile(r"^\$\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}$")
COUNTINGS = (WORKING, CALENDAR)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def element_properties(bpmn_files: Mapping[str, bytes]) -> dict[str, dict[str, str]]:
    """The Camunda properties (``camunda:properties``) of every element with an id, processes included."""
    out: dict[str, dict[str, str]] = {}
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    for data in bpmn_files.values():
        root = etree.fromstring(data, parser)
        for props in root.iter(f"{{{CAMUNDA_NS}}}properties"):
            owner = props.getparent().getparent() if props.getparent() is not None else None
            if owner is None or not owner.get("id"):
                continue
            for prop in props.iterfind(f"{{{CAMUNDA_NS}}}property"):
                if prop.get("name"):
                    out.setdefault(owner.get("id"), {})[prop.get("name")] = prop.get("value") or ""
    return out


def as_moment(value: Any) -> dt.datetime:
    """A date (the limit ends at the end of that day, office time) or a date and time (naive: office time)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        return end_of_day(value)
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return end_of_day(dt.date.fromisoformat(text))
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise LimitError(f"'{value}' is neither a date (YYYY-MM-DD) nor a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=office_zone())
    return moment.astimezone(dt.timezone.utc)


def deadline(start: Any, duration: str, days: str = CALENDAR) -> str:
    """For diagram scripts: the last day (YYYY-MM-DD) of a limit that starts on ``start`` (a date, or a date and
    time), e.g. ``deadline(registered_on, "P1M")`` or ``deadline(today, "P15D", days="working")``."""
    if days not in COUNTINGS:
        raise LimitError(f"deadline(): days must be 'working' or 'calendar', not {days!r}")
    if isinstance(start, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", start.strip()):
        day = dt.date.fromisoformat(start.strip())
    else:
        day = as_moment(start).astimezone(office_zone()).date()
    return work_calendar().last_day(day, str(duration), days).isoformat()


def task_due(due_date: str | None, counting: str | None, data: Mapping[str, Any], opened: dt.datetime) -> dt.datetime | None:
    """When a user task opened at ``opened`` is due, from its ``camunda:dueDate`` and ``days`` property."""
    if not due_date:
        return None
    m = _VARIABLE.match(due_date.strip())
    if m:
        value: Any = data
        for part in m.group(1).split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return None if value in (None, "") else as_moment(value)
    return work_calendar().limit_end(opened, due_date, counting or CALENDAR)


def escalation_time(due: dt.datetime | None, after: str | None) -> dt.datetime | None:
    """When an unfinished task is escalated: ``after`` (working days) past its limit."""
    if due is None or not after:
        return None
    return work_calendar().limit_end(due, after, WORKING)


# --------------------------------------------------------------------------- timers on the case's clock

def _clock(my_task) -> dt.datetime:
    engine = my_task.workflow.script_engine
    now = getattr(engine, "now", None)
    return now or utcnow()


class _OnCaseClock:
    """A timer whose end is fixed once, as an absolute moment, and checked on the case service's clock."""

    def __init__(self, name, expression, counting: str = CALENDAR, **kwargs):
        super().__init__(name, expression, **kwargs)
        self.counting = counting

    def _end(self, my_task) -> dt.datetime:
        raise NotImplementedError

    def has_fired(self, my_task):
        value = my_task._get_internal_data("event_value")
        if value is None:
            value = self._end(my_task).isoformat()
            my_task._set_internal_data(event_value=value)
        if dt.datetime.fromisoformat(value) <= _clock(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class LimitDurationTimer(_OnCaseClock, DurationTimerEventDefinition):
    """A duration timer counted in working or calendar days on the case service's clock."""

    def _end(self, my_task) -> dt.datetime:
        duration = str(my_task.workflow.script_engine.evaluate(my_task, self.expression))
        parse_duration(duration)
        return work_calendar().limit_end(_clock(my_task), duration, self.counting)


class LimitDateTimer(_OnCaseClock, TimeDateEventDefinition):
    """A date timer: a date ends at the end of that day (office time); checked on the case service's clock."""

    def _end(self, my_task) -> dt.datetime:
        return as_moment(my_task.workflow.script_engine.evaluate(my_task, self.expression))


class LimitTimerConverter(TimerConditionalEventDefinitionConverter):
    def to_dict(self, event_definition):
        dct = super().to_dict(event_definition)
        dct["counting"] = event_definition.counting
        return dct


TIMER_CLASSES = {DurationTimerEventDefinition: LimitDurationTimer, TimeDateEventDefinition: LimitDateTimer}


def use_limit_timers(process_spec, properties: Mapping[str, Mapping[str, str]]) -> None:
    """Replace SpiffWorkflow's duration and date timers by ones that count days as the diagram says."""
    for spec in process_spec.task_specs.values():
        event = getattr(spec, "event_definition", None)
        cls = TIMER_CLASSES.get(type(event))
        if cls is None:
            continue
        counting = (properties.get(spec.bpmn_id or "") or {}).get("days") or CALENDAR
        spec.event_definition = cls(event.name, event.expression, counting=counting, description=event.description)


# --------------------------------------------------------------------------- checks for `validate`

def limit_problems(due_date: str | None, properties: Mapping[str, str], *, timer_value: str | None = None) -> list[str]:
    """What is wrong with an element's time limit as written (empty when fine): its ``camunda:dueDate`` (a user
    task), its ``days`` and ``escalateAfter`` properties, and a literal timer value counted in working days."""
    problems = []
    counting = properties.get("days")
    if counting is not None and counting not in COUNTINGS:
        problems.append(f"属性 days=“{counting}”无效：必须是“{WORKING}”（工作日）或“{CALENDAR}”（自然日）")
        counting = None
    for what, value in (("camunda:dueDate", due_date), ("定时器", timer_value)):
        if not value or _VARIABLE.match(value.strip()):
            continue
        try:
            d = parse_duration(value)
        except LimitError as exc:
            if what == "camunda:dueDate":
                problems.append(f"camunda:dueDate“{value}”必须是从任务开始起算的 ISO-8601 时长（例如 P15D），"
                                f"或案件中某个日期的 ${{name}}：{exc}")
            continue
        if counting == WORKING and (d.years or d.months):
            problems.append(f"{what}“{value}”按工作日计算（days = working）：请用天或周（P15D）表示，"
                            f"不要用月或年")
    after = properties.get("escalateAfter")
    if after is not None:
        try:
            d = parse_duration(after)
            if d.years or d.months:
                raise LimitError("escalateAfter 按工作日计算：请用天或周（P3D）表示")
        except LimitError as exc:
            problems.append(f"属性 escalateAfter=“{after}”无效：{exc}")
    return problems
