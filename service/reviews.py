"""For compliance reviewers: the decision tables of any deployed version, their analysis, trying them on
inputs, and which cases each rule decided."""
from __future__ import annotations

from typing import Any

from .auth import Principal
from .decisions import DecisionError, UnknownDecision
from .decisions.analysis import analyse
from .decisions.feel import to_json
from .deployments import Deployments, VersionUnavailable
from .errors import Forbidden, Invalid, NotFound
from .store.db import Database
from .store.repository import Store

READERS = {"reviewer", "office", "admin", "leading_group"}


class ReviewService:
    def __init__(self, db: Database, deployments: Deployments):
        self.db = db
        self.deployments = deployments

    def _check(self, principal: Principal) -> None:
        if not (principal.roles & READERS):
            raise Forbidden("the decision tables are for reviewers, the office, the leading group and administrators")

    def versions(self) -> list[int]:
        with self.db.session() as s:
            return [d.id for d in Store(s).deployments()]

    def _engine(self, version: int | None):
        """The version asked for, or the live one (when the live one cannot be loaded: the newest that can)."""
        version = version or self.deployments.reference_version()
        return version, self.deployments.engine(version)

    def tables(self, principal: Principal, version: int | None = None) -> dict[str, Any]:
        """The tables of a version (default: the live one). A version whose files cannot be loaded answers with
        ``unavailable`` (why) and no tables, so the page still lists the other versions."""
        self._check(principal)
        live = self.deployments.current()
        unavailable = None
        if version is None:  # the live version; when it cannot be loaded, the newest that can, saying so
            unavailable = self.deployments.problem(live)
            version = self.deployments.reference_version() if unavailable else live
        try:
            engine = self.deployments.engine(version)
        except VersionUnavailable as exc:
            return {"version": version, "versions": self.versions(), "live": live, "tables": [],
                    "unavailable": exc.message}
        items = []
        for d in engine.catalog.decisions:
            t = d.table
            if t is None:
                continue
            items.append({"id": d.id, "name": d.name, "hit_policy": t.hit_policy_label, "rules": len(t.rules),
                          "inputs": [c.label or c.text for c in t.inputs],
                          "outputs": [o.label or o.name for o in t.outputs],
                          "findings": len(_analysis(d).errors), "file": d.file})
        return {"version": version, "versions": self.versions(), "live": live, "tables": items,
                "unavailable": unavailable}

    def table(self, principal: Principal, decision_id: str, version: int | None = None) -> dict[str, Any]:
        self._check(principal)
        version, engine = self._engine(version)
        try:
            d = engine.catalog.find(decision_id)
        except UnknownDecision:
            raise NotFound(f"decision {decision_id} does not exist in version {version}") from None
        t = d.table
        if t is None:
            raise NotFound(f"{decision_id} is not a decision table")
        with self.db.session() as s:  # the table's exact content, on whichever version it ran: counts survive redeploys
            traces = Store(s).decision_traces_of_table(d.id, d.version)
        usage: dict[str, set[int]] = {r.id: set() for r in t.rules}
        persons: dict[str, set[tuple[int, str]]] = {r.id: set() for r in t.rules}
        for case_id, trace in traces:
            for m in trace.get("matched", []):
                usage.setdefault(m["id"], set()).add(case_id)
                if isinstance(trace.get("person"), str):  # the tables run per respondent: who it decided for
                    persons.setdefault(m["id"], set()).add((case_id, trace["person"]))
        return {
            "version": version, "versions": self.versions(), "id": d.id, "name": d.name,
            "description": d.description, "file": d.file, "table_version": d.version,
            "hit_policy": t.hit_policy_label,
            "inputs": [{"text": c.text, "label": c.label or c.text, "type": c.type_ref, "base": c.base_type,
                        "allowed": c.allowed.text if c.allowed else None, "choices": _choices(c)} for c in t.inputs],
            "outputs": [{"name": o.name, "label": o.label or o.name, "type": o.type_ref, "values": o.values_text}
                        for o in t.outputs],
            "rules": [{"id": r.id, "row": r.row, "inputs": [u.text or "-" for u in r.inputs],
                       "outputs": list(r.output_texts), "annotation": r.annotation,
                       "cases": sorted(usage.get(r.id, set())),
                       "persons": [{"case_id": c, "person": p} for c, p in sorted(persons.get(r.id, set()))]}
                      for r in t.rules],
            "findings": [f.to_json() for f in _analysis(d).findings],
            "evaluations": len(traces),
        }

    def try_table(self, principal: Principal, decision_id: str, version: int | None,
                  raw: dict[str, str]) -> dict[str, Any]:
        """Evaluate a table on inputs typed in a form (text), converted by each column's type."""
        self._check(principal)
        version, engine = self._engine(version)
        d = engine.catalog.find(decision_id)
        inputs, errors = {}, {}
        for c in d.table.inputs:
            text = (raw.get(c.text) or "").strip()
            try:
                inputs[c.text] = _convert(text, c.base_type)
            except ValueError as exc:
                errors[c.text] = str(exc)
        if errors:
            raise Invalid("the inputs have errors", errors)
        try:
            result = engine.catalog.evaluate(d.id, inputs)
        except DecisionError as exc:
            raise Invalid(str(exc).splitlines()[0], getattr(exc, "errors", None) or {"": str(exc)}) from None
        return {"outputs": to_json(result.outputs), "trace": result.trace}


def _analysis(decision):
    """The static analysis of a table; one the analysis cannot read is shown with that as its finding."""
    from .decisions.analysis import Analysis, Finding
    try:
        return analyse(decision)
    except Exception as exc:  # noqa: BLE001 - validate refuses such a table; an older version may still hold one
        result = Analysis(decision.id)
        result.findings.append(Finding("not_analysed", (), f"静态分析无法完成：{exc.__class__.__name__}：{exc}"))
        return result


def _choices(clause) -> list[tuple[str, str]] | None:
    from .decisions.analysis import _enumeration
    if clause.base_type == "boolean":
        return [("true", "true"), ("false", "false")]
    values = _enumeration(clause.allowed)
    if values is None:
        return None
    return [("null" if v is None else str(to_json(v)), "null" if v is None else str(to_json(v))) for v in values]


def _convert(text: str, base: str | None) -> Any:
    if text in ("", "null"):
        return None
    if base == "boolean":
        if text not in ("true", "false"):
            raise ValueError("应为 true 或 false")
        return text == "true"
    if base == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("应为整数") from None
    if base == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("应为数字") from None
        return int(number) if number.is_integer() else number
    return text
