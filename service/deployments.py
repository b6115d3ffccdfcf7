"""Deployed versions of the process files, and the engine of each (cached per process)."""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from .bundle import Bundle
from .decisions import Problem
from .engine import ProcessEngine
from .errors import Invalid, NotFound
from .store.db import Database
from .store.repository import Store


def deployed_dir(name: str, env: str) -> Path:
    """A deployed folder: $<env>, else ./<name> when it exists, else the project's own."""
    if os.environ.get(env):
        return Path(os.environ[env])
    here = Path.cwd() / name
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / name


def processes_dir() -> Path:
    """The deployed BPMN and DMN files ($ACCOUNTABILITY_PROCESSES, ./processes or the project's)."""
    return deployed_dir("processes", "ACCOUNTABILITY_PROCESSES")


def forms_dir() -> Path:
    """The deployed form schemas ($ACCOUNTABILITY_FORMS, ./forms or the project's)."""
    return deployed_dir("forms", "ACCOUNTABILITY_FORMS")


def check_bundle(bundle: Bundle) -> list[Problem]:
    """Everything `accountability validate` checks, on a bundle's files."""
    from .validation import validate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, data in bundle.files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (root / "processes").mkdir(exist_ok=True)
        (root / "forms").mkdir(exist_ok=True)
        problems, _ = validate([root / "processes", root / "forms"], default_processes=root / "processes",
                               default_forms=root / "forms")
    return [Problem(p.file.replace(str(root) + "/", ""), p.where, p.message, p.line) for p in problems]


_ENGINES_BY_HASH: dict[str, ProcessEngine] = {}  # the same files build the same engine, once per process
_BUILD_LOCK = threading.Lock()


class Deployments:
    """Numbered versions in the database; ``engine(version)`` builds (once) the engine that runs them."""

    def __init__(self, db: Database):
        self.db = db
        self._engines: dict[int, ProcessEngine] = {}
        self._lock = _BUILD_LOCK

    def deploy(self, bundle: Bundle, by: str | None = None) -> tuple[int, bool]:
        """Validate, then store a new version unless identical files are deployed already.

        Returns (version, created)."""
        problems = check_bundle(bundle)
        if problems:
            raise Invalid("the process files have problems", {f"{p.file}:{p.where}": p.message for p in problems})
        with self.db.session() as s, s.begin():
            store = Store(s)
            existing = store.deployment_by_hash(bundle.content_hash)
            if existing is not None:
                return existing.id, False
            deployment = store.add_deployment(bundle.files, bundle.content_hash, by)
            store.log(None, by, "deployed", version=deployment.id, files=sorted(bundle.files),
                      hash=bundle.content_hash)
            return deployment.id, True

    def current(self) -> int:
        with self.db.session() as s:
            latest = Store(s).latest_deployment()
        if latest is None:
            raise NotFound("nothing is deployed yet: run `accountability init`")
        return latest.id

    def engine(self, version: int) -> ProcessEngine:
        engine = self._engines.get(version)
        if engine is not None:
            return engine
        with self._lock:
            if version not in self._engines:
                with self.db.session() as s:
                    files = Store(s).deployment_files(version)
                if not files:
                    raise NotFound(f"deployment {version} does not exist")
                bundle = Bundle(files)
                if bundle.content_hash not in _ENGINES_BY_HASH:
                    _ENGINES_BY_HASH[bundle.content_hash] = ProcessEngine(bundle)
                self._engines[version] = _ENGINES_BY_HASH[bundle.content_hash]
            return self._engines[version]
