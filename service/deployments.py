"""Deployed versions of the process files, the live one, and the engine of each (built once per content).

* A version is identified by its canonical content (:func:`service.bundle.bundle_hash`): deploying files that
  mean the same as the live version changes nothing, and files that mean the same as an earlier version make
  that version live again instead of copying it.
* The **live** version is the one new cases start on. A deploy makes its version live; an owner may make any
  earlier version live again (:meth:`Deployments.activate`, a roll-back). Every switch is recorded with who
  did it (``deployment_activations`` and an ``activated`` event).
* Nothing is deployed or activated that the runtime would refuse (:func:`check_bundle`): every problem
  `accountability validate` finds, plus building the engine exactly as a running case would.
* A version that cannot be loaded (say, a row written into the database by hand) fails only what needs it,
  with :class:`VersionUnavailable`; cases on other versions, and the pages that list them, keep working.
"""
from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .bundle import Bundle
from .decisions import Problem
from .engine import ProcessEngine
from .errors import Invalid, NotFound, ServiceError
from .store.db import Database
from .store.repository import Store


class VersionUnavailable(ServiceError):
    """A deployed version whose files the engine cannot load: only what runs on it fails."""

    status, code = 503, "version_unavailable"


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
    """Every reason a set of files must not be deployed, each naming file, element and what is wrong.

    This is `accountability validate` on exactly these files (duplicate decision or process ids across files,
    files that do not load, tables whose analysis finds or hits a problem, …), and then the engine built from
    them as a running case would build it. An empty list means the runtime accepts the files. Callers (the
    upload, the deploy, the modeler's draft check) pass the whole set: ``{"processes/x.bpmn": b"…",
    "forms/key.json": b"…"}``.
    """
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
    problems = [Problem(p.file.replace(str(root) + "/", ""), p.where, p.message, p.line) for p in problems]
    if not problems:
        reason = load_problem(bundle)
        if reason is not None:
            problems.append(reason)
    return problems


def load_problem(bundle: Bundle) -> Problem | None:
    """Why the engine cannot be built from these files (None when it can): the runtime's own verdict."""
    digest = bundle.content_hash
    if digest in _ENGINES_BY_HASH:
        return None
    try:
        ProcessEngine(bundle)  # not kept: a draft checked on every save must not stay in memory
    except Exception as exc:  # noqa: BLE001 - whatever the engine refuses, the runtime would refuse
        return Problem(_file_of(exc), "", f"运行时无法加载这组文件：{_reason(exc)}")
    return None


@dataclass(frozen=True)
class DeployOutcome:
    """What a deploy did: ``created`` a new version, made an earlier one live again (``reactivated``), or
    nothing because the files mean the same as the live version."""

    version: int
    created: bool
    reactivated: bool
    previous: int | None  # the version that was live before


_ENGINES_BY_HASH: dict[str, ProcessEngine] = {}  # the same files build the same engine, once per process
_FAILURES_BY_HASH: dict[str, str] = {}  # files the engine refused, and why (not retried on every request)
_BUILD_LOCK = threading.RLock()


def _engine_for(bundle: Bundle) -> ProcessEngine:
    digest = bundle.content_hash
    with _BUILD_LOCK:
        if digest not in _ENGINES_BY_HASH:
            if digest in _FAILURES_BY_HASH:
                raise RuntimeError(_FAILURES_BY_HASH[digest])
            try:
                _ENGINES_BY_HASH[digest] = ProcessEngine(bundle)
            except Exception as exc:  # noqa: BLE001 - remembered, and reported as the version's problem
                _FAILURES_BY_HASH[digest] = _reason(exc)
                raise
        return _ENGINES_BY_HASH[digest]


def _reason(exc: BaseException) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return "；".join(str(p) for p in problems)
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def _file_of(exc: BaseException) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return problems[0].file
    return getattr(exc.__cause__, "file_name", None) or ""


