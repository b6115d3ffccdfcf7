"""The sandbox that diagram conditions and scripts run in (RestrictedPython).

Diagrams are written by procedure owners, so their code never gets Python's full builtins:
no imports, no files, no attribute names starting with ``_``, no ``while`` loops (a diagram's
script handles one case's data and never needs an unbounded loop), and only the builtins listed
in :data:`ALLOWED_BUILTINS`. ``range`` is RestrictedPython's limited range.
"""
from __future__ import annotations

import ast
from typing import Any, Mapping

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence,
                                     safer_getattr)

ALLOWED_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "float": float, "int": int, "len": len,
    "list": list, "max": max, "min": min, "round": round, "sorted": sorted, "str": str, "sum": sum,
    "tuple": tuple, "range": limited_builtins["range"], "True": True, "False": False, "None": None,
}


class SandboxError(Exception):
    """Code that the sandbox refuses to compile or run."""


class Refusal(Exception):
    """A diagram script refused the step: ``field`` is the form field to fix, ``message`` says how."""

    def __init__(self, field: str, message: str):
        self.field = str(field)
        self.message = str(message)
        super().__init__(f"{self.field}: {self.message}")


def refuse(field: str, message: str) -> None:
    """Called by a diagram script to refuse the step with a message on a form field (the case stays as it was)."""
    raise Refusal(field, message)


ALLOWED_BUILTINS["refuse"] = refuse


def _globals() -> dict[str, Any]:
    return {
        "__builtins__": dict(ALLOWED_BUILTINS),
        "_getattr_": safer_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_write_": full_write_guard,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
    }


SANDBOX_GLOBAL_NAMES = frozenset(_globals())


def _forbidden_statements(source: str) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return  # compile_restricted reports it
    for node in ast.walk(tree):
        if isinstance(node, ast.While):
            raise SandboxError(f"line {node.lineno}: while loops are not allowed in diagram scripts")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise SandboxError(f"line {node.lineno}: imports are not allowed in diagram scripts")


def compile_expression(expression: str):
    """Compile a condition or expression; raise SandboxError with the reasons."""
    _forbidden_statements(expression)
    result = compile_restricted_eval(expression.strip())
    if result.errors:
        raise SandboxError("; ".join(result.errors))
    return result.code


def compile_script(script: str):
    """Compile a script task's code; raise SandboxError with the reasons."""
    _forbidden_statements(script)
    result = compile_restricted_exec(script)
    if result.errors:
        raise SandboxError("; ".join(result.errors))
    return result.code


def evaluate(expression: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate an expression over case data in the sandbox."""
    code = compile_expression(expression)
    scope = _globals()
    scope.update(variables)
    return eval(code, scope)  # noqa: S307 - restricted bytecode, guarded globals


def execute(script: str, variables: dict[str, Any]) -> None:
    """Run a script over case data in the sandbox; assignments update ``variables``."""
    code = compile_script(script)
    scope = _globals()
    scope.update(variables)
    exec(code, scope)  # noqa: S102 - restricted bytecode, guarded globals
    for key, value in scope.items():
        if key in SANDBOX_GLOBAL_NAMES or callable(value):
            continue
        variables[key] = value


def assigned_names(script: str) -> set[str]:
    """Top-level variable names a script assigns (used by `validate` to see what a script provides)."""
    names: set[str] = set()
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return names
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    names.add(sub.id)
    return names
