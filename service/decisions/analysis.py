"""Static analysis of decision tables, in the manner of the KIE DMN analyser and dmn-check.

Each input column's domain is cut into representative values (every allowed value of an enumeration,
each cell endpoint, values between and beyond endpoints, true/false), and every combination is
checked against the rules. That finds, with concrete example inputs:

* overlapping rules under UNIQUE, and under ANY when their outputs differ;
* gaps: allowed inputs no rule covers (single-hit tables);
* duplicate rules (identical conditions) and, under FIRST, rules that can never be reached;
* rules that match no allowed input at all;
* output values outside the data dictionary.

Values outside an input's allowed values are already refused when the table is loaded.
"""
from __future__ import annotations

import datetime as dt
import decimal
import itertools
from dataclasses import dataclass, field
from typing import Any

from .feel import Env, EqualsTest, Literal, UnaryTests, feel_kind, to_json
from .model import Decision, DecisionTable, Rule

MAX_COMBINATIONS = 50_000
_ENV = Env({})

# The data dictionary's value sets for decision outputs (shared/regulation/data-dictionary.md).
DICTIONARY_OUTPUTS: dict[str, tuple[Any, ...]] = {
    "role": ("handler", "reviewer", "approver"),
    "tier": (1, 2, 3, 4, 5),
    "exempt": (True, False),
    "aggravated": (True,),
    "accountable": (True, False),
}


@dataclass(frozen=True)
class Finding:
    kind: str  # overlap, conflict, gap, duplicate, shadowed, unreachable, dictionary, not_analysed
    rules: tuple[int, ...]  # row numbers
    message: str
    example: dict[str, Any] | None = None
    severity: str = "error"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rules": list(self.rules), "message": self.message,
                "example": self.example, "severity": self.severity}


@dataclass
class Analysis:
    decision: str
    findings: list[Finding] = field(default_factory=list)
    combinations: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


def _literal_endpoints(tests: list[UnaryTests]) -> list[Any] | None:
    values: list[Any] = []
    for t in tests:
        for ep in t.endpoints():
            if not isinstance(ep, Literal):
                return None  # a name: the domain depends on other inputs
            values.append(ep.value)
    return values


def _enumeration(allowed: UnaryTests | None) -> list[Any] | None:
    """The values of an allowed-values list that is a plain enumeration (or small integer range)."""
    if allowed is None or allowed.negated:
        return None
    values: list[Any] = []
    for test in allowed.tests:
        if isinstance(test, EqualsTest) and isinstance(test.endpoint, Literal):
            values.append(test.endpoint.value)
        elif (hasattr(test, "low") and isinstance(test.low, Literal) and isinstance(test.high, Literal)
              and isinstance(test.low.value, decimal.Decimal) and isinstance(test.high.value, decimal.Decimal)
              and test.high.value - test.low.value <= 100):
            lo = int(test.low.value) + (0 if test.low_closed else 1)
            hi = int(test.high.value) - (0 if test.high_closed else 1)
            values.extend(decimal.Decimal(v) for v in range(lo, hi + 1))
        else:
            return None
    return values


def _between(a: Any, b: Any, integer: bool) -> Any | None:
    if isinstance(a, decimal.Decimal):
        if integer:
            return a + 1 if a + 1 < b else None
        return (a + b) / 2
    if isinstance(a, dt.date):
        return a + dt.timedelta(days=1) if a + dt.timedelta(days=1) < b else None
    return None


def _beyond(value: Any, step: int, integer: bool) -> Any:
    if isinstance(value, decimal.Decimal):
        return value + step
    if isinstance(value, dt.date):
        return value + dt.timedelta(days=step)
    return None


def representatives(table: DecisionTable, column: int) -> list[Any] | None:
    """Values standing for every region of one input column's domain; None when not analysable."""
    clause = table.inputs[column]
    enum = _enumeration(clause.allowed)
    if enum is not None:
        return enum
    if clause.base_type == "boolean":
        return [True, False]
    cells = [r.inputs[column] for r in table.rules]
    points = _literal_endpoints(cells)
    if points is None:
        return None
    points = [p for p in points if p is not None]
    if clause.base_type == "string" or all(isinstance(p, str) for p in points):
        return sorted(set(points)) + ["\u2063other"]  # any other string
    kinds = {feel_kind(p) for p in points}
    if not points or len(kinds) != 1 or kinds.pop() not in ("number", "date"):
        return None
    integer = clause.base_type == "integer"
    points = sorted(set(points))
    values = [_beyond(points[0], -1, integer)]
    for a, b in zip(points, points[1:]):
        values.append(a)
        mid = _between(a, b, integer)
        if mid is not None:
            values.append(mid)
    values += [points[-1], _beyond(points[-1], 1, integer)]
    return [v for v in values if v is not None]


