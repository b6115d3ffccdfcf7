"""The database schema (SQLAlchemy 2). Changes to it go through an Alembic migration in migrations/."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        TypeDecorator, UniqueConstraint, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """Timestamps stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC values")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType, dt.datetime: UTCDateTime}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    unit: Mapped[str | None] = mapped_column(String(100))
    post: Mapped[str | None] = mapped_column(String(100))  # 职务, printed in the decisions served on them
    password_hash: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(200))  # notifications are also mailed here when SMTP is set up
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    role_rows: Mapped[list["UserRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> set[str]:
        return {r.role for r in self.role_rows}


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class Deployment(Base):
    """One numbered version of the process files; a case runs on the version it started on."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)  # the version number
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    files: Mapped[list["DeploymentFile"]] = relationship(cascade="all, delete-orphan", lazy="raise")


class DeploymentActivation(Base):
    """A version made the live one (the one new cases start on): by a deploy, or by an owner rolling back.
    The live version is the one of the newest row; the rows are the audit trail of who switched when."""

    __tablename__ = "deployment_activations"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    previous_id: Mapped[int | None] = mapped_column(Integer)  # the version that was live before
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by: Mapped[str | None] = mapped_column(String(64))
    how: Mapped[str] = mapped_column(String(16), default="deploy")  # deploy | rollback | redeploy


class DeploymentFile(Base):
    __tablename__ = "deployment_files"

    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    channel: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    unit: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text, default="")
    grounds: Mapped[list[Any]] = mapped_column(default=list)
    act_date: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer, index=True)  # calendar year of the act (Art. 11(3))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | closed
    stage: Mapped[str] = mapped_column(String(200), default="")  # titles of the steps it waits in
    end_event: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[dict[str, Any] | None] = mapped_column()
    served_on: Mapped[str | None] = mapped_column(String(10))  # the handling decision was served on this date
    established: Mapped[bool] = mapped_column(Boolean, default=False)  # liability established, not revoked
    reporter: Mapped[dict[str, Any] | None] = mapped_column()  # office only (Art. 5(12))
    receipt_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_cases_subject_year", "subject", "year", "established"),
                      Index("ix_cases_status_id", "status", "id"))


class CaseState(Base):
    """The serialized workflow of a case (without the process spec, which the deployment holds)."""

    __tablename__ = "case_states"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(Text)


NO_DUE = dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc)  # due_order of a task without a due time: last


def _due_order(context) -> dt.datetime:
    return context.get_current_parameters().get("due") or NO_DUE


class Task(Base):
    """The task index: open and finished user tasks, kept in step with the workflow."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the workflow task's id
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))  # element id in the diagram
    title: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(32))
    assignee: Mapped[str | None] = mapped_column(String(64))
    person: Mapped[str | None] = mapped_column(String(64))  # the respondent the task is about
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    form_key: Mapped[str | None] = mapped_column(String(64))
    due: Mapped[dt.datetime | None] = mapped_column()
    # the due time, or NO_DUE: the inbox's order "by due time, tasks without one last" as one indexed column
    due_order: Mapped[dt.datetime] = mapped_column(default=_due_order)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | completed | cancelled
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    completed_by: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column()  # what the form submitted, kept at completion
    escalate_at: Mapped[dt.datetime | None] = mapped_column()  # unfinished past this: the leading group is told
    reminded_at: Mapped[dt.datetime | None] = mapped_column()  # when the overdue reminder went out
    escalated_at: Mapped[dt.datetime | None] = mapped_column()  # when it was escalated

    # the lists in the order of each sort, so a page reads only its own rows (migration 0010_scale): each role's
    # queue of unassigned tasks (partial indexes: "assignee IS NULL" is no equality, so PostgreSQL would not
    # read a full index in due order past it; case_id last, so counting skips a respondent's own cases from the
    # index alone), a person's own tasks, claims, and the cases a person has tasks in
    __table_args__ = (
        Index("ix_tasks_queue_due", "state", "role", "due_order", "created_at", "id", "case_id",
              postgresql_where=text("assignee IS NULL"), sqlite_where=text("assignee IS NULL")),
        Index("ix_tasks_queue_created", "state", "role", "created_at", "id", "case_id",
              postgresql_where=text("assignee IS NULL"), sqlite_where=text("assignee IS NULL")),
        Index("ix_tasks_assignee_due", "state", "assignee", "due_order", "created_at", "id"),
        # claims, in each order: small (claimed rows only), and SQLite, which plans without statistics, then
        # prefers them to walking a whole role's queue in order to find a person's few claims
        Index("ix_tasks_claimed_due", "state", "claimed_by", "role", "due_order", "created_at", "id",
              postgresql_where=text("claimed_by IS NOT NULL"), sqlite_where=text("claimed_by IS NOT NULL")),
        Index("ix_tasks_claimed_created", "state", "claimed_by", "role", "created_at", "id",
              postgresql_where=text("claimed_by IS NOT NULL"), sqlite_where=text("claimed_by IS NOT NULL")),
        Index("ix_tasks_assignee_case", "assignee", "case_id"),
        Index("ix_tasks_state_due", "state", "due"),  # overdue tasks for reminders (migration 0006_time_limits)
    )


# newest case first, its tasks in the order they opened (a column sorted descending: outside the class body)
# (assignee last: with it the index alone answers the capped count on SQLite, which re-checks the partial condition)
Index("ix_tasks_queue_case", Task.state, Task.role, Task.case_id.desc(), Task.created_at, Task.id, Task.assignee,
      postgresql_where=text("assignee IS NULL"), sqlite_where=text("assignee IS NULL"))
