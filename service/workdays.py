"""Working days (工作日) and time limits.

Official holidays and the State Council's adjusted working days (调休) come from the ``chinesecalendar``
package (``import chinese_calendar``); the office's own closures (a typhoon day, a move) and extra working days
come from an override file the office maintains, ``calendar/overrides.yaml`` (another file with
``ACCOUNTABILITY_CALENDAR``). The file is re-read when it changes, so a closure entered today counts for every
limit computed from now on (limits already computed keep their date).

A time limit is an ISO-8601 duration. How it is counted (政策, following the rules on periods in Chinese
procedural law — 期间开始的日不计算在内, and a period whose last day is a holiday ends on the next working day):

* a limit in days, weeks, months or years starts the day after the step began and ends at the end of its last
  day (24:00 office time, ``ACCOUNTABILITY_TIMEZONE``, default Asia/Shanghai);
* counted in **working days** (``days = working``), only working days count: weekends and official holidays do
  not, 调休 Saturdays and Sundays do, and the office's closures do not;
* counted in **calendar days** (the default), a month ends on the same day of the month (or the month's last day);
  when the last day is not a working day, the limit ends at the end of the next working day;
* a limit in hours, minutes or seconds (``PT3S``) is exact, from the moment the step began.

For a year the package does not know yet (the State Council publishes each year's schedule in the autumn before),
Monday to Friday are working days, with the office's overrides; updating the package brings the official days.
"""
from __future__ import annotations

import calendar as _calendar
import datetime as dt
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OVERRIDES = ROOT / "calendar" / "overrides.yaml"
WORKING, CALENDAR = "working", "calendar"
_DURATION = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class LimitError(ValueError):
    """A time limit that cannot be computed (the message says what to write instead)."""


def office_zone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("ACCOUNTABILITY_TIMEZONE", "Asia/Shanghai"))


@dataclass(frozen=True)
class Duration:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @property
    def exact(self) -> bool:
        """Hours, minutes or seconds only: counted from the moment, not in days."""
        return not (self.years or self.months or self.weeks or self.days)


def parse_duration(text: str) -> Duration:
    """``P15D``, ``P1M``, ``P2W``, ``PT3S`` …; a mix of days and hours is refused (a limit is one or the other)."""
    m = _DURATION.match(str(text).strip().upper())
    if not m:
        raise LimitError(f"“{text}”不是 ISO-8601 时长，应写成 P15D、P1M 或 PT1H 这样的形式")
    d = Duration(*(int(g or 0) for g in m.groups()))
    if not d.exact and (d.hours or d.minutes or d.seconds):
        raise LimitError(f"“{text}”混用了天和小时：期限请只用天（P15D）或只用小时（PT36H）表示")
    return d


class WorkCalendar:
    """Which days are working days: the official schedule plus the office's overrides."""

    def __init__(self, closed: dict[dt.date, str] | None = None, open_: dict[dt.date, str] | None = None):
        self.closed = dict(closed or {})
        self.open = dict(open_ or {})

    @classmethod
    def from_file(cls, path: Path) -> "WorkCalendar":
        """Read an override file (see calendar/overrides.yaml); a mistake in it is an error naming the entry."""
        if not path.exists():
            return cls()
        try:  # every value read as text: a date is checked here, with the entry named
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}
        except yaml.YAMLError as exc:
            raise LimitError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict) or set(data) - {"closed", "open"}:
            raise LimitError(f"{path}: expected the keys 'closed' and 'open' (lists of {{date, reason}})")
        lists = {}
        for key in ("closed", "open"):
            entries = {}
            for i, item in enumerate(data.get(key) or []):
                day = item.get("date") if isinstance(item, dict) else None
                if isinstance(day, str):
                    try:
                        day = dt.date.fromisoformat(day)
                    except ValueError:
                        day = None
                if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                    raise LimitError(f"{path}: {key}[{i}] needs a date written YYYY-MM-DD")
                entries[day] = str(item.get("reason") or "")
            lists[key] = entries
        both = set(lists["closed"]) & set(lists["open"])
        if both:
            raise LimitError(f"{path}: {min(both)} is both closed and open")
        return cls(lists["closed"], lists["open"])

    @staticmethod
    def official(day: dt.date) -> bool | None:
        """The State Council's answer for the day, or None for a year the package does not cover."""
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            return None

    def is_workday(self, day: dt.date) -> bool:
        if day in self.closed:
            return False
        if day in self.open:
            return True
        official = self.official(day)
        return day.weekday() < 5 if official is None else official

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The ``count``-th working day after ``start`` (``start`` itself not counted)."""
        day = start
        for _ in range(count):
            day += dt.timedelta(days=1)
            while not self.is_workday(day):
                day += dt.timedelta(days=1)
        return day

    def next_workday(self, day: dt.date) -> dt.date:
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def last_day(self, start: dt.date, duration: str | Duration, counting: str = CALENDAR) -> dt.date:
        """The last day of a limit in days, weeks, months or years that starts the day after ``start``."""
        d = parse_duration(duration) if isinstance(duration, str) else duration
        if d.exact:
            raise LimitError("a limit in hours, minutes or seconds has no last day; use days (P1D)")
        if counting == WORKING:
            if d.years or d.months:
                raise LimitError("working days are counted in days or weeks (P15D, P2W), not in months or years")
            return self.add_working_days(start, d.days + 7 * d.weeks)
        if counting != CALENDAR:
            raise LimitError(f"days are counted '{WORKING}' or '{CALENDAR}', not '{counting}'")
        return self.next_workday(_add_months(start, 12 * d.years + d.months) + dt.timedelta(days=d.days + 7 * d.weeks))

    def limit_end(self, start: dt.datetime, duration: str, counting: str = CALENDAR) -> dt.datetime:
        """When a limit that starts at ``start`` (aware) ends, in UTC."""
        d = parse_duration(duration)
        if d.exact:
            return (start + dt.timedelta(hours=d.hours, minutes=d.minutes, seconds=d.seconds)).astimezone(dt.timezone.utc)
        zone = office_zone()
        return end_of_day(self.last_day(start.astimezone(zone).date(), d, counting))


def end_of_day(day: dt.date) -> dt.datetime:
    """The last second of a day in office time, in UTC."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), office_zone()).astimezone(dt.timezone.utc)


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(office_zone()).date()


def _add_months(day: dt.date, months: int) -> dt.date:
    if not months:
        return day
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


_lock = threading.Lock()
_cache: dict[str, tuple[float, WorkCalendar]] = {}


def overrides_path() -> Path:
    return Path(os.environ.get("ACCOUNTABILITY_CALENDAR") or DEFAULT_OVERRIDES)


def work_calendar() -> WorkCalendar:
    """The calendar in force: re-read whenever the override file changes."""
    path = overrides_path()
    mtime = path.stat().st_mtime if path.exists() else -1.0
    with _lock:
        cached = _cache.get(str(path))
        if cached is None or cached[0] != mtime:
            cached = (mtime, WorkCalendar.from_file(path))
            _cache[str(path)] = cached
        return cached[1]
