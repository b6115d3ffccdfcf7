"""The sandbox that diagram conditions and scripts run in (RestrictedPython).

Diagrams are written by procedure owners, so their code never gets Python's full builtins:
no imports, no files, no attribute names starting with ``_``, no ``while`` loops (a diagram's
script handles one case's data and never needs an unbounded loop), and only the builtins listed
in :data:`ALLOWED_BUILTINS`. ``range`` is RestrictedPython's limited range.

RestrictedPython limits names, not work, so the sandbox also limits what a script may cost and see:

* **time**: each condition or script runs at most :data:`SCRIPT_SECONDS` (``ACCOUNTABILITY_SCRIPT_SECONDS``,
  default 1 s) of its own lines, checked on every line it runs (loops included);
* **memory**: the process may grow by at most :data:`SCRIPT_MEGABYTES` (``ACCOUNTABILITY_SCRIPT_MEGABYTES``,
  default 64 MB) while the code runs, read from ``/proc/self/statm`` every few hundred lines;
* **size**: ``**``, ``*``, ``<<`` and ``+`` go through guards that refuse results beyond
  :data:`MAX_INT_BITS` bits or :data:`MAX_ITEMS` elements before they are computed (``10**10**9`` is refused,
  not attempted); padding string methods (``ljust`` …) are not available; what a script leaves in the case
  is at most :data:`MAX_OUTPUT_ITEMS` values; recursion and memory errors fail the step;
* **data**: the reporter's identity (``reporter``) is never visible to diagram code (Art. 5(12)): scripts see
  a placeholder when there is a reporter, ``None`` when not, and cannot change it.

A breach raises :class:`ScriptLimit`: the step fails with that message and the case stays as it was.
"""
from __future__ import annotations

import ast
import operator
import os
import sys
import time
from typing import Any, Mapping

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins
from RestrictedPython.transformer import RestrictingNodeTransformer
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


class ScriptLimit(SandboxError):
    """Diagram code went past a limit of time, size or depth; the step fails and the case stays as it was."""


SCRIPT_SECONDS = float(os.environ.get("ACCOUNTABILITY_SCRIPT_SECONDS", "1"))
SCRIPT_MEGABYTES = float(os.environ.get("ACCOUNTABILITY_SCRIPT_MEGABYTES", "64"))  # growth of the process while it runs
_MEMORY_EVERY = 512  # lines between two readings of the process's resident memory
MAX_SOURCE = 100_000  # characters of one condition or script
MAX_INT_BITS = 32_768  # about 9,900 decimal digits
MAX_ITEMS = 1_000_000  # characters of a string, elements of a list, made by one operation
MAX_OUTPUT_ITEMS = 200_000  # values a script leaves in the case
FILENAME = "<diagram code>"
REPORTER_PLACEHOLDER = "（举报人信息仅办公室可见）"
PADDING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "format", "format_map"})
_SEQUENCES = (str, bytes, list, tuple)
_OPERATORS = {"**": operator.pow, "*": operator.mul, "<<": operator.lshift, "+": operator.add,
              "-": operator.sub, "/": operator.truediv, "//": operator.floordiv, "%": operator.mod,
              ">>": operator.rshift, "&": operator.and_, "|": operator.or_, "^": operator.xor}
_AST_OPERATORS = {ast.Pow: "**", ast.Mult: "*", ast.LShift: "<<", ast.Add: "+"}


def _too_big(what: str) -> ScriptLimit:
    return ScriptLimit(f"图中代码超出限制：{what}（请检查脚本或条件）")


def _binop(op: str, a: Any, b: Any) -> Any:
    """``a op b`` for the operators that can build huge values, refused before the work when too big."""
    if op == "**" and isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if a.bit_length() * b > MAX_INT_BITS:
            raise _too_big("乘方结果过大")
    elif op == "*":
        if isinstance(a, int) and isinstance(b, int):
            if a.bit_length() + b.bit_length() > MAX_INT_BITS:
                raise _too_big("乘积过大")
        elif isinstance(a, _SEQUENCES) and isinstance(b, int) or isinstance(b, _SEQUENCES) and isinstance(a, int):
            seq, n = (a, b) if isinstance(a, _SEQUENCES) else (b, a)
            if len(seq) * max(n, 0) > MAX_ITEMS:
                raise _too_big("重复生成的内容过长")
    elif op == "<<" and isinstance(b, int) and b > MAX_INT_BITS:
        raise _too_big("移位结果过大")
    elif op == "+" and isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        if len(a) + len(b) > MAX_ITEMS:
            raise _too_big("拼接的内容过长")
    return _OPERATORS[op](a, b)


def _inplacevar(op: str, a: Any, b: Any) -> Any:
    """``a op= b`` on a name (RestrictedPython rewrites it to this call), through the same guards."""
    return _binop(op[:-1], a, b)


def _getattr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, (str, bytes)) and name in PADDING_METHODS:
        raise SandboxError(f"'{name}' is not available in diagram code (it can build strings of any size)")
    return safer_getattr(obj, name, default) if default is not None else safer_getattr(obj, name)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: operators that can build huge values go through :func:`_binop`."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        op = _AST_OPERATORS.get(type(node.op))
        if op is None:
            return node
        call = ast.Call(func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(op), node.left, node.right],
                        keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


