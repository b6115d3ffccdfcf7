"""Parse BPMN files exactly as the engine will, for `accountability validate`."""
from __future__ import annotations

from pathlib import Path

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

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

