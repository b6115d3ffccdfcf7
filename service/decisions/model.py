"""The decision model as loaded from DMN: decisions, tables, rules, and their errors."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from .feel import Node, UnaryTests
from .types import TypeSystem

HIT_POLICIES = ("UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER")
SINGLE_HIT = ("UNIQUE", "FIRST", "PRIORITY", "ANY")
AGGREGATIONS = ("SUM", "MIN", "MAX", "COUNT")


# --------------------------------------------------------------------------- errors

@dataclass(frozen=True)
class Problem:
    """One problem in a DMN file, with where it is."""

    file: str
    where: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        return f"{loc}: {self.where}: {self.message}" if self.where else f"{loc}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "where": self.where, "message": self.message}


class DecisionError(Exception):
    """Base class of every error the decision engine reports."""


class DmnLoadError(DecisionError):
    """A DMN file that cannot be used; lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DecisionInputError(DecisionError):
    """Inputs that are missing or of the wrong type; one message per input."""

    def __init__(self, decision: str, errors: dict[str, str]):
        self.decision = decision
        self.errors = errors
        lines = "\n".join(f"  {name}: {msg}" for name, msg in errors.items())
        super().__init__(f"decision '{decision}': bad input\n{lines}")


class HitPolicyViolation(DecisionError):
    """More than one rule matched under UNIQUE, or ANY matches that disagree."""

    def __init__(self, decision: str, hit_policy: str, rules: list["Rule"], detail: str):
        self.decision = decision
        self.hit_policy = hit_policy
        self.rules = rules
        names = ", ".join(f"rule {r.row} ({r.id})" for r in rules)
        super().__init__(f"decision '{decision}' ({hit_policy}): {detail}: {names}")


class UnknownDecision(DecisionError):
    """No decision with that id or name."""


# --------------------------------------------------------------------------- model

@dataclass(frozen=True)
class InputClause:
    id: str
    label: str | None
    text: str
    expression: Node
    type_ref: str | None
    base_type: str | None
    allowed: UnaryTests | None

    @property
    def title(self) -> str:
        return self.label or self.text


@dataclass(frozen=True)
class OutputClause:
    id: str
    name: str | None
    label: str | None
    type_ref: str | None
    base_type: str | None
    values: tuple[Any, ...]  # output values in priority order (highest first)
    values_text: str | None
    default: Node | None


@dataclass(frozen=True)
class Rule:
    id: str
    row: int  # 1-based, as a reviewer counts rows in the table
    inputs: tuple[UnaryTests, ...]
    outputs: tuple[Node | None, ...]
    output_texts: tuple[str, ...]
    annotation: str


@dataclass(frozen=True)
class DecisionTable:
    id: str | None
    hit_policy: str
    aggregation: str | None
    inputs: tuple[InputClause, ...]
    outputs: tuple[OutputClause, ...]
    rules: tuple[Rule, ...]

    @property
    def hit_policy_label(self) -> str:
        return f"{self.hit_policy} {self.aggregation}" if self.aggregation else self.hit_policy


@dataclass(frozen=True)
class LiteralExpression:
    text: str
    expression: Node
    type_ref: str | None = None  # the literal expression's own typeRef, if any


@dataclass(frozen=True)
class Bkm:
    id: str | None
    name: str
    params: tuple[str, ...]
    body: Node
    param_types: tuple[str | None, ...] = ()
    type_ref: str | None = None  # of its result (the BKM's variable)
    body_type_ref: str | None = None  # the literal expression's own typeRef


@dataclass(frozen=True)
class InputData:
    id: str | None
    name: str
    type_ref: str | None


@dataclass
class Decision:
    id: str
    name: str
    file: str
    version: str  # sha256 of the decision's canonical XML
    description: str
    type_ref: str | None
    logic: Union[DecisionTable, LiteralExpression]
    required_decisions: tuple[str, ...]  # ids
    model: "DecisionModel" = field(repr=False)

    @property
    def table(self) -> DecisionTable | None:
        return self.logic if isinstance(self.logic, DecisionTable) else None


@dataclass
class DecisionModel:
    """Everything one DMN file defines."""

    file: str
    dmn_version: str
    name: str | None
    decisions: dict[str, Decision] = field(default_factory=dict)
    bkms: dict[str, Bkm] = field(default_factory=dict)
    input_data: dict[str, InputData] = field(default_factory=dict)
    types: TypeSystem = field(default_factory=TypeSystem)
