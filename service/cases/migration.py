"""Moving open cases between deployed versions (procedure owners), and which open cases a draft would touch.

A moved case keeps its timers' and tasks' absolute due dates, unless the owner chooses to recompute them from
when each step opened under the new version's periods (:mod:`service.engine.migration`). The reasons a case
cannot move are in Chinese.
"""
from __future__ import annotations

from typing import Any

from ..auth import Principal
from ..bundle import Bundle
from ..deployments import VersionUnavailable
from ..engine import ProcessEngine
from ..errors import Forbidden, Invalid
from ..store.repository import Store
from .base import CaseServiceBase, iso

# a case started on a version before the person model keeps running there: its data has no respondents
PERSONLESS = "该案件按旧版本（单一被追究人员）办理，数据中没有逐人的当事人名单，不能迁移到按当事人逐人办理的新版本；请在原版本上办结"
NOT_MOVABLE = "不是其他版本上正在办理的案件"


class MigrationService(CaseServiceBase):
    @staticmethod
    def _owner(principal: Principal) -> None:
        if not principal.owns_processes:
            raise Forbidden("only procedure owners (roles admin, owner) move cases between versions")

    def migration_check(self, principal: Principal, source: int, target: int) -> dict[str, list[dict[str, Any]]]:
        """Which open cases of version ``source`` can move to ``target`` (with their due dates now, if kept and if
        recomputed), and why the others cannot."""
        self._owner(principal)
        try:
            old = self.deployments.engine(source)
        except VersionUnavailable as exc:
            return {"movable": [], "blocked": [{"id": None, "subject": "", "stage": "", "reasons": [exc.message]}]}
        new = self.deployments.engine(target)
        return self._check(old, new, lambda row: row.deployment_id == source, names=principal.is_staff)

    def affected_cases(self, principal: Principal, files: dict[str, bytes]) -> dict[str, list[dict[str, Any]]]:
        """The open cases on the live version that a set of files (e.g. a draft, ``{"processes/x.bpmn": b"…"}``)
        would concern, each with whether it could move to them (``movable``/``blocked`` with reasons, as
        :meth:`migration_check`). The files are loaded as a version would be, without deploying them; files the
        engine refuses raise Invalid naming why."""
        self._owner(principal)
        live = self.deployments.current()
        try:
            draft = ProcessEngine(Bundle(dict(files)))
        except Exception as exc:  # noqa: BLE001 - the runtime's own verdict on the files
            raise Invalid("the files cannot be loaded", {"": f"运行时无法加载这组文件：{exc}"}) from None
        return self._check(self.deployments.engine(live), draft, lambda row: row.deployment_id == live,
                           names=principal.is_staff)

    def _check(self, old: ProcessEngine, new: ProcessEngine, wanted, *,
               names: bool) -> dict[str, list[dict[str, Any]]]:
        """``names``: whether the caller may read who each case concerns (staff); a procedure owner who holds no
        staff role decides about versions from case numbers, steps and dates, never persons."""
        movable, blocked = [], []
        with self.db.session() as s:
            store = Store(s)
            rows = store.cases(filters={"status": "open"}, visible_to_subject=None, page=1, per_page=10_000).items
            for row in rows:
                if not wanted(row):
                    continue
                wf = old.restore(store.state(row.id))
                if self._personless(wf):
                    reasons, deadlines = [PERSONLESS], []
                else:
                    reasons, deadlines = old.migration_check(wf, new)
                entry = {"id": row.id, "subject": row.subject if names else "", "stage": row.stage, "reasons": reasons}
                if reasons:
                    blocked.append(entry)
                    continue
                entry["deadlines"] = [{**d, "person": d.get("person") if names else None,
                                       "now": iso(d["now"]), "keep": iso(d["keep"]),
                                       "recompute": iso(d["recompute"]),
                                       "changes": d["keep"] != d["recompute"]} for d in deadlines]
                movable.append(entry)
        return {"movable": movable, "blocked": blocked}

    def migrate(self, principal: Principal, case_ids: list[int], target: int, *,
                recompute: bool = False) -> dict[str, list[Any]]:
        """Move the chosen open cases to version ``target``; a case that cannot move is left untouched. Due dates
        stay as they are, or with ``recompute`` are computed again from when each step opened under ``target``'s
        periods. Each move is logged (``migrated``, with the choice)."""
        self._owner(principal)
        new = self.deployments.engine(target)
        moved, refused = [], []
        for case_id in case_ids:
            with self._write() as store:
                row = store.lock_case(case_id)
                if row is None or row.status != "open" or row.deployment_id == target:
                    refused.append({"id": case_id, "reasons": [NOT_MOVABLE]})
                    continue
                try:
                    old = self.deployments.engine(row.deployment_id)
                except VersionUnavailable as exc:
                    refused.append({"id": case_id, "reasons": [exc.message]})
                    continue
                wf = old.restore(store.state(row.id))
                reasons = self._blockers(old, new, wf)
                if reasons:
                    refused.append({"id": case_id, "reasons": reasons})
                    continue
                source = row.deployment_id
                wf = old.migrate(wf, new, recompute=recompute, now=self.clock())
                row.deployment_id = target
                store.log(row.id, principal.username, "migrated", source=source, target=target,
                          deadlines="recompute" if recompute else "keep")
                self._sync(store, row, new, wf, actor=principal.username)
                moved.append(case_id)
        return {"moved": moved, "refused": refused}

    @staticmethod
    def _personless(wf) -> bool:
        return wf.data.get("register") is True and not isinstance(wf.data.get("respondents"), list)

    def _blockers(self, old: ProcessEngine, new: ProcessEngine, wf) -> list[str]:
        return [PERSONLESS] if self._personless(wf) else old.migration_blockers(wf, new)
