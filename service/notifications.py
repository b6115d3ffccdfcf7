"""The bell: a person's notifications, their unread count, marking them read."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from .auth import Principal
from .cases.base import _WriteTransaction, iso
from .cases.tasks import CURSOR_MESSAGE
from .errors import Invalid, NotFound
from .store.db import Database
from .store.models import utcnow
from .store.paging import BadCursor
from .store.repository import Page, Store


class NotificationService:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow):
        self.db = db
        self.clock = clock

    def list(self, principal: Principal, *, unread_only: bool = False, page: int = 1, per_page: int = 50,
             cursor: str | None = None) -> Page:
        """The caller's own, newest first (at most 200 a page); ``cursor``: the page after the one that handed it
        out. A cursor this list did not hand out is Invalid."""
        with self.db.session() as s:
            try:
                result = Store(s).notifications(principal.username, unread_only=unread_only, page=max(page, 1),
                                                per_page=min(max(per_page, 1), 200), cursor=cursor)
            except BadCursor:
                raise Invalid("the cursor is not one this list handed out", {"cursor": CURSOR_MESSAGE}) from None
            return result.with_items([self._view(n) for n in result.items])

    def unread(self, principal: Principal) -> int:
        with self.db.session() as s:
            return Store(s).unread_count(principal.username)

    def mark_read(self, principal: Principal, notification_id: int | None = None) -> int:
        """Mark one notification (or, without an id, all of them) read; someone else's is not found."""
        with _WriteTransaction(self.db) as store:
            changed = store.mark_read(principal.username, self.clock(), notification_id)
            if notification_id is not None and not changed:
                note = store.notification(notification_id)
                if note is None or note.username != principal.username:
                    raise NotFound(f"notification {notification_id} does not exist")
            return changed

    @staticmethod
    def _view(n: Any) -> dict[str, Any]:
        return {"id": n.id, "kind": n.kind, "case_id": n.case_id, "task_id": n.task_id, "title": n.title,
                "person": n.person, "due": iso(n.due), "created_at": iso(n.created_at), "read": n.read_at is not None}
