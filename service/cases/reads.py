"""Reading cases: one case as its reader may see it, lists, the Art. 15 register, evidence, diagram and traces."""
from __future__ import annotations

from typing import Any

from ..auth import Principal
from ..decisions import DecisionError
from ..deployments import VersionUnavailable
from ..errors import Forbidden, Invalid, NotFound
from ..store.repository import Page, Store
from .base import CaseServiceBase, iso


class ReadService(CaseServiceBase):
    def get_case(self, principal: Principal, case_id: int) -> dict[str, Any]:
        with self.db.session() as s, s.begin():
            store = Store(s)
            row = store.case(case_id)
            if row is None or not self._can_see(store, principal, row):
                raise NotFound(f"case {case_id} does not exist")
            staff = self._acts_as_staff(store, principal, row)
            tasks = store.case_tasks(row.id)
            view = self._case_summary(row, principal, staff)
            if not staff:  # a respondent: their own tasks, and their own decision once served
                view["tasks"] = [self._task_brief(t) for t in tasks if t.assignee == principal.username]
                return view
            view["tasks"] = [self._task_brief(t) for t in tasks]
            view["respondents"] = [{"person": p.person, "role": p.role, "unit": p.unit, "established": p.established,
                                    "served_on": p.served_on} for p in store.case_persons(row.id)]
            view["history"] = fold_reads([{"at": iso(e.at), "actor": e.actor, "kind": e.kind, "detail": e.detail}
                                          for e in store.events(row.id)])
            view["decisions"] = [r.trace for r in store.decision_records(row.id)]
            if principal.sees_reporter and row.reporter:
                view["reporter"] = row.reporter
                self._log_confidential_read(row.id, principal.username)
            return view

    def list_cases(self, principal: Principal, *, filters: dict[str, Any] | None = None, search: str | None = None,
                   page: int = 1, per_page: int = 50) -> Page:
        with self.db.session() as s:
            store = Store(s)
            result = store.cases(filters=filters or {}, search=search, page=page, per_page=min(max(per_page, 1), 500),
                                 visible_to_subject=None if principal.is_staff else principal.username,
                                 staff_member=principal.username if principal.is_staff else None)
            items = [self._case_summary(c, principal, self._acts_as_staff(store, principal, c)) for c in result.items]
        return Page(items, result.total, result.page, result.per_page)

    def evaluate_decision(self, principal: Principal, decision: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if not principal.is_staff:
            raise Forbidden("only the office, the leading group, reviewers and administrators evaluate tables")
        engine = self.deployments.engine(self.deployments.current())
        try:
            result = engine.catalog.evaluate(decision, inputs)
        except DecisionError as exc:
            fields = getattr(exc, "errors", None) or {"": str(exc)}
            if exc.__class__.__name__ == "UnknownDecision":
                raise NotFound(str(exc)) from None
            raise Invalid(str(exc).splitlines()[0], fields) from None
        with self._write() as store:
            store.log(None, principal.username, "decision_evaluated", decision=decision, manual=True)
        return result.to_json()

    def disqualifications(self, principal: Principal, year: int | None = None) -> list[dict[str, Any]]:
        """The Art. 15 register: each liable person with their own unit, and the units, per year."""
        if not principal.is_staff:
            raise Forbidden("the Art. 15 register is for the office, the leading group and reviewers")
        with self.db.session() as s:
            return [{"year": d.year, "kind": d.kind, "name": d.name, "unit": d.unit, "case_id": d.case_id}
                    for d in Store(s).disqualifications(year)]

    def attachment(self, principal: Principal, attachment_id: int) -> tuple[str, str, bytes]:
        with self.db.session() as s:
            store = Store(s)
            att = store.attachment(attachment_id)
            row = store.case(att.case_id) if att is not None else None
            if att is None or not self._acts_as_staff(store, principal, row):
                raise NotFound(f"file {attachment_id} does not exist")
            return att.filename, att.content_type, bytes(att.content)

    def attachments(self, principal: Principal, case_id: int) -> list[dict[str, Any]]:
        with self.db.session() as s:
            store = Store(s)
            row = store.case(case_id)
            if row is None or not self._acts_as_staff(store, principal, row):
                return []
            return [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                     "uploaded_by": a.uploaded_by, "at": iso(a.at)} for a in store.attachments(case_id)]

    def case_diagram(self, principal: Principal, case_id: int) -> dict[str, Any]:
        """The case's diagram (of its own deployment version) with the steps done and the steps waiting."""
        with self.db.session() as s:
            store = Store(s)
            row = store.case(case_id)
            if row is None or not self._acts_as_staff(store, principal, row):
                raise NotFound(f"case {case_id} does not exist")
            engine = self.deployments.engine(row.deployment_id)
            wf = engine.restore(store.state(row.id))
        main = next((data for name, data in engine.bundle.bpmn.items() if b'id="' + engine.spec.name.encode() + b'"'
                     in data), next(iter(engine.bundle.bpmn.values())))
        return {"xml": main.decode("utf-8"), "completed": sorted({h["name"] for h in wf.history()}),
                "active": wf.active_elements(), "version": row.deployment_id}

    def traces(self, principal: Principal, case_id: int) -> list[dict[str, Any]]:
        """The decision traces of a case (staff only), without the rest of the case."""
        with self.db.session() as s:
            store = Store(s)
            row = store.case(case_id)
            if row is None or not self._acts_as_staff(store, principal, row):
                return []
            return [r.trace for r in store.decision_records(case_id)]

    def decision_tables(self, case_id: int) -> dict[str, Any]:
        """The tables (rules, labels, annotations) of a case's deployment, for rendering its traces."""
        with self.db.session() as s:
            row = Store(s).case(case_id)
        try:
            engine = self.deployments.engine(row.deployment_id)
        except VersionUnavailable:  # the case's page still shows what is stored: its traces, without the tables
            return {}
        tables = {}
        for decision in engine.catalog.decisions:
            t = decision.table
            if t is None:
                continue
            tables[decision.id] = {
                "name": decision.name, "hit_policy": t.hit_policy_label,
                "inputs": [c.label or c.text for c in t.inputs], "outputs": [o.label or o.name for o in t.outputs],
                "rules": [{"id": r.id, "row": r.row, "inputs": [u.text or "-" for u in r.inputs],
                           "outputs": list(r.output_texts), "annotation": r.annotation} for r in t.rules]}
        return tables


def fold_reads(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reads of the reporter's details as one entry where the first was (how many, first and last, by whom).

    Every read stays in the event log; only the case's history shows them together."""
    reads = [e for e in history if e["kind"] == "viewed_confidential"]
    if len(reads) < 2:
        return history
    readers = list(dict.fromkeys(e["actor"] for e in reads if e["actor"]))
    folded = {"at": reads[0]["at"], "actor": "、".join(readers), "kind": "viewed_confidential",
              "detail": {"count": len(reads), "first": reads[0]["at"], "last": reads[-1]["at"]}}
    out: list[dict[str, Any]] = []
    for e in history:
        if e["kind"] != "viewed_confidential":
            out.append(e)
        elif e is reads[0]:
            out.append(folded)
    return out
