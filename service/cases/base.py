"""What every use case of the case service shares: the write transaction, authorisation, the system facts
the service computes, and writing a case's new state with everything derived from it.

The law holds persons, not cases: each respondent (当事人) has a row of their own (``case_persons``) with
their outcome; a respondent sees only their own part of a case, whatever staff roles they hold.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable

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

    # ---------------------------------------------------------------- facts and state

    def _facts(self, store: Store, row: Case, wf: WorkflowCase) -> dict[str, Any]:
        """System facts the service computes: never typed by anyone."""
        data = wf.data
        year = int(str(data.get("act_date") or row.act_date)[:4])
        persons = [r["person"] for r in data.get("respondents") or [] if isinstance(r, dict) and r.get("person")]
        return {"errors_by_person": {p: store.count_established(p, year, exclude_case=row.id) + 1 for p in persons},
                "leading_group_members": store.usernames_with_role("leading_group"), "case_id": row.id,
                "today": self.clock().date().isoformat()}

    @staticmethod
    def _check_persons(store: Store, data: dict[str, Any]) -> None:
        """Respondents must be existing accounts: an unknown name is a 422 on its field, nothing is written."""
        errors: dict[str, str] = {}
        for name in PERSON_LIST_FIELDS:
            items = data.get(name)
            if not isinstance(items, list):
                continue
            for i, item in enumerate(items):
                person = item.get("person") if isinstance(item, dict) else None
                if isinstance(person, str) and person and store.user(person) is None:
                    errors[f"{name}[{i}].person"] = f"没有此人员账号：{person}。请从人员名单中选择"
        if errors:
            raise Invalid("unknown persons", errors)

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
            store.log(row.id, None, "task_opened", task=t.name, title=t.title, role=t.role, assignee=t.assignee,
                      person=t.person)
        store.replace_timers(row.id, [(t.task_id, t.name, t.due) for t in engine.pending_timers(wf)])
        for key in CASE_FIELDS_FROM_DATA:
            if data.get(key) not in (None, ""):
                setattr(row, key, data[key])
        row.year = int(str(row.act_date)[:4])
        outcomes = self._person_outcomes(wf)
        respondents = [r for r in data.get("respondents") or [] if isinstance(r, dict)]
        store.sync_case_persons(row.id, row.year, respondents, outcomes)
        row.outcome = to_json([outcomes[p] for p in outcomes]) if outcomes else None
        row.established = any(o.get("established") and not o.get("revoked") for o in outcomes.values())
        row.stage = "、".join(sorted({t.title for t in open_tasks}))[:200]
        row.updated_at = self.clock()
        if wf.completed:
            end = wf.end_event
            row.status, row.end_event, row.closed_at = "closed", end[1] if end else None, self.clock()
            store.log(row.id, None, "closed", end=row.end_event)
        disq = data.get("disqualification")
        if disq:
            store.record_disqualification(row.id, disq.get("entries", []))
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
    def _index_row(t: OpenTask) -> dict[str, Any]:
        return {"id": t.id, "name": t.name, "title": t.title, "role": t.role, "assignee": t.assignee,
                "person": t.person, "form_key": t.form_key, "due": t.due}

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

    def _visible_task(self, store: Store, principal: Principal, task_id: str) -> tuple[Task, Case]:
        task = store.task(task_id)
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        row = store.case(task.case_id)
        staff = self._acts_as_staff(store, principal, row)
        mine = task.assignee == principal.username or (staff and task.assignee is None and task.role in principal.roles)
        if not mine:
            if staff:
                return task, row  # staff may look at any task of a case they see
            raise NotFound(f"task {task_id} does not exist")
        return task, row

    def _actionable_task(self, store: Store, principal: Principal, task_id: str) -> tuple[Task, Case]:
        task, row = self._visible_task(store, principal, task_id)
        staff = self._acts_as_staff(store, principal, row)
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


def persons_of(items: Iterable[Any]) -> list[str]:
    return [i["person"] for i in items if isinstance(i, dict) and isinstance(i.get("person"), str)]
