"""The registers and statistics (/reports): the Art. 11(3) watch list, cases by channel, Art. 5 ground, outcome,
tier, current step and age, and how often the steps kept their time limits.

Who may read them (政策): the office and the leading group; compliance reviewers read the statistics and the
registers but see the watch list only as a number (it names persons whose next established error would be
heavier, which only those who handle and decide cases need). Nothing here reads a reporter (Art. 5(12)).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable

from .auth import Principal
from .cases.intake import LOCAL_TIME
from .decisions import DecisionError
from .deployments import Deployments
from .errors import Forbidden
from .store.db import Database
from .store.models import utcnow
from .store.statistics import CaseFilter, Statistics

FULL = frozenset({"office", "leading_group"})
READ_ONLY = frozenset({"reviewer"})
# 政策: the age buckets of open cases, in days since the office received them
AGE_BOUNDS = (15, 30, 60, 90)
# the regulation's own words for each Art. 12 item, shown beside the tier
TIERS = {1: "第十二条第（一）项 性质轻微", 2: "第十二条第（二）项 性质较轻，影响较小",
         3: "第十二条第（三）项 性质较重，影响较大", 4: "第十二条第（四）项 性质严重，影响重大",
         5: "第十二条第（五）项 构成犯罪"}
OUTCOMES = {"liable": "承担责任（已送达）", "liable_unserved": "承担责任（已决定，待送达）", "revoked": "申诉后撤销",
            "exempt": "免予追究（已送达）", "not_liable": "不承担责任（已送达）", "not_registered": "不予立案",
            "pending": "尚未作出决定"}
ART_11_3 = "第十一条：“有下列情形之一的，应从重追究：……（3）全年累计发生三次（含三次）以上行政执法过错的；”"


def may_read(principal: Principal) -> bool:
    return bool(principal.roles & (FULL | READ_ONLY))


def sees_watch_list(principal: Principal) -> bool:
    return bool(principal.roles & FULL)


class ReportService:
    def __init__(self, db: Database, deployments: Deployments, clock: Callable[[], dt.datetime] = utcnow):
        self.db = db
        self.deployments = deployments
        self.clock = clock

    def _check(self, principal: Principal) -> None:
        if not may_read(principal):
            raise Forbidden("the registers and statistics are for the office, the leading group and reviewers")

    def this_year(self) -> int:
        return self.clock().year

    def choices(self, principal: Principal) -> dict[str, Any]:
        """What the filters offer: the act years with cases (and this year), channels, units."""
        self._check(principal)
        with self.db.session() as s:
            stats = Statistics(s)
            years = sorted(set(stats.years()) | {self.this_year()}, reverse=True)
            units = stats.units()
        return {"years": years, "channels": self._labels("intake", "channel"), "units": units}

    def _labels(self, form: str, field: str) -> dict[Any, str]:
        """Choice labels as the deployed forms name them (owners edit them there)."""
        engine = self.deployments.engine(self.deployments.current())
        prop = engine.forms.schema(form)["properties"][field]
        choices = prop.get("oneOf") or (prop.get("items") or {}).get("oneOf") or []
        return {c["const"]: c.get("title", str(c["const"])) for c in choices}

    def overview(self, principal: Principal, f: CaseFilter) -> dict[str, Any]:
        """Every statistic of the cases the filter selects and their time-limit compliance (the /reports page)."""
        stats, compliance = self.statistics(principal, f), self.compliance(principal, f)
        stats["totals"]["on_time_rate"] = compliance["deadline_totals"]["rate"]
        return {**stats, **compliance}

    def statistics(self, principal: Principal, f: CaseFilter) -> dict[str, Any]:
        """The counts of the cases the filter selects, by each dimension (received dates are the office's local
        days)."""
        self._check(principal)
        f = dataclasses.replace(f, zone=LOCAL_TIME)
        now = self.clock()
        channels, grounds = self._labels("intake", "channel"), self._labels("registration", "grounds")
        with self.db.session() as s:
            stats = Statistics(s)
            totals = stats.totals(f)
            by_channel = dict(stats.by_channel(f))
            by_ground = stats.by_ground(f)
            by_status = stats.by_status(f)
            outcomes = dict(stats.person_outcomes(f))
            tiers = stats.by_tier(f)
            steps = stats.by_step(f)
            ages = stats.by_age(f, now, AGE_BOUNDS)
        channel_rows = [{"key": k, "label": label, "count": by_channel.pop(k, 0)} for k, label in channels.items()]
        channel_rows += [{"key": k, "label": k, "count": n} for k, n in by_channel.items()]  # a channel since removed
        status_rows = [{"key": "open" if st == "open" else (end or "closed"),
                        "label": "办理中" if st == "open" else (end or "已结案"), "count": n} for st, end, n in by_status]
        age_labels = [f"{lo + 1 if lo else 0}–{hi} 天" for lo, hi in zip((0,) + AGE_BOUNDS, AGE_BOUNDS)]
        age_labels.append(f"{AGE_BOUNDS[-1]} 天以上")
        return {
            "totals": {**totals, "persons_liable": outcomes.get("liable", 0) + outcomes.get("liable_unserved", 0)},
            "channel": channel_rows,
            "ground": [{"key": g, "label": grounds.get(g, f"第五条第（{g}）项"), "count": n} for g, n in by_ground],
            "status": status_rows,
            "outcome": [{"key": k, "label": label, "count": outcomes[k]} for k, label in OUTCOMES.items()
                        if outcomes.get(k)],
            "tier": [{"key": t, "label": TIERS.get(t, "未定档次") if t else "未定档次", "count": n, "aggravated": a}
                     for t, n, a in tiers],
            "step": [{"key": n or "", "label": t or "无待办（等待期限届满）", "count": c} for n, t, c in steps],
            "age": [{"key": i, "label": label, "count": n} for i, (label, n) in enumerate(zip(age_labels, ages))],
        }

    def compliance(self, principal: Principal, f: CaseFilter) -> dict[str, Any]:
        """Time-limit compliance of the cases the filter selects: per step with a due date, the steps done on time,
        late, open past the limit and open within it, and the on-time rate."""
        self._check(principal)
        f = dataclasses.replace(f, zone=LOCAL_TIME)
        now = self.clock()
        with self.db.session() as s:
            deadlines = Statistics(s).deadlines(f, now)
        deadline_rows = [{"key": n, "label": t, "on_time": a, "late": b, "overdue": c, "pending": d,
                          "rate": _rate(a, a + b + c)} for n, t, a, b, c, d in deadlines]
        on_time = sum(r["on_time"] for r in deadline_rows)
        due = sum(r["on_time"] + r["late"] + r["overdue"] for r in deadline_rows)
        return {
            "deadlines": deadline_rows,
            "deadline_totals": {"on_time": on_time, "late": sum(r["late"] for r in deadline_rows),
                                "overdue": sum(r["overdue"] for r in deadline_rows),
                                "pending": sum(r["pending"] for r in deadline_rows), "rate": _rate(on_time, due)},
        }

    def aggravation_threshold(self) -> int | None:
        """The yearly count at which the current `aggravation` table makes an error heavier (Art. 11(3)): the
        smallest count that matches a rule when nothing else would. None when the table has no such rule."""
        catalog = self.deployments.engine(self.deployments.current()).catalog
        base = {"corruption": False, "lost_lawsuit": False, "concealed": False, "self_reported": True}
        try:
            if catalog.evaluate("aggravation", {**base, "errors_this_year": 0}).trace["selected"]:
                return None
            for n in range(1, 51):
                if catalog.evaluate("aggravation", {**base, "errors_this_year": n}).trace["selected"]:
                    return n
        except DecisionError:
            return None
        return None

    def watch_list(self, principal: Principal, year: int) -> dict[str, Any]:
        """Art. 11(3): the persons whose established errors in acts of ``year`` are one short of the count that
        makes the next one heavier, or already at it, each with the errors behind the count. The count is the
        case service's (decided, not revoked, any role). Reviewers get the number of persons only."""
        self._check(principal)
        threshold = self.aggravation_threshold()
        result: dict[str, Any] = {"year": year, "threshold": threshold, "quote": ART_11_3,
                                  "hidden": not sees_watch_list(principal), "persons": [], "count": 0}
        if threshold is None:
            return result
        at_least = max(threshold - 1, 1)
        result["at_least"] = at_least
        with self.db.session() as s:
            stats = Statistics(s)
            counts = stats.established_counts(year, at_least)
            errors = stats.established_errors(year, [p for p, _ in counts]) if result["hidden"] is False else []
        result["count"] = len(counts)
        if result["hidden"]:
            return result
        by_person: dict[str, list[dict[str, Any]]] = {}
        for e in errors:
            by_person.setdefault(e["person"], []).append(e)
        result["persons"] = [{"person": p, "count": n, "reached": n >= threshold,
                              "units": sorted({e["unit"] for e in by_person.get(p, []) if e["unit"]}),
                              "errors": by_person.get(p, [])} for p, n in counts]
        return result


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
