"""The documents' outbox (run on demand, not a test): what a step costs now that it issues its documents pending,
against the step as it was, rendering PDF and Word inside its transaction.

    PYTHONPATH=. .venv/bin/python bench/documents_outbox.py [--rounds 5] [--pg-url URL]

Two steps of a three-respondent case (handler, reviewer, approver), each issuing three documents: the registration
step (三份立案通知书) and the leading group's approving vote, the last of three (三份处理决定书). For each it times
the step alone (what the office waits for now) and the render of that step's documents right after it (the worker's
drain, the work the step used to do inside its transaction and case lock); "before / after" is their sum over the
step, measured in the same run on the same database. The median of ``--rounds`` cases, on SQLite and (with
``--pg-url`` or $TEST_DATABASE_URL) on PostgreSQL. On a tree without the outbox (no ``render_pending_documents``)
it times the steps only: those are the true "before" figures, to put beside this run's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # PYTHONPATH first: the tree being measured

from service.auth import Principal  # noqa: E402
from tests.databases import PostgresTemplate, SqliteTemplate  # noqa: E402
from tests.test_persons_service import FINDINGS, RESPONDENTS  # noqa: E402 - the three-respondent case the tests take

OFFICE = Principal("office_li", frozenset({"office"}))
MEMBERS = [Principal(m, frozenset({"leading_group"})) for m in ("lg_chen", "lg_wu", "lg_zhou")]
CHOICES = [{"person": p, "measure": "警告处分"} for p in ("wang_fang", "liu_yang")]  # the tier offers several
_YEARS = iter(range(2000, 2100))  # each case its own year of the act: no earlier errors aggravate a later case


def _step(svc, who: Principal, case_id: int, name: str, data: dict) -> float:
    (task, *_) = svc.list_tasks(who, filters={"case_id": case_id, "name": name}).items
    start = time.perf_counter()
    try:
        svc.complete(who, task["id"], data)
    except Exception as exc:
        raise SystemExit(f"{name}: {getattr(exc, 'fields', exc)}")
    return time.perf_counter() - start


def _drain(svc) -> float:
    start = time.perf_counter()
    if hasattr(svc, "render_pending_documents"):
        while svc.render_pending_documents():
            pass
    return time.perf_counter() - start


def one_case(svc) -> dict[str, tuple[float, float]]:
    """(step, drain after it) in seconds, for the registration step and the approving vote of one case."""
    act_date = f"{next(_YEARS)}-03-02"
    case_id = svc.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                      "grounds": [7], "summary": "s", "act_date": act_date})["id"]
    out = {"registration": (_step(svc, OFFICE, case_id, "Task_register",
                                  {"register": True, "grounds": [7], "respondents": RESPONDENTS}), _drain(svc))}
    _step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明的事实", "evidence": ["案卷"],
                                                     "investigators": ["office_li", "office_sun"],
                                                     "act_date": act_date})
    _step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": FINDINGS})
    for r in RESPONDENTS:
        _step(svc, Principal(r["person"]), case_id, "Task_statement", {"statement_waived": True})
    _drain(svc)
    vote = {"vote": "approve", "measure_choices": CHOICES}  # the serious tiers offer several: the group fixes one
    for member in MEMBERS[:-1]:
        _step(svc, member, case_id, "Task_vote", vote)
    out["approving vote"] = (_step(svc, MEMBERS[-1], case_id, "Task_vote", vote), _drain(svc))
    return out


def run(name: str, url: str, rounds: int) -> None:
    from service.web import build_services
    services = build_services(url)
    try:
        one_case(services.cases)  # warm up: templates, fonts, the engine's caches
        results = [one_case(services.cases) for _ in range(rounds)]
    finally:
        services.db.dispose()
    outbox = hasattr(services.cases, "render_pending_documents")
    for what in ("registration", "approving vote"):
        step = statistics.median(r[what][0] for r in results)
        drain = statistics.median(r[what][1] for r in results)
        line = f"{name:10s} {what:15s} step {step * 1000:7.0f} ms"
        if outbox:
            line += (f"   render after it {drain * 1000:6.0f} ms   before/after "
                     f"{(step + drain) / step:4.1f}x")
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg-url", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    databases = [("sqlite", SqliteTemplate)] + ([("postgresql", lambda: PostgresTemplate(args.pg_url))]
                                                if args.pg_url else [])
    for name, make in databases:
        template = make()
        url = template.new()
        try:
            run(name, url, args.rounds)
        finally:
            template.drop(url)
            template.close()


if __name__ == "__main__":
    main()
