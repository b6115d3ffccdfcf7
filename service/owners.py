"""For procedure owners: deployed versions and the live one, what changed between two, deploying edited files,
making an earlier version live again (roll-back).

Functions other features call (the in-browser modeler's draft page among them):

* :func:`service.deployments.check_bundle` — every reason a set of files must not be deployed (file, element,
  message), the same check the upload and the deploy run;
* :func:`service.versions_diff.diff_files` — what differs between two sets of files, before and after;
  :meth:`OwnerService.diff_against_live` does it for a draft against the live version;
* :meth:`service.cases.migration.MigrationService.affected_cases` — the open cases a draft touches and
  whether each could move to it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .auth import Principal
from .bundle import Bundle
from .deployments import Deployments, DeployOutcome
from .errors import Forbidden, Invalid, NotFound
from .store.db import Database
from .store.repository import Store
from .versions_diff import diff_files


class OwnerService:
    def __init__(self, db: Database, deployments: Deployments):
        self.db = db
        self.deployments = deployments

    @staticmethod
    def _check(principal: Principal) -> None:
        if not principal.owns_processes:
            raise Forbidden("the process versions are for procedure owners (roles admin, owner)")

    def versions(self, principal: Principal) -> list[dict[str, Any]]:
        """Every version, newest first: who deployed it, its files, its open cases, whether it is the live one,
        and why it cannot be loaded (``problem``) if it cannot."""
        self._check(principal)
        with self.db.session() as s:
            store = Store(s)
            open_cases = store.open_cases_per_deployment()
            live = store.live_deployment()
            out = []
            for d in reversed(store.deployments()):
                out.append({"id": d.id, "created_at": d.created_at.isoformat(), "created_by": d.created_by,
                            "hash": d.content_hash[:12], "files": sorted(store.deployment_files(d.id)),
                            "open_cases": open_cases.get(d.id, 0), "live": live is not None and d.id == live.id})
        for v in out:
            v["problem"] = self.deployments.problem(v["id"])
        return out

    def activations(self, principal: Principal, limit: int = 20) -> list[dict[str, Any]]:
        """Who made which version live and when, newest first (deploys and roll-backs)."""
        self._check(principal)
        with self.db.session() as s:
            return [{"version": a.deployment_id, "previous": a.previous_id, "at": a.at.isoformat(), "by": a.by,
                     "how": a.how} for a in Store(s).activations()[:limit]]

    def files(self, principal: Principal, version: int) -> dict[str, str]:
        self._check(principal)
        with self.db.session() as s:
            files = Store(s).deployment_files(version)
        if not files:
            raise NotFound(f"version {version} does not exist")
        return {name: data.decode("utf-8") for name, data in files.items()}

    def live_files(self, principal: Principal) -> dict[str, bytes]:
        """The files of the live version (the base a draft or an upload starts from)."""
        self._check(principal)
        with self.db.session() as s:
            return Store(s).deployment_files(self.deployments.current())

    def diff(self, principal: Principal, old: int, new: int) -> dict[str, Any]:
        """What changed from version ``old`` to ``new``, before and after (see :mod:`service.versions_diff`)."""
        self._check(principal)
        with self.db.session() as s:
            store = Store(s)
            a, b = store.deployment_files(old), store.deployment_files(new)
        if not a or not b:
            raise NotFound(f"version {old if not a else new} does not exist")
        return {"old": old, "new": new, **diff_files(a, b)}

    def diff_against_live(self, principal: Principal, files: dict[str, bytes]) -> dict[str, Any]:
        """What a set of files (e.g. a draft) changes compared with the live version, before and after."""
        live = self.deployments.current()
        return {"old": live, "new": None, **diff_files(self.live_files(principal), files)}

    def upload(self, principal: Principal, uploads: dict[str, bytes]) -> tuple[int, bool]:
        """Deploy the live version with these files added or replaced (checked first). Returns (version, created)."""
        outcome = self.upload_outcome(principal, uploads)
        return outcome.version, outcome.created

    def upload_outcome(self, principal: Principal, uploads: dict[str, bytes]) -> DeployOutcome:
        self._check(principal)
        if not uploads:
            raise Invalid("choose at least one .bpmn, .dmn or form .json file", {"files": "请选择文件"})
        files = self.live_files(principal)
        for name, data in uploads.items():
            base = Path(name).name
            if base.endswith((".bpmn", ".dmn")):
                files[f"processes/{base}"] = data
            elif base.endswith(".json"):
                files[f"forms/{base}"] = data
            else:
                raise Invalid("unsupported file", {base: "只能上传 .bpmn、.dmn 或表单 .json 文件"})
        return self.deployments.publish(Bundle(files), by=principal.username)

    def deploy_folder(self, principal: Principal, processes: Path, forms: Path) -> DeployOutcome:
        """Deploy the files of the folders, compared with the live version."""
        self._check(principal)
        return self.deployments.publish(Bundle.from_folders(processes, forms), by=principal.username)

    def activate(self, principal: Principal, version: int) -> int | None:
        """Make an earlier (or any) version the live one: new cases start on it. Returns the version that was live
        before, None when it already was. Recorded with who did it."""
        self._check(principal)
        return self.deployments.activate(version, principal.username, "rollback")