def _resident_bytes() -> int | None:
    """The process's resident memory (Linux: /proc/self/statm), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Budget:
    """Stops diagram code that runs past its time or grows the process past its memory: time is checked on each
    line the code runs (loops re-run lines), resident memory every few hundred lines."""

    def __init__(self, seconds: float, megabytes: float = SCRIPT_MEGABYTES):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.megabytes = megabytes
        start = _resident_bytes()
        self.memory_ceiling = None if start is None else start + int(megabytes * 1024 * 1024)
        self.lines = 0

    def __enter__(self) -> "_Budget":
        self.previous = sys.gettrace()
        sys.settrace(self._call)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.settrace(self.previous)

    def _call(self, frame, event, arg):  # noqa: ANN001 - the trace protocol
        if frame.f_code.co_filename != FILENAME:
            return None  # library code (sorted, len …) is not traced line by line
        self._check()
        return self._line

    def _line(self, frame, event, arg):  # noqa: ANN001 - the trace protocol
        if event == "line":
            self._check()
        return self._line

    def _check(self) -> None:
        if time.monotonic() > self.deadline:
            raise ScriptLimit(f"图中代码运行超过 {self.seconds:g} 秒，已停止（请检查脚本或条件中的循环）")
        self.lines += 1
        if self.memory_ceiling is not None and self.lines % _MEMORY_EVERY == 0:
            now = _resident_bytes()
            if now is not None and now > self.memory_ceiling:
                raise ScriptLimit(f"图中代码占用内存超过 {self.megabytes:g} MB，已停止（请检查脚本中累积的数据）")


def _count(value: Any, budget: list[int]) -> None:
    """Count the values a script leaves behind, stopping as soon as there are too many."""
    budget[0] -= 1 + (len(value) // 100 if isinstance(value, (str, bytes)) else 0)
    if budget[0] < 0:
        raise _too_big("脚本生成的数据过多")
    if isinstance(value, dict):
        for k, v in value.items():
            _count(k, budget)
            _count(v, budget)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _count(v, budget)


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
        "_getattr_": _getattr,
        "_binop_": _binop,
        "_inplacevar_": _inplacevar,
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
            raise SandboxError(f"第 {node.lineno} 行：流程图脚本中不允许 while 循环（请改用 for 循环）")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise SandboxError(f"第 {node.lineno} 行：流程图脚本中不允许 import")


def compile_expression(expression: str):
    """Compile a condition or expression; raise SandboxError with the reasons."""
    _check_source(expression)
    _forbidden_statements(expression)
    result = compile_restricted_eval(expression.strip(), FILENAME, policy=_Policy)
    if result.errors:
        raise SandboxError("; ".join(result.errors))
    return result.code


def compile_script(script: str):
    """Compile a script task's code; raise SandboxError with the reasons."""
    _check_source(script)
    _forbidden_statements(script)
    result = compile_restricted_exec(script, FILENAME, policy=_Policy)
    if result.errors:
        raise SandboxError("; ".join(result.errors))
    return result.code


def _check_source(source: str) -> None:
    if len(source) > MAX_SOURCE:
        raise SandboxError(f"流程图中的代码最多 {MAX_SOURCE} 个字符")


def _visible(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The case data as diagram code sees it: the reporter's identity replaced by a placeholder."""
    scope = dict(variables)
    if scope.get("reporter") is not None:
        scope["reporter"] = REPORTER_PLACEHOLDER
    return scope


def _run(code: Any, scope: dict[str, Any], mode: str) -> Any:
    try:
        with _Budget(SCRIPT_SECONDS):
            if mode == "eval":
                return eval(code, scope)  # noqa: S307 - restricted bytecode, guarded globals
            exec(code, scope)  # noqa: S102 - restricted bytecode, guarded globals
            return None
    except RecursionError:
        raise ScriptLimit("图中代码递归过深，已停止") from None
    except MemoryError:
        raise ScriptLimit("图中代码占用内存过多，已停止") from None


def evaluate(expression: str, variables: Mapping[str, Any], functions: Mapping[str, Any] | None = None) -> Any:
    """Evaluate an expression over case data in the sandbox (``functions``: what the engine offers, e.g. deadline)."""
    code = compile_expression(expression)
    scope = _globals()
    scope.update(_visible(variables))
    scope.update(functions or {})
    result = _run(code, scope, "eval")
    _count(result, [MAX_OUTPUT_ITEMS])
    return result


def execute(script: str, variables: dict[str, Any], functions: Mapping[str, Any] | None = None) -> None:
    """Run a script over case data in the sandbox; assignments update ``variables`` (never ``reporter``)."""
    code = compile_script(script)
    scope = _globals()
    scope.update(_visible(variables))
    scope.update(functions or {})
    _run(code, scope, "exec")
    budget = [MAX_OUTPUT_ITEMS]
    changed = {}
    for key, value in scope.items():
        if key in SANDBOX_GLOBAL_NAMES or callable(value) or key == "reporter":
            continue
        if key not in variables or variables[key] is not value:
            _count(value, budget)
        changed[key] = value
    variables.update(changed)


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
