"""SIGKILL in the middle of steps (a file SQLite database and PostgreSQL): a worker process completes tasks
(with evidence files) and starts cases, a second one fires timers, and both are killed at random moments, 10
times per database. After each kill every case is whole: its saved state restores, its task index matches the
engine's open tasks, its timers table the engine's pending timers, its stage the open tasks; every finished
task has its one "completed" event, every decision record its event, and no evidence exists for a step that
did not commit."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from service.store.models import Attachment, Case, CaseState, Event, Task, Timer
from service.web import build_services

ROOT = Path(__file__).resolve().parent.parent
KILLS = 10

WORKER = r'''
import datetime as dt, inspect, os, random, signal, sys, time
from sqlalchemy import select
from service.auth import Principal
from service.errors import ServiceError
from service.store.models import Task, User
from service.web import build_services

# a zygote: imports once, then forks one worker per line "<mode> <log file>" read from stdin and prints its pid
url = sys.argv[1]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed workers are reaped by the system
from weasyprint import HTML  # the documents' renderer loads once too (a second and more, with its fonts)
HTML(string="<p>文书</p>").write_pdf()
print("ready", flush=True)
for line in sys.stdin:
    mode, log = line.split()
    pid = os.fork()
    if pid:
        print(pid, flush=True)
        continue
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdin.close()
    break
else:
    sys.exit(0)

random.seed(os.getpid())
svc = build_services(url)
OFFICE = Principal("office_li", frozenset({"office"}))
ZW = {"person": "zhang_wei", "role": "handler", "unit": "执法一科"}
DATA = {
    "Task_register": {"register": True, "grounds": [7], "respondents": [ZW]},
    "Task_investigate": {"facts_found": "查明", "evidence": ["案卷"], "investigators": ["office_li", "office_sun"],
                         "act_date": "2026-03-02"},
    "Task_conclude": {"conclusion": "结论", "findings": [{"person": "zhang_wei", "handler_fault": 5,
                                                          "severity": "light"}]},
    "Task_statement": {"statement_waived": True},
    "Task_vote": {"vote": "approve"},
    "Task_serve": {"decision_number": "明执追〔2026〕1号", "served_on": "2026-11-20", "service_method": "direct"},
    "Task_appeal": {"appeal": False},
    "Task_recovery": {"compensation_paid": 0, "recovery": []},
}
WITH_FILES = "files" in inspect.signature(svc.cases.complete).parameters


def who(task):
    if task.assignee:
        with svc.db.session() as s:
            user = s.scalar(select(User).where(User.username == task.assignee))
            return Principal(user.username, frozenset(user.roles))
    return OFFICE


def start():
    svc.cases.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7],
                                  "summary": "s", "act_date": "2026-03-02"})


while True:
    try:
        if mode == "timers":  # everything due within 40 days fires now (statement P7D, appeal P30D)
            svc.cases.fire_due_timers(now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=40), limit=5)
            time.sleep(0.05)
            continue
        with svc.db.session() as s:
            open_tasks = list(s.scalars(select(Task).where(Task.state == "open")))
        if len(open_tasks) < 4:
            start()
            continue
        task = random.choice(open_tasks)
        data = DATA.get(task.name)
        if data is None:
            continue
        files = [(f"证据-{task.id[:8]}.txt", "text/plain", b"evidence " + task.id.encode())]
        if WITH_FILES:
            svc.cases.complete(who(task), task.id, data, files)
        else:  # the file first, then the step (each its own transaction)
            svc.cases.add_attachment(who(task), task.id, *files[0])
            svc.cases.complete(who(task), task.id, data)
        print("done", task.name, flush=True)
    except ServiceError as exc:  # a timer took the task meanwhile, and the like
        print("refused", type(exc).__name__, exc, flush=True)
'''


def check_whole(url: str) -> dict[str, int]:
    """Every case whole; returns counts for the report."""
    services = build_services(url)
    problems: list[str] = []
    counts = Counter()
    try:
        with services.db.session() as s:
            for row in s.scalars(select(Case).order_by(Case.id)):
                counts["cases"] += 1
                engine = services.deployments.engine(row.deployment_id)
                wf = engine.restore(s.scalar(select(CaseState.state).where(CaseState.case_id == row.id)))
                tasks = list(s.scalars(select(Task).where(Task.case_id == row.id)))
                open_now = {t.id: t.name for t in engine.open_tasks(wf)}
                indexed = {t.id: t.name for t in tasks if t.state == "open"}
                if open_now != indexed:
                    problems.append(f"case {row.id}: open tasks {open_now} but the index has {indexed}")
                pending = {(t.task_id, t.name) for t in engine.pending_timers(wf)}
                timers = {(t.id, t.name) for t in s.scalars(select(Timer).where(Timer.case_id == row.id))}
                if pending != timers:
                    problems.append(f"case {row.id}: pending timers {pending} but the table has {timers}")
                titles = "、".join(sorted({t.title for t in engine.open_tasks(wf)}))[:200]
                if row.stage != titles:
                    problems.append(f"case {row.id}: stage {row.stage!r}, open tasks {titles!r}")
                if wf.completed != (row.status == "closed"):
                    problems.append(f"case {row.id}: workflow completed {wf.completed}, status {row.status}")
                events = Counter(e.kind for e in s.scalars(select(Event).where(Event.case_id == row.id)))
                done = [t for t in tasks if t.state == "completed"]
                counts["completed"] += len(done)
                if events["completed"] != len(done):
                    problems.append(f"case {row.id}: {len(done)} completed tasks, {events['completed']} events")
                from service.store.models import DecisionRecord
                records = len(list(s.scalars(select(DecisionRecord.id).where(DecisionRecord.case_id == row.id))))
                counts["decision records"] += records
                if records != events["decision_evaluated"]:
                    problems.append(f"case {row.id}: {records} decision records, "
                                    f"{events['decision_evaluated']} decision events")
                by_id = {t.id: t for t in tasks}
                for a in s.scalars(select(Attachment).where(Attachment.case_id == row.id)):
                    if getattr(a, "draft", False):
                        continue  # kept for the uploader's next try, not evidence
                    counts["evidence files"] += 1
                    t = by_id.get(a.task_id)
                    if t is None or t.state != "completed":
                        problems.append(f"case {row.id}: evidence {a.filename} for a step that did not commit "
                                        f"({t.name if t else a.task_id}, {t.state if t else 'no task'})")
    finally:
        services.db.dispose()
    assert problems == [], "\n".join(problems)
    return counts


class Zygote:
    """One process with the service imported, forking the workers (so a kill round costs no start-up)."""

    def __init__(self, script: Path, url: str, logs: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, str(script), url], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.logs, self.n = logs, 0
        self.logs_by_mode: dict[str, Path] = {}

    def committed(self, mode: str) -> bool:
        """Whether the latest worker of that mode has committed a step."""
        path = self.logs_by_mode[mode]
        return path.exists() and "done " in path.read_text()

    def spawn(self, mode: str) -> int:
        self.n += 1
        self.logs_by_mode[mode] = self.logs / f"{self.n:03d}-{mode}.log"
        self.proc.stdin.write(f"{mode} {self.logs_by_mode[mode]}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigkill_during_steps_and_timers_leaves_every_case_whole(database_url, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    logs = tmp_path / "logs"
    logs.mkdir()
    zygote = Zygote(script, database_url, logs)
    rng = random.Random(10)
    try:
        for kill in range(KILLS):
            completer, timers = zygote.spawn("complete"), zygote.spawn("timers")
            # the kill lands at a random moment after the worker's first committed step (steps that issue notices
            # and decisions render them, a second or more each on a loaded machine)
            started = time.monotonic()
            while not zygote.committed("complete") and time.monotonic() - started < 60:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 2.0))
            # kill one, then the other a moment later (each at its own random point)
            first, second = (completer, timers) if kill % 2 == 0 else (timers, completer)
            for pid in (first, second):
                assert alive(pid), f"worker {pid} died before its kill: {sorted(logs.iterdir())[-1].read_text()}"
                os.kill(pid, signal.SIGKILL)
                time.sleep(rng.uniform(0.0, 0.3))
            deadline = time.monotonic() + 10
            while (alive(first) or alive(second)) and time.monotonic() < deadline:
                time.sleep(0.02)
            check_whole(database_url)
    finally:
        zygote.close()
    counts = check_whole(database_url)
    texts = [p.read_text() for p in sorted(logs.iterdir())]
    steps = sum(t.count("done ") for t in texts)
    failed = [t[t.index("Traceback"):] for t in texts if "Traceback" in t]
    assert failed == [], "a worker failed (not by the kill):\n" + "\n".join(f[-3000:] for f in failed[:2])
    assert steps >= KILLS, f"only {steps} steps committed across {KILLS} runs: the kills hit nothing"
    assert counts["evidence files"] > 0 and counts["completed"] > 0
    print(f"\n{KILLS} kills; {steps} steps committed; {dict(counts)}")
