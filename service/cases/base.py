"""What every use case of the case service shares: the write transaction, authorisation, the system facts
the service computes, and writing a case's new state with everything derived from it.

The law holds persons, not cases: each respondent (当事人) has a row of their own (``case_persons``) with
their outcome; a respondent sees only their own part of a case, whatever staff roles they hold.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from ..auth import Principal
from ..decisions.feel import to_json
from ..deployments import Deployments
from ..engine import Case as WorkflowCase, OpenTask, ProcessEngine
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..store.db import Database
from ..store.models import Case, Task, utcnow
from ..store.repository import Store

CASE_FIELDS_FROM_DATA = ("subject", "unit", "grounds", "act_date", "summary", "served_on")
# form fields that name respondents: every person must be an existing account
PERSON_LIST_FIELDS = ("respondents", "added_respondents")


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


class CaseServiceBase:
    def __init__(self, db: Database, deployments: Deployments, clock: Callable[[], dt.datetime] = utcnow):
        self.db = db
        self.deployments = deployments
        self.clock = clock

    def _write(self) -> "_WriteTransaction":
        return _WriteTransaction(self.db)

    def _log_confidential_read(self, case_id: int, username: str, **detail: Any) -> None:
        """Log a read of the reporter's identity in a write transaction of its own. (A read transaction that
        writes fails on SQLite with "database is locked" whenever another writer committed since it began.)"""
        with self._write() as store:
            store.log(case_id, username, "viewed_confidential", fields=["reporter"], **detail)

    # ---------------------------------------------------------------- facts and state

    def _facts(self, store: Store, row: Case, engine: ProcessEngine, wf: WorkflowCase) -> dict[str, Any]:
        """System facts the service computes: never typed by anyone."""
        data = wf.data
        year = int(str(data.get("act_date") or row.act_date)[:4])
        persons = [r["person"] for r in data.get("respondents") or [] if isinstance(r, dict) and r.get("person")]
        counts = store.count_established_by_person(persons, year, exclude_case=row.id)
        facts = {"errors_by_person": {p: counts[p] + 1 for p in persons},
                 "leading_group_members": store.usernames_with_role("leading_group"), "case_id": row.id,
                 "today": self.clock().date().isoformat()}
        if not engine.per_person:  # a case on a version before the person model finishes on it
            subject = data.get("subject") or row.subject
            facts["errors_this_year"] = store.count_established(subject, year, exclude_case=row.id) + 1
        return facts

    @staticmethod
    def _check_persons(store: Store, data: dict[str, Any]) -> None:
        """Respondents must be existing accounts: an unknown name is a 422 on its field, nothing is written."""
        named = [(name, i, item["person"]) for name in PERSON_LIST_FIELDS if isinstance(data.get(name), list)
                 for i, item in enumerate(data[name])
                 if isinstance(item, dict) and isinstance(item.get("person"), str) and item["person"]]
        known = store.existing_usernames(p for _, _, p in named) if named else set()
        errors = {f"{name}[{i}].person": f"没有此人员账号：{person}。请从人员名单中选择"
                  for name, i, person in named if person not in known}
        if errors:
            raise Invalid("unknown persons", errors)

    def _sync(self, store: Store, row: Case, engine: ProcessEngine, wf: WorkflowCase, actor: str | None,
              completed: str | None = None) -> None:
        """Write the case's new state and everything derived from it, in the caller's transaction."""
        data = wf.data
        open_tasks = engine.open_tasks(wf)
        # Reads come first and the state is written last, so the ORM's writes go out in as few flushes as can be
        # (at the timers' read, then at the state's UPDATE): one UPDATE per task and one of the case.
        added, finished = store.sync_tasks(row.id, [self._index_row(t) for t in open_tasks], completed, actor,
                                           now=self.clock())
        for t in finished:
            if t.state == "cancelled":
                store.log(row.id, None, "cancelled", task=t.name, title=t.title)
        for t in added:
            store.log(row.id, None, "task_opened", task=t.name, title=t.title, role=t.role, assignee=t.assignee,
                      person=t.person)
        store.replace_timers(row.id, [(t.task_id, t.name, t.due) for t in engine.pending_timers(wf)])
        disq = data.get("disqualification")
        if disq:
            entries = disq.get("entries")
            if entries is None:  # a version before the person model: its persons and the subject's unit
                entries = [{"person": p, "unit": (disq.get("units") or [None])[0], "year": disq["year"]}
                           for p in disq.get("persons", [])]
            store.record_disqualification(row.id, entries)
        for key in CASE_FIELDS_FROM_DATA:
            if data.get(key) not in (None, ""):
                setattr(row, key, data[key])
        row.year = int(str(row.act_date)[:4])
        if engine.per_person:
            outcomes = self._person_outcomes(wf)
            respondents = [r for r in data.get("respondents") or [] if isinstance(r, dict)]
        else:
            outcomes, respondents = self._legacy_outcomes(row, data)
        store.sync_case_persons(row.id, row.year, respondents, outcomes)
        row.outcome = to_json([outcomes[p] for p in outcomes]) if outcomes else None
        row.established = any(o.get("established") and not o.get("revoked") for o in outcomes.values())
        row.stage = "、".join(sorted({t.title for t in open_tasks}))[:200]
        row.updated_at = self.clock()
        if wf.completed:
            end = wf.end_event
            row.status, row.end_event, row.closed_at = "closed", end[1] if end else None, self.clock()
            store.log(row.id, None, "closed", end=row.end_event)
        store.save_state(row.id, engine.serialize(wf))
        store.s.flush()

    @staticmethod
    def _person_outcomes(wf: WorkflowCase) -> dict[str, dict[str, Any]]:
        """Each respondent's outcome as far as the case has got: the proposal, the decision, and — while the
        decisions are being served and appealed — what each person's own branch has recorded."""
        outcomes = {o["person"]: o for o in wf.data.get("outcomes") or [] if isinstance(o, dict) and "person" in o}
        for service in wf.instance_values("service"):
            if isinstance(service, dict) and isinstance(service.get("outcome"), dict):
                outcomes[service["person"]] = service["outcome"]
        return outcomes

    @staticmethod
    def _legacy_outcomes(row: Case, data: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        """A case on a version before the person model: its one subject, with the case's outcome as theirs."""
        subject = data.get("subject") or row.subject
        if not subject:
            return {}, []
        respondents = [{"person": subject, "role": "handler", "unit": data.get("unit") or row.unit or ""}]
        outcome = data.get("outcome")
        if not isinstance(outcome, dict):
            return {}, respondents
        liable = any(r.get("person") == subject for r in outcome.get("responsible") or [])
        mine = {"person": subject, "role": "handler", "unit": respondents[0]["unit"], "exempt": outcome.get("exempt"),
                "liable": liable, "aggravated": outcome.get("aggravated"), "tier": outcome.get("tier"),
                "measure": outcome.get("measure"), "citations": outcome.get("citations") or [],
                "established": bool(data.get("error_established")), "revoked": bool(outcome.get("revoked")),
                "served_on": data.get("served_on"), "appeal": data.get("appeal"),
                "appeal_result": outcome.get("appeal_result")}
        return {subject: mine}, respondents

    @staticmethod
    def _index_row(t: OpenTask) -> dict[str, Any]:
        return {"id": t.id, "name": t.name, "title": t.title, "role": t.role, "assignee": t.assignee,
                "person": t.person, "form_key": t.form_key, "due": t.due, "escalate_at": t.escalate_at}

    # ---------------------------------------------------------------- authorisation

    @staticmethod
    def _respondent_of(store: Store, principal: Principal, row: Case) -> bool:
        """A respondent of a case has no part in it beyond their own tasks, whatever staff roles they hold."""
        return store.case_person(row.id, principal.username) is not None

    def _acts_as_staff(self, store: Store, principal: Principal, row: Case) -> bool:
        return principal.is_staff and not self._respondent_of(store, principal, row)

    def _can_see(self, store: Store, principal: Principal, row: Case) -> bool:
        if self._acts_as_staff(store, principal, row):
            return True
        return any(t.assignee == principal.username for t in store.case_tasks(row.id))

    def _visible_task(self, store: Store, principal: Principal, task_id: str,
                      staff: bool | None = None) -> tuple[Task, Case]:
        task = store.task(task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        row = store.case(task.case_id)
        staff = self._acts_as_staff(store, principal, row) if staff is None else staff
        mine = task.assignee == principal.username or (staff and task.assignee is None and task.role in principal.roles)
        if not mine:
            if staff:
                return task, row  # staff may look at any task of a case they see
            raise NotFound(f"task {task_id} does not exist")
        return task, row

    def _actionable_task(self, store: Store, principal: Principal, task_id: str,
                         with_state: bool = False) -> tuple[Task, Case]:
        """A task the caller may act on now, with its case locked for the rest of the write transaction
        (``with_state``: its serialized workflow read with the lock, for a step)."""
        row = store.lock_case_of_task(task_id, with_state=with_state)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        staff = self._acts_as_staff(store, principal, row)
        task, row = self._visible_task(store, principal, task_id, staff)
        if not (task.assignee == principal.username or (staff and task.assignee is None and task.role in principal.roles)):
            if not staff and task.assignee is None:
                raise Forbidden(f"task {task_id} is not yours: you are a respondent of this case")
            raise Forbidden(f"task {task_id} is not yours: it belongs to {task.assignee or task.role}")
        if task.state != "open":
            raise Conflict(f"task {task_id} is no longer open ({task.state})")
        return task, row

    # ---------------------------------------------------------------- views

    @staticmethod
    def _task_view(task: Task, row: Case, now: dt.datetime) -> dict[str, Any]:
        return {"id": task.id, "case_id": task.case_id, "name": task.name, "title": task.title, "role": task.role,
                "assignee": task.assignee, "person": task.person, "claimed_by": task.claimed_by,
                "due": iso(task.due), "overdue": bool(task.due and task.due < now), "form_key": task.form_key,
                "channel": row.channel, "subject": row.subject, "created_at": iso(task.created_at)}

    @staticmethod
    def _task_brief(task: Task) -> dict[str, Any]:
        return {"id": task.id, "name": task.name, "title": task.title, "role": task.role, "assignee": task.assignee,
                "person": task.person, "claimed_by": task.claimed_by, "state": task.state, "due": iso(task.due),
                "created_at": iso(task.created_at), "finished_at": iso(task.finished_at),
                "completed_by": task.completed_by}

    @staticmethod
    def _case_summary(row: Case, principal: Principal, staff: bool | None = None) -> dict[str, Any]:
        staff = principal.is_staff if staff is None else staff
        view = {"id": row.id, "channel": row.channel, "subject": row.subject, "unit": row.unit,
                "summary": row.summary, "grounds": row.grounds, "act_date": row.act_date, "year": row.year,
                "status": row.status, "stage": row.stage, "end_event": row.end_event, "outcomes": row.outcome,
                "deployment": row.deployment_id, "created_at": iso(row.created_at),
                "updated_at": iso(row.updated_at), "closed_at": iso(row.closed_at)}
        if not staff:  # a respondent learns their own outcome from their own served decision only
            view.pop("deployment")
            view["outcomes"] = [o for o in row.outcome or []
                                if o.get("person") == principal.username and o.get("served_on")]
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
