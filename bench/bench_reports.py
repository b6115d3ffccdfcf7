"""Benchmark (run on demand, not a test): the registers and statistics page with many cases.

    .venv/bin/python bench/bench_reports.py [--database-url URL] [--cases 1000 10000] [--runs 20]

Fills the database with synthetic cases (bulk rows: channels, Art. 5 grounds, one to three respondents with
outcomes drawn from as many officers as cases, six steps each with due and finishing times, the Art. 15
register) and prints p50/p95 of the report
service's statistics (every count of the page), of the Art. 11(3) watch list, and of GET /reports as a whole
(login, queries, template). Compare within one run: the machine is shared and noisy.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from service.auth import Principal  # noqa: E402
from service.store.models import Case, CasePerson, Disqualification, Task  # noqa: E402
from service.store.statistics import CaseFilter  # noqa: E402
from service.web import build_services, create_app  # noqa: E402
from tests.databases import PASSWORD, prepare  # noqa: E402

OFFICE = Principal("office_li", frozenset({"office"}))
CHANNELS = ["self_report", "public_complaint", "superior_referral", "inspection"]
UNITS = [f"执法{i}科" for i in range(1, 13)]
STEPS = [("Task_register", "立案审查", 15), ("Task_investigate", "调查取证", 30),
         ("Task_conclude", "作出调查结论（逐人提出拟处理意见）", 15), ("Task_vote", "集体讨论决定（第七条）", 7),
         ("Task_serve", "制作并送达处理决定", 7), ("Task_recovery", "赔偿追偿（第十四条）", 30)]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def fill(services, total: int, rng: random.Random) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    persons_pool = [f"officer_{i:05d}" for i in range(max(total, 300))]  # about two respondents a year each
    with services.db.session() as s, s.begin():
        have = s.scalar(select(func.count()).select_from(Case)) or 0
        next_id = (s.scalar(select(func.max(Case.id))) or 0) + 1
        cases, persons, tasks, register = [], [], [], []
        for case_id in range(next_id, next_id + total - have):
            received = now - dt.timedelta(days=rng.uniform(0, 200))
            done = rng.randint(0, len(STEPS))  # steps done; all done: closed
            closed = done == len(STEPS)
            cases.append({"id": case_id, "deployment_id": 1, "channel": rng.choice(CHANNELS), "subject": "",
                          "unit": rng.choice(UNITS), "summary": "",
                          "grounds": rng.sample(range(1, 21), rng.randint(1, 3)),
                          "act_date": f"2026-{rng.randint(1, 12):02d}-10", "year": 2026,
                          "status": "closed" if closed else "open", "stage": "", "end_event": "结案" if closed else None,
                          "created_at": received, "updated_at": received, "version": 1})
            decided = done >= 4
            for person in rng.sample(persons_pool, rng.randint(1, 3)):
                liable = rng.random() < 0.7
                revoked = decided and liable and rng.random() < 0.1
                unit = rng.choice(UNITS)
                outcome = {"person": person, "liable": liable, "exempt": not liable and rng.random() < 0.5,
                           "tier": rng.randint(1, 4) if liable else None, "aggravated": rng.random() < 0.1,
                           "measure": "警告处分" if liable else None, "revoked": revoked} if done >= 3 else None
                persons.append({"case_id": case_id, "person": person, "role": "handler", "unit": unit, "year": 2026,
                                "outcome": outcome, "established": decided and liable and not revoked,
                                "served_on": "2026-06-01" if done >= 5 else None})
                if closed and liable and not revoked:
                    register.append({"case_id": case_id, "year": 2026, "kind": "person", "name": person, "unit": unit})
            at = received
            for i, (name, title, days) in enumerate(STEPS[:done + (0 if closed else 1)]):
                due = at + dt.timedelta(days=days)
                finished = at + dt.timedelta(days=rng.uniform(0, days * 1.3)) if i < done else None
                tasks.append({"id": str(uuid.uuid4()), "case_id": case_id, "name": name, "title": title,
                              "role": "office", "due": due, "state": "completed" if finished else "open",
                              "created_at": at, "finished_at": finished})
                at = finished or at
        for model, rows in ((Case, cases), (CasePerson, persons), (Task, tasks), (Disqualification, register)):
            for i in range(0, len(rows), 2000):
                if rows[i:i + 2000]:
                    s.execute(insert(model), rows[i:i + 2000])
    # the planner's statistics, as a running database has them (autovacuum on PostgreSQL): without them it
    # takes 10,000 freshly inserted cases for five and joins the steps row by row
    with services.db.engine.connect() as c:
        c.exec_driver_sql("ANALYZE")
        c.commit()


def timed(runs: int, call) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--cases", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='acc-bench-')}/bench.db"
    prepare(url)
    services = build_services(url)
    app = create_app(services=services, config={"TESTING": True, "WTF_CSRF_ENABLED": False,
                                                "RATELIMIT_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"username": "office_li", "password": PASSWORD}).status_code == 302
    rng = random.Random(7)
    print(f"database: {services.db.dialect}; {args.runs} runs per figure\n")
    print("cases     statistics p50/p95 (ms)   watch list p50/p95   GET /reports p50/p95")
    for total in sorted(args.cases):
        fill(services, total, rng)
        f = CaseFilter(year=2026)
        stats = timed(args.runs, lambda: services.reports.overview(OFFICE, f))
        watch = timed(args.runs, lambda: services.reports.watch_list(OFFICE, 2026))
        page = timed(args.runs, lambda: client.get("/reports?year=2026"))
        assert client.get("/reports?year=2026").status_code == 200
        print(f"{total:>6}    {pct(stats, 50):7.1f} / {pct(stats, 95):7.1f}       {pct(watch, 50):6.1f} / "
              f"{pct(watch, 95):6.1f}      {pct(page, 50):7.1f} / {pct(page, 95):7.1f}")


if __name__ == "__main__":
    main()
