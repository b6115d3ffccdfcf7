"""Benchmark (run on demand, not a test): task completion through the API and GET /tasks.

    .venv/bin/python bench/bench_api.py [--database-url URL] [--cases 1000 10000] [--runs 30]

Prints p50/p95 of completing a case's 1st step (立案审查) and 10th step (赔偿追偿) through the JSON API
(Flask test client: no network, so the figures are the service's own cost), against the floor:
SpiffWorkflow doing the same steps in-process with a serialize and restore per step. Then GET /tasks p95
for an office user with 1,000 and 10,000 cases in the database. Compare ratios within one run: the
machine is shared and noisy.
"""
from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.engine import ProcessEngine  # noqa: E402
from service.web import build_services, create_app  # noqa: E402
from tests.databases import PASSWORD, prepare  # noqa: E402

MEMBERS = ["lg_chen", "lg_wu", "lg_zhou"]
INTAKE = {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7],
          "summary": "未按程序送达", "act_date": "2026-03-02"}
STEPS = [  # (user, task, data): the ten user steps of a case with one respondent and a sanction
    ("office_li", "Task_register", {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"}]}),
    ("office_li", "Task_investigate", {"facts_found": "f", "evidence": ["e"], "investigators": ["a", "b"],
                                       "act_date": "2026-03-02"}),
    ("office_li", "Task_conclude", {"conclusion": "c", "findings": [
        {"person": "zhang_wei", "handler_fault": 5, "severity": "light"}]}),
    ("zhang_wei", "Task_statement", {"statement_waived": True}),
    *[(m, "Task_vote", {"vote": "approve"}) for m in MEMBERS],
    ("office_li", "Task_serve", {"decision_number": "n", "served_on": "2026-11-20", "service_method": "direct"}),
    ("zhang_wei", "Task_appeal", {"appeal": False}),
    ("office_li", "Task_recovery", {"compensation_paid": 0, "recovery": []}),
]
# the system facts the service would supply (the floor has no database to count Art. 11(3) from)
FACTS = {"leading_group_members": MEMBERS, "errors_by_person": {"zhang_wei": 1}, "case_id": 1, "today": "2026-11-20"}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def headers(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


def api_steps(client, runs: int) -> dict[int, list[float]]:
    times: dict[int, list[float]] = {1: [], 10: []}
    for _ in range(runs):
        case_id = client.post("/api/v1/cases", json=INTAKE, headers=headers("office_li")).get_json()["id"]
        for n, (user, name, data) in enumerate(STEPS, 1):
            task = client.get("/api/v1/tasks", query_string={"case_id": case_id, "name": name},
                              headers=headers(user)).get_json()["items"][0]
            start = time.perf_counter()
            response = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=headers(user))
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.get_json()
            if n in times:
                times[n].append(elapsed)
    return times


def floor_steps(engine: ProcessEngine, runs: int) -> dict[int, list[float]]:
    times: dict[int, list[float]] = {1: [], 10: []}
    for _ in range(runs):
        state = engine.serialize(engine.start(INTAKE, FACTS))
        for n, (user, name, data) in enumerate(STEPS, 1):
            start = time.perf_counter()
            case = engine.restore(state)
            task = next(t for t in engine.open_tasks(case) if t.name == name and t.assignee in (None, user))
            engine.complete(case, task.id, data, FACTS)
            state = engine.serialize(case)
            elapsed = time.perf_counter() - start
            if n in times:
                times[n].append(elapsed)
    return times


def fill(services, total: int) -> None:
    from service.auth import Principal
    office = Principal("office_li", frozenset({"office"}))
    with services.db.session() as s:
        from sqlalchemy import func, select
        from service.store.models import Case
        have = s.scalar(select(func.count()).select_from(Case)) or 0
    for _ in range(total - have):
        services.cases.start_case(office, INTAKE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--cases", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='acc-bench-')}/bench.db"
    prepare(url)
    services = build_services(url)
    client = create_app(services=services, config={"TESTING": True}).test_client()
    print(f"database: {services.db.dialect}; {args.runs} cases per figure")

    api = api_steps(client, args.runs)
    floor = floor_steps(ProcessEngine.from_folders(ROOT / "processes", ROOT / "forms"), args.runs)
    print("\ntask completion (ms)          p50     p95")
    for n, label in ((1, "1st step (立案审查)"), (10, "10th step (赔偿追偿)")):
        print(f"  API, {label:<22} {pct(api[n], 50):6.1f}  {pct(api[n], 95):6.1f}")
        print(f"  floor, {label:<20} {pct(floor[n], 50):6.1f}  {pct(floor[n], 95):6.1f}"
              f"   (API/floor p50 ×{pct(api[n], 50) / pct(floor[n], 50):.1f})")

    print("\nGET /tasks for the office (ms)   p50     p95")
    for total in sorted(args.cases):
        fill(services, total)
        times = []
        for _ in range(50):
            start = time.perf_counter()
            response = client.get("/api/v1/tasks", query_string={"per_page": 50}, headers=headers("office_li"))
            times.append(time.perf_counter() - start)
            assert response.status_code == 200
        print(f"  {total:>6} cases in the database  {pct(times, 50):6.1f}  {pct(times, 95):6.1f}"
              f"   ({response.get_json()['total']} open tasks)")


if __name__ == "__main__":
    main()
