"""Times on the pages in office time (``ACCOUNTABILITY_TIMEZONE``, default Asia/Shanghai), never raw UTC.

The store keeps UTC; an ISO text or datetime without an offset is UTC. Deadlines end at 23:59:59 office time, so
their office date is the last day of the period."""
from __future__ import annotations

import datetime as dt

from ..workdays import office_zone


def _parse(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(office_zone())


def local_time(value: str | dt.datetime | None) -> str:
    """``2026-11-27 01:28``: a stored time as office time, to the minute ('' when there is none)."""
    when = _parse(value)
    if when is None:
        return "" if not value else str(value)[:16].replace("T", " ")
    return when.strftime("%Y-%m-%d %H:%M")


def local_date(value: str | dt.datetime | dt.date | None) -> str:
    """``2026-12-08``: the office-time date of a stored time (a date stays as it is)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    when = _parse(value)
    if when is None:
        return "" if not value else str(value)[:10]
    return when.date().isoformat()
