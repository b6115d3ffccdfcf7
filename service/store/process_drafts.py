"""Drafts of the process files that procedure owners edit in the browser (``/processes/edit``).

A draft is a whole file set (BPMN, DMN, forms) kept in tables of its own, apart from the deployments: no case, inbox,
timer or engine reads them, so nothing in a draft reaches a running case. Deploying a draft copies its files into a
new deployment through the ordinary deploy."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .models import Base, utcnow

OPEN, DEPLOYED, DISCARDED = "open", "deployed", "discarded"


class ProcessDraft(Base):
    """One draft: the version it started from, its edit revision (bumped by every save) and its last check."""

    __tablename__ = "process_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    base_version: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)  # open | deployed | discarded
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deployed_version: Mapped[int | None] = mapped_column(Integer)
    check_result: Mapped[dict[str, Any] | None] = mapped_column()  # the last check (problems, scenarios, diff, cases)
    checked_revision: Mapped[int | None] = mapped_column(Integer)  # the revision that check ran on


class ProcessDraftFile(Base):
    __tablename__ = "process_draft_files"

    draft_id: Mapped[int] = mapped_column(ForeignKey("process_drafts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class DraftStore:
    """Queries and writes of the drafts, inside the caller's session (the service owns the transaction)."""

    def __init__(self, session: Session):
        self.s = session

    def add(self, base_version: int, files: dict[str, bytes], by: str) -> ProcessDraft:
        draft = ProcessDraft(base_version=base_version, created_by=by, updated_by=by, status=OPEN, revision=1)
        self.s.add(draft)
        self.s.flush()
        self.s.add_all(ProcessDraftFile(draft_id=draft.id, name=n, content=c) for n, c in files.items())
        return draft

    def get(self, draft_id: int, *, for_update: bool = False) -> ProcessDraft | None:
        query = select(ProcessDraft).where(ProcessDraft.id == draft_id)
        if for_update and self.s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return self.s.scalar(query)

    def open_drafts(self) -> list[ProcessDraft]:
        return list(self.s.scalars(select(ProcessDraft).where(ProcessDraft.status == OPEN)
                                   .order_by(ProcessDraft.id.desc())))

    def files(self, draft_id: int) -> dict[str, bytes]:
        rows = self.s.execute(select(ProcessDraftFile.name, ProcessDraftFile.content)
                              .where(ProcessDraftFile.draft_id == draft_id))
        return {name: bytes(content) for name, content in rows}

    def put_files(self, draft_id: int, files: dict[str, bytes]) -> None:
        """Replace (or add) these files of the draft."""
        if not files:
            return
        self.s.execute(delete(ProcessDraftFile).where(ProcessDraftFile.draft_id == draft_id,
                                                      ProcessDraftFile.name.in_(list(files))))
        self.s.add_all(ProcessDraftFile(draft_id=draft_id, name=n, content=c) for n, c in files.items())
