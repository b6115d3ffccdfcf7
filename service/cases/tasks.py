"""Working on tasks: the inbox, one task with its form, claim and release, completion, drafts, evidence, timers."""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..auth import Principal
from ..decisions import DecisionError
from ..engine import EngineError, ProcessEngine, TaskNotOpen
from ..engine import Case as WorkflowCase
from ..errors import Conflict, Invalid, NotFound
from ..forms import FormErrors
from ..store.repository import Page, Store
from .base import CaseServiceBase

# what a task page shows of the case, by who looks (the reporter only ever to the office)
CONTEXT_FOR_ALL = ("channel", "subject", "unit", "summary", "grounds", "act_date", "facts_found", "votes",
                   "resolution", "vote_note", "served_on", "decision_number")
CONTEXT_FOR_STAFF = ("officer", "conclusion", "not_registered_reason", "respondents", "outcomes", "statements")


class TaskService(CaseServiceBase):
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
            staff = self._acts_as_staff(store, principal, row)
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
                context = self._context(case_data, principal, staff)
                if staff and principal.sees_reporter and case_data.get("reporter"):
                    self._log_confidential_read(row.id, principal.username, task=task.name)
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
            if isinstance(data, dict):
                self._check_persons(store, data)
            engine = self.deployments.engine(row.deployment_id)
            wf = engine.restore(store.state(row.id))
            facts = self._facts(store, row, engine, wf)
            try:
                step = engine.complete(wf, task_id, data, facts)
            except FormErrors as exc:
                raise Invalid("the form has errors", exc.errors) from None
            except TaskNotOpen:
                raise Conflict(f"task {task_id} is no longer open") from None
            except (EngineError, DecisionError) as exc:
                raise Invalid(f"the step could not be completed: {exc}", {"": str(exc)}) from None
            store.log(row.id, principal.username, "completed", task=task.name, title=task.title,
                      fields=sorted(data), person=task.person)
            store.drop_drafts(task_id)
            store.add_decision_records(row.id, row.deployment_id, step.traces)
            for trace in step.traces:
                store.log(row.id, None, "decision_evaluated", decision=trace["decision"], task=trace.get("task"),
                          rows=[m["row"] for m in trace["matched"]], version=trace["version"],
                          person=trace.get("person"))
            self._sync(store, row, engine, wf, actor=principal.username, completed=task_id)
            return {"id": task_id, "case_id": row.id, "status": row.status, "stage": row.stage,
                    "decisions": [t["decision"] for t in step.traces]}

    # ---------------------------------------------------------------- timers

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

    # ---------------------------------------------------------------- evidence and drafts

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

    def save_draft(self, principal: Principal, task_id: str, data: dict[str, Any]) -> None:
        with self._write() as store:
            self._actionable_task(store, principal, task_id)
            store.save_draft(task_id, principal.username, data)

    def draft(self, principal: Principal, task_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = Store(s).draft(task_id, principal.username)
            return dict(row.data) if row else None

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _is_open_in(engine: ProcessEngine, wf: WorkflowCase, task_id: str) -> bool:
        return any(t.id == task_id for t in engine.open_tasks(wf))

    @staticmethod
    def _element_values(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Votes already recorded in ballots, by member (so a member sees their own saved vote)."""
        ballots = data.get("ballots") or []
        return {b.get("member"): {k: v for k, v in b.items() if k != "member"} for b in ballots if isinstance(b, dict)}

    @staticmethod
    def _context(data: dict[str, Any], principal: Principal, staff: bool) -> dict[str, Any]:
        """The case as a task page shows it. A respondent's own task shows what they were told (告知): the facts
        found and their own proposal with its basis; never the reporter, nor another respondent's findings."""
        keys = list(CONTEXT_FOR_ALL) + (list(CONTEXT_FOR_STAFF) if staff else [])
        if staff and principal.sees_reporter:
            keys.append("reporter")
        view = {k: data[k] for k in keys if data.get(k) is not None}
        for element in ("hearing", "service"):  # a person's own branch of the case
            value = data.get(element)
            if isinstance(value, dict) and (staff or value.get("person") == principal.username):
                view[element] = {k: v for k, v in value.items() if k != "rank"}
        return view