def _example(table: DecisionTable, combo: tuple[Any, ...]) -> dict[str, Any]:
    return {c.text: ("（其他值）" if v == "\u2063other" else to_json(v)) for c, v in zip(table.inputs, combo)}


def _rows(rules: list[Rule]) -> str:
    return "、".join(str(r.row) for r in rules)


def analyse(decision: Decision) -> Analysis:
    """All findings for one decision table."""
    result = Analysis(decision.id)
    table = decision.table
    if table is None:
        return result
    findings = result.findings
    findings += _dictionary(table)
    seen: dict[tuple[str, ...], Rule] = {}
    for rule in table.rules:
        key = tuple(t.text.replace(" ", "") or "-" for t in rule.inputs)
        if key in seen:
            findings.append(Finding("duplicate", (seen[key].row, rule.row),
                                    f"第 {rule.row} 行与第 {seen[key].row} 行的条件完全相同"))
        else:
            seen[key] = rule
    domains = [representatives(table, i) for i in range(len(table.inputs))]
    if any(d is None for d in domains):
        names = [c.text for c, d in zip(table.inputs, domains) if d is None]
        findings.append(Finding("not_analysed", (), f"输入 {'、'.join(names)} 的取值范围无法静态列举（条件中引用了其他输入），"
                                                    f"未做重叠与遗漏检查", severity="note"))
        return result
    total = 1
    for d in domains:
        total *= max(len(d), 1)
    if total > MAX_COMBINATIONS:
        findings.append(Finding("not_analysed", (), f"输入组合过多（{total}），未做重叠与遗漏检查", severity="note"))
        return result
    result.combinations = total
    matched_any: set[str] = set()
    first_for: set[str] = set()
    overlaps: dict[tuple[int, ...], dict[str, Any]] = {}
    gaps: list[dict[str, Any]] = []
    gap_count = 0
    for combo in itertools.product(*domains):
        hits = [r for r in table.rules if all(t.matches(v, _ENV) for t, v in zip(r.inputs, combo))]
        if hits:
            matched_any.update(r.id for r in hits)
            first_for.add(hits[0].id)
        elif table.hit_policy in ("UNIQUE", "ANY", "PRIORITY", "FIRST"):
            gap_count += 1
            if len(gaps) < 5:
                gaps.append(_example(table, combo))
        if len(hits) > 1:
            if table.hit_policy == "UNIQUE":
                overlaps.setdefault(tuple(r.row for r in hits), _example(table, combo))
            elif table.hit_policy == "ANY" and len({r.output_texts for r in hits}) > 1:
                overlaps.setdefault(tuple(r.row for r in hits), _example(table, combo))
    for rows, example in overlaps.items():
        kind = "overlap" if table.hit_policy == "UNIQUE" else "conflict"
        what = "同时命中（UNIQUE 只允许命中一行）" if kind == "overlap" else "同时命中但结果不同（ANY 要求结果一致）"
        findings.append(Finding(kind, rows, f"第 {'、'.join(map(str, rows))} 行{what}", example))
    if gap_count:
        findings.append(Finding("gap", (), f"有 {gap_count} 种允许的输入组合没有任何规则命中，例如下列输入", gaps[0],
                                ))
        for extra in gaps[1:]:
            findings.append(Finding("gap", (), "另一个没有规则命中的输入组合", extra))
    for rule in table.rules:
        if rule.id not in matched_any:
            findings.append(Finding("unreachable", (rule.row,), f"第 {rule.row} 行在允许的输入下永远不会命中"))
        elif table.hit_policy == "FIRST" and rule.id not in first_for:
            above = [r.row for r in table.rules if r.row < rule.row]
            findings.append(Finding("shadowed", (rule.row,),
                                    f"第 {rule.row} 行被上方的规则遮蔽：按 FIRST 命中顺序，它能命中的输入都先被"
                                    f"第 {'、'.join(map(str, above))} 行中的某一行命中"))
    return result


def _dictionary(table: DecisionTable) -> list[Finding]:
    found = []
    for i, out in enumerate(table.outputs):
        allowed = DICTIONARY_OUTPUTS.get(out.name or "")
        if allowed is None:
            continue
        for rule in table.rules:
            expr = rule.outputs[i]
            if isinstance(expr, Literal) and expr.value is not None and to_json(expr.value) not in allowed:
                found.append(Finding("dictionary", (rule.row,),
                                     f"第 {rule.row} 行的输出 {out.name} = {rule.output_texts[i]} 不在数据字典的取值范围内"
                                     f"（{', '.join(map(str, allowed))}）"))
    return found
