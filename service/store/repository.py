"""Queries and writes: the only code that talks SQL. Every method works inside the caller's session;
the service layer owns the transaction."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

from sqlalchemy import Integer, and_, case, delete, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, joinedload

from .paging import Page, SortKey, after, capped_count, decode_cursor, encode_cursor, top
from .models import (Attachment, Case, CasePerson, CaseState, DecisionRecord, Deployment, DeploymentActivation,
                     DeploymentFile, Disqualification, Document, DocumentNumber, Draft, Event, LoginThrottle,
                     Notification, RateLimit, Task, Timer, User, UserRole, WebSession, utcnow)

TIMERS_CHANNEL = "accountability_timers"  # PostgreSQL NOTIFY channel: a step scheduled a timer

# the orders of the task lists: (column, descending) down to the unique id
TASK_SORTS: dict[str, SortKey] = {
    "due": ((Task.due_order, False), (Task.created_at, False), (Task.id, False)),
    "created": ((Task.created_at, False), (Task.id, False)),
    "case": ((Task.case_id, True), (Task.created_at, False), (Task.id, False)),
}
CASE_SORT: SortKey = ((Case.id, True),)
NOTIFICATION_SORT: SortKey = ((Notification.id, True),)


class Store:
    """One transaction's reads and writes. Under a case's lock (:meth:`lock_case`) it keeps what it read of that
    case — the case, its tasks, its respondents and its state — and answers later reads of them from memory: no
    one else changes them until the transaction ends, and its own writes go through the same objects."""

    def __init__(self, session: Session):
        self.s = session
        self._locked: dict[int, Case] = {}  # held, so the identity map keeps them
        self._tasks: dict[int, list[Task]] = {}  # a locked case's tasks, new ones included
        self._persons: dict[int, dict[str, CasePerson]] = {}  # a case's respondents once read
        self._states: dict[int, str] = {}  # a case's serialized workflow once read or written

    # ------------------------------------------------------------------ users
    def user(self, username: str) -> User | None:
        """The account with its roles, in one query."""
        return self.s.scalars(select(User).options(joinedload(User.role_rows))
                              .where(User.username == username)).unique().first()

    def add_user(self, username: str, *, display_name: str = "", unit: str | None = None,
                 password_hash: str | None = None, roles: Iterable[str] = (), email: str | None = None) -> User:
        user = User(username=username, display_name=display_name or username, unit=unit,
                    password_hash=password_hash, active=True, email=email or None)
        user.role_rows = [UserRole(role=r) for r in sorted(set(roles))]
        self.s.add(user)
        self.s.flush()
        return user

    def set_roles(self, user: User, roles: Iterable[str]) -> None:
        user.role_rows = [UserRole(role=r) for r in sorted(set(roles))]

    def existing_usernames(self, usernames: Iterable[str]) -> set[str]:
        """Which of these are accounts (one query for a whole list)."""
        names = list(set(usernames))
        return set(self.s.scalars(select(User.username).where(User.username.in_(names)))) if names else set()

    def users(self) -> list[User]:
        return list(self.s.scalars(select(User).order_by(User.username)))

    def usernames_with_role(self, role: str) -> list[str]:
        return list(self.s.scalars(select(User.username).join(UserRole).where(UserRole.role == role,
                                                                              User.active.is_(True))
                                   .order_by(User.username)))

    # ------------------------------------------------------------------ deployments
    def latest_deployment(self) -> Deployment | None:
        return self.s.scalar(select(Deployment).order_by(Deployment.id.desc()).limit(1))

    def deployment_by_hash(self, content_hash: str) -> Deployment | None:
        return self.s.scalar(select(Deployment).where(Deployment.content_hash == content_hash))

    def add_deployment(self, files: dict[str, bytes], content_hash: str, by: str | None, *,
                       activate: bool = True) -> Deployment:
        """A new numbered version with its files; unless ``activate`` is False it becomes the live one."""
        latest = self.latest_deployment()
        live = self.live_deployment() if activate else None
        deployment = Deployment(id=(latest.id + 1) if latest else 1, content_hash=content_hash, created_by=by)
        self.s.add(deployment)
        self.s.flush()
        self.s.add_all(DeploymentFile(deployment_id=deployment.id, name=n, content=c) for n, c in files.items())
        if activate:
            self.activate(deployment.id, by, "deploy", previous=live.id if live else None)
        return deployment

    def live_deployment(self) -> Deployment | None:
        """The version new cases start on: the one activated last (the newest, where none was ever activated)."""
        live = self.s.scalar(select(DeploymentActivation.deployment_id).order_by(DeploymentActivation.id.desc())
                             .limit(1))
        return self.s.get(Deployment, live) if live is not None else self.latest_deployment()

    def deployment(self, deployment_id: int) -> Deployment | None:
        return self.s.get(Deployment, deployment_id)

    def activate(self, deployment_id: int, by: str | None, how: str, previous: int | None) -> None:
        self.s.add(DeploymentActivation(deployment_id=deployment_id, previous_id=previous, by=by, how=how,
                                        at=utcnow()))
        self.s.flush()

    def activations(self) -> list[DeploymentActivation]:
        """Who made which version live, newest first."""
        return list(self.s.scalars(select(DeploymentActivation).order_by(DeploymentActivation.id.desc())))

    def deployment_files(self, deployment_id: int) -> dict[str, bytes]:
        rows = self.s.execute(select(DeploymentFile.name, DeploymentFile.content)
                              .where(DeploymentFile.deployment_id == deployment_id))
        return {name: bytes(content) for name, content in rows}

    def deployments(self) -> list[Deployment]:
        return list(self.s.scalars(select(Deployment).order_by(Deployment.id)))

    def open_cases_per_deployment(self) -> dict[int, int]:
        rows = self.s.execute(select(Case.deployment_id, func.count()).where(Case.status == "open")
                              .group_by(Case.deployment_id))
        return {d: n for d, n in rows}

    # ------------------------------------------------------------------ cases
    def add_case(self, case: Case, state: str) -> Case:
        self.s.add(case)
        self.s.flush()
        self.s.add(CaseState(case_id=case.id, state=state))
        return case

    def case(self, case_id: int) -> Case | None:
        return self.s.get(Case, case_id)

    def lock_case(self, case_id: int, *, with_state: bool = False) -> Case | None:
        """Take the case's row lock for this transaction and re-read the case and its task index: steps on one
        case (e.g. the members' simultaneous votes) then run one after the other on fresh state. (SQLite's write
        transaction already holds the database lock.) ``with_state``: read the serialized workflow in the same
        statement (:meth:`state` then answers from memory)."""
        return self._lock(Case.id == case_id, with_state)

    def lock_case_of_task(self, task_id: str, *, with_state: bool = False) -> Case | None:
        """:meth:`lock_case` for the case of a task, found in the same statement (None: no such task)."""
        return self._lock(Case.id == select(Task.case_id).where(Task.id == task_id).scalar_subquery(), with_state)

    def _lock(self, where: Any, with_state: bool) -> Case | None:
        # SQLite only: its write transaction holds the database lock from BEGIN IMMEDIATE, so the state read with
        # the case is the latest. PostgreSQL re-reads only the locked row when the lock was waited for (the joined
        # state would be the one from before the other step): there :meth:`state` reads it after the lock.
        with_state = with_state and self.s.bind.dialect.name == "sqlite"
        q = select(Case, CaseState.state) if with_state else select(Case)
        if with_state:
            q = q.outerjoin(CaseState, CaseState.case_id == Case.id)
        q = q.where(where).with_for_update(of=Case).execution_options(populate_existing=True)
        found = self.s.execute(q).first()
        if found is None:
            return None
        row = found[0]
        if with_state and found[1] is not None:
            self._states[row.id] = found[1]
        self._locked[row.id] = row
        # fetched, not only executed: the ORM refreshes the loaded tasks (e.g. a claim) as it reads the rows
        self._tasks[row.id] = list(self.s.scalars(select(Task).where(Task.case_id == row.id)
                                                  .execution_options(populate_existing=True)))
        return row

    def case_by_receipt(self, code: str) -> Case | None:
        return self.s.scalar(select(Case).where(Case.receipt_code == code))

    def state(self, case_id: int) -> str:
        if case_id in self._states:
            return self._states[case_id]
        return self.s.scalar(select(CaseState.state).where(CaseState.case_id == case_id))

    def save_state(self, case_id: int, state: str) -> None:
        self.s.execute(update(CaseState).where(CaseState.case_id == case_id).values(state=state))
        self._states[case_id] = state

    def count_established_by_person(self, persons: Iterable[str], year: int,
                                    exclude_case: int | None) -> dict[str, int]:
        """:meth:`count_established` for several persons in one query (each person present, 0 when none)."""
        persons = list(dict.fromkeys(persons))
        if not persons:
            return {}
        q = (select(CasePerson.person, func.count()).where(CasePerson.person.in_(persons), CasePerson.year == year,
                                                           CasePerson.established.is_(True))
             .group_by(CasePerson.person))
        if exclude_case is not None:
            q = q.where(CasePerson.case_id != exclude_case)
        counts = dict(self.s.execute(q).all())
        return {p: counts.get(p, 0) for p in persons}

    def count_established(self, person: str, year: int, exclude_case: int | None) -> int:
        """Art. 11(3): the person's established (decided, not revoked) errors of that calendar year, in any role."""
        q = select(func.count()).select_from(CasePerson).where(CasePerson.person == person, CasePerson.year == year,
                                                                CasePerson.established.is_(True))
        if exclude_case is not None:
            q = q.where(CasePerson.case_id != exclude_case)
        return self.s.scalar(q) or 0

    def bulk_insert(self, model: type, rows: Sequence[dict[str, Any]]) -> None:
        """Insert many rows of one table in batches (the benchmark's and an import's fast path)."""
        if not rows:
            return
        table = model.__table__
        self.s.execute(insert(table), list(rows))
        key = table.c.get("id")
        if "id" in rows[0] and key is not None and key.autoincrement is not False \
                and self.s.bind.dialect.name == "postgresql" and isinstance(key.type, Integer):
            # ids given: move the sequence past them, or the next ordinary insert would take one of them
            self.s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                f"(SELECT max(id) FROM {table.name}))"))

    def max_id(self, model: type) -> int:
        return self.s.scalar(select(func.max(model.id))) or 0

    def count(self, model: type) -> int:
        return self.s.scalar(select(func.count()).select_from(model)) or 0

    # ------------------------------------------------------------------ respondents
    def cases_of_person(self, person: str, case_ids: Sequence[int]) -> set[int]:
        """Which of these cases have ``person`` as a respondent (one query for a whole page)."""
        if not case_ids:
            return set()
        return set(self.s.scalars(select(CasePerson.case_id).where(CasePerson.person == person,
                                                                    CasePerson.case_id.in_(list(case_ids)))))

    def case_persons(self, case_id: int) -> list[CasePerson]:
        return list(self._case_persons(case_id).values())

    def case_person(self, case_id: int, person: str) -> CasePerson | None:
        return self._case_persons(case_id).get(person)

    def _case_persons(self, case_id: int) -> dict[str, CasePerson]:
        """The case's respondents, read once per transaction (kept up to date by :meth:`sync_case_persons`)."""
        if case_id not in self._persons:
            self._persons[case_id] = {p.person: p for p in self.s.scalars(select(CasePerson)
                                                                         .where(CasePerson.case_id == case_id))}
        return self._persons[case_id]

    def sync_case_persons(self, case_id: int, year: int, respondents: Sequence[dict[str, Any]],
                          outcomes: dict[str, dict[str, Any]]) -> None:
        """Keep one row per respondent with their own outcome (``outcomes`` by person)."""
        known = self._case_persons(case_id)
        rows = dict(known)
        for r in respondents:
            row = rows.pop(r["person"], None)
            if row is None:
                row = CasePerson(case_id=case_id, person=r["person"])
                self.s.add(row)
                known[r["person"]] = row
            outcome = outcomes.get(r["person"])
            row.role, row.unit, row.year = r["role"], r["unit"], year
            row.outcome = outcome
            row.established = bool(outcome and outcome.get("established") and not outcome.get("revoked"))
            row.served_on = (outcome or {}).get("served_on")
        for row in rows.values():  # no longer a respondent (e.g. corrected at registration)
            self.s.delete(row)
            del known[row.person]

    def cases(self, *, filters: dict[str, Any], visible_to_subject: str | None, page: int, per_page: int,
              search: str | None = None, staff_member: str | None = None, cursor: str | None = None) -> Page:
        """Newest first. ``visible_to_subject``: an officer, who sees only the cases with a task of theirs.
        ``staff_member``: staff, who see every case except one where they are a respondent before their own first
        task. ``cursor`` (from a page's ``next_cursor``) starts after that page instead of at ``page``; the count
        stops at COUNT_CAP. Raises paging.BadCursor for a cursor this list did not hand out."""
        q = select(Case.id)
        for key in ("status", "channel", "year", "unit", "subject"):
            if filters.get(key) not in (None, ""):
                q = q.where(getattr(Case, key) == filters[key])
        if visible_to_subject is not None:  # a respondent: their cases, from their own first task on
            q = q.where(Case.id.in_(select(Task.case_id).where(Task.assignee == visible_to_subject)))
        if staff_member is not None:  # staff are respondents like anyone else in their own cases
            q = q.where(or_(Case.id.not_in(select(CasePerson.case_id).where(CasePerson.person == staff_member)),
                            Case.id.in_(select(Task.case_id).where(Task.assignee == staff_member))))
        if search:
            like = f"%{search}%"
            q = q.where(or_(Case.summary.ilike(like), Case.subject.ilike(like), Case.unit.ilike(like)))
        total, capped = capped_count(self.s, [q])
        offset = (page - 1) * per_page
        if cursor:
            q, offset = q.where(after(CASE_SORT, decode_cursor(cursor, "cases", CASE_SORT))), 0
        ids = list(self.s.scalars(top([q], CASE_SORT, per_page + 1, offset)))
        more, ids = len(ids) > per_page, ids[:per_page]
        rows = {c.id: c for c in self.s.scalars(select(Case).where(Case.id.in_(ids)))} if ids else {}
        items = [rows[i] for i in ids]
        next_cursor = encode_cursor("cases", [ids[-1]]) if more else None
        return Page(items, total, page, per_page, capped, next_cursor)

    # ------------------------------------------------------------------ task index
    def task(self, task_id: str) -> Task | None:
        return self.s.get(Task, task_id)

    def case_tasks(self, case_id: int) -> list[Task]:
        if case_id in self._tasks:  # a locked case: read with the lock, new ones added since
            return sorted(self._tasks[case_id], key=lambda t: (t.created_at, t.id))
        return list(self.s.scalars(select(Task).where(Task.case_id == case_id).order_by(Task.created_at, Task.id)))

    def sync_tasks(self, case_id: int, open_now: Sequence[dict[str, Any]], completed: str | None,
                   completed_by: str | None, now: dt.datetime | None = None) -> tuple[list[Task], list[Task]]:
        """Make the index match the workflow: add new open tasks, finish the ones that closed (at ``now``, the
        service's clock, the one their limits count by).

        Returns (added, finished)."""
        now = now or utcnow()
        if case_id in self._tasks:  # a locked case: its tasks are in memory
            current = {t.id: t for t in self._tasks[case_id] if t.state == "open"}
        else:
            current = {t.id: t for t in self.s.scalars(select(Task).where(Task.case_id == case_id,
                                                                             Task.state == "open"))}
        wanted = {t["id"]: t for t in open_now}
        finished = []
        for tid, row in current.items():
            if tid in wanted and row.due != wanted[tid]["due"]:
                row.due = wanted[tid]["due"]  # e.g. a case moved to a version with another period
            if tid not in wanted:
                row.state = "completed" if tid == completed else "cancelled"
                row.finished_at = now
                row.completed_by = completed_by if tid == completed else None
                finished.append(row)
        added = []
        for tid, t in wanted.items():
            if tid not in current:
                row = Task(id=tid, case_id=case_id, name=t["name"], title=t["title"], role=t["role"],
                           assignee=t["assignee"], person=t.get("person"), form_key=t["form_key"], due=t["due"], state="open",
                           created_at=now, escalate_at=t.get("escalate_at"))
                self.s.add(row)
                added.append(row)
        if case_id in self._tasks:
            self._tasks[case_id].extend(added)
        return added, finished

    def claim(self, task_id: str, username: str) -> bool:
        """Atomically claim an open, unclaimed task (or one the user already holds)."""
        result = self.s.execute(update(Task).where(Task.id == task_id, Task.state == "open",
                                                   or_(Task.claimed_by.is_(None), Task.claimed_by == username))
                                .values(claimed_by=username))
        return result.rowcount == 1

    def release(self, task_id: str, username: str) -> bool:
        result = self.s.execute(update(Task).where(Task.id == task_id, Task.state == "open",
                                                   Task.claimed_by == username).values(claimed_by=None))
        return result.rowcount == 1

    def open_tasks_for(self, username: str, roles: set[str], *, filters: dict[str, Any], page: int,
                       per_page: int, sort: str = "due", cursor: str | None = None, scope: str | None = None) -> Page:
        """The caller's open tasks: assigned to them, or unassigned in one of their roles. Index only.

        ``scope``: None for all of them; "personal" for those assigned to or claimed by the caller; "group" for
        the unassigned, unclaimed ones of their roles. Each part (the caller's own, each role's queue) is read in
        the order of its index and only as far as the page reaches; the count stops at COUNT_CAP. ``cursor`` (a
        page's ``next_cursor``) starts after that page instead of at ``page``. Raises paging.BadCursor."""
        key = TASK_SORTS.get(sort, TASK_SORTS["due"])
        branches = self._task_branches(username, roles, filters, scope, key)
        if not branches:
            return Page([], 0, page, per_page)
        total, capped = capped_count(self.s, branches)
        offset = (page - 1) * per_page
        if cursor:
            start = after(key, decode_cursor(cursor, f"tasks:{sort}", key))
            branches, offset = [b.where(start) for b in branches], 0
        found = self.s.execute(top(branches, key, per_page + 1, offset)).all()
        more, found = len(found) > per_page, found[:per_page]
        ids = [r.id for r in found]
        # each task with the two columns of its case that a list shows (channel, subject), not the whole case
        rows = {r.Task.id: (r.Task, r) for r in self.s.execute(
            select(Task, Case.channel, Case.subject).join(Case, Case.id == Task.case_id).where(Task.id.in_(ids)))}
        next_cursor = encode_cursor(f"tasks:{sort}", [getattr(found[-1], c.key) for c, _ in key]) if more else None
        return Page([rows[i] for i in ids], total, page, per_page, capped, next_cursor)

    @staticmethod
    def _task_branches(username: str, roles: set[str], filters: dict[str, Any], scope: str | None,
                       key: SortKey) -> list[Any]:
        """One query per queue the caller sees (their own tasks; each role's unassigned tasks), each selecting the
        sort key's columns, so each can be read in its index's order."""
        columns = list(dict.fromkeys([Task.id, *(c for c, _ in key)]))

        def branch(*conds):
            q = select(*columns).where(Task.state == "open", *conds)
            if filters.get("name"):
                q = q.where(Task.name == filters["name"])
            if filters.get("case_id"):
                q = q.where(Task.case_id == filters["case_id"])
            if filters.get("channel"):
                q = q.join(Case, Case.id == Task.case_id).where(Case.channel == filters["channel"])
            if filters.get("role"):
                q = q.where(Task.role == filters["role"])
            if filters.get("overdue"):
                q = q.where(Task.due < utcnow())
            if filters.get("claimed") == "me":
                q = q.where(Task.claimed_by == username)
            elif filters.get("claimed") == "none":
                q = q.where(Task.claimed_by.is_(None))
            return q

        # a respondent has no part in the office's or the group's work on their own case, whatever their roles
        own_cases = select(CasePerson.case_id).where(CasePerson.person == username)
        queues = [r for r in sorted(roles) if not filters.get("role") or r == filters["role"]]
        out = []
        if scope != "group":
            out.append(branch(Task.assignee == username))
        for role in queues:
            conds = [Task.role == role, Task.assignee.is_(None), Task.case_id.not_in(own_cases)]
            if scope == "personal":
                conds.append(Task.claimed_by == username)
            elif scope == "group":
                conds.append(Task.claimed_by.is_(None))
            out.append(branch(*conds))
        return out

    # ------------------------------------------------------------------ timers
    def replace_timers(self, case_id: int, timers: Sequence[tuple[str, str, dt.datetime]]) -> None:
        rows = self.s.execute(select(Timer.id, Timer.name, Timer.due).where(Timer.case_id == case_id)).all()
        if {(r.id, r.name, r.due) for r in rows} == set(timers):
            return  # most steps leave the timers as they were: no writes
        before = {r.id for r in rows}
        self.s.execute(delete(Timer).where(Timer.case_id == case_id))
        self.s.add_all(Timer(id=tid, case_id=case_id, name=name, due=due) for tid, name, due in timers)
        if {tid for tid, _, _ in timers} - before and self.s.bind.dialect.name == "postgresql":
            # a new timer: wake the timer workers when this transaction commits
            self.s.execute(text(f"NOTIFY {TIMERS_CHANNEL}"))

    def wake_timer_workers(self) -> None:
        """PostgreSQL: wake the timer workers when this transaction commits (new timers were written)."""
        if self.s.bind.dialect.name == "postgresql":
            self.s.execute(text(f"NOTIFY {TIMERS_CHANNEL}"))

    def due_timer_cases(self, now: dt.datetime, limit: int, skip: Sequence[int] = ()) -> list[int]:
        """Cases with a due timer, locked for this worker (FOR UPDATE SKIP LOCKED where supported). The lock is
        the case's row lock, the one every step takes first (lock_case): a timer never holds its timer rows while
        waiting for a case that a step holds while it waits for those timer rows (a deadlock). ``skip``: cases this
        worker cannot run now (their version cannot be loaded)."""
        q = (select(Timer.case_id).join(Case, Case.id == Timer.case_id).where(Timer.due <= now)
             .order_by(Timer.due).limit(limit).with_for_update(of=Case, skip_locked=True))
        if skip:
            q = q.where(Timer.case_id.not_in(list(skip)))
        return list(dict.fromkeys(self.s.scalars(q)))

    def next_timer(self) -> dt.datetime | None:
        return self.s.scalar(select(func.min(Timer.due)))

    # ------------------------------------------------------------------ reminders and notifications
    @staticmethod
    def _needs_reminder(now: dt.datetime):
        return and_(Task.state == "open", or_(and_(Task.due <= now, Task.reminded_at.is_(None)),
                                              and_(Task.escalate_at <= now, Task.escalated_at.is_(None))))

    def cases_to_remind(self, now: dt.datetime, limit: int) -> list[int]:
        """Cases with an overdue task not yet reminded or escalated, locked for this worker by the case's row lock
        (as steps and timers take it first: FOR UPDATE SKIP LOCKED where supported)."""
        q = (select(Task.case_id).join(Case, Case.id == Task.case_id).where(self._needs_reminder(now))
             .order_by(Task.due).limit(limit).with_for_update(of=Case, skip_locked=True))
        return list(dict.fromkeys(self.s.scalars(q)))

    def tasks_to_remind(self, case_id: int, now: dt.datetime) -> list[Task]:
        return list(self.s.scalars(select(Task).where(Task.case_id == case_id, self._needs_reminder(now))
                                   .order_by(Task.due, Task.id)))

    def next_reminder(self) -> dt.datetime | None:
        """The earliest time an open task will need a reminder or an escalation."""
        due = self.s.scalar(select(func.min(Task.due)).where(Task.state == "open", Task.reminded_at.is_(None)))
        esc = self.s.scalar(select(func.min(Task.escalate_at)).where(Task.state == "open", Task.escalated_at.is_(None)))
        times = [t for t in (due, esc) if t is not None]
        return min(times) if times else None

    def respondents(self, case_id: int) -> set[str]:
        return set(self.s.scalars(select(CasePerson.person).where(CasePerson.case_id == case_id)))

    def add_notification(self, username: str, *, kind: str, case_id: int | None, task_id: str | None, title: str,
                         person: str | None, due: dt.datetime | None, now: dt.datetime) -> Notification:
        row = Notification(username=username, kind=kind, case_id=case_id, task_id=task_id, title=title[:200],
                           person=person, due=due, created_at=now, email_attempts=0)
        self.s.add(row)
        return row

    def notifications(self, username: str, *, unread_only: bool, page: int, per_page: int,
                      cursor: str | None = None) -> Page:
        """A person's notifications, newest first, read in the order of (username, id). ``cursor`` (a page's
        ``next_cursor``) starts after that page instead of at ``page``; the count stops at COUNT_CAP. Raises
        paging.BadCursor for a cursor this list did not hand out."""
        q = select(Notification.id).where(Notification.username == username)
        if unread_only:
            q = q.where(Notification.read_at.is_(None))
        total, capped = capped_count(self.s, [q])
        offset = (page - 1) * per_page
        if cursor:
            q, offset = q.where(after(NOTIFICATION_SORT, decode_cursor(cursor, "notifications",
                                                                       NOTIFICATION_SORT))), 0
        ids = list(self.s.scalars(top([q], NOTIFICATION_SORT, per_page + 1, offset)))
        more, ids = len(ids) > per_page, ids[:per_page]
        rows = {n.id: n for n in self.s.scalars(select(Notification).where(Notification.id.in_(ids)))} if ids else {}
        next_cursor = encode_cursor("notifications", [ids[-1]]) if more else None
        return Page([rows[i] for i in ids], total, page, per_page, capped, next_cursor)

    def notification(self, notification_id: int) -> Notification | None:
        return self.s.get(Notification, notification_id)

    def unread_count(self, username: str) -> int:
        return self.s.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.username == username, Notification.read_at.is_(None))) or 0

    def mark_read(self, username: str, now: dt.datetime, notification_id: int | None = None) -> int:
        q = update(Notification).where(Notification.username == username, Notification.read_at.is_(None))
        if notification_id is not None:
            q = q.where(Notification.id == notification_id)
        return self.s.execute(q.values(read_at=now)).rowcount

    def notifications_to_mail(self, now: dt.datetime, retry_after: dt.timedelta, limit: int,
                              max_attempts: int) -> list[tuple[Notification, str]]:
        """Notifications not yet mailed to people with an address and not tried within ``retry_after``, locked for
        this worker (SKIP LOCKED); the caller marks them tried, which claims them until ``retry_after`` has passed."""
        q = (select(Notification, User.email).join(User, User.username == Notification.username)
             .where(Notification.emailed_at.is_(None), Notification.email_attempts < max_attempts,
                    or_(Notification.email_tried_at.is_(None), Notification.email_tried_at <= now - retry_after),
                    User.email.is_not(None), User.email != "", User.active.is_(True))
             .order_by(Notification.id).limit(limit).with_for_update(of=Notification, skip_locked=True))
        return [(n, email) for n, email in self.s.execute(q).all()]

    # ------------------------------------------------------------------ log, decisions, Art. 15
    def log(self, case_id: int | None, actor: str | None, kind: str, *, at: dt.datetime | None = None,
            **detail: Any) -> None:
        self.s.add(Event(case_id=case_id, actor=actor, kind=kind, detail=detail, at=at or utcnow()))

    def events(self, case_id: int) -> list[Event]:
        return list(self.s.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.id)))

    def add_decision_records(self, case_id: int, deployment_id: int, traces: Iterable[dict[str, Any]]) -> None:
        for trace in traces:
            self.s.add(DecisionRecord(case_id=case_id, deployment_id=deployment_id, decision=trace["decision"],
                                      table_version=trace["version"], task=trace.get("task", ""), trace=trace,
                                      at=utcnow()))

    def decision_records(self, case_id: int) -> list[DecisionRecord]:
        return list(self.s.scalars(select(DecisionRecord).where(DecisionRecord.case_id == case_id)
                                   .order_by(DecisionRecord.id)))

    def record_disqualification(self, case_id: int, entries: Iterable[dict[str, Any]]) -> None:
        """Art. 15: each liable person and their own unit, for the year of each entry."""
        existing = set(self.s.execute(select(Disqualification.kind, Disqualification.name)
                                      .where(Disqualification.case_id == case_id)).all())
        for e in entries:
            for kind, name, unit in (("person", e["person"], e.get("unit")), ("unit", e.get("unit"), None)):
                if name and (kind, name) not in existing:
                    existing.add((kind, name))
                    self.s.add(Disqualification(case_id=case_id, year=int(e["year"]), kind=kind, name=name, unit=unit))

    def disqualifications(self, year: int | None = None) -> list[Disqualification]:
        q = select(Disqualification).order_by(Disqualification.year, Disqualification.kind, Disqualification.name)
        if year is not None:
            q = q.where(Disqualification.year == year)
        return list(self.s.scalars(q))

    # ------------------------------------------------------------------ logins
    def failures(self, keys: Sequence[str], since: dt.datetime) -> dict[str, int]:
        """Failed logins per key within the window that started after ``since``."""
        rows = self.s.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(keys)),
                                                          LoginThrottle.window_start > since))
        return {r.key: r.failures for r in rows}

    def record_failure(self, keys: Sequence[str], now: dt.datetime, since: dt.datetime) -> None:
        """Count one failed login for each key (a new window when the last one is over); safe across processes."""
        for key in keys:
            row = self.s.scalar(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update())
            if row is None:
                self.s.add(LoginThrottle(key=key, window_start=now, failures=1))
            elif row.window_start <= since:
                row.window_start, row.failures = now, 1
            else:
                row.failures += 1
        self.s.flush()

    def clear_failures(self, key: str) -> None:
        self.s.execute(delete(LoginThrottle).where(LoginThrottle.key == key))

    def rate_limit_hit(self, key: str, now: float, expiry: float, amount: int = 1) -> int:
        """Count ``amount`` hits on a rate limit's key in one atomic statement (a new window when the last one is
        over); the hits in the window so far. Safe across processes on both databases."""
        if self.s.bind.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        table = RateLimit.__table__
        over = table.c.expires_at <= now
        q = upsert(table).values(key=key, hits=amount, expires_at=now + expiry)
        q = q.on_conflict_do_update(index_elements=[table.c.key], set_={
            "hits": case((over, amount), else_=table.c.hits + amount),
            "expires_at": case((over, now + expiry), else_=table.c.expires_at)}).returning(table.c.hits)
        return self.s.execute(q).scalar_one()

    def rate_limit(self, key: str, now: float) -> tuple[int, float]:
        """(hits, window end) of a rate limit's key; (0, now) when it has no window running."""
        row = self.s.execute(select(RateLimit.hits, RateLimit.expires_at).where(RateLimit.key == key,
                                                                                RateLimit.expires_at > now)).first()
        return (row.hits, row.expires_at) if row else (0, now)

    def clear_rate_limits(self, key: str | None = None, *, expired_before: float | None = None) -> int:
        q = delete(RateLimit)
        if key is not None:
            q = q.where(RateLimit.key == key)
        if expired_before is not None:
            q = q.where(RateLimit.expires_at <= expired_before)
        return self.s.execute(q).rowcount

    def add_session(self, session_id: str, username: str, now: dt.datetime) -> None:
        self.s.add(WebSession(id=session_id, username=username, created_at=now, last_seen=now))

    def session(self, session_id: str) -> WebSession | None:
        return self.s.get(WebSession, session_id)

    def drop_session(self, session_id: str) -> None:
        self.s.execute(delete(WebSession).where(WebSession.id == session_id))

    def drop_sessions_idle_since(self, since: dt.datetime) -> None:
        self.s.execute(delete(WebSession).where(WebSession.last_seen < since))

    # ------------------------------------------------------------------ evidence and drafts
    def add_attachment(self, case_id: int, task_id: str | None, filename: str, content_type: str, content: bytes,
                       by: str, *, draft: bool = False) -> Attachment:
        row = Attachment(case_id=case_id, task_id=task_id, filename=filename, content_type=content_type,
                         size=len(content), content=content, uploaded_by=by, at=utcnow(), draft=draft)
        self.s.add(row)
        self.s.flush()
        return row

    def attachment(self, attachment_id: int) -> Attachment | None:
        return self.s.get(Attachment, attachment_id)

    def attachments(self, case_id: int) -> list[Attachment]:
        """The case's evidence files (not the ones still waiting for their step)."""
        q = (select(Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size,
                    Attachment.uploaded_by, Attachment.at).where(Attachment.case_id == case_id,
                                                                 Attachment.draft.is_(False))
             .order_by(Attachment.id))
        return list(self.s.execute(q).all())

    def draft_attachments(self, task_id: str, username: str | None) -> list[Attachment]:
        """Files a person sent with a refused submission of a task, kept for their next try (``None``: everyone's)."""
        q = select(Attachment).where(Attachment.task_id == task_id, Attachment.draft.is_(True))
        if username is not None:
            q = q.where(Attachment.uploaded_by == username)
        return list(self.s.scalars(q.order_by(Attachment.id)))

    def drop_draft_attachments(self, task_id: str, username: str | None = None,
                               ids: Iterable[int] | None = None, keep: Iterable[int] = ()) -> None:
        """Delete a task's files still waiting for a step (one person's, or these ``ids``; never those in ``keep``)."""
        q = delete(Attachment).where(Attachment.task_id == task_id, Attachment.draft.is_(True))
        keep = list(keep)
        if keep:
            q = q.where(Attachment.id.not_in(keep))
        if username is not None:
            q = q.where(Attachment.uploaded_by == username)
        if ids is not None:
            q = q.where(Attachment.id.in_(list(ids)))
        self.s.execute(q)

    def draft(self, task_id: str, username: str) -> Draft | None:
        return self.s.get(Draft, (task_id, username))

    def save_draft(self, task_id: str, username: str, data: dict[str, Any]) -> None:
        row = self.s.get(Draft, (task_id, username))
        if row is None:
            self.s.add(Draft(task_id=task_id, username=username, data=data, saved_at=utcnow()))
        else:
            row.data, row.saved_at = data, utcnow()

    def drop_drafts(self, task_id: str) -> None:
        self.s.execute(delete(Draft).where(Draft.task_id == task_id))

    # ------------------------------------------------------------------ documents (notices and decisions)
    def next_document_number(self, kind: str, year: int) -> int:
        """The next number of a kind of document in a year, safe under concurrency: the counter row is created if
        missing (a racing creator is ignored) and then incremented with one UPDATE … RETURNING, whose row lock
        makes concurrent writers on PostgreSQL wait for each other (SQLite's write transaction holds the database
        lock already). Numbers are never reused; a rolled-back step gives its number back with it."""
        dialect = self.s.bind.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self.s.execute(insert(DocumentNumber).values(kind=kind, year=year, last=0)
                       .on_conflict_do_nothing(index_elements=["kind", "year"]))
        return self.s.execute(update(DocumentNumber).where(DocumentNumber.kind == kind, DocumentNumber.year == year)
                              .values(last=DocumentNumber.last + 1).returning(DocumentNumber.last)).scalar_one()

    def add_document(self, document: Document) -> Document:
        self.s.add(document)
        self.s.flush()
        return document

    def documents(self, case_id: int) -> list[Document]:
        """A case's documents, without their files, in the order they were issued."""
        return list(self.s.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.id)))

    def document(self, document_id: int) -> Document | None:
        return self.s.get(Document, document_id)

    def document_of(self, case_id: int, kind: str, person: str) -> Document | None:
        """The person's latest document of that kind in the case."""
        return self.s.scalar(select(Document).where(Document.case_id == case_id, Document.kind == kind,
                                                    Document.person == person).order_by(Document.id.desc()).limit(1))

    def document_keys(self, case_id: int) -> set[tuple[str, str, str]]:
        """(kind, person, ref) of every document a case has been issued."""
        return set(self.s.execute(select(Document.kind, Document.person, Document.ref)
                                  .where(Document.case_id == case_id)).all())

    # an outbox: documents are issued pending and rendered after the step, by a worker or by a download

    def documents_to_render(self, now: dt.datetime, lease: dt.timedelta, retry_after: dt.timedelta,
                            limit: int) -> list[Document]:
        """Pending documents nobody is rendering (no claim younger than ``lease``) and not failed within
        ``retry_after``, locked for this worker (FOR UPDATE SKIP LOCKED where supported); the caller claims them
        (:meth:`claim_documents`) before it commits, so another worker passes them by until the lease has passed."""
        q = (select(Document).where(Document.state == "pending", self._unclaimed(now, lease),
                                    or_(Document.failed_at.is_(None), Document.failed_at <= now - retry_after))
             .order_by(Document.id).limit(limit).with_for_update(skip_locked=True))
        return list(self.s.scalars(q))

    def claim_document(self, document_id: int, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Claim one document not yet rendered for rendering now, unless someone else's claim is younger than
        ``lease`` (one conditional UPDATE: of two callers at once, exactly one wins)."""
        done = self.s.execute(update(Document).where(Document.id == document_id, Document.state != "ready",
                                                     self._unclaimed(now, lease))
                              .values(claimed_at=now, attempts=Document.attempts + 1))
        return done.rowcount == 1

    def claim_documents(self, documents: Sequence[Document], now: dt.datetime) -> None:
        for doc in documents:
            doc.claimed_at, doc.attempts = now, doc.attempts + 1

    @staticmethod
    def _unclaimed(now: dt.datetime, lease: dt.timedelta):
        return or_(Document.claimed_at.is_(None), Document.claimed_at <= now - lease)

    def document_rendered(self, document_id: int, pdf: bytes, docx: bytes, template_hash: str) -> bool:
        """Store a document's files unless it has them already (then the first render stands); whether stored."""
        done = self.s.execute(update(Document).where(Document.id == document_id, Document.state != "ready")
                              .values(state="ready", pdf=pdf, docx=docx, template_hash=template_hash, error=None,
                                      claimed_at=None, failed_at=None))
        return done.rowcount == 1

    def document_render_failed(self, document_id: int, error: str, now: dt.datetime, final: bool) -> bool:
        """Record why a render failed: ``failed`` when no try is left, else pending for another try."""
        done = self.s.execute(update(Document).where(Document.id == document_id, Document.state != "ready")
                              .values(state="failed" if final else "pending", error=error, claimed_at=None,
                                      failed_at=now))
        return done.rowcount == 1

    def document_files(self, document_id: int) -> tuple[str, bytes | None, bytes | None, str | None]:
        """(state, pdf, docx, error) of a document, read fresh from the database."""
        row = self.s.execute(select(Document.state, Document.pdf, Document.docx, Document.error)
                             .where(Document.id == document_id)).one()
        return row.state, row.pdf, row.docx, row.error

    def next_document_render(self, lease: dt.timedelta, retry_after: dt.timedelta) -> dt.datetime | None:
        """When the next pending document may be rendered (the epoch when one may be now)."""
        pending = Document.state == "pending"
        if self.s.scalar(select(Document.id).where(pending, Document.claimed_at.is_(None),
                                                   Document.failed_at.is_(None)).limit(1)) is not None:
            return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        claimed = self.s.scalar(select(func.min(Document.claimed_at)).where(pending))
        failed = self.s.scalar(select(func.min(Document.failed_at)).where(pending, Document.claimed_at.is_(None)))
        times = [t + lease for t in (claimed,) if t] + [t + retry_after for t in (failed,) if t]
        return min(times) if times else None

    def decision_traces_of_table(self, decision: str, table_version: str) -> list[tuple[int, dict[str, Any]]]:
        """(case id, trace) of every evaluation of one decision table's exact content, whatever the deployment."""
        rows = self.s.execute(select(DecisionRecord.case_id, DecisionRecord.trace)
                              .where(DecisionRecord.decision == decision,
                                     DecisionRecord.table_version == table_version)
                              .order_by(DecisionRecord.id))
        return [(case_id, trace) for case_id, trace in rows]

    def decision_traces(self, decision: str, deployment_id: int) -> list[tuple[int, dict[str, Any]]]:
        """(case id, trace) of every evaluation of one decision on one deployment version."""
        rows = self.s.execute(select(DecisionRecord.case_id, DecisionRecord.trace)
                              .where(DecisionRecord.decision == decision,
                                     DecisionRecord.deployment_id == deployment_id)
                              .order_by(DecisionRecord.id))
        return [(case_id, trace) for case_id, trace in rows]
