"""The service layer: one method per use case, each owning its transaction.

Completing a task loads one case, runs it, and writes the new state, the task index, timers,
events and decision records in one transaction; the case row's version makes a concurrent
change fail cleanly (409) instead of being lost. Authorisation is checked here, and the
reporter's identity leaves this layer only for the office.
"""
from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import Any, Callable

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .auth import Principal
from .decisions import DecisionError
from .decisions.feel import to_json
from .deployments import Deployments
from .engine import Case as WorkflowCase, EngineError, OpenTask, ProcessEngine, TaskNotOpen
from .errors import Conflict, Forbidden, Invalid, NotFound
from .forms import FormErrors
from .store.db import Database
from .store.models import Case, Task, utcnow
from .store.repository import Page, Store

RECEIPT_ALPHABET = string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789"
CASE_FIELDS_FROM_DATA = ("subject", "unit", "grounds", "act_date", "summary", "served_on")


def _receipt() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(10))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


class CaseService:
    def __init__(self, db: Database, deployments: Deployments, clock: Callable[[], dt.datetime] = utcnow):
        self.db = db
        self.deployments = deployments
        self.clock = clock

    # ================================================================== starting cases

    def start_case(self, principal: Principal | None, intake: dict[str, Any]) -> dict[str, Any]:
        """Intake through one of the four channels. ``principal`` None is the public complaint page."""
        if principal is None:
            intake = {**intake, "channel": "public_complaint"}
        elif not principal.has("office"):
            # any officer may report their own error (Art. 19); other channels go through the office
            if intake.get("channel") != "self_report" or intake.get("subject") != principal.username:
                raise Forbidden("only the office records cases; you may self-report your own error (第十九条)")
        version = self.deployments.current()
        engine = self.deployments.engine(version)
        with self.db.session() as s, s.begin():
            store = Store(s)
            if intake.get("subject") and store.user(str(intake["subject"])) is None:
                raise Invalid("the intake has errors", {"subject": "没有此用户，请填写被追究人员的用户名"})
            facts = {"leading_group_members": store.usernames_with_role("leading_group")}
            try:
                wf = engine.start(intake, facts)
            except FormErrors as exc:
                raise Invalid("the intake has errors", exc.errors) from None
            data = wf.data
            row = Case(deployment_id=version, channel=data["channel"], subject=data.get("subject") or "",
                       unit=data.get("unit") or "", summary=data.get("summary") or "", grounds=data.get("grounds") or [],
                       act_date=data["act_date"], year=int(data["act_date"][:4]), reporter=data.get("reporter"),
                       receipt_code=_receipt() if principal is None else None,
                       created_by=principal.username if principal else None, created_at=self.clock(),
                       updated_at=self.clock())
            store.add_case(row, engine.serialize(wf))
            store.log(row.id, row.created_by, "created", channel=row.channel, subject=row.subject, unit=row.unit,
                      grounds=row.grounds, deployment=version)
            self._sync(store, row, engine, wf, actor=row.created_by)
            return {"id": row.id, "receipt_code": row.receipt_code, "status": row.status, "stage": row.stage}

    # ================================================================== tasks

    def list_tasks(self, principal: Principal, *, filters: dict[str, Any] | None = None, page: int = 1,
                   per_page: int = 50, sort: str = "due") -> Page:
        """The caller's open tasks, read from the task index alone."""
        with self.db.session() as s:
            result = Store(s).open_tasks_for(principal.username, set(principal.roles), filters=filters or {},
                                             page=page, per_page=min(max(per_page, 1), 200), sort=sort)
        now = self.clock()
        items = [self._task_view(t, c, now) for t, c in result.items]
        return Page(items, result.total, result.page, result.per_page)

    def get_task(self, principal: Principal, task_id: str) -> dict[str, Any]:
        """A task with its form's JSON Schema, the current values of its fields and the case in brief."""
        with self.db.session() as s, s.begin():
            store = Store(s)
            task, row = self._visible_task(store, principal, task_id)
            engine = self.deployments.engine(row.deployment_id)
            view = self._task_view(task, row, self.clock())
            schema = engine.forms.schema(task.form_key) if task.form_key else None
            data: dict[str, Any] = {}
            context: dict[str, Any] = {}
            if task.state == "open":
                wf = engine.restore(store.state(row.id))
                case_data = engine.task_data(wf, task.id) if self._is_open_in(engine, wf, task.id) else wf.data
                fields = (schema or {}).get("properties", {})
                data = {k: case_data[k] for k in fields if case_data.get(k) is not None}
                if task.assignee and task.assignee in self._element_values(case_data):
                    data.update(self._element_values(case_data)[task.assignee])
                context = self._context(case_data, principal)
                if principal.sees_reporter and case_data.get("reporter"):
                    store.log(row.id, principal.username, "viewed_confidential", fields=["reporter"], task=task.name)
            return {**view, "form": schema, "data": data, "case": context, "state": task.state}

    def claim(self, principal: Principal, task_id: str) -> dict[str, Any]:
        with self._write() as store:
            task, row = self._actionable_task(store, principal, task_id)
            if not store.claim(task_id, principal.username):
                raise Conflict(f"task {task_id} is already claimed by {task.claimed_by}")
            store.log(row.id, principal.username, "claimed", task=task.name, title=task.title)
            return {"id": task_id, "claimed_by": principal.username}

    def release(self, principal: Principal, task_id: str) -> dict[str, Any]:
        with self._write() as store:
            task, row = self._actionable_task(store, principal, task_id)
            if not store.release(task_id, principal.username):
                raise Conflict(f"task {task_id} is not claimed by you")
            store.log(row.id, principal.username, "released", task=task.name, title=task.title)
            return {"id": task_id, "claimed_by": None}

    def complete(self, principal: Principal, task_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Complete a task; on any failure nothing is written. 422: form errors; 409: taken or changed."""
        with self._write() as store:
            task, row = self._actionable_task(store, principal, task_id)
            if task.claimed_by not in (None, principal.username):
                raise Conflict(f"task {task_id} is claimed by {task.claimed_by}")
            engine = self.deployments.engine(row.deployment_id)
            wf = engine.restore(store.state(row.id))
            facts = self._facts(store, row, wf)
            try:
                step = engine.complete(wf, task_id, data, facts)
            except FormErrors as exc:
                raise Invalid("the form has errors", exc.errors) from None
            except TaskNotOpen:
                raise Conflict(f"task {task_id} is no longer open") from None
            except (EngineError, DecisionError) as exc:
                raise Invalid(f"the step could not be completed: {exc}", {"": str(exc)}) from None
            store.log(row.id, principal.username, "completed", task=task.name, title=task.title,
                      fields=sorted(data))
            store.drop_drafts(task_id)
            store.add_decision_records(row.id, row.deployment_id, step.traces)
            for trace in step.traces:
                store.log(row.id, None, "decision_evaluated", decision=trace["decision"], task=trace.get("task"),
                          rows=[m["row"] for m in trace["matched"]], version=trace["version"])
            self._sync(store, row, engine, wf, actor=principal.username, completed=task_id)
            return {"id": task_id, "case_id": row.id, "status": row.status, "stage": row.stage,
                    "decisions": [t["decision"] for t in step.traces]}

    # ================================================================== timers

    def fire_due_timers(self, now: dt.datetime | None = None, limit: int = 100) -> int:
        """Fire due timers, one case per transaction; safe to run in several workers at once."""
        now = now or self.clock()
        fired = 0
        for _ in range(limit):
            with self._write() as store:
                case_ids = store.due_timer_cases(now, limit=1)
                if not case_ids:
                    break
                row = store.case(case_ids[0])
                engine = self.deployments.engine(row.deployment_id)
                wf = engine.restore(store.state(row.id))
                try:
                    step = engine.fire_due_timers(wf, now)
                except EngineError as exc:
                    store.log(row.id, None, "timer_failed", error=str(exc))
                    store.replace_timers(row.id, [])
                    continue
                for name in step.fired:
                    store.log(row.id, None, "timer_fired", timer=name)
                store.add_decision_records(row.id, row.deployment_id, step.traces)
                self._sync(store, row, engine, wf, actor=None)
                fired += len(step.fired)
        return fired

    def next_timer(self) -> dt.datetime | None:
        with self.db.session() as s:
            return Store(s).next_timer()

    # ================================================================== cases

    def get_case(self, principal: Principal, case_id: int) -> dict[str, Any]:
        with self.db.session() as s, s.begin():
            store = Store(s)
            row = store.case(case_id)
            if row is None or not self._can_see(store, principal, row):
                raise NotFound(f"case {case_id} does not exist")
            tasks = store.case_tasks(row.id)
            view = self._case_summary(row, principal)
            if not principal.is_staff:  # the accused: their own tasks, and the decision once served
                view["tasks"] = [self._task_brief(t) for t in tasks if t.assignee == principal.username]
                return view
            view["tasks"] = [self._task_brief(t) for t in tasks]
            view["history"] = [{"at": _iso(e.at), "actor": e.actor, "kind": e.kind, "detail": e.detail}
                               for e in store.events(row.id)]
            view["decisions"] = [r.trace for r in store.decision_records(row.id)]
            if principal.sees_reporter and row.reporter:
                view["reporter"] = row.reporter
                store.log(row.id, principal.username, "viewed_confidential", fields=["reporter"])
            return view

    def list_cases(self, principal: Principal, *, filters: dict[str, Any] | None = None, search: str | None = None,
                   page: int = 1, per_page: int = 50) -> Page:
        with self.db.session() as s:
            result = Store(s).cases(filters=filters or {}, search=search, page=page,
                                    per_page=min(max(per_page, 1), 500),
                                    visible_to_subject=None if principal.is_staff else principal.username)
            items = [self._case_summary(c, principal) for c in result.items]
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
        if not principal.is_staff:
            raise Forbidden("the Art. 15 register is for the office, the leading group and reviewers")
        with self.db.session() as s:
            return [{"year": d.year, "kind": d.kind, "name": d.name, "case_id": d.case_id}
                    for d in Store(s).disqualifications(year)]

    # ================================================================== evidence, drafts, diagram

    MAX_ATTACHMENT = 20 * 1024 * 1024

    def add_attachment(self, principal: Principal, task_id: str, filename: str, content_type: str,
                       content: bytes) -> dict[str, Any]:
        """Attach an evidence file to the case of a task the caller may work on."""
        if not content:
            raise Invalid("the file is empty", {"evidence_files": "文件为空"})
        if len(content) > self.MAX_ATTACHMENT:
            raise Invalid("the file is too large", {"evidence_files": "单个文件不能超过 20 MB"})
        name = "".join(ch for ch in filename.replace("\\", "/").split("/")[-1] if ch.isprintable())[:200] or "file"
        with self._write() as store:
            task, row = self._actionable_task(store, principal, task_id)
            att = store.add_attachment(row.id, task_id, name, content_type or "application/octet-stream", content,
                                       principal.username)
            store.log(row.id, principal.username, "attached", file=name, size=len(content), task=task.name)
            return {"id": att.id, "filename": name, "size": len(content)}

    def attachment(self, principal: Principal, attachment_id: int) -> tuple[str, str, bytes]:
        with self.db.session() as s:
            store = Store(s)
            att = store.attachment(attachment_id)
            if att is None or not principal.is_staff:
                raise NotFound(f"file {attachment_id} does not exist")
            return att.filename, att.content_type, bytes(att.content)

    def attachments(self, principal: Principal, case_id: int) -> list[dict[str, Any]]:
        with self.db.session() as s:
            store = Store(s)
            row = store.case(case_id)
            if row is None or not principal.is_staff:
                return []
            return [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                     "uploaded_by": a.uploaded_by, "at": _iso(a.at)} for a in store.attachments(case_id)]

    def save_draft(self, principal: Principal, task_id: str, data: dict[str, Any]) -> None:
        with self._write() as store:
            self._actionable_task(store, principal, task_id)
            store.save_draft(task_id, principal.username, data)

    def draft(self, principal: Principal, task_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = Store(s).draft(task_id, principal.username)
            return dict(row.data) if row else None

    def case_diagram(self, principal: Principal, case_id: int) -> dict[str, Any]:
        """The case's diagram (of its own deployment version) with the steps done and the steps waiting."""
        with self.db.session() as s:
            store = Store(s)
            row = store.case(case_id)
            if row is None or not principal.is_staff:
                raise NotFound(f"case {case_id} does not exist")
            engine = self.deployments.engine(row.deployment_id)
            wf = engine.restore(store.state(row.id))
        main = next((data for name, data in engine.bundle.bpmn.items() if b'id="' + engine.spec.name.encode() + b'"'
                     in data), next(iter(engine.bundle.bpmn.values())))
        return {"xml": main.decode("utf-8"), "completed": sorted({h["name"] for h in wf.history()}),
                "active": wf.active_elements(), "version": row.deployment_id}

    def traces(self, principal: Principal, case_id: int) -> list[dict[str, Any]]:
        """The decision traces of a case (staff only), without the rest of the case."""
        if not principal.is_staff:
            return []
        with self.db.session() as s:
            return [r.trace for r in Store(s).decision_records(case_id)]

    def decision_tables(self, case_id: int) -> dict[str, Any]:
        """The tables (rules, labels, annotations) of a case's deployment, for rendering its traces."""
        with self.db.session() as s:
            row = Store(s).case(case_id)
        engine = self.deployments.engine(row.deployment_id)
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

    # ================================================================== moving cases between versions

    def migration_check(self, principal: Principal, source: int, target: int) -> dict[str, list[dict[str, Any]]]:
        """Which open cases of version ``source`` can move to ``target``, and why the others cannot."""
        if not principal.has("admin"):
            raise Forbidden("only administrators (procedure owners) move cases between versions")
        old, new = self.deployments.engine(source), self.deployments.engine(target)
        movable, blocked = [], []
        with self.db.session() as s:
            store = Store(s)
            rows = store.cases(filters={"status": "open"}, visible_to_subject=None, page=1, per_page=10_000).items
            for row in rows:
                if row.deployment_id != source:
                    continue
                reasons = old.migration_blockers(old.restore(store.state(row.id)), new)
                entry = {"id": row.id, "subject": row.subject, "stage": row.stage}
                (blocked if reasons else movable).append({**entry, "reasons": reasons})
        return {"movable": movable, "blocked": blocked}

    def migrate(self, principal: Principal, case_ids: list[int], target: int) -> dict[str, list[Any]]:
        """Move the chosen open cases to version ``target``; a case that cannot move is left untouched."""
        if not principal.has("admin"):
            raise Forbidden("only administrators (procedure owners) move cases between versions")
        new = self.deployments.engine(target)
        moved, refused = [], []
        for case_id in case_ids:
            with self._write() as store:
                row = store.case(case_id)
                if row is None or row.status != "open" or row.deployment_id == target:
                    refused.append({"id": case_id, "reasons": ["not an open case of another version"]})
                    continue
                old = self.deployments.engine(row.deployment_id)
                wf = old.restore(store.state(row.id))
                reasons = old.migration_blockers(wf, new)
                if reasons:
                    refused.append({"id": case_id, "reasons": reasons})
                    continue
                source = row.deployment_id
                wf = old.migrate(wf, new)
                row.deployment_id = target
                store.log(row.id, principal.username, "migrated", source=source, target=target)
                self._sync(store, row, new, wf, actor=principal.username)
                moved.append(case_id)
        return {"moved": moved, "refused": refused}

    # ================================================================== internals

    def _write(self):
        return _WriteTransaction(self.db)

    def _facts(self, store: Store, row: Case, wf: WorkflowCase) -> dict[str, Any]:
        """System facts the service computes: never typed by anyone."""
        data = wf.data
        subject = data.get("subject") or row.subject
        act_date = data.get("act_date") or row.act_date
        year = int(str(act_date)[:4])
        return {"errors_this_year": store.count_established(subject, year, exclude_case=row.id) + 1,
                "leading_group_members": store.usernames_with_role("leading_group"), "case_id": row.id}

    def _sync(self, store: Store, row: Case, engine: ProcessEngine, wf: WorkflowCase, actor: str | None,
              completed: str | None = None) -> None:
        """Write the case's new state and everything derived from it, in the caller's transaction."""
        data = wf.data
        open_tasks = engine.open_tasks(wf)
        store.save_state(row.id, engine.serialize(wf))
        added, finished = store.sync_tasks(row.id, [self._index_row(t) for t in open_tasks], completed, actor)
        for t in finished:
            if t.state == "cancelled":
                store.log(row.id, None, "cancelled", task=t.name, title=t.title)
        for t in added:
            store.log(row.id, None, "task_opened", task=t.name, title=t.title, role=t.role, assignee=t.assignee)
        store.replace_timers(row.id, [(t.task_id, t.name, t.due) for t in engine.pending_timers(wf)])
        for key in CASE_FIELDS_FROM_DATA:
            if data.get(key) not in (None, ""):
                setattr(row, key, data[key])
        row.year = int(str(row.act_date)[:4])
        outcome = data.get("outcome")
        row.outcome = to_json(outcome) if outcome is not None else None
        row.established = bool(data.get("error_established"))  # set by the diagram (Art. 11(3) policy)
        row.stage = "、".join(sorted({t.title for t in open_tasks}))[:200]
        row.updated_at = self.clock()
        if wf.completed:
            end = wf.end_event
            row.status, row.end_event, row.closed_at = "closed", end[1] if end else None, self.clock()
            store.log(row.id, None, "closed", end=row.end_event)
        disq = data.get("disqualification")
        if disq:
            store.record_disqualification(row.id, int(disq["year"]), disq.get("persons", []), disq.get("units", []))
        store.s.flush()

    @staticmethod
    def _index_row(t: OpenTask) -> dict[str, Any]:
        return {"id": t.id, "name": t.name, "title": t.title, "role": t.role, "assignee": t.assignee,
                "form_key": t.form_key, "due": t.due}

    @staticmethod
    def _is_open_in(engine: ProcessEngine, wf: WorkflowCase, task_id: str) -> bool:
        return any(t.id == task_id for t in engine.open_tasks(wf))

    @staticmethod
    def _element_values(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Votes already recorded in ballots, by member (so a member sees their own saved vote)."""
        ballots = data.get("ballots") or []
        return {b.get("member"): {k: v for k, v in b.items() if k != "member"} for b in ballots if isinstance(b, dict)}

    def _can_see(self, store: Store, principal: Principal, row: Case) -> bool:
        if principal.is_staff:
            return True
        return any(t.assignee == principal.username for t in store.case_tasks(row.id))

    def _visible_task(self, store: Store, principal: Principal, task_id: str) -> tuple[Task, Case]:
        task = store.task(task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        row = store.case(task.case_id)
        mine = task.assignee == principal.username or (task.assignee is None and task.role in principal.roles)
        if not mine:
            if principal.is_staff and self._can_see(store, principal, row):
                return task, row  # staff may look at any task of a case they see
            raise NotFound(f"task {task_id} does not exist")
        return task, row

    def _actionable_task(self, store: Store, principal: Principal, task_id: str) -> tuple[Task, Case]:
        task, row = self._visible_task(store, principal, task_id)
        if not (task.assignee == principal.username or (task.assignee is None and task.role in principal.roles)):
            raise Forbidden(f"task {task_id} is not yours: it belongs to "
                            f"{task.assignee or task.role}")
        if task.state != "open":
            raise Conflict(f"task {task_id} is no longer open ({task.state})")
        return task, row

    @staticmethod
    def _task_view(task: Task, row: Case, now: dt.datetime) -> dict[str, Any]:
        return {"id": task.id, "case_id": task.case_id, "name": task.name, "title": task.title, "role": task.role,
                "assignee": task.assignee, "claimed_by": task.claimed_by, "due": _iso(task.due),
                "overdue": bool(task.due and task.due < now), "form_key": task.form_key,
                "channel": row.channel, "subject": row.subject, "created_at": _iso(task.created_at)}

    @staticmethod
    def _task_brief(task: Task) -> dict[str, Any]:
        return {"id": task.id, "name": task.name, "title": task.title, "role": task.role, "assignee": task.assignee,
                "claimed_by": task.claimed_by, "state": task.state, "due": _iso(task.due),
                "created_at": _iso(task.created_at), "finished_at": _iso(task.finished_at),
                "completed_by": task.completed_by}

    @staticmethod
    def _context(data: dict[str, Any], principal: Principal) -> dict[str, Any]:
        keys = ["channel", "subject", "unit", "summary", "grounds", "act_date", "facts_found", "statement",
                "statement_waived", "outcome", "votes", "resolution", "appeal", "appeal_reason", "served_on",
                "decision_number"]
        if principal.is_staff:
            keys += ["officer", "conclusion", "not_registered_reason"]
        if principal.sees_reporter:
            keys.append("reporter")
        return {k: data[k] for k in keys if data.get(k) is not None}

    @staticmethod
    def _case_summary(row: Case, principal: Principal) -> dict[str, Any]:
        view = {"id": row.id, "channel": row.channel, "subject": row.subject, "unit": row.unit,
                "summary": row.summary, "grounds": row.grounds, "act_date": row.act_date, "year": row.year,
                "status": row.status, "stage": row.stage, "end_event": row.end_event, "outcome": row.outcome,
                "deployment": row.deployment_id, "created_at": _iso(row.created_at),
                "updated_at": _iso(row.updated_at), "closed_at": _iso(row.closed_at)}
        if not principal.is_staff:
            view.pop("deployment")
            if not row.served_on:  # the accused learns the outcome from the served decision
                view["outcome"] = None
        return view


class _WriteTransaction:
    """A write transaction: on SQLite it takes the write lock up front (BEGIN IMMEDIATE), so concurrent
    writers queue instead of failing; a concurrent change detected at commit becomes a 409."""

    def __init__(self, db: Database):
        self.db = db

    def __enter__(self) -> Store:
        self.session = self.db.session()
        if self.db.dialect == "sqlite":  # procuring the connection begins the transaction: BEGIN IMMEDIATE
            self.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        else:
            self.session.begin()
        return Store(self.session)

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                try:
                    self.session.commit()
                except StaleDataError:
                    self.session.rollback()
                    raise Conflict("the case was changed by someone else at the same time: reload and retry") from None
                except OperationalError as err:
                    self.session.rollback()
                    if "locked" in str(err).lower():
                        raise Conflict("the database is busy: retry") from None
                    raise
            else:
                self.session.rollback()
                if isinstance(exc, StaleDataError):
                    raise Conflict("the case was changed by someone else at the same time: reload and retry") from None
        finally:
            self.session.close()
        return False
