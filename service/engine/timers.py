"""Timer values as the diagram writes them, and as the engine evaluates them.

A standard BPMN timer holds a literal ISO-8601 value (``P7D``, ``R3/P1D``, ``2027-01-01T09:00:00+08:00``):
that is what every modeler and engine reads, and what the diagrams in ``processes/`` write. A timer whose
``timeDuration``/``timeDate``/``timeCycle`` declares ``language="python"`` holds a sandboxed Python
expression instead (e.g. the name of a variable). SpiffWorkflow evaluates every timer as Python, so a
literal is handed to it as a quoted string. A timer without a language whose text is not an ISO literal is
read as Python, as older versions of the diagrams wrote them (``"P7D"``), so cases on those versions run on.
"""
from __future__ import annotations

import re

PYTHON = "python"

_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = rf"P(?!$)(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
_DATE = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
ISO_LITERAL = re.compile(rf"^(?:{_DURATION}|{_DATE}|R\d*/(?:(?:{_DATE})/)?{_DURATION}(?:/{_DATE})?)$")


def is_iso_literal(text: str) -> bool:
    """True for a literal ISO-8601 duration, date(-time) or repetition such as ``R3/P1D``."""
    return bool(ISO_LITERAL.match((text or "").strip()))


def declares_python(language: str | None) -> bool:
    return (language or "").strip().lower() == PYTHON


def timer_expression(text: str | None, language: str | None = None) -> str:
    """The Python expression the engine evaluates for a timer's text and declared language."""
    text = (text or "").strip()
    if not declares_python(language) and is_iso_literal(text):
        return repr(text).replace("'", '"')
    return text


def timer_value_problem(text: str | None, language: str | None = None) -> str | None:
    """What is wrong with a timer's text before anything runs (None when it is fine).

    Fine are: a literal ISO-8601 value without a language; any text with ``language="python"`` (checked as
    Python later), except a bare ISO value, which Python would read as a name; a quoted string (the form
    older versions of the diagrams used). Anything else is neither a literal nor declared as an expression."""
    import ast

    text = (text or "").strip()
    if not text:
        return "定时器没有值：请填写 ISO-8601 时长，例如 P7D"
    if declares_python(language):
        if is_iso_literal(text):
            return (f'定时器的值 {text} 声明了 language="python"，但它是 ISO-8601 字面值：请去掉 language'
                    f"（字面值不需要声明语言）")
        return None
    if is_iso_literal(text):
        return None
    try:
        if isinstance(ast.literal_eval(text), str):
            return None
    except (ValueError, SyntaxError):
        pass
    return (f"定时器的值 {text!r} 不是 ISO-8601 时长、日期或重复周期（例如 P7D、R3/P1D）：请改写成这样的值；"
            f'如果它是 Python 表达式（例如变量名），请在表达式上声明 language="python"')
