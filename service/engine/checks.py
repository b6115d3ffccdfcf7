"""Parse BPMN files exactly as the engine will, for `accountability validate`."""
from __future__ import annotations

from pathlib import Path

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .process import _first_line
from .specs import CaseParser


def check_bpmn(files: list[Path], dmn_ids: set[str] | None = None) -> list[tuple[str, str, str, int | None]]:
    """Parse BPMN files as the engine will: XSD, then every process's spec. Returns (file, element, message, line)."""
    problems: list[tuple[str, str, str, int | None]] = []
    parser = CaseParser(validator=BpmnValidator())
    for f in files:
        try:
            parser.add_bpmn_file(str(f))
        except ValidationException as exc:
            line = getattr(exc, "line_number", None) or None
            where = f"（第 {line} 行）" if line else ""
            problems.append((str(f), exc.id or _id_at(f, line), f"BPMN 文件不符合规范{where}，请按引擎的提示修改："
                                                               f"“{_first_line(exc)}”", line))
        except Exception as exc:  # lxml syntax errors and the like
            problems.append((str(f), "", f"无法读取这个 BPMN 文件（XML 格式不正确？），请改正：“{exc}”",
                             getattr(exc, "lineno", None)))
    if problems:
        return problems
    for process_id in parser.get_process_ids():
        file = getattr(parser.process_parsers.get(process_id), "filename", "") or ""
        try:
            parser.get_spec(process_id)
            parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            problems.append((exc.file_name or file, exc.id or process_id,
                             f"引擎无法解析这个流程，请按提示修改：“{_first_line(exc)}”", None))
        except Exception as exc:
            problems.append((file, process_id, f"引擎无法解析这个流程：“{exc.__class__.__name__}: {exc}”", None))
    return problems


def _id_at(path: Path, line: int | None) -> str:
    """The id of the element that starts on a line of a well-formed file (an XML Schema error names only the line)."""
    if not line:
        return ""
    try:
        from lxml import etree
        tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    except Exception:  # noqa: BLE001 - only a hint
        return ""
    return next((el.get("id") for el in tree.iter() if el.sourceline == line and el.get("id")), "")


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
        return (f"循环定时器必须是 ISO-8601 重复周期的字面值，例如 R3/P1D（现在是 {expression!r}），"
                f"这样才能在运行前检查它的间隔")
    try:
        _, _, interval = TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:  # SpiffWorkflow raises plain exceptions for malformed intervals
        return f"{value!r} 不是 ISO-8601 重复周期：请写成 R3/P1D 或 R/PT1H 这样的形式"
    if interval.total_seconds() < MIN_CYCLE_SECONDS:
        return (f"循环 {value!r} 每 {interval.total_seconds():g} 秒重复一次：循环定时器的间隔至少为 "
                f"{MIN_CYCLE_SECONDS} 秒（政策），否则会不停地触发")
    return None
