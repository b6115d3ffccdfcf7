"""Intake through the four channels (Art. 19, 20)."""
from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import Any

from ..auth import Principal
from ..engine import EngineError
from ..errors import Forbidden, Invalid
from ..forms import FormErrors
from ..store.models import Case
from .base import CaseServiceBase

RECEIPT_ALPHABET = string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789"
# the district's own calendar day (China Standard Time): an act of "today" there is never refused as future
LOCAL_TIME = dt.timezone(dt.timedelta(hours=8))
FUTURE_DATE = "不能晚于今天（%s）"


def _receipt() -> str:
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(10))


class IntakeService(CaseServiceBase):
    def _refuse_future_act(self, intake: dict[str, Any]) -> None:
        raw = intake.get("act_date") if isinstance(intake, dict) else None
        if not isinstance(raw, str) or not raw:
            return
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            return  # the intake form's own check names a malformed date
        today = self.clock().astimezone(LOCAL_TIME).date()
        if day > today:
            raise Invalid("the act date lies in the future", {"act_date": FUTURE_DATE % today.isoformat()})

    def start_case(self, principal: Principal | None, intake: dict[str, Any]) -> dict[str, Any]:
        """Intake through one of the four channels. ``principal`` None is the public complaint page.
        Whatever the channel, the erroneous act cannot lie in the future (422 on ``act_date``)."""
        self._refuse_future_act(intake)
        if principal is None:
            intake = {**intake, "channel": "public_complaint"}
        elif not principal.has("office"):
            # any officer may report their own error (Art. 19); other channels go through the office
            if intake.get("channel") != "self_report" or intake.get("subject") != principal.username:
                raise Forbidden("only the office records cases; you may self-report your own error (第十九条)")
        version = self.deployments.current()
        engine = self.deployments.engine(version)
        with self._write() as store:  # a write transaction: on SQLite it queues for the lock, never "locked"
            if intake.get("subject") and store.user(str(intake["subject"])) is None:
                raise Invalid("the intake has errors", {"subject": "没有此人员账号，请从人员名单中选择被追究人员"})
            facts = {"leading_group_members": store.usernames_with_role("leading_group")}
            try:
                wf = engine.start(intake, facts, now=self.clock())
            except FormErrors as exc:
                raise Invalid("the intake has errors", exc.errors) from None
            except EngineError as exc:
                raise Invalid(f"the case could not be started: {exc}", {"": str(exc)}) from None
            data = wf.data
            row = Case(deployment_id=version, channel=data["channel"], subject=data.get("subject") or "",
                       unit=data.get("unit") or "", summary=data.get("summary") or "", grounds=data.get("grounds") or [],
                       act_date=data["act_date"], year=int(data["act_date"][:4]), reporter=data.get("reporter"),
                       receipt_code=_receipt() if principal is None else None,
                       created_by=principal.username if principal else None, created_at=self.clock(),
                       updated_at=self.clock())
            store.add_case(row, engine.serialize(wf))
            store.log(row.id, row.created_by, "created", channel=row.channel, subject=row.subject, unit=row.unit,
                      grounds=row.grounds, deployment=version)
            self._sync(store, row, engine, wf, actor=row.created_by)
            return {"id": row.id, "receipt_code": row.receipt_code, "status": row.status, "stage": row.stage}
