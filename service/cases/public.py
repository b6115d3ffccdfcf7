"""What the public complaint page needs of a case: filing a complaint and answering an enquiry by receipt code.

The enquiry answers only what the reporter may know (received, registered or not, and the reason given for
not registering); never a detail of the officer, the respondents, the case or the reporter (Art. 5(12), 5(13)).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..store.repository import Store
from .base import CaseServiceBase
from .intake import RECEIPT_ALPHABET

from .intake import LOCAL_TIME


def normalise_receipt(code: str | None) -> str:
    """A receipt code as typed: spaces and dashes dropped, upper case."""
    return "".join(ch for ch in (code or "").upper() if ch not in " -\t")


class PublicService(CaseServiceBase):
    def local_today(self) -> dt.date:
        return self.clock().astimezone(LOCAL_TIME).date()

    def file_complaint(self, intake: dict[str, Any]) -> dict[str, Any]:
        """A public complaint (no login): the intake's checks (the act may not lie in the future, see start_case)."""
        return self.start_case(None, intake)  # type: ignore[attr-defined]

    def complaint_status(self, code: str | None) -> dict[str, Any] | None:
        """What a reporter may learn with their receipt code, or None (unknown or malformed code alike).

        ``registered`` is None while the office has not decided (Art. 18: within 15 days), then True or False;
        ``reason`` is the reason for not registering, which the office writes for the reporter."""
        code = normalise_receipt(code)
        if not (8 <= len(code) <= 16) or any(ch not in RECEIPT_ALPHABET for ch in code):
            return None
        with self.db.session() as s:
            store = Store(s)
            row = store.case_by_receipt(code)
            if row is None:
                return None
            engine = self.deployments.engine(row.deployment_id)
            wf = engine.restore(store.state(row.id))
            received = row.created_at.astimezone(LOCAL_TIME).date().isoformat()
        decided = any(h["name"] == "Task_register" for h in wf.history())
        register = wf.data.get("register") if decided else None
        registered = register if isinstance(register, bool) else None
        reason = wf.data.get("not_registered_reason") if registered is False else None
        return {"code": code, "received": received, "registered": registered,
                "reason": reason if isinstance(reason, str) and reason.strip() else None}
