"""Reminders and escalation of overdue tasks, and the notifications they raise (in the app and by e-mail).

Run by the timer worker after the timers (a statement period that lapses at its limit ends the task instead of
reminding anyone). An open task past its limit (``due``) raises a reminder to whoever must act: its assignee, else
the colleague who claimed it, else every member of its role; past the second threshold (``escalate_at``, the
diagram's ``escalateAfter``, 政策) the leading group is told too. Each reminder and escalation is written in the
case's event log, once: a case is taken with its row lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several
workers never send one twice. Respondents of a case are never told of the office's or the group's work on it.

A notification names the case number, the task, the person it is about and the limit — never a reporter.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass
from typing import Callable

from .cases.base import _WriteTransaction
from .mail import Mailer
from .store.db import Database
from .store.models import Notification, Task, utcnow
from .store.repository import Store
from .workdays import office_zone

log = logging.getLogger("accountability.reminders")
MAX_MAIL_ATTEMPTS = 5
MAIL_RETRY_AFTER = dt.timedelta(minutes=5)  # a failed mail is tried again after this
KINDS = {"reminder": "待办已逾期", "escalation": "逾期待办已报领导小组"}


@dataclass
class ReminderRun:
    reminded: int = 0
    escalated: int = 0
    mailed: int = 0


class ReminderService:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow, mailer: Mailer | None = None,
                 base_url: str = ""):
        self.db = db
        self.clock = clock
        self.mailer = mailer
        self.base_url = base_url.rstrip("/")

    def run(self, now: dt.datetime | None = None, limit: int = 200) -> ReminderRun:
        """Remind and escalate everything overdue at ``now``, one case per transaction; then mail."""
        now = now or self.clock()
        result = ReminderRun()
        for _ in range(limit):
            with _WriteTransaction(self.db) as store:
                case_ids = store.cases_to_remind(now, limit=1)
                if not case_ids:
                    break
                store.lock_case(case_ids[0])
                for task in store.tasks_to_remind(case_ids[0], now):
                    r, e = self._remind(store, task, now)
                    result.reminded += r
                    result.escalated += e
        result.mailed = self.mail_pending()
        return result

    def next_due(self) -> dt.datetime | None:
        with self.db.session() as s:
            return Store(s).next_reminder()

    def _remind(self, store: Store, task: Task, now: dt.datetime) -> tuple[int, int]:
        respondents = store.respondents(task.case_id)
        reminded = escalated = 0
        if task.due is not None and task.due <= now and task.reminded_at is None:
            if task.assignee:
                to = [task.assignee]
            elif task.claimed_by:
                to = [task.claimed_by]
            else:
                to = [u for u in store.usernames_with_role(task.role) if u not in respondents] if task.role else []
            self._notify(store, task, "reminder", to, now)
            store.log(task.case_id, None, "reminder_sent", at=now, task=task.name, title=task.title,
                      person=task.person, due=task.due.isoformat(), to=to)
            task.reminded_at = now
            reminded = 1
        if task.escalate_at is not None and task.escalate_at <= now and task.escalated_at is None:
            to = [u for u in store.usernames_with_role("leading_group") if u not in respondents]
            self._notify(store, task, "escalation", to, now)
            store.log(task.case_id, None, "escalated", at=now, task=task.name, title=task.title, person=task.person,
                      due=task.due.isoformat() if task.due else None, to=to)
            task.escalated_at = now
            escalated = 1
        return reminded, escalated

    @staticmethod
    def _notify(store: Store, task: Task, kind: str, to: list[str], now: dt.datetime) -> None:
        for username in to:
            store.add_notification(username, kind=kind, case_id=task.case_id, task_id=task.id, title=task.title,
                                   person=task.person, due=task.due, now=now)

    # ---------------------------------------------------------------- e-mail

    def mail_pending(self, limit: int = 100) -> int:
        """Mail the notifications not yet mailed (to people with an address). They are claimed in a short transaction
        (a try is recorded), sent outside any transaction (a slow or unreachable server never holds the database),
        and the outcome is recorded after; a failure is tried again after :data:`MAIL_RETRY_AFTER`, at most
        :data:`MAX_MAIL_ATTEMPTS` times. Two workers never claim one notification at once."""
        if self.mailer is None:
            return 0
        now = self.clock()
        with _WriteTransaction(self.db) as store:
            batch = store.notifications_to_mail(now, MAIL_RETRY_AFTER, limit, MAX_MAIL_ATTEMPTS)
            jobs = []
            for note, address in batch:
                note.email_attempts += 1
                note.email_tried_at = now
                jobs.append((note.id, address, *self.mail_text(note)))
        if not jobs:
            return 0
        results: dict[int, str | None] = {}
        try:
            with self.mailer.connection() as conn:
                for note_id, address, subject, body in jobs:
                    try:
                        conn.send(address, subject, body)
                        results[note_id] = None
                    except (smtplib.SMTPException, OSError) as exc:
                        results[note_id] = str(exc)[:300] or exc.__class__.__name__
                        log.warning("mail for notification %s failed: %s", note_id, exc)
        except (smtplib.SMTPException, OSError) as exc:  # no connection: every mail of the batch waits
            log.warning("SMTP server unreachable: %s", exc)
            for note_id, *_ in jobs:
                results.setdefault(note_id, str(exc)[:300] or exc.__class__.__name__)
        with _WriteTransaction(self.db) as store:
            for note_id, error in results.items():
                note = store.notification(note_id)
                if note is None:
                    continue
                if error is None:
                    note.emailed_at, note.email_error = self.clock(), None
                else:
                    note.email_error = error
        return sum(1 for e in results.values() if e is None)

    def mail_text(self, note: Notification) -> tuple[str, str]:
        """Subject and body of a notification's mail: the case, the task, the person it is about, the limit."""
        due = note.due.astimezone(office_zone()).strftime("%Y-%m-%d %H:%M") if note.due else "—"
        what = KINDS.get(note.kind, note.kind)
        subject = f"【行政执法过错责任追究】{what}：{note.title}（案件 {note.case_id}）"
        lines = [f"{what}。", "", f"案件编号：{note.case_id}", f"待办事项：{note.title}"]
        if note.person:
            lines.append(f"涉及当事人：{note.person}")
        lines.append(f"办理期限：{due}")
        if note.kind == "escalation":
            lines.append("该事项逾期未办，已按规定报领导小组。")
        if self.base_url and note.task_id:
            lines += ["", f"办理：{self.base_url}/tasks/{note.task_id}"]
        lines += ["", "本邮件由系统自动发送，请登录系统办理，勿直接回复。"]
        return subject, "\n".join(lines)
