"""The timer worker: fires due timers (the statement period, the appeal window …) on time, exactly once, then
reminds and escalates overdue tasks (:mod:`service.reminders`) and renders the files of documents the steps issued
(the outbox of :mod:`service.cases.documents`).

It sleeps until the next due time instead of polling on a fixed interval. On PostgreSQL, a step that
schedules a timer or issues a document sends ``NOTIFY accountability_timers`` when it commits, and every worker
listening wakes at once and recomputes its next due time; several workers may run (each due case, and each
document to render, is taken with ``FOR UPDATE SKIP LOCKED``, so a timer fires once and a document is rendered
once). On SQLite (one machine, one worker) the worker also looks for new timers and documents every ``poll``
seconds, cheap indexed queries.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from .store.repository import TIMERS_CHANNEL

log = logging.getLogger("accountability.timers")


class _Listener:
    """A PostgreSQL connection LISTENing on the timers channel (None-like on other databases)."""

    def __init__(self, url: str):
        import psycopg
        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        self.conn.execute(f"LISTEN {TIMERS_CHANNEL}")

    def wait(self, seconds: float) -> None:
        for _ in self.conn.notifies(timeout=max(seconds, 0.0), stop_after=1):
            break

    def close(self) -> None:
        self.conn.close()


class TimerWorker:
    def __init__(self, services: Any, *, max_sleep: float = 30.0, poll: float = 1.0):
        self.services = services
        self.max_sleep = max_sleep
        self.poll = poll

    def run_once(self) -> int:
        """Fire everything due now, then remind and escalate overdue tasks (a period that lapses at its limit ends
        its task rather than reminding anyone), then render waiting documents, one at a time until a timer comes due
        (a timer waits behind one render at most; the rest follow at the next run, at once); how many timers
        fired."""
        total = 0
        while True:
            fired = self.services.cases.fire_due_timers()
            total += fired
            if not fired:
                break
        done = self.services.reminders.run()
        if done.reminded or done.escalated or done.mailed:
            log.info("reminded %d, escalated %d, mailed %d", done.reminded, done.escalated, done.mailed)
        rendered = self.services.cases.render_pending_documents(limit=10, stop=self._timer_due)
        if rendered:
            log.info("rendered %d document(s)", rendered)
        return total

    def _timer_due(self) -> bool:
        due = self.services.cases.next_timer()
        return due is not None and due <= self.services.cases.clock()

    def seconds_to_next(self) -> float:
        cases = self.services.cases
        times = [t for t in (cases.next_timer(), self.services.reminders.next_due(), cases.next_document_render())
                 if t is not None]
        if not times:
            return self.max_sleep
        now = self.services.cases.clock()
        return min(max((min(times) - now).total_seconds(), 0.0), self.max_sleep)

    def run(self, stop: threading.Event) -> None:
        listener = None
        if self.services.db.dialect == "postgresql":
            listener = _Listener(self.services.db.url)
        try:
            while not stop.is_set():
                try:
                    fired = self.run_once()
                    if fired:
                        log.info("fired %d timer(s)", fired)
                    wait = self.seconds_to_next()
                except Exception:  # keep the worker alive; the failure is logged with its case
                    log.exception("timer run failed")
                    wait = self.poll
                if listener is not None:
                    listener.wait(wait)  # wakes early when a step schedules a timer
                else:
                    stop.wait(min(wait, self.poll))
        finally:
            if listener is not None:
                listener.close()
