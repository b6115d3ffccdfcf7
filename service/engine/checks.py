"""Parse BPMN files exactly as the engine will, for `accountability validate`."""
from __future__ import annotations

from pathlib import Path

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .process import _first_line
from .specs import CaseParser


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



MIN_CYCLE_SECONDS = 60  # 政策: a cycle timer repeats at most once a minute, so it can never fire in a tight loop


def timer_problem(kind: str, expression: str) -> str | None:
    """What is wrong with a timer's expression, as far as can be known before it runs (None when fine).

    ``expression`` is what the engine evaluates (see :func:`.timers.timer_expression`). A cycle (``timeCycle``)
    must be a literal ISO-8601 repetition such as ``R3/P1D`` whose interval is at least
    :data:`MIN_CYCLE_SECONDS`: a zero or sub-second cycle would fire in a tight loop."""
    import ast

    if kind != "timeCycle":
        return None
    try:
        value = ast.literal_eval(expression.strip())
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, str):
        return (f"a cycle timer must be a literal ISO-8601 repetition, e.g. R3/P1D (got {expression!r}), so that "
                f"its interval can be checked before it runs")
    try:
        _, _, interval = TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:  # SpiffWorkflow raises plain exceptions for malformed intervals
        return f"{value!r} is not an ISO-8601 repetition such as R3/P1D or R/PT1H"
    if interval.total_seconds() < MIN_CYCLE_SECONDS:
        return (f"the cycle {value!r} repeats every {interval.total_seconds():g} s: a cycle timer must repeat at "
                f"intervals of at least {MIN_CYCLE_SECONDS} s (政策), else it fires in a tight loop")
    return None
