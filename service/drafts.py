"""Drafts that procedure owners edit in the browser, and the one loop from a draft to a live version:
save → check (validation problems per element, the owners' scenarios, the diff against the live version, the open
cases the change touches and whether each can move) → deploy, or discard.

A draft lives in its own tables (``service/store/process_drafts.py``): no case, inbox, timer or engine reads it.
It becomes a version only through :meth:`Deployments.deploy`, which validates again.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .auth import ROLE_NAMES, Principal
from .bundle import Bundle
from .cases import CaseService
from .decisions import DmnLoadError, load_bytes
from .deployments import Deployments, DeployOutcome, check_bundle, deployed_dir
from .engine import ROLES, EngineError, ProcessEngine
from .errors import Conflict, Forbidden, Invalid, NotFound
from .forms import check_schema
from .store.db import Database
from .store.process_drafts import DEPLOYED, DISCARDED, OPEN, DraftStore, ProcessDraft
from .store.repository import Store
from .versions_diff import diff_files

MAX_FILE_BYTES = 2 * 1024 * 1024  # one diagram, table or form; the shipped diagram is about 150 KB
MAX_FILES = 200
EDITABLE = (("processes/", ".bpmn"), ("processes/", ".dmn"), ("forms/", ".json"))


def editable_name(name: str) -> bool:
    """``processes/<x>.bpmn``, ``processes/<x>.dmn`` or ``forms/<x>.json``, with a plain file name."""
    for prefix, suffix in EDITABLE:
        base = name.removeprefix(prefix)
        if name.startswith(prefix) and name.endswith(suffix) and base and "/" not in base and "\\" not in base \
                and not base.startswith(".") and len(name) <= 200:
            return True
    return False


class DraftService:
    """The drafts' use cases. Validation, the diff and the migration check are the owners' own functions
    (``check_bundle``, ``versions_diff.diff_files``, ``CaseService.affected_cases``), run on the draft's files."""

    def __init__(self, db: Database, deployments: Deployments, cases: CaseService):
        self.db = db
        self.deployments = deployments
        self.cases = cases

    @staticmethod
    def _check_owner(principal: Principal) -> None:
        if not principal.owns_processes:
            raise Forbidden("drafts of the process files are for procedure owners (roles admin, owner)")

    def _write(self):
        return self.cases._write()  # the case service's write transaction (BEGIN IMMEDIATE on SQLite)

    # ---------------------------------------------------------------- reading

    def drafts(self, principal: Principal) -> list[dict[str, Any]]:
        """The open drafts, newest first."""
        self._check_owner(principal)
        with self.db.session() as s:
            return [self._summary(d) for d in DraftStore(s).open_drafts()]

    def draft(self, principal: Principal, draft_id: int) -> dict[str, Any]:
        """A draft with its file names and, when it was checked at its current revision, that check."""
        self._check_owner(principal)
        with self.db.session() as s:
            d = DraftStore(s).get(draft_id)
            if d is None:
                raise NotFound(f"draft {draft_id} does not exist")
            names = sorted(DraftStore(s).files(draft_id))
            out = self._summary(d)
        out["files"] = names
        out["live_version"] = self.deployments.current()
        return out

    def file(self, principal: Principal, draft_id: int, name: str) -> bytes:
        self._check_owner(principal)
        with self.db.session() as s:
            if DraftStore(s).get(draft_id) is None:
                raise NotFound(f"draft {draft_id} does not exist")
            files = DraftStore(s).files(draft_id)
        if name not in files:
            raise NotFound(f"the draft has no file {name}")
        return files[name]

    def choices(self, principal: Principal, draft_id: int) -> dict[str, list[dict[str, str]]]:
        """What the modeler offers in lists: roles for a user task's candidate groups, the draft's forms for a form
        key, the draft's decisions for a business rule task."""
        self._check_owner(principal)
        with self.db.session() as s:
            if DraftStore(s).get(draft_id) is None:
                raise NotFound(f"draft {draft_id} does not exist")
            files = DraftStore(s).files(draft_id)
        forms, decisions = [], []
        for name, data in sorted(files.items()):
            if name.startswith("forms/") and name.endswith(".json"):
                try:
                    title = json.loads(data.decode("utf-8")).get("title") or ""
                except (ValueError, AttributeError, UnicodeDecodeError):
                    title = ""
                forms.append({"value": Path(name).stem, "label": f"{title}（{Path(name).stem}）" if title
                              else Path(name).stem})
            elif name.endswith(".dmn"):
                try:
                    model = load_bytes(data, name, check_schema=False)
                except (DmnLoadError, ValueError):
                    continue
                for d in model.decisions.values():
                    decisions.append({"value": d.id, "label": f"{d.name}（{d.id}）" if d.name else d.id})
        roles = [{"value": r, "label": f"{ROLE_NAMES.get(r, r)}（{r}）"} for r in ROLES]
        return {"roles": roles, "forms": forms, "decisions": decisions}

    # ---------------------------------------------------------------- writing

    def create(self, principal: Principal) -> int:
        """A new draft holding the live version's files."""
        self._check_owner(principal)
        live = self.deployments.current()
        with self._write() as store:
            files = store.deployment_files(live)
            draft = DraftStore(store.s).add(live, files, principal.username)
            store.log(None, principal.username, "draft_created", draft=draft.id, base_version=live)
            return draft.id

    def save(self, principal: Principal, draft_id: int, revision: int, files: dict[str, str]) -> int:
        """Store edited files in the draft (nothing is checked but their names and sizes: a draft may be wrong).
        ``revision`` is the one the editor loaded; when someone saved since, nothing is saved (409).
        Returns the draft's new revision."""
        self._check_owner(principal)
        if not files:
            raise Invalid("nothing to save", {"files": "没有要保存的修改"})
        encoded: dict[str, bytes] = {}
        for name, text in files.items():
            if not isinstance(name, str) or not editable_name(name):
                raise Invalid("unsupported file", {str(name)[:200]: "只能保存 processes/ 下的 .bpmn、.dmn 文件或 "
                                                                    "forms/ 下的 .json 表单"})
            if not isinstance(text, str):
                raise Invalid("a file's content must be text", {name: "文件内容必须是文本"})
            data = text.encode("utf-8")
            if len(data) > MAX_FILE_BYTES:
                raise Invalid("file too large", {name: f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB"})
            encoded[name] = data
        with self._write() as store:
            drafts = DraftStore(store.s)
            draft = self._open_for_update(drafts, draft_id)
            if draft.revision != revision:
                raise Conflict(f"草稿已由 {draft.updated_by} 于 {draft.updated_at:%Y-%m-%d %H:%M} UTC 保存了新的修改"
                               f"（第 {draft.revision} 次保存），本次没有保存：请重新载入草稿后再修改。")
            current = drafts.files(draft_id)
            changed = {n: c for n, c in encoded.items() if current.get(n) != c}
            if not changed:
                return draft.revision
            if len(set(current) | set(changed)) > MAX_FILES:
                raise Invalid("too many files", {"files": f"一个草稿最多 {MAX_FILES} 个文件"})
            drafts.put_files(draft_id, changed)
            from .store.models import utcnow
            draft.revision += 1
            draft.updated_by, draft.updated_at = principal.username, utcnow()
            store.log(None, principal.username, "draft_saved", draft=draft_id, revision=draft.revision,
                      files=sorted(changed))
            return draft.revision

    def discard(self, principal: Principal, draft_id: int) -> None:
        self._check_owner(principal)
        with self._write() as store:
            draft = self._open_for_update(DraftStore(store.s), draft_id)
            draft.status = DISCARDED
            store.log(None, principal.username, "draft_discarded", draft=draft_id)

    # ---------------------------------------------------------------- the loop: check, then deploy

    def check(self, principal: Principal, draft_id: int) -> dict[str, Any]:
        """Validate the draft; when it is valid, run the owners' scenarios on it, compare it with the live version
        and list the open cases of the live version with whether each could move to it. The result is kept with the
        draft for its current revision."""
        self._check_owner(principal)
        with self.db.session() as s:
            draft = DraftStore(s).get(draft_id)
            if draft is None or draft.status != OPEN:
                raise NotFound(f"draft {draft_id} is not open")
            revision, files = draft.revision, DraftStore(s).files(draft_id)
        live = self.deployments.current()
        bundle = Bundle(files)
        result: dict[str, Any] = {"revision": revision, "live_version": live, "problems": [], "scenarios": None,
                                  "diff": None, "cases": None}
        result["problems"] = [{"file": p.file, "element": p.where, "target": problem_target(p.file, p.where),
                               "message": p.message, "line": p.line} for p in check_bundle(bundle)]
        with self.db.session() as s:
            live_files = Store(s).deployment_files(live)
        result["diff"] = diff_files(live_files, files)
        if not result["problems"]:
            try:
                engine = ProcessEngine(bundle)
            except EngineError as exc:  # check_bundle loads the files as the runtime does: a safety net only
                result["problems"].append({"file": "", "element": "", "target": "", "message": str(exc),
                                           "line": None})
            else:
                result["scenarios"] = self._scenarios(engine)
                result["cases"] = self._affected_cases(principal, live, files, result["diff"])
        with self._write() as store:
            draft = DraftStore(store.s).get(draft_id, for_update=True)
            if draft is not None and draft.status == OPEN and draft.revision == revision:
                draft.check_result, draft.checked_revision = result, revision
        return result

    def deploy(self, principal: Principal, draft_id: int, revision: int, *,
               accept_failed_scenarios: bool = False) -> DeployOutcome:
        """Deploy the draft as the live version: only the revision that was checked, with no problem, on the version
        that is still live, and with every scenario passing unless the owner accepts the failures they have read.
        Returns what the deploy did (a new version, an earlier one live again, or nothing: the same as the live)."""
        self._check_owner(principal)
        with self.db.session() as s:
            draft = DraftStore(s).get(draft_id)
            if draft is None or draft.status != OPEN:
                raise NotFound(f"draft {draft_id} is not open")
            files = DraftStore(s).files(draft_id)
        check = draft.check_result
        if draft.revision != revision:
            raise Conflict("草稿在检查后又保存过，请重新检查后再部署。")
        if check is None or draft.checked_revision != draft.revision:
            raise Invalid("not checked", {"check": "请先检查这个草稿（校验、场景测试、差异和受影响的案件），再部署。"})
        if check["problems"]:
            raise Invalid("problems", {"check": f"草稿还有 {len(check['problems'])} 个问题，改正并重新检查后才能部署。"})
        if check["live_version"] != self.deployments.current():
            raise Invalid("live changed", {"check": f"检查后现行版本已变为 v{self.deployments.current()}，"
                                                    f"请重新检查（差异和受影响的案件可能不同）。"})
        failed = [r["name"] for r in (check["scenarios"] or {}).get("results", []) if not r["passed"]]
        if (check["scenarios"] or {}).get("error"):
            raise Invalid("scenarios", {"scenarios": f"场景测试无法运行：{check['scenarios']['error']}"})
        if failed and not accept_failed_scenarios:
            raise Invalid("scenarios failed", {"scenarios": f"有 {len(failed)} 个场景测试未通过；确认这些结果的变化是有意的"
                                                            f"（勾选确认）后才能部署。"})
        outcome = self.deployments.publish(Bundle(files), by=principal.username)
        with self._write() as store:
            draft = self._open_for_update(DraftStore(store.s), draft_id)
            draft.status, draft.deployed_version = DEPLOYED, outcome.version
            store.log(None, principal.username, "draft_deployed", draft=draft_id, version=outcome.version,
                      created=outcome.created, reactivated=outcome.reactivated, failed_scenarios_accepted=failed)
        return outcome

    # ---------------------------------------------------------------- parts

    @staticmethod
    def _summary(d: ProcessDraft) -> dict[str, Any]:
        checked = d.check_result if d.checked_revision == d.revision else None
        return {"id": d.id, "base_version": d.base_version, "status": d.status, "revision": d.revision,
                "created_by": d.created_by, "created_at": d.created_at.isoformat(timespec="minutes"),
                "updated_by": d.updated_by, "updated_at": d.updated_at.isoformat(timespec="minutes"),
                "deployed_version": d.deployed_version, "check": checked,
                "checked_earlier": d.check_result is not None and checked is None}

    @staticmethod
    def _open_for_update(drafts: DraftStore, draft_id: int) -> ProcessDraft:
        draft = drafts.get(draft_id, for_update=True)
        if draft is None:
            raise NotFound(f"draft {draft_id} does not exist")
        if draft.status != OPEN:
            raise Conflict("这个草稿已" + ("部署" if draft.status == DEPLOYED else "丢弃") + "，不能再修改。")
        return draft

    @staticmethod
    def _scenarios(engine: ProcessEngine) -> dict[str, Any]:
        from .scenarios import ScenarioFileError, load_scenarios, run_all
        try:
            scenarios = load_scenarios([deployed_dir("scenarios", "ACCOUNTABILITY_SCENARIOS")])
        except ScenarioFileError as exc:
            return {"error": str(exc), "results": [], "passed": 0, "failed": 0}
        results = [r.to_json() for r in run_all(engine, scenarios)]
        passed = sum(r["passed"] for r in results)
        return {"error": None, "results": results, "passed": passed, "failed": len(results) - passed}

    def _affected_cases(self, principal: Principal, live: int, files: dict[str, bytes],
                        diff: dict[str, Any]) -> list[dict[str, Any]]:
        """Every open case on the live version: whether it could move to the draft (with the reasons, or its
        deadlines kept and recomputed) and at which changed elements it waits now (open tasks, pending timers)."""
        check = self.cases.affected_cases(principal, files)
        changed = {e["id"] for e in diff["elements"] if e.get("id")}
        old = self.deployments.engine(live)
        out = []
        with self.db.session() as s:
            store = Store(s)
            for movable, entries in ((True, check["movable"]), (False, check["blocked"])):
                for entry in entries:
                    wf = old.restore(store.state(entry["id"]))
                    waits = {t.name: t.title for t in old.open_tasks(wf)}
                    waits.update({t.name: t.title for t in old.pending_timers(wf)})
                    out.append({**entry, "movable": movable, "reasons": entry.get("reasons") or [],
                                "touched": sorted(f"{title}（{eid}）" for eid, title in waits.items() if eid in changed)})
        out.sort(key=lambda c: (not c["touched"], c["id"]))
        return out


_PLAIN_ID = re.compile(r"^[A-Za-z_][\w.-]*$")
_RULE_ID = re.compile(r"\(([A-Za-z_][\w.-]*)\)")


def problem_target(file: str, where: str) -> str:
    """The id the modeler marks and jumps to for a problem: a diagram element's id, or the rule named in a table's
    problem ("decision 'sanction', rule 3 (Rule_sanction_light), output 'citation'"); empty when there is none."""
    where = (where or "").strip()
    if file.endswith(".bpmn") and _PLAIN_ID.match(where):
        return where
    if file.endswith(".dmn"):
        found = _RULE_ID.search(where)
        if found:
            return found.group(1)
    return ""


def form_problems(text: str) -> list[dict[str, Any]]:
    """Problems of one form file as the editor shows them: JSON syntax, JSON Schema (draft 2020-12) meta-validation
    with the path of each problem, and the project's own rules for forms."""
    from jsonschema import Draft202012Validator

    try:
        schema = json.loads(text)
    except ValueError as exc:
        return [{"path": [], "message": f"不是有效的 JSON：{exc}", "line": getattr(exc, "lineno", None),
                 "column": getattr(exc, "colno", None)}]
    out: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
        try:
            for error in sorted(meta.iter_errors(schema), key=lambda e: list(map(str, e.absolute_path))):
                out.append({"path": list(error.absolute_path), "message": f"JSON Schema：{error.message}"})
        except RecursionError:
            out.append({"path": [], "message": "JSON Schema：嵌套过深"})
    for message in check_schema(schema):
        if message.startswith("不是有效的 JSON Schema") and out:
            continue  # already listed, with its path
        path: list[Any] = []
        if message.startswith("字段“"):
            path = ["properties", message.split("“")[1].split("”")[0]]
        out.append({"path": path, "message": message})
    return out
