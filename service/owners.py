"""For procedure owners: deployed versions, what changed between two, deploying edited files."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from lxml import etree

from .auth import Principal
from .bundle import Bundle
from .decisions import DmnLoadError, load_bytes
from .deployments import Deployments
from .errors import Forbidden, Invalid, NotFound
from .store.db import Database
from .store.repository import Store

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
FLOW_TAGS = {"startEvent", "endEvent", "task", "userTask", "scriptTask", "businessRuleTask", "serviceTask",
             "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
             "eventBasedGateway", "boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent",
             "sequenceFlow", "lane", "process"}
WIRING = {"incoming", "outgoing", "flowNodeRef", "laneSet", *FLOW_TAGS}


class OwnerService:
    def __init__(self, db: Database, deployments: Deployments):
        self.db = db
        self.deployments = deployments

    @staticmethod
    def _check(principal: Principal) -> None:
        if not principal.has("admin"):
            raise Forbidden("the process versions are for administrators (procedure owners)")

    def versions(self, principal: Principal) -> list[dict[str, Any]]:
        self._check(principal)
        with self.db.session() as s:
            store = Store(s)
            open_cases = store.open_cases_per_deployment()
            out = []
            for d in reversed(store.deployments()):
                out.append({"id": d.id, "created_at": d.created_at.isoformat(), "created_by": d.created_by,
                            "hash": d.content_hash[:12], "files": sorted(store.deployment_files(d.id)),
                            "open_cases": open_cases.get(d.id, 0)})
        return out

    def files(self, principal: Principal, version: int) -> dict[str, str]:
        self._check(principal)
        with self.db.session() as s:
            files = Store(s).deployment_files(version)
        if not files:
            raise NotFound(f"version {version} does not exist")
        return {name: data.decode("utf-8") for name, data in files.items()}

    def diff(self, principal: Principal, old: int, new: int) -> dict[str, Any]:
        a, b = self.files(principal, old), self.files(principal, new)
        result: dict[str, Any] = {"old": old, "new": new,
                                  "files_added": sorted(set(b) - set(a)), "files_removed": sorted(set(a) - set(b)),
                                  "elements": [], "rules": []}
        for name in sorted(set(a) | set(b)):
            if name.endswith(".bpmn"):
                result["elements"] += _diff_bpmn(name, a.get(name), b.get(name))
            elif name.endswith(".dmn"):
                result["rules"] += _diff_dmn(name, a.get(name), b.get(name))
            elif name in a and name in b and a[name] != b[name]:
                result["elements"].append({"file": name, "id": "", "name": "", "change": "changed",
                                           "detail": "form schema changed"})
        return result

    def upload(self, principal: Principal, uploads: dict[str, bytes]) -> tuple[int, bool]:
        """Deploy the current version with these files added or replaced (validated first)."""
        self._check(principal)
        if not uploads:
            raise Invalid("choose at least one .bpmn, .dmn or form .json file", {"files": "请选择文件"})
        current = self.deployments.current()
        with self.db.session() as s:
            files = Store(s).deployment_files(current)
        for name, data in uploads.items():
            base = Path(name).name
            if base.endswith((".bpmn", ".dmn")):
                files[f"processes/{base}"] = data
            elif base.endswith(".json"):
                files[f"forms/{base}"] = data
            else:
                raise Invalid("unsupported file", {base: "只能上传 .bpmn、.dmn 或表单 .json 文件"})
        return self.deployments.deploy(Bundle(files), by=principal.username)

    def deploy_folder(self, principal: Principal, processes: Path, forms: Path) -> tuple[int, bool]:
        self._check(principal)
        return self.deployments.deploy(Bundle.from_folders(processes, forms), by=principal.username)


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _bpmn_elements(text: str | None) -> dict[str, tuple[str, str, bytes]]:
    if not text:
        return {}
    root = etree.fromstring(text.encode("utf-8"))
    out = {}
    for el in root.iter():
        tag = _local(el)
        if tag not in FLOW_TAGS or tag == "process" or not el.get("id"):
            continue
        twin = copy.deepcopy(el)
        for child in list(twin):
            if _local(child) in WIRING:
                twin.remove(child)
        out[el.get("id")] = (tag, el.get("name") or "", etree.tostring(twin, method="c14n"))
    return out


def _diff_bpmn(file: str, old: str | None, new: str | None) -> list[dict[str, Any]]:
    a, b = _bpmn_elements(old), _bpmn_elements(new)
    changes = []
    for eid in sorted(set(a) | set(b)):
        if eid not in a:
            changes.append({"file": file, "id": eid, "name": b[eid][1], "kind": b[eid][0], "change": "added"})
        elif eid not in b:
            changes.append({"file": file, "id": eid, "name": a[eid][1], "kind": a[eid][0], "change": "removed"})
        elif a[eid][2] != b[eid][2]:
            detail = f"名称：{a[eid][1]} → {b[eid][1]}" if a[eid][1] != b[eid][1] else "属性或表达式已修改"
            changes.append({"file": file, "id": eid, "name": b[eid][1], "kind": b[eid][0], "change": "changed",
                            "detail": detail})
    return changes


def _rules(text: str | None, file: str) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    try:
        model = load_bytes(text.encode("utf-8"), file, check_schema=False)
    except DmnLoadError:
        return {}
    out = {}
    for d in model.decisions.values():
        if d.table is None:
            continue
        for r in d.table.rules:
            out[f"{d.id}/{r.id}"] = {"decision": d.id, "row": r.row, "id": r.id,
                                     "cells": [u.text or "-" for u in r.inputs] + list(r.output_texts),
                                     "annotation": r.annotation}
    return out


def _diff_dmn(file: str, old: str | None, new: str | None) -> list[dict[str, Any]]:
    a, b = _rules(old, file), _rules(new, file)
    changes = []
    for key in sorted(set(a) | set(b), key=lambda k: ((b.get(k) or a.get(k))["decision"], (b.get(k) or a[k])["row"])):
        ra, rb = a.get(key), b.get(key)
        if ra is None:
            changes.append({"file": file, **rb, "change": "added"})
        elif rb is None:
            changes.append({"file": file, **ra, "change": "removed"})
        elif ra["cells"] != rb["cells"] or ra["annotation"] != rb["annotation"]:
            changes.append({"file": file, **rb, "change": "changed", "before": ra["cells"], "after": rb["cells"]})
    return changes
