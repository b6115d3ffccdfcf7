"""The project's DMN decision engine: FEEL unary tests, DMN 1.3 hit policies, traces.

Use :func:`load_catalog` (a folder or files) or :func:`load_file`, find a decision by id
or name, and :func:`evaluate` it on JSON inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .evaluation import Evaluation, evaluate, needed_inputs
from .loader import load_bytes, load_file
from .model import (Decision, DecisionError, DecisionInputError, DecisionModel, DecisionTable, DmnLoadError,
                    HitPolicyViolation, Problem, UnknownDecision)

__all__ = [
    "Catalog", "catalog_from_files", "Decision", "DecisionError", "DecisionInputError", "DecisionModel", "DecisionTable", "DmnLoadError",
    "Evaluation", "HitPolicyViolation", "Problem", "UnknownDecision", "evaluate", "load_bytes", "load_catalog",
    "load_file", "needed_inputs",
]


@dataclass
class Catalog:
    """The decisions of a set of DMN files, found by id or by name."""

    models: list[DecisionModel] = field(default_factory=list)

    @property
    def decisions(self) -> list[Decision]:
        return [d for m in self.models for d in m.decisions.values()]

    def find(self, ref: str) -> Decision:
        """The decision whose id, or else whose name, is ref."""
        by_id = [d for d in self.decisions if d.id == ref]
        if by_id:
            return by_id[0]
        by_name = [d for d in self.decisions if d.name == ref]
        if len(by_name) == 1:
            return by_name[0]
        known = ", ".join(sorted(d.id for d in self.decisions)) or "none"
        if by_name:
            raise UnknownDecision(f"several decisions are named '{ref}': use an id ({known})")
        raise UnknownDecision(f"no decision with id or name '{ref}' (known ids: {known})")

    def evaluate(self, ref: str, inputs: Mapping[str, Any]) -> Evaluation:
        return evaluate(self.find(ref), inputs)


def catalog_from_files(files: Mapping[str, bytes], *, check_schema: bool = True) -> Catalog:
    """Load DMN files given as name -> content; report every problem of every file at once."""
    catalog, problems = Catalog(), []
    ids: dict[str, str] = {}
    for name, data in files.items():
        try:
            model = load_bytes(data, name, check_schema=check_schema)
        except DmnLoadError as exc:
            problems.extend(exc.problems)
            continue
        for did in model.decisions:
            if did in ids:
                problems.append(Problem(name, f"decision '{did}'", f"这个决策 id 在 {ids[did]} 中也用了：每个决策 id 只能出现一次，请给其中一个改名"))
            ids[did] = name
        catalog.models.append(model)
    if problems:
        raise DmnLoadError(problems)
    return catalog


def _display(path: Path) -> str:
    """A path as people read it: relative to the working folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_catalog(paths: Iterable[str | Path], *, check_schema: bool = True) -> Catalog:
    """Load every DMN file given, or found in the folders given; report all problems at once."""
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for p in map(Path, paths):
        for f in (sorted(p.glob("*.dmn")) if p.is_dir() else [p]):
            try:
                files[_display(f)] = f.read_bytes()
            except OSError as exc:
                problems.append(Problem(_display(f), "", f"无法读取这个文件：“{exc.strerror}”"))
    if problems:
        raise DmnLoadError(problems)
    return catalog_from_files(files, check_schema=check_schema)
