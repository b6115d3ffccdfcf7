"""Working on tasks: the inbox, one task with its form, claim and release, completion, drafts, evidence, timers."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from ..auth import Principal
from ..decisions import DecisionError
from ..decisions.feel import to_json
from ..documents import DocumentError
from ..deployments import VersionUnavailable
from ..engine import EngineError, ProcessEngine, TaskNotOpen
from ..engine import Case as WorkflowCase
from ..errors import Conflict, Invalid
from ..forms import FormErrors
from ..store.paging import BadCursor
from ..store.repository import Page, Store
from .base import CaseServiceBase, iso
from .documents import issue_due_documents, prefill_numbers, step_failed

# what a task page shows of the case, by who looks (the reporter only ever to the office)
CONTEXT_FOR_ALL = ("channel", "subject", "unit", "summary", "grounds", "act_date", "facts_found", "votes",
                   "resolution", "vote_note", "served_on", "decision_number")
CONTEXT_FOR_STAFF = ("officer", "conclusion", "not_registered_reason", "respondents", "outcomes", "statements",
                     # the limits counted from registration and a pending request to extend one (政策)
                     "investigation_due", "decision_due", "investigation_extended", "decision_extended",
                     "extension_reason", "decision_extension_reason")
# forms whose submitted content may name the reporter: shown to the office only (Art. 5(12))
REPORTER_FORMS = ("notify_reporter",)
# evidence uploads: one limit per file, and one for all the files of one submission (the request limit)
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_BYTES = 60 * 1024 * 1024
UPLOAD_LIMIT = "每个文件不超过 20 MB，一次提交合计不超过 60 MB"
CURSOR_MESSAGE = "请使用上一页返回的 next_cursor，或改用 page 翻页"


class TaskService(CaseServiceBase):
    def list_tasks(self, principal: Principal, *, filters: dict[str, Any] | None = None, page: int = 1,
                   per_page: int = 50, sort: str = "due", cursor: str | None = None,
                   scope: str | None = None) -> Page:
        """The caller's open tasks, read from the task index alone (``scope``: None, "personal" or "group", see
        Store.open_tasks_for). A cursor this list did not hand out is a 422 on ``cursor``."""
        with self.db.session() as s:
            try:
                result = Store(s).open_tasks_for(principal.username, set(principal.roles), filters=filters or {},
                                                 page=page, per_page=min(max(per_page, 1), 200), sort=sort,
                                                 cursor=cursor, scope=scope)
            except BadCursor:
                raise Invalid("the cursor is not one this list handed out", {"cursor": CURSOR_MESSAGE}) from None
        now = self.clock()
        return result.with_items([self._task_view(t, c, now) for t, c in result.items])

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
            wf = engine.restore(store.state(row.id))
            if task.state == "open":
                case_data = engine.task_data(wf, task.id) if self._is_open_in(engine, wf, task.id) else wf.data
                fields = (schema or {}).get("properties", {})
                data = {k: case_data[k] for k in fields if case_data.get(k) is not None}
                prefill_numbers(store, row.id, task.person, fields, data)
                if task.assignee and task.assignee in self._element_values(case_data):
                    data.update(self._element_values(case_data)[task.assignee])
            else:  # a finished task: the case as it stands, and what its form submitted (kept at completion)
                case_data = wf.data
                data = dict(task.data or {})
            context = self._context(case_data, principal, staff)
            if staff and principal.sees_reporter and case_data.get("reporter"):
                self._log_confidential_read(row.id, principal.username, task=task.name)
            hidden = task.form_key in REPORTER_FORMS and not principal.sees_reporter
            return {**view, "form": schema, "data": {} if hidden else data, "data_hidden": hidden and bool(data),
                    "submitted": task.data is not None, "case": context, "state": task.state,
                    "completed_by": task.completed_by, "finished_at": iso(task.finished_at),
                    "draft_files": [self._file_view(a) for a in store.draft_attachments(task.id, principal.username)]
                    if task.state == "open" else []}

    def next_task(self, principal: Principal, case_id: int) -> dict[str, Any] | None:
        """The case's next open task the caller may take now (theirs, or unclaimed in one of their roles)."""
        with self.db.session() as s:
            result = Store(s).open_tasks_for(principal.username, set(principal.roles), filters={"case_id": case_id},
                                             page=1, per_page=20, sort="created")
            for task, row in result.items:
                if task.claimed_by in (None, principal.username):
                    return self._task_view(task, row, self.clock())
        return None

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

    def complete(self, principal: Principal, task_id: str, data: dict[str, Any],
                 files: list[tuple[str, str, bytes]] | None = None) -> dict[str, Any]:
        """Complete a task; on any failure nothing is written. 422: form errors; 409: taken or changed.

        ``files`` (name, content type, bytes) and the files the caller sent with earlier refused tries of this task
        become evidence in the same transaction as the step: a refused or failed step attaches nothing."""
        files = [self._checked_file(*f) for f in files or []]
        with self._write() as store:
            task, row = self._actionable_task(store, principal, task_id, with_state=True)
            if task.claimed_by not in (None, principal.username):
                raise Conflict(f"task {task_id} is claimed by {task.claimed_by}")
            if isinstance(data, dict):
                self._check_persons(store, data)
            engine = self.deployments.engine(row.deployment_id)
            drafts = store.draft_attachments(task_id, None)  # usually none: then nothing to delete
            waiting = [a for a in drafts if a.uploaded_by == principal.username]
            files = self._new_files(waiting, files)
            names = [a.filename for a in waiting] + [name for name, _, _ in files]
            schema = engine.forms.schema(task.form_key) if task.form_key else {}
            if names and isinstance(data, dict) and "evidence" in schema.get("properties", {}):
                data = {**data, "evidence": list(data.get("evidence") or []) + [f"附件：{n}" for n in names]}
            wf = engine.restore(store.state(row.id))
            facts = self._facts(store, row, engine, wf)
            try:
                step = engine.complete(wf, task_id, data, facts, now=self.clock())
            except FormErrors as exc:
                raise Invalid("the form has errors", exc.errors) from None
            except TaskNotOpen:
                raise Conflict(f"task {task_id} is no longer open") from None
            except (EngineError, DecisionError) as exc:
                raise Invalid(f"the step could not be completed: {exc}", {"": str(exc)}) from None
            # anyone else's files for this task were never sent with a step; the caller's become evidence. (Deleted
            # before anything is written: the writes below go to the database together, at the step's one flush.)
            if len(drafts) > len(waiting):
                store.drop_draft_attachments(task_id, keep=[a.id for a in waiting])
            store.drop_drafts(task_id)
            store.log(row.id, principal.username, "completed", task=task.name, title=task.title,
                      fields=sorted(data), person=task.person)
            for att in waiting:
                att.draft = False
                store.log(row.id, principal.username, "attached", file=att.filename, size=att.size, task=task.name)
            for name, content_type, content in files:
                store.add_attachment(row.id, task_id, name, content_type, content, principal.username)
                store.log(row.id, principal.username, "attached", file=name, size=len(content), task=task.name)
            task.data = to_json(data)
            store.add_decision_records(row.id, row.deployment_id, step.traces)
            for trace in step.traces:
                store.log(row.id, None, "decision_evaluated", decision=trace["decision"], task=trace.get("task"),
                          rows=[m["row"] for m in trace["matched"]], version=trace["version"],
                          person=trace.get("person"))
            self._sync(store, row, engine, wf, actor=principal.username, completed=task_id)
            try:
                issue_due_documents(store, row, engine, wf, self.clock())
            except DocumentError as exc:
                raise step_failed(exc) from None
            return {"id": task_id, "case_id": row.id, "status": row.status, "stage": row.stage,
                    "decisions": [t["decision"] for t in step.traces]}

    # ---------------------------------------------------------------- timers

    def fire_due_timers(self, now: dt.datetime | None = None, limit: int = 100) -> int:
        """Fire due timers, one case per transaction; safe to run in several workers at once."""
        now = now or self.clock()
        fired = 0
        unavailable: list[int] = []  # cases whose version cannot be loaded: the others' timers still fire
        for _ in range(limit):
            with self._write() as store:
                case_ids = store.due_timer_cases(now, limit=1, skip=unavailable)
                if not case_ids:
                    break
                # held already: this re-reads the case and its tasks fresh (and its state, for the step)
                row = store.lock_case(case_ids[0], with_state=True)
                try:
                    engine = self.deployments.engine(row.deployment_id)
                except VersionUnavailable:
                    unavailable.append(row.id)
                    continue
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
                try:  # a timer fires on time; a document it made due follows at the case's next step
                    with store.s.begin_nested():
                        issue_due_documents(store, row, engine, wf, now)
                except DocumentError as exc:
                    store.log(row.id, None, "document_failed", error=str(exc))
                fired += len(step.fired)
        return fired

    def next_timer(self) -> dt.datetime | None:
        with self.db.session() as s:
            return Store(s).next_timer()

    # ---------------------------------------------------------------- evidence and drafts

    MAX_ATTACHMENT = MAX_FILE_BYTES

    @staticmethod
    def _checked_file(filename: str, content_type: str, content: bytes) -> tuple[str, str, bytes]:
        name = "".join(ch for ch in filename.replace("\\", "/").split("/")[-1] if ch.isprintable())[:200] or "file"
        if not content:
            raise Invalid("the file is empty", {"evidence_files": f"文件“{name}”是空的，未保存"})
        if len(content) > MAX_FILE_BYTES:
            raise Invalid("the file is too large", {"evidence_files": f"文件“{name}”过大，未保存：{UPLOAD_LIMIT}"})
        return name, content_type or "application/octet-stream", content

    @staticmethod
    def _new_files(waiting: list[Any], files: list[tuple[str, str, bytes]]) -> list[tuple[str, str, bytes]]:
        """The files not already waiting (same name and content): a resend never stores a file twice."""
        seen = {(a.filename, hashlib.sha256(bytes(a.content)).hexdigest()) for a in waiting}
        out = []
        for name, content_type, content in files:
            key = (name, hashlib.sha256(content).hexdigest())
            if key not in seen:
                seen.add(key)
                out.append((name, content_type, content))
        return out

    def keep_files(self, principal: Principal, task_id: str, files: list[tuple[str, str, bytes]],
                   drop: list[int] | None = None) -> list[dict[str, Any]]:
        """Files sent with a refused try (or a saved draft) of a task: kept for the sender's next try, shown in the
        form, and evidence only when the step succeeds. A file sent again is not stored twice."""
        files = [self._checked_file(*f) for f in files]
        with self._write() as store:
            task, row = self._actionable_task(store, principal, task_id)
            if drop:
                store.drop_draft_attachments(task_id, principal.username, drop)
                store.s.flush()
            for name, content_type, content in self._new_files(store.draft_attachments(task_id, principal.username),
                                                               files):
                store.add_attachment(row.id, task_id, name, content_type, content, principal.username, draft=True)
            return [self._file_view(a) for a in store.draft_attachments(task_id, principal.username)]

    @staticmethod
    def _file_view(a: Any) -> dict[str, Any]:
        return {"id": a.id, "filename": a.filename, "size": a.size, "content_type": a.content_type}

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