Index("ix_tasks_claimed_case", Task.state, Task.claimed_by, Task.role, Task.case_id.desc(), Task.created_at, Task.id,
      postgresql_where=text("claimed_by IS NOT NULL"), sqlite_where=text("claimed_by IS NOT NULL"))


class Timer(Base):
    """Pending timers of waiting cases, so workers find due ones without loading workflows."""

    __tablename__ = "timers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    due: Mapped[dt.datetime] = mapped_column(index=True)


class Event(Base):
    """Append-only log of who did what when. Never holds a reporter's identity."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DecisionRecord(Base):
    """The trace of every decision-table evaluation, with the deployment version it ran on."""

    __tablename__ = "decision_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    decision: Mapped[str] = mapped_column(String(100), index=True)
    table_version: Mapped[str] = mapped_column(String(64))
    task: Mapped[str] = mapped_column(String(100))
    trace: Mapped[dict[str, Any]] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Disqualification(Base):
    """Art. 15 register: persons and units not eligible for awards and promotion in a year."""

    __tablename__ = "disqualifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # person | unit
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(100))  # a person's own unit (Art. 15)

    __table_args__ = (UniqueConstraint("case_id", "kind", "name"),)


class CasePerson(Base):
    """A respondent of a case (当事人) and, once decided, their own outcome: the law holds persons, not cases."""

    __tablename__ = "case_persons"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # handler | reviewer | approver
    unit: Mapped[str] = mapped_column(String(100))
    year: Mapped[int] = mapped_column(Integer)  # calendar year of the act (Art. 11(3))
    outcome: Mapped[dict[str, Any] | None] = mapped_column()  # the person's outcome as the diagram keeps it
    established: Mapped[bool] = mapped_column(Boolean, default=False)  # liability decided and not revoked
    served_on: Mapped[str | None] = mapped_column(String(10))  # their own decision was served on this date

    __table_args__ = (Index("ix_case_persons_person_year", "person", "year"),)


class LoginThrottle(Base):
    """Failed logins per account and per address in the current window, shared by every server process."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # account:<name> | address:<ip>
    window_start: Mapped[dt.datetime] = mapped_column()
    failures: Mapped[int] = mapped_column(Integer, default=0)


class RateLimit(Base):
    """A rate limit's counter in its current window (Flask-Limiter's store), shared by every server process."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)  # the limit and who it counts (address)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # the window's end, seconds since the epoch


class WebSession(Base):
    """A browser session that is logged in; logging out deletes it, so its cookie no longer works."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    """Evidence files uploaded to a case."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # sent with a form that was refused: kept for the uploader's next try, evidence only when the step succeeds
    draft: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Draft(Base):
    """A task form saved but not yet submitted, per task and person."""

    __tablename__ = "drafts"

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column()
    saved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A notice or decision issued to one respondent (立案通知, 告知书, 处理决定书, 复查决定书): its number (文号),
    the facts it was made from and the template version (hash), fixed when it is issued; both files follow from
    those a few seconds later (an outbox: ``pending`` until the timer worker or a download renders them, then
    ``ready``; ``failed`` with the reason once the renderer has failed :data:`MAX_RENDER_ATTEMPTS` times)."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    person: Mapped[str] = mapped_column(String(64))  # the respondent it is addressed to
    kind: Mapped[str] = mapped_column(String(40))  # registration_notice | hearing_notice | decision | review_decision
    ref: Mapped[str] = mapped_column(String(40), default="")  # which one of its kind for that person (hearing round)
    title: Mapped[str] = mapped_column(String(100))
    number: Mapped[str] = mapped_column(String(100))  # 文号, e.g. 明执追告〔2026〕3号
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    issued_on: Mapped[str] = mapped_column(String(10))  # the date printed on it (China Standard Time)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    template_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the template files and settings used
    content: Mapped[dict[str, Any]] = mapped_column()  # what was printed, as data
    state: Mapped[str] = mapped_column(String(10), default="pending", server_default="ready")  # pending|ready|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # renders tried
    claimed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # being rendered since (a lease)
    failed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # the last render failed at
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why the last render failed
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, nullable=True)
    docx: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True, nullable=True)

    __table_args__ = (UniqueConstraint("case_id", "kind", "person", "ref", name="uq_documents_case_kind_person_ref"),
                      UniqueConstraint("kind", "year", "seq", name="uq_documents_kind_year_seq"),
                      Index("ix_documents_pending", "id", postgresql_where=text("state = 'pending'"),
                            sqlite_where=text("state = 'pending'")))


class DocumentNumber(Base):
    """The last number (文号) given to a kind of document in a year."""

    __tablename__ = "document_numbers"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Notification(Base):
    """A message to one person (a reminder, an escalation), shown under the bell and mailed when SMTP is set up.
    It names the case, the task and its limit, never a reporter."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))  # reminder | escalation
    title: Mapped[str] = mapped_column(String(200))  # the task's title
    person: Mapped[str | None] = mapped_column(String(64))  # the respondent the task is about
    due: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column()
    emailed_at: Mapped[dt.datetime | None] = mapped_column()
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    email_tried_at: Mapped[dt.datetime | None] = mapped_column()  # the last try (a claim by one worker)
    email_error: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_notifications_user_read", "username", "read_at"),
                      Index("ix_notifications_user_id", "username", "id"))  # a person's list, newest first
