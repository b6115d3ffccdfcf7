"""What one task completion costs, and where (run on demand, not a test).

    .venv/bin/python bench/bench_steps.py [--baseline TREE] [--databases sqlite postgresql] [--runs N]
                                          [--list] [--profile FILE]

For each database: the SQL statements one completion through the API issues (counted with SQLAlchemy's
``before_cursor_execute``, the 1st and 10th step of a case, and the mean over its ten steps), the time per step
against the floor (SpiffWorkflow doing the same step in-process with a restore and a serialize), the 10th step
against the 1st, and the size of the case's serialized workflow after the 1st and 10th step.

``--baseline TREE`` runs the same measurement on another checkout (say the main branch's worktree) in a
subprocess first, and prints both side by side: before/after figures from one run on one machine.
``--list`` prints every statement of a typical step (the 5th, a member's vote) with the service code that issued it.
``--profile FILE`` writes a cProfile of that step (or of ``--profile-step N``) (stdlib; open with ``python -m pstats FILE``).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.lists import basic, pct  # noqa: E402
from bench.seed import FACTS_FLOOR, INTAKE, STEPS, floor_step  # noqa: E402
from service.engine import ProcessEngine  # noqa: E402
from service.web import build_services, create_app  # noqa: E402
from tests.databases import postgres_admin_url, prepare  # noqa: E402

CONFIG = {"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}
TYPICAL = 5  # the step whose statements --list prints: the second member's vote


class Statements:
    """Counts the statements an engine issues; with ``where`` it keeps each with the service code issuing it."""

    def __init__(self, engine) -> None:
        self.on, self.where, self.seen = False, False, []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not self.on:
            return
        origin = ""
        if self.where:
            frames = [f for f in traceback.extract_stack()[:-1] if "/service/" in f.filename]
            callers = [f"{Path(f.filename).stem}.{f.name}:{f.lineno}" for f in frames[-2:]]
            origin = " < ".join(reversed(callers))
        words = statement.split()
        self.seen.append((" ".join(words[:6]) + (" [many]" if executemany else ""), origin))

    def __enter__(self) -> "Statements":
        self.seen, self.on = [], True
        return self

    def __exit__(self, *exc) -> None:
        self.on = False


def database(kind: str, pg_admin: str | None) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='acc-steps-')}/steps.db"
    else:
        name = f"acc_bench_steps_{os.getpid()}"
        admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    prepare(url)
    return url


def measure(kind: str, pg_admin: str | None, runs: int, show: bool, profile: str | None,
            profile_step: int = TYPICAL) -> dict:
    services = build_services(database(kind, pg_admin))
    client = create_app(services=services, config=CONFIG).test_client()
    counter = Statements(services.db.engine)
    engine = ProcessEngine.from_folders(ROOT / "processes", ROOT / "forms")
    documents = _time_documents()
    api: dict[int, list[float]] = {n: [] for n in range(1, len(STEPS) + 1)}
    core: dict[int, list[float]] = {n: [] for n in range(1, len(STEPS) + 1)}
    floor: dict[int, list[float]] = {n: [] for n in range(1, len(STEPS) + 1)}
    counts: dict[int, int] = {}
    sizes: dict[int, int] = {}
    listing: list[tuple[str, str]] = []
    for run in range(runs + 1):  # the first case warms up (caches, the engine): its times are not kept
        case_id = client.post("/api/v1/cases", json=INTAKE, headers=basic("office_li")).get_json()["id"]
        state = engine.serialize(engine.start(INTAKE, FACTS_FLOOR))
        for n, (user, name, data) in enumerate(STEPS, 1):
            task = client.get("/api/v1/tasks", query_string={"case_id": case_id, "name": name},
                              headers=basic(user)).get_json()["items"][0]
            counter.where = show and run == 1 and n == TYPICAL
            prof = cProfile.Profile() if profile and run == 2 and n == profile_step else None
            with counter:
                if prof:
                    prof.enable()
                documents[0] = 0.0
                start = time.perf_counter()
                response = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                                       headers=basic(user))
                elapsed = time.perf_counter() - start
                if prof:
                    prof.disable()
                    prof.dump_stats(f"{profile}.{kind}.step{n}")
            assert response.status_code == 200, response.get_json()
            if run == 1:
                counts[n] = len(counter.seen)
                if counter.where:
                    listing = counter.seen
            start = time.perf_counter()
            state = floor_step(engine, state, name, user, data)
            floor_elapsed = time.perf_counter() - start
            if run == 1:
                sizes[n] = len(state.encode())
            if run:
                api[n].append(elapsed)
                core[n].append(elapsed - documents[0])
                floor[n].append(floor_elapsed)
    services.db.dispose()
    if kind == "postgresql":  # a throwaway database: dropped once measured
        admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{make_url(services.db.engine.url).database}" WITH (FORCE)'))
        admin.dispose()
    out = {"statements": counts, "statements_mean": round(sum(counts.values()) / len(counts), 1),
           "state_kb": {n: round(sizes[n] / 1024, 1) for n in (1, 10)},
           "listing": listing}
    for n in (1, 10):
        out[f"step{n}"] = {"api_ms": round(pct(api[n], 50), 2), "floor_ms": round(pct(floor[n], 50), 2),
                           "ratio": round(pct(api[n], 50) / pct(floor[n], 50), 2),
                           "core_ms": round(pct(core[n], 50), 2),
                           "core_ratio": round(pct(core[n], 50) / pct(floor[n], 50), 2)}
    all_core = [sum(core[n][i] for n in core) for i in range(runs)]
    all_api = [sum(api[n][i] for n in api) for i in range(runs)]
    all_floor = [sum(floor[n][i] for n in floor) for i in range(runs)]
    out["case_api_ms"] = round(pct(all_api, 50), 1)
    out["case_floor_ms"] = round(pct(all_floor, 50), 1)
    out["case_ratio"] = round(pct(all_api, 50) / pct(all_floor, 50), 2)
    out["tenth_vs_first"] = round(pct(api[10], 50) / pct(api[1], 50), 2)
    out["case_core_ms"] = round(pct(all_core, 50), 1)
    out["case_core_ratio"] = round(pct(all_core, 50) / pct(all_floor, 50), 2)
    out["core_tenth_vs_first"] = round(pct(core[10], 50) / pct(core[1], 50), 2)
    # the 2nd step issues no document either: the growth of a step's cost without the 1st step's notice
    out["core_tenth_vs_second"] = round(pct(core[10], 50) / pct(core[2], 50), 2)
    out["floor_tenth_vs_second"] = round(pct(floor[10], 50) / pct(floor[2], 50), 2)
    out["floor_tenth_vs_first"] = round(pct(floor[10], 50) / pct(floor[1], 50), 2)
    return out


def _time_documents() -> list[float]:
    """Time the issuing of the documents a step makes due (number, content, the templates' Jinja check; the PDF and
    Word files are rendered after the step by the outbox): the figures "without documents" subtract it. The call site stays as it is; only this process's reference to it is wrapped."""
    from service.cases import tasks
    spent = [0.0]
    issue = getattr(tasks.issue_due_documents, "__wrapped__", tasks.issue_due_documents)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return issue(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    timed.__wrapped__ = issue
    tasks.issue_due_documents = timed
    return spent


def report(label: str, res: dict) -> list[str]:
    s1, s10 = res["step1"], res["step10"]
    res = {**res, "statements": {int(k): v for k, v in res["statements"].items()},  # JSON keys are strings
           "state_kb": {int(k): v for k, v in res["state_kb"].items()}}
    return [f"{label:<10} statements per step: 1st {res['statements'][1]}, 10th {res['statements'][10]}, "
            f"mean {res['statements_mean']}",
            f"{'':<10} step 1: {s1['api_ms']} ms vs floor {s1['floor_ms']} ms (×{s1['ratio']}); "
            f"step 10: {s10['api_ms']} ms vs floor {s10['floor_ms']} ms (×{s10['ratio']})",
            f"{'':<10} whole case: {res['case_api_ms']} ms vs floor {res['case_floor_ms']} ms (×{res['case_ratio']}); "
            f"10th÷1st: API ×{res['tenth_vs_first']}, floor ×{res['floor_tenth_vs_first']}; "
            f"state {res['state_kb'][1]} → {res['state_kb'][10]} KB",
            f"{'':<10} without documents: step 1 {s1['core_ms']} ms (×{s1['core_ratio']}), step 10 {s10['core_ms']} ms "
            f"(×{s10['core_ratio']}), whole case {res['case_core_ms']} ms (×{res['case_core_ratio']}); "
            f"10th÷1st ×{res['core_tenth_vs_first']}, 10th÷2nd ×{res['core_tenth_vs_second']} "
            f"(floor ×{res['floor_tenth_vs_second']})"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", help="a PostgreSQL server database to create the benchmark database from")
    parser.add_argument("--databases", nargs="*", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--runs", type=int, default=20, help="cases per figure")
    parser.add_argument("--baseline", help="another checkout to measure first, in a subprocess (before/after)")
    parser.add_argument("--list", action="store_true", help="print every statement of a typical step")
    parser.add_argument("--profile", help="write a cProfile of a typical step to FILE.<database>")
    parser.add_argument("--profile-step", type=int, default=TYPICAL, help="which step --profile records (1–10)")
    parser.add_argument("--json", help="write the figures here (the subprocess's channel with --baseline)")
    args = parser.parse_args()
    pg_admin = args.pg_url or os.environ.get("TEST_DATABASE_URL")
    server = None
    if "postgresql" in args.databases and not pg_admin:
        pg_admin, server, why = postgres_admin_url()
        if not pg_admin:
            sys.exit(why)
    before = {}
    if args.baseline:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
            cmd = [sys.executable, "-c", _BASELINE, str(Path(__file__).resolve()), str(Path(args.baseline).resolve()),
                   "--databases", *args.databases, "--runs", str(args.runs), "--json", out.name,
                   *(["--pg-url", pg_admin] if pg_admin else []), *(["--list"] if args.list else [])]
            subprocess.run(cmd, env=env, check=True)
            before = json.loads(Path(out.name).read_text())
    after = {kind: measure(kind, pg_admin, args.runs, args.list, args.profile, args.profile_step) for kind in args.databases}
    if server is not None:
        server.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(after, ensure_ascii=False, indent=1))
        if os.environ.get("BENCH_STEPS_QUIET"):
            return
    for kind in args.databases:
        print(f"\n[{kind}] task completion through the API, {args.runs} cases")
        if args.list:
            for label, res in (("before", before.get(kind)), ("after", after[kind])):
                if res:
                    print(f"  statements of step {TYPICAL} ({label}): {len(res['listing'])}")
                    counts = Counter(tuple(x) for x in res["listing"])
                    for (sql, origin), k in counts.items():
                        print(f"    {k:>2}× {sql:<60} {origin}")
        if kind in before:
            print("\n".join(report("before", before[kind])))
        print("\n".join(report("after" if before else "", after[kind])))
        if kind in before:  # this tree's engine is faster too: the API against the old floor as well
            b, a = before[kind], after[kind]
            print(f"{'':<10} after's API against before's floor (without documents): step 1 "
                  f"×{a['step1']['core_ms'] / b['step1']['floor_ms']:.2f}, step 10 "
                  f"×{a['step10']['core_ms'] / b['step10']['floor_ms']:.2f}, whole case "
                  f"×{a['case_core_ms'] / b['case_floor_ms']:.2f}")


# the baseline tree may not have this file: run this file's measurement with that tree's code on the path
_BASELINE = """
import os, runpy, sys
bench, tree = sys.argv[1], sys.argv[2]
sys.argv = [bench] + sys.argv[3:]
os.environ["BENCH_STEPS_QUIET"] = "1"
sys.path.insert(0, tree)
sys.modules.pop("service", None)
import service, tests, bench as _b  # noqa: E401 - from the baseline tree (first on the path)
assert service.__file__.startswith(tree), service.__file__
runpy.run_path(bench, run_name="__main__")
"""


if __name__ == "__main__":
    main()
