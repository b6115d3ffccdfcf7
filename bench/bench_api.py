"""The benchmark (run on demand, not a test): every figure of the README's table in one run.

    .venv/bin/python bench/bench_api.py [--pg-url URL] [--databases sqlite postgresql] [--only lists steps load memory]
                                         [--json FILE]

On SQLite and on PostgreSQL ($TEST_DATABASE_URL, --pg-url, or a throwaway server as the tests start):
  * lists: GET /api/v1/tasks, the inbox page, the /cases page and GET /api/v1/cases, as the office sees them,
    with 1,000, 10,000 and 100,000 cases (one database per size, requests round-robin over the sizes);
  * steps: completing a case's 1st and 10th step through the API (Flask test client: no network) against the
    floor, SpiffWorkflow doing the same steps in-process with a restore and a serialize per step; and the cost
    of the login-throttle query that every API request makes;
and on PostgreSQL over HTTP (bench/load.py):
  * completions per second with 1, 2 and 4 server processes (`serve --processes N`);
  * the server's memory over 10,000 completions;
  * timer lateness with two `accountability timers` workers: 200 due over a minute, then 400 due at once.

Prints a table and writes every number to a JSON file. The machine may be shared: compare ratios within a run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import load  # noqa: E402
from bench.lists import SIZES, basic, pct, time_lists  # noqa: E402
from bench.seed import FACTS_FLOOR, INTAKE, STEPS, floor_step, fill, templates  # noqa: E402
from service.engine import ProcessEngine  # noqa: E402
from service.web import build_services, create_app  # noqa: E402
from tests.databases import postgres_admin_url, prepare  # noqa: E402

CONFIG = {"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}


class Databases:
    """Named benchmark databases of one kind, kept between runs (seeding 100,000 cases takes minutes)."""

    def __init__(self, kind: str, folder: Path, pg_admin: str | None):
        self.kind, self.folder, self.pg_admin = kind, folder, pg_admin

    def url(self, name: str, fresh: bool = False) -> str:
        if self.kind == "sqlite":
            path = self.folder / f"{name}.db"
            if fresh:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            url, exists = f"sqlite:///{path}", path.exists()
        else:
            admin = create_engine(self.pg_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                if fresh:
                    c.execute(text(f'DROP DATABASE IF EXISTS "acc_bench_{name}" WITH (FORCE)'))
                exists = c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": f"acc_bench_{name}"})
                if not exists:
                    c.execute(text(f'CREATE DATABASE "acc_bench_{name}"'))
            admin.dispose()
            url = make_url(self.pg_admin).set(database=f"acc_bench_{name}").render_as_string(hide_password=False)
        if not exists:
            prepare(url)
        else:
            build_services(url).db.migrate()
        same_password_hash(url)
        return url


_HASH: list[str] = []


def same_password_hash(url: str) -> None:
    """One password hash for the bench users in every benchmark database: the API remembers a verified password
    with its hash, and requests that go round-robin over databases with different salts would each pay a full
    scrypt check (which no single deployment does)."""
    from service.auth import hash_password
    from service.store.repository import Store
    from tests.databases import PASSWORD, USERS
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    services = build_services(url)
    with services.db.session() as s, s.begin():
        store = Store(s)
        for name, _, _ in USERS:
            store.user(name).password_hash = _HASH[0]
    services.db.dispose()


def lists(dbs: Databases, sizes, runs: int, log) -> list[dict]:
    apps = {}
    for size in sizes:
        services = build_services(dbs.url(f"lists_{size}"))
        started = time.perf_counter()
        added = fill(services, size, templates(services)) if _count(services) < size else 0
        log(f"  {size:,} cases ready ({added:,} added in {time.perf_counter() - started:.0f} s)")
        apps[size] = create_app(services=services, config=CONFIG)
    return time_lists(apps, runs=runs, log=log)


def _count(services) -> int:
    from service.store.models import Case
    from service.store.repository import Store
    with services.db.session() as s:
        return Store(s).count(Case)


def steps(dbs: Databases, runs: int, log) -> dict:
    services = build_services(dbs.url("steps", fresh=True))
    client = create_app(services=services, config=CONFIG).test_client()
    api: dict[int, list[float]] = {1: [], 10: []}
    floor: dict[int, list[float]] = {1: [], 10: []}
    engine = ProcessEngine.from_folders(ROOT / "processes", ROOT / "forms")
    for _ in range(runs):  # API and floor alternate, so load from elsewhere hits both alike
        case_id = client.post("/api/v1/cases", json=INTAKE, headers=basic("office_li")).get_json()["id"]
        state = engine.serialize(engine.start(INTAKE, FACTS_FLOOR))
        for n, (user, name, data) in enumerate(STEPS, 1):
            task = client.get("/api/v1/tasks", query_string={"case_id": case_id, "name": name},
                              headers=basic(user)).get_json()["items"][0]
            start = time.perf_counter()
            response = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=basic(user))
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.get_json()
            start = time.perf_counter()
            state = floor_step(engine, state, name, user, data)
            floor_elapsed = time.perf_counter() - start
            if n in api:
                api[n].append(elapsed)
                floor[n].append(floor_elapsed)
    out = {}
    for n in (1, 10):
        out[f"step{n}"] = {"api_p50_ms": round(pct(api[n], 50), 1), "api_p95_ms": round(pct(api[n], 95), 1),
                           "floor_p50_ms": round(pct(floor[n], 50), 1), "floor_p95_ms": round(pct(floor[n], 95), 1),
                           "ratio_p50": round(pct(api[n], 50) / pct(floor[n], 50), 2)}
        log(f"    step {n:>2}: API p50 {out[f'step{n}']['api_p50_ms']} ms, floor p50 "
            f"{out[f'step{n}']['floor_p50_ms']} ms, ×{out[f'step{n}']['ratio_p50']}")
    out["tenth_vs_first_p50"] = round(pct(api[10], 50) / pct(api[1], 50), 2)
    # the login throttle: one indexed read of two rows per API request
    times = []
    for _ in range(300):
        start = time.perf_counter()
        services.logins.refuse_if_throttled("office_li", "127.0.0.1")
        times.append(time.perf_counter() - start)
    request_times = []
    for _ in range(100):
        start = time.perf_counter()
        client.get("/api/v1/tasks", query_string={"per_page": 1, "name": "Task_none"}, headers=basic("office_li"))
        request_times.append(time.perf_counter() - start)
    out["throttle_p50_ms"] = round(pct(times, 50), 2)
    out["throttle_p95_ms"] = round(pct(times, 95), 2)
    out["small_request_p50_ms"] = round(pct(request_times, 50), 2)
    log(f"    login-throttle query: p50 {out['throttle_p50_ms']} ms, p95 {out['throttle_p95_ms']} ms per API request "
        f"(a small API request: p50 {out['small_request_p50_ms']} ms)")
    return out


def load_tests(dbs: Databases, log, processes=(1, 2, 4), seconds: float = 20.0) -> dict:
    url = dbs.url("load", fresh=True)
    services = build_services(url)
    snaps = templates(services)
    out = {"throughput": [], "timers": None}
    log("  completions per second (registration, over HTTP, 8 client threads)")
    for n in processes:
        out["throughput"].append(load.throughput(url, services, snaps[0], n, seconds=seconds, log=log))
    log("  timers: two `accountability timers` workers, default settings")
    out["timers"] = load.timers(url, services, snaps[3], log=log)
    return out


def memory_test(dbs: Databases, total: int, log) -> dict:
    url = dbs.url("memory", fresh=True)
    services = build_services(url)
    log(f"  memory of one server process over {total:,} completions")
    return load.memory(url, services, templates(services)[0], total, log=log)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem / 1024 / 1024, 1),
            "load_average": os.getloadavg(), "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", help="a PostgreSQL server database to create the benchmark databases from")
    parser.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "acc-bench"),
                        help="where the SQLite benchmark databases are kept between runs")
    parser.add_argument("--only", nargs="*", default=["lists", "steps", "load", "memory"],
                        choices=["lists", "steps", "load", "memory"])
    parser.add_argument("--databases", nargs="*", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--runs", type=int, default=100, help="requests per list and size")
    parser.add_argument("--step-runs", type=int, default=30, help="cases per completion figure")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each throughput run")
    parser.add_argument("--memory-completions", type=int, default=10000)
    parser.add_argument("--json", default="instance/bench-results.json", help="where to write the figures")
    args = parser.parse_args()

    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    pg_admin, server = args.pg_url, None
    if "postgresql" in args.databases and not pg_admin:
        pg_admin, server, why = postgres_admin_url()
        if not pg_admin:
            sys.exit(why)
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    log = print
    log(f"machine: {results['machine']}")
    try:
        for kind in args.databases:
            dbs = Databases(kind, folder, pg_admin)
            results[kind] = {}
            if "lists" in args.only:
                log(f"\n[{kind}] lists, first page, as office_li")
                results[kind]["lists"] = lists(dbs, args.sizes, args.runs, log)
            if "steps" in args.only:
                log(f"\n[{kind}] task completion against the in-process floor ({args.step_runs} cases)")
                results[kind]["steps"] = steps(dbs, args.step_runs, log)
            if "load" in args.only and kind == "postgresql":
                log(f"\n[{kind}] over HTTP")
                results[kind]["load"] = load_tests(dbs, log, seconds=args.seconds)
            if "memory" in args.only and kind == "postgresql":
                log(f"\n[{kind}] over HTTP")
                results[kind]["memory"] = memory_test(dbs, args.memory_completions, log)
    finally:
        results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        results["machine"]["load_average_end"] = os.getloadavg()
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2))
        if server is not None:
            server.stop()
    log("\n" + table(results))
    log(f"\nfigures written to {args.json}")


def table(results: dict) -> str:
    """The README's table: each figure against its target."""
    rows = ["| figure | SQLite | PostgreSQL | target |", "|---|---|---|---|"]

    def both(fn):
        return [fn(results[k]) if k in results else "—" for k in ("sqlite", "postgresql")]

    sizes = sorted({r["cases"] for k in ("sqlite", "postgresql") for r in results.get(k, {}).get("lists", [])})
    names = list(dict.fromkeys(r["list"] for k in ("sqlite", "postgresql") for r in results.get(k, {}).get("lists", [])))
    for name in names:
        def cell(res, name=name):
            got = {r["cases"]: r for r in res.get("lists", []) if r["list"] == name}
            if not got:
                return "—"
            p95 = " / ".join(f"{got[s]['p95_ms']:.1f}" for s in sizes if s in got)
            ratio = got[sizes[-1]]["p95_ms"] / got[sizes[0]]["p95_ms"]
            return f"{p95} ms (×{ratio:.2f}; {got[sizes[-1]]['bytes'] // 1024} KB)"
        rows.append(f"| {name}: p95 at {' / '.join(f'{s:,}' for s in sizes)} cases | " + " | ".join(both(cell))
                    + " | ×≤1.3, < 200 ms |")
    for n in (1, 10):
        def step(res, n=n):
            s = res.get("steps", {}).get(f"step{n}")
            return f"{s['api_p50_ms']} vs {s['floor_p50_ms']} ms (×{s['ratio_p50']})" if s else "—"
        rows.append(f"| complete step {n}: API p50 vs floor | " + " | ".join(both(step)) + " | ≤ 2× the floor |")
    rows.append("| 10th step / 1st step (API p50) | " + " | ".join(
        both(lambda r: f"×{r['steps']['tenth_vs_first_p50']}" if r.get("steps") else "—")) + " | ≤ 1.2 |")
    rows.append("| login-throttle query per API request (p50) | " + " | ".join(
        both(lambda r: f"{r['steps']['throttle_p50_ms']} ms of {r['steps']['small_request_p50_ms']} ms"
             if r.get("steps") else "—")) + " | (stated) |")
    m = results.get("postgresql", {}).get("memory")
    if m:
        rows.append(f"| server RSS after 0 / {m['completions'] // 2:,} / {m['completions']:,} completions | — | "
                    f"{m['rss_mb_start']} / {m['rss_mb_half']} / {m['rss_mb_end']} MB | flat |")
    pg = results.get("postgresql", {}).get("load")
    if pg:
        for t in pg["throughput"]:
            rows.append(f"| completions/s, {t['processes']} process(es) | — | {t['per_second']:.0f}/s "
                        f"({t['errors']} errors) | ≥ 150/s with 2 |")
        for key, label in (("spread", "200 timers due over a minute"), ("burst", "400 timers due at once")):
            t = pg["timers"][key]
            rows.append(f"| timer lateness, {label}: p50 / p95 / max | — | {t.get('p50_s')} / {t.get('p95_s')} / "
                        f"{t.get('max_s')} s, {t['fired']}/{t['of']} fired, once each: {t.get('exactly_once')} | "
                        "p95 ≤ 2 s, once each |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