class Deployments:
    """Numbered versions in the database, the live one, and ``engine(version)`` (built once) that runs each."""

    def __init__(self, db: Database):
        self.db = db
        self._engines: dict[int, ProcessEngine] = {}
        self._failures: dict[int, str] = {}  # versions never change: one that cannot be loaded never will

    # ---------------------------------------------------------------- deploying

    def deploy(self, bundle: Bundle, by: str | None = None) -> tuple[int, bool]:
        """Check the files, then make them the live version. Returns (version, created); see :meth:`publish`."""
        outcome = self.publish(bundle, by)
        return outcome.version, outcome.created

    def publish(self, bundle: Bundle, by: str | None = None) -> DeployOutcome:
        """Check the files (raises Invalid naming every problem, deploying nothing), then compare them with the
        LIVE version by canonical content: the same → nothing changes; the same as an earlier version → that
        version is live again; else a new version, which becomes live."""
        problems = check_bundle(bundle)
        if problems:
            raise Invalid("the process files have problems", problem_fields(problems))
        digest = bundle.content_hash
        with self.db.session() as s, s.begin():
            store = Store(s)
            live = store.live_deployment()
            existing = store.deployment_by_hash(digest)
            if existing is not None and live is not None and existing.id == live.id:
                return DeployOutcome(live.id, False, False, live.id)
            if existing is not None:
                store.activate(existing.id, by, "redeploy", previous=live.id if live else None)
                store.log(None, by, "activated", version=existing.id, previous=live.id if live else None,
                          how="redeploy")
                return DeployOutcome(existing.id, False, True, live.id if live else None)
            deployment = store.add_deployment(bundle.files, digest, by)
            store.log(None, by, "deployed", version=deployment.id, files=sorted(bundle.files), hash=digest,
                      previous=live.id if live else None)
            return DeployOutcome(deployment.id, True, False, live.id if live else None)

    def activate(self, version: int, by: str | None, how: str = "rollback") -> int | None:
        """Make a deployed version the live one again (a roll-back). Its files are checked as a deploy checks
        them. Returns the version that was live before (None when ``version`` already was live)."""
        with self.db.session() as s:
            files = Store(s).deployment_files(version)
        if not files:
            raise NotFound(f"version {version} does not exist")
        problems = check_bundle(Bundle(files))
        if problems:
            raise Invalid(f"version {version} cannot be made live", problem_fields(problems))
        with self.db.session() as s, s.begin():
            store = Store(s)
            live = store.live_deployment()
            if live is not None and live.id == version:
                return None
            store.activate(version, by, how, previous=live.id if live else None)
            store.log(None, by, "activated", version=version, previous=live.id if live else None, how=how)
            return live.id if live else None

    # ---------------------------------------------------------------- reading

    def current(self) -> int:
        """The live version: the one new cases start on."""
        with self.db.session() as s:
            live = Store(s).live_deployment()
        if live is None:
            raise NotFound("nothing is deployed yet: run `accountability init`")
        return live.id

    def engine(self, version: int) -> ProcessEngine:
        """The engine of one version; VersionUnavailable (naming why) when its files cannot be loaded."""
        engine = self._engines.get(version)
        if engine is not None:
            return engine
        if version in self._failures:
            raise VersionUnavailable(self._failures[version])
        with self.db.session() as s:
            files = Store(s).deployment_files(version)
        if not files:
            raise NotFound(f"deployment {version} does not exist")
        try:
            engine = _engine_for(Bundle(files))
        except Exception as exc:  # noqa: BLE001 - only what runs on this version fails
            self._failures[version] = f"版本 v{version} 的流程文件无法加载，该版本上的操作暂不可用：{_reason(exc)}"
            raise VersionUnavailable(self._failures[version]) from None
        self._engines[version] = engine
        return engine

    def problem(self, version: int) -> str | None:
        """Why a version cannot be loaded (None when it can)."""
        try:
            self.engine(version)
        except VersionUnavailable as exc:
            return exc.message
        return None

    def reference_engine(self) -> ProcessEngine:
        """The engine for labels and choices on pages (channels, task names): the live version's, or, when that
        cannot be loaded, the newest version's that can (so the lists keep answering)."""
        return self.engine(self.reference_version())

    def reference_version(self) -> int:
        """The live version, or when it cannot be loaded the newest version that can (VersionUnavailable if none)."""
        live = self.current()
        if self.problem(live) is None:
            return live
        with self.db.session() as s:
            ids = [d.id for d in reversed(Store(s).deployments())]
        for version in ids:
            if self.problem(version) is None:
                return version
        self.engine(live)  # raises, naming why
        return live


def problem_fields(problems: list[Problem]) -> dict[str, str]:
    """Problems as the form errors of an upload: ``file:element`` → message (several on one element joined)."""
    fields: dict[str, str] = {}
    for p in problems:
        key = f"{p.file}:{p.where}" if p.where else p.file
        fields[key] = f"{fields[key]}；{p.message}" if key in fields else p.message
    return fields
