"""Moving open cases between deployed versions (procedure owners)."""
from __future__ import annotations

from typing import Any

from ..auth import Principal
from ..errors import Forbidden
from ..store.repository import Store
from .base import CaseServiceBase

# a case started on a version before the person model keeps running there: its data has no respondents
PERSONLESS = "该案件按旧版本（单一被追究人员）办理，数据中没有逐人的当事人名单，不能迁移到按当事人逐人办理的新版本；请在原版本上办结"


class MigrationService(CaseServiceBase):
    def migration_check(self, principal: Principal, source: int, target: int) -> dict[str, list[dict[str, Any]]]:
        """Which open cases of version ``source`` can move to ``target``, and why the others cannot."""
        if not principal.has("admin"):
            raise Forbidden("only administrators (procedure owners) move cases between versions")
        old, new = self.deployments.engine(source), self.deployments.engine(target)
        movable, blocked = [], []
        with self.db.session() as s:
            store = Store(s)
            rows = store.cases(filters={"status": "open"}, visible_to_subject=None, page=1, per_page=10_000).items
            for row in rows:
                if row.deployment_id != source:
                    continue
                reasons = self._blockers(old, new, old.restore(store.state(row.id)))
                entry = {"id": row.id, "subject": row.subject, "stage": row.stage}
                (blocked if reasons else movable).append({**entry, "reasons": reasons})
        return {"movable": movable, "blocked": blocked}

    def migrate(self, principal: Principal, case_ids: list[int], target: int) -> dict[str, list[Any]]:
        """Move the chosen open cases to version ``target``; a case that cannot move is left untouched."""
        if not principal.has("admin"):
            raise Forbidden("only administrators (procedure owners) move cases between versions")
        new = self.deployments.engine(target)
        moved, refused = [], []
        for case_id in case_ids:
            with self._write() as store:
                row = store.case(case_id)
                if row is None or row.status != "open" or row.deployment_id == target:
                    refused.append({"id": case_id, "reasons": ["不是其他版本上正在办理的案件"]})
                    continue
                old = self.deployments.engine(row.deployment_id)
                wf = old.restore(store.state(row.id))
                reasons = self._blockers(old, new, wf)
                if reasons:
                    refused.append({"id": case_id, "reasons": reasons})
                    continue
                source = row.deployment_id
                wf = old.migrate(wf, new, now=self.clock())
                row.deployment_id = target
                store.log(row.id, principal.username, "migrated", source=source, target=target)
                self._sync(store, row, new, wf, actor=principal.username)
                moved.append(case_id)
        return {"moved": moved, "refused": refused}

    @staticmethod
    def _blockers(old, new, wf) -> list[str]:
        reasons = old.migration_blockers(wf, new)
        registered = wf.data.get("register") is True
        if registered and not isinstance(wf.data.get("respondents"), list):
            reasons = [PERSONLESS, *reasons]
        return reasons
