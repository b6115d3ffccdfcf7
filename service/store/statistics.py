"""Counts for the registers and statistics page (/reports): aggregated in SQL, on SQLite and PostgreSQL alike.

Read-only queries in the caller's session. No query here reads a reporter (Art. 5(12)).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import Integer, and_, case, cast, distinct, func, or_, select, true
from sqlalchemy.orm import Session

from .models import Case, CasePerson, Task


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a statistic counts: the act's calendar year, the channel, the unit of a respondent, and the
    days the office received the case (inclusive, days as they are in ``zone``)."""

    year: int | None = None
    channel: str | None = None
    unit: str | None = None
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    zone: dt.tzinfo = dt.timezone.utc


def _day_start(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


class Statistics:
    def __init__(self, session: Session):
        self.s = session

    # ------------------------------------------------------------------ which cases
    @staticmethod
    def _where(f: CaseFilter) -> list[Any]:
        """The filter as conditions on ``cases`` (queries of respondents and steps join their case)."""
        conds: list[Any] = []
        if f.year is not None:
            conds.append(Case.year == f.year)
        if f.channel:
            conds.append(Case.channel == f.channel)
        if f.unit:
            conds.append(or_(Case.unit == f.unit,
                             Case.id.in_(select(CasePerson.case_id).where(CasePerson.unit == f.unit))))
        if f.received_from is not None:
            conds.append(Case.created_at >= _day_start(f.received_from, f.zone))
        if f.received_to is not None:
            conds.append(Case.created_at < _day_start(f.received_to + dt.timedelta(days=1), f.zone))
        return conds

    def years(self) -> list[int]:
        """The act years that have cases, newest first."""
        return list(self.s.scalars(select(Case.year).distinct().order_by(Case.year.desc())))

    def units(self) -> list[str]:
        """Every unit a case or a respondent names, for the filter."""
        names = set(self.s.scalars(select(Case.unit).distinct()))
        names |= set(self.s.scalars(select(CasePerson.unit).distinct()))
        return sorted(n for n in names if n)

    # ------------------------------------------------------------------ cases
    def totals(self, f: CaseFilter) -> dict[str, int]:
        row = self.s.execute(select(func.count(), func.sum(case((Case.status == "open", 1), else_=0)),
                                    func.sum(case((Case.status == "closed", 1), else_=0)))
                             .select_from(Case).where(*self._where(f))).one()
        return {"cases": row[0] or 0, "open": row[1] or 0, "closed": row[2] or 0}

    def by_channel(self, f: CaseFilter) -> list[tuple[str, int]]:
        rows = self.s.execute(select(Case.channel, func.count()).where(*self._where(f))
                              .group_by(Case.channel).order_by(Case.channel))
        return [(c, n) for c, n in rows]

    def by_status(self, f: CaseFilter) -> list[tuple[str, str | None, int]]:
        """(status, end event, count): open cases, and closed cases by how they ended."""
        rows = self.s.execute(select(Case.status, Case.end_event, func.count()).where(*self._where(f))
                              .group_by(Case.status, Case.end_event).order_by(Case.status.desc(), Case.end_event))
        return [(s, e, n) for s, e, n in rows]

    def by_ground(self, f: CaseFilter) -> list[tuple[int, int]]:
        """Cases per Art. 5 item: a case registered on several items counts once under each."""
        if self.s.bind.dialect.name == "postgresql":
            items = func.jsonb_array_elements_text(Case.grounds).table_valued("value").lateral()
            ground = cast(items.c.value, Integer)
            q = (select(ground, func.count(distinct(Case.id))).select_from(Case).join(items, true())
                 .where(func.jsonb_typeof(Case.grounds) == "array", items.c.value.op("~")(r"^[0-9]{1,2}$")))
        else:
            items = func.json_each(Case.grounds).table_valued("value", "type")
            ground = cast(items.c.value, Integer)
            q = (select(ground, func.count(distinct(Case.id))).select_from(Case).join(items, true())
                 .where(func.json_type(Case.grounds) == "array", items.c.type == "integer"))
        rows = self.s.execute(q.where(*self._where(f)).group_by(ground).order_by(ground))
        return [(g, n) for g, n in rows]

    def by_step(self, f: CaseFilter) -> list[tuple[str | None, str | None, int]]:
        """Open cases by the step they wait in (diagram id, title); a case waiting in several counts under each,
        and one waiting only for a period to end is counted with (None, None)."""
        conds = [*self._where(f), Case.status == "open"]
        waiting = (select(Task.name, func.max(Task.title), func.count(distinct(Task.case_id)))
                   .join(Case, Case.id == Task.case_id).where(Task.state == "open", *conds).group_by(Task.name)
                   .order_by(func.count(distinct(Task.case_id)).desc(), Task.name))
        rows: list[tuple[str | None, str | None, int]] = [(n, t, c) for n, t, c in self.s.execute(waiting)]
        idle = self.s.scalar(select(func.count()).select_from(Case).where(*conds, Case.id.not_in(
            select(Task.case_id).where(Task.state == "open"))))
        if idle:
            rows.append((None, None, idle))
        return rows

    def by_age(self, f: CaseFilter, now: dt.datetime, bounds: Sequence[int]) -> list[int]:
        """Open cases by days since the office received them: one count per bucket, the buckets ending at each of
        ``bounds`` (days, ascending) and one beyond the last."""
        whens = [(Case.created_at >= now - dt.timedelta(days=d), i) for i, d in enumerate(bounds)]
        bucket = case(*whens, else_=len(bounds))
        rows = dict(self.s.execute(select(bucket, func.count()).where(*self._where(f), Case.status == "open")
                                   .group_by(bucket)).all())
        return [rows.get(i, 0) for i in range(len(bounds) + 1)]

    # ------------------------------------------------------------------ persons
    def person_outcomes(self, f: CaseFilter) -> list[tuple[str, int]]:
        """Respondents by where their own outcome stands: decided and served, decided and awaiting service,
        revoked on appeal, not registered, or not yet decided."""
        o = CasePerson.outcome
        served = CasePerson.served_on.is_not(None)
        bucket = case(
            (o["revoked"].as_boolean().is_(True), "revoked"),
            (and_(CasePerson.established.is_(True), served), "liable"),
            (CasePerson.established.is_(True), "liable_unserved"),
            (and_(served, o["exempt"].as_boolean().is_(True)), "exempt"),
            (served, "not_liable"),
            (and_(Case.status == "closed", o["liable"].as_boolean().is_(None)), "not_registered"),
            else_="pending")
        rows = self.s.execute(select(bucket, func.count()).select_from(CasePerson)
                              .join(Case, Case.id == CasePerson.case_id).where(*self._where(f)).group_by(bucket))
        return [(b, n) for b, n in rows]

    def by_tier(self, f: CaseFilter) -> list[tuple[int | None, int, int]]:
        """Persons held liable (not revoked) by Art. 12 tier: (tier, persons, of whom aggravated)."""
        o = CasePerson.outcome
        tier = o["tier"].as_integer()
        aggravated = case((o["aggravated"].as_boolean().is_(True), 1), else_=0)
        rows = self.s.execute(select(tier, func.count(), func.sum(aggravated)).join(Case, Case.id == CasePerson.case_id)
                              .where(*self._where(f), CasePerson.established.is_(True))
                              .group_by(tier).order_by(tier))
        return [(t, n, a or 0) for t, n, a in rows]

    # ------------------------------------------------------------------ time limits
    def deadlines(self, f: CaseFilter, now: dt.datetime) -> list[tuple[str, str, int, int, int, int]]:
        """The office's and the leading group's steps that have a time limit, per step: (diagram id, title, done in
        time, done late, open past the limit, open within it). A respondent's own period (statement, appeal) is
        their right and ends by its timer: not counted. Cancelled steps are not counted."""
        done = Task.state == "completed"
        on_time = func.sum(case((and_(done, Task.finished_at <= Task.due), 1), else_=0))
        late = func.sum(case((and_(done, Task.finished_at > Task.due), 1), else_=0))
        overdue = func.sum(case((and_(Task.state == "open", Task.due < now), 1), else_=0))
        pending = func.sum(case((and_(Task.state == "open", Task.due >= now), 1), else_=0))
        q = (select(Task.name, func.max(Task.title), on_time, late, overdue, pending)
             .join(Case, Case.id == Task.case_id)
             .where(Task.due.is_not(None), Task.role.is_not(None), Task.state.in_(("completed", "open")),
                    *self._where(f))
             .group_by(Task.name).order_by(func.min(Task.created_at), Task.name))
        return [(n, t, a or 0, b or 0, c or 0, d or 0) for n, t, a, b, c, d in self.s.execute(q)]

    # ------------------------------------------------------------------ Art. 11(3)
    def established_counts(self, year: int, at_least: int) -> list[tuple[str, int]]:
        """Persons with at least ``at_least`` established errors (decided, not revoked) in acts of ``year``, in
        any role: the count the case service feeds to Art. 11(3) (Store.count_established)."""
        n = func.count()
        rows = self.s.execute(select(CasePerson.person, n)
                              .where(CasePerson.year == year, CasePerson.established.is_(True))
                              .group_by(CasePerson.person).having(n >= at_least)
                              .order_by(n.desc(), CasePerson.person))
        return [(p, c) for p, c in rows]

    def established_errors(self, year: int, persons: Sequence[str]) -> list[dict[str, Any]]:
        """The established errors behind those counts: person, case, role, unit, act date, measure."""
        if not persons:
            return []
        rows = self.s.execute(select(CasePerson.person, CasePerson.case_id, CasePerson.role, CasePerson.unit,
                                     Case.act_date, CasePerson.outcome["measure"].as_string())
                              .join(Case, Case.id == CasePerson.case_id)
                              .where(CasePerson.year == year, CasePerson.established.is_(True),
                                     CasePerson.person.in_(list(persons)))
                              .order_by(CasePerson.person, Case.act_date, CasePerson.case_id))
        return [{"person": p, "case_id": c, "role": r, "unit": u, "act_date": a, "measure": m}
                for p, c, r, u, a, m in rows]
