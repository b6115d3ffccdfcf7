"""Completions per second over HTTP against `accountability serve --processes N`, the server's memory over
10,000 completions, and timer lateness with two `accountability timers` workers.

Each case to complete is a working copy of a real case waiting at 立案审查 (bench/seed.clone), so the load is
the real step: restore the workflow, run the registration, save state, task index, timers, events and
decision records in one transaction. Clients are threads with keep-alive connections on 127.0.0.1.
"""
from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from service.store.repository import Store

from .seed import STEPS, clone

ROOT = Path(__file__).resolve().parent.parent
REGISTER_USER, REGISTER_TASK, REGISTER_DATA = STEPS[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, processes: int, threads: int = 8) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--processes",
                               str(processes), "--workers", str(threads), "--no-timers"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        raise RuntimeError("the server did not start")
    return server, port


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def server_pids(server: subprocess.Popen) -> list[int]:
    """The serving process and its children (gunicorn's workers)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    kids = [int(x) for x in children.read_text().split()] if children.exists() else []
    return [server.pid, *kids]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def complete_all(port: int, task_ids: list[str], clients: int, *, until: float | None = None,
                 every: int = 0, on_progress=None) -> dict[str, Any]:
    """Complete the registration of each task over HTTP with ``clients`` threads; stops early at ``until``."""
    work: queue.Queue[str] = queue.Queue()
    for t in task_ids:
        work.put(t)
    token = base64.b64encode(f"{REGISTER_USER}:{os.environ.get('BENCH_PASSWORD', 'pw-test-1')}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    body = json.dumps({"data": REGISTER_DATA}).encode()
    done, errors, latencies = [0], [], []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while until is None or time.perf_counter() < until:
            try:
                task_id = work.get_nowait()
            except queue.Empty:
                return
            start = time.perf_counter()
            try:
                conn.request("POST", f"/api/v1/tasks/{task_id}/complete", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = repr(exc)
            with lock:
                if status == 200:
                    done[0] += 1
                    latencies.append(time.perf_counter() - start)
                    if every and on_progress and done[0] % every == 0:
                        on_progress(done[0])
                else:
                    errors.append(status)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"completed": done[0], "seconds": elapsed, "per_second": done[0] / elapsed, "errors": errors[:5],
            "error_count": len(errors), "latencies": latencies}


def throughput(url: str, services, snap, processes: int, *, seconds: float = 20.0, clients: int = 8,
               log=print) -> dict[str, Any]:
    """Completions per second with ``processes`` server processes, over ``seconds`` after a short warm-up."""
    warm = [c[REGISTER_TASK] for c in clone(services, snap, 60)]
    work = [c[REGISTER_TASK] for c in clone(services, snap, int(seconds * 400))]
    server, port = start_server(url, processes)
    try:
        complete_all(port, warm, clients)
        result = complete_all(port, work, clients, until=time.perf_counter() + seconds)
    finally:
        stop(server)
    log(f"    {processes} process(es): {result['per_second']:.0f} completions/s "
        f"({result['completed']} in {result['seconds']:.1f} s, {result['error_count']} errors)")
    return {"processes": processes, "per_second": round(result["per_second"], 1), "completed": result["completed"],
            "errors": result["error_count"]}


def memory(url: str, services, snap, total: int = 10000, *, clients: int = 4, log=print) -> dict[str, Any]:
    """The serving process's resident memory over ``total`` completions (one process: every request in it)."""
    work = [c[REGISTER_TASK] for c in clone(services, snap, total + 200)]
    server, port = start_server(url, 1)
    samples: list[tuple[int, float]] = []
    try:
        complete_all(port, work[:200], clients)  # warm: imports, caches, the pool
        samples.append((0, rss_mb(server.pid)))

        def sample(n: int) -> None:
            samples.append((n, rss_mb(server.pid)))
            if n % 2000 == 0:
                log(f"    after {n:,} completions: {samples[-1][1]:.1f} MB")

        result = complete_all(port, work[200:], clients, every=500, on_progress=sample)
    finally:
        stop(server)
    start, end = samples[0][1], samples[-1][1]
    mid = next((mb for n, mb in samples if n >= total // 2), end)
    return {"completions": result["completed"], "rss_mb_start": round(start, 1), "rss_mb_half": round(mid, 1),
            "rss_mb_end": round(end, 1), "errors": result["error_count"], "per_second": round(result["per_second"], 1),
            "samples": [(n, round(mb, 1)) for n, mb in samples]}


def timers(url: str, services, snap, *, workers: int = 2, spread: int = 200, spread_over: float = 60.0,
           burst: int = 400, log=print) -> dict[str, Any]:
    """Lateness from due to fired with ``workers`` `accountability timers` processes at their default settings:
    ``spread`` timers due over ``spread_over`` seconds, then ``burst`` timers due at the same moment."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "service.cli", "timers"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
             for _ in range(workers)]
    out = {}
    try:
        time.sleep(3)  # the workers are up and listening
        now = dt.datetime.now(dt.timezone.utc)
        spread_cases = []
        for i in range(spread):
            due = now + dt.timedelta(seconds=20 + spread_over * i / spread)
            spread_cases += [(c, due) for c in _case_ids(services, clone(services, snap, 1, timer_due=due))]
        out["spread"] = _lateness(services, spread_cases, deadline=time.time() + spread_over + 120)
        log(f"    {spread} timers over {spread_over:.0f} s: p50 {out['spread']['p50_s']} s, "
            f"p95 {out['spread']['p95_s']} s, max {out['spread']['max_s']} s; "
            f"fired once each: {out['spread']['exactly_once']}")
        due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=10)
        burst_cases = [(c, due) for c in _case_ids(services, clone(services, snap, burst, timer_due=due))]
        out["burst"] = _lateness(services, burst_cases, deadline=time.time() + 600)
        log(f"    {burst} timers due at once: p50 {out['burst']['p50_s']} s, p95 {out['burst']['p95_s']} s, "
            f"max {out['burst']['max_s']} s; fired once each: {out['burst']['exactly_once']}")
    finally:
        for p in procs:
            stop(p)
    return out


def _case_ids(services, made: list[dict[str, str]]) -> list[int]:
    with services.db.session() as s:
        store = Store(s)
        return [store.task(m["Task_statement"]).case_id for m in made]


def _lateness(services, cases: list[tuple[int, dt.datetime]], deadline: float) -> dict[str, Any]:
    """Wait until every case's timer fired (or the deadline); seconds from due to the timer_fired event."""
    fired: dict[int, list[dt.datetime]] = {}
    while time.time() < deadline:
        with services.db.session() as s:
            store = Store(s)
            fired = {c: [e.at for e in store.events(c) if e.kind == "timer_fired"] for c, _ in cases}
        if all(fired.values()):
            break
        time.sleep(1)
    late = sorted((fired[c][0] - due).total_seconds() for c, due in cases if fired[c])
    if not late:
        return {"fired": 0, "of": len(cases)}

    def q(p: float) -> float:
        return round(late[min(len(late) - 1, int(round(p / 100 * (len(late) - 1))))], 2)
    return {"fired": len(late), "of": len(cases), "p50_s": q(50), "p95_s": q(95), "max_s": round(late[-1], 2),
            "exactly_once": all(len(v) == 1 for v in fired.values())}
