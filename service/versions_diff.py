"""What changed between two sets of process files, with the value before and after each change.

:func:`diff_files` compares two bundles' files (``{"processes/x.bpmn": b"…", "forms/k.json": b"…"}``) and
returns plain data (JSON-ready), so pages, the CLI and the modeler's draft page can all show it:

* ``elements``: each BPMN element added, removed or changed; a changed one lists every changed attribute,
  expression, script, timer or property as ``{"field", "label", "before", "after"}`` (e.g. the statement
  timer's ``timeDuration`` ``P7D`` → ``P10D``, a user task's ``camunda:dueDate`` ``P7D`` → ``P10D``);
* ``rules``: each decision rule added, removed or changed, with all its cells before and after, the columns
  that changed, and the annotation before and after;
* ``tables``: changes to a table itself (hit policy, columns, allowed values, name);
* ``forms``: each changed form field or property, before and after;
* ``layout``: diagrams whose drawing (shapes, positions) changed, with how many shapes moved.

Files are parsed directly with lxml (never the engine), so a draft with errors can still be compared.
"""
from __future__ import annotations

import json
from typing import Any

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREFIXES = {CAMUNDA_NS: "camunda", XSI_NS: "xsi"}
DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/20191111/MODEL/", "http://www.omg.org/spec/DMN/20180521/MODEL/",
                  "http://www.omg.org/spec/DMN/20151101/dmn.xsd", "https://www.omg.org/spec/DMN/20230324/MODEL/",
                  "https://www.omg.org/spec/DMN/20211108/MODEL/")
# elements compared one by one (each by its id); what they contain is compared as their fields
ELEMENT_TAGS = {"startEvent", "endEvent", "task", "userTask", "scriptTask", "businessRuleTask", "serviceTask",
                "manualTask", "sendTask", "receiveTask", "callActivity", "subProcess", "exclusiveGateway",
                "parallelGateway", "inclusiveGateway", "eventBasedGateway", "boundaryEvent", "intermediateCatchEvent",
                "intermediateThrowEvent", "sequenceFlow", "lane", "textAnnotation", "association", "dataObject",
                "dataObjectReference", "message", "signal", "error", "escalation", "process", "participant",
                "collaboration", "messageFlow"}
# children that only wire elements together (the flows themselves say what connects to what)
WIRING = {"incoming", "outgoing", "flowNodeRef", "laneSet", "childLaneSet"}
LABELS = {
    "@name": "名称", "documentation": "说明", "conditionExpression": "条件", "script": "脚本",
    "timerEventDefinition/timeDuration": "时限（timeDuration）", "timerEventDefinition/timeDate": "时间（timeDate）",
    "timerEventDefinition/timeCycle": "周期（timeCycle）", "@camunda:dueDate": "办理期限（camunda:dueDate）",
    "@camunda:candidateGroups": "办理角色（camunda:candidateGroups）", "@camunda:assignee": "办理人（camunda:assignee）",
    "@camunda:formKey": "表单（camunda:formKey）", "@camunda:decisionRef": "决策表（camunda:decisionRef）",
    "@camunda:resultVariable": "结果变量（camunda:resultVariable）", "@sourceRef": "起点", "@targetRef": "终点",
    "@default": "默认流向", "@calledElement": "调用的流程", "@attachedToRef": "附着于", "@cancelActivity": "中断任务",
    "text": "文字", "@scriptFormat": "脚本语言",
}


def diff_files(old: dict[str, bytes], new: dict[str, bytes]) -> dict[str, Any]:
    """Everything that differs between two sets of files (see the module docstring for the shape)."""
    result: dict[str, Any] = {"files_added": sorted(set(new) - set(old)), "files_removed": sorted(set(old) - set(new)),
                              "elements": [], "rules": [], "tables": [], "forms": [], "layout": []}
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if name.endswith(".bpmn"):
            result["elements"] += diff_bpmn(name, a, b)
            moved = _layout_changes(a, b)
            if moved:
                result["layout"].append({"file": name, "shapes": moved})
        elif name.endswith(".dmn"):
            tables, rules = diff_dmn(name, a, b)
            result["tables"] += tables
            result["rules"] += rules
        elif name.endswith(".json"):
            changes = _compare(_flatten_json(a), _flatten_json(b))
            if changes:
                result["forms"].append({"file": name, "change": _file_change(a, b), "changes": changes,
                                        "detail": _detail(changes)})
    result["count"] = sum(len(result[k]) for k in ("elements", "rules", "tables", "forms", "layout")) + \
        len(result["files_added"]) + len(result["files_removed"])
    return result


# --------------------------------------------------------------------------- BPMN

def diff_bpmn(file: str, old: bytes | None, new: bytes | None) -> list[dict[str, Any]]:
    """Elements added, removed or changed (with each changed field before and after)."""
    a, b = _bpmn_elements(old), _bpmn_elements(new)
    changes = []
    for eid in sorted(set(a) | set(b)):
        if eid not in a:
            changes.append({"file": file, "id": eid, "name": b[eid]["name"], "kind": b[eid]["kind"], "change": "added",
                            "changes": [], "detail": ""})
        elif eid not in b:
            changes.append({"file": file, "id": eid, "name": a[eid]["name"], "kind": a[eid]["kind"],
                            "change": "removed", "changes": [], "detail": ""})
        else:
            fields = _compare(a[eid]["fields"], b[eid]["fields"])
            if a[eid]["kind"] != b[eid]["kind"]:
                fields.insert(0, {"field": "type", "label": "类型", "before": a[eid]["kind"], "after": b[eid]["kind"]})
            if fields:
                changes.append({"file": file, "id": eid, "name": b[eid]["name"] or a[eid]["name"],
                                "kind": b[eid]["kind"], "change": "changed", "changes": fields,
                                "detail": _detail(fields)})
    return changes


def _parse(data: bytes | None):
    if not data:
        return None
    try:
        return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True))
    except etree.XMLSyntaxError:
        return None


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _attr_name(key: str) -> str:
    q = etree.QName(key)
    prefix = PREFIXES.get(q.namespace or "")
    return f"{prefix}:{q.localname}" if prefix else q.localname


def _bpmn_elements(data: bytes | None) -> dict[str, dict[str, Any]]:
    root = _parse(data)
    if root is None:
        return {}
    out = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
            continue
        tag = _local(el)
        if tag not in ELEMENT_TAGS or not el.get("id"):
            continue
        fields: dict[str, str] = {}
        for key, value in el.attrib.items():
            if key != "id":
                fields[f"@{_attr_name(key)}"] = value
        _collect(el, "", fields)
        out[el.get("id")] = {"kind": tag, "name": el.get("name") or "", "fields": fields}
    return out


def _collect(el, path: str, fields: dict[str, str]) -> None:
    """The fields of what an element contains (not the elements compared on their own, nor the wiring)."""
    seen: dict[str, int] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        tag = _local(child)
        if tag in WIRING or (etree.QName(child).namespace == BPMN_NS and tag in ELEMENT_TAGS):
            continue
        prefix = PREFIXES.get(etree.QName(child).namespace or "")
        name = f"{prefix}:{tag}" if prefix else tag
        key = child.get("name")
        if key:
            step = f"{name}[{key}]"
        else:
            seen[name] = seen.get(name, 0) + 1
            step = name if seen[name] == 1 else f"{name}[{seen[name]}]"
        here = f"{path}/{step}" if path else step
        text = (child.text or "").strip()
        if text and not len(child):
            fields[here] = text
        for key_, value in child.attrib.items():
            attr = _attr_name(key_)
            if attr in ("id", "name", "xsi:type"):
                continue  # generated ids of definitions inside an element; the name is the path
            fields[f"{here}/@{attr}"] = value
        _collect(child, here, fields)


def _layout_changes(old: bytes | None, new: bytes | None) -> int:
    """How many shapes or edges of the drawing differ (added, removed or moved)."""
    def shapes(data):
        root = _parse(data)
        if root is None:
            return {}
        out = {}
        for el in root.iter(f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge"):
            out[el.get("bpmnElement") or el.get("id")] = etree.tostring(el, method="c14n", exclusive=True)
        return out
    a, b = shapes(old), shapes(new)
    return sum(1 for k in set(a) | set(b) if a.get(k) != b.get(k))


# --------------------------------------------------------------------------- DMN

def _dmn(el, tag: str):
    return [c for c in el if isinstance(c.tag, str) and _local(c) == tag]


def _text(el, tag: str) -> str:
    found = _dmn(el, tag)
    if not found:
        return ""
    inner = _dmn(found[0], "text")
    return ((inner[0].text if inner else found[0].text) or "").strip()


def _tables(data: bytes | None) -> dict[str, dict[str, Any]]:
    root = _parse(data)
    if root is None:
        return {}
    out = {}
    for decision in root.iter():
        if not isinstance(decision.tag, str) or _local(decision) != "decision":
            continue
        tables = _dmn(decision, "decisionTable")
        if not tables:
            continue
        table = tables[0]
        inputs = [{"id": i.get("id") or "", "label": i.get("label") or "",
                   "expression": _text(i, "inputExpression"),
                   "type": (_dmn(i, "inputExpression") or [i])[0].get("typeRef") or "",
                   "values": _text(i, "inputValues")} for i in _dmn(table, "input")]
        outputs = [{"id": o.get("id") or "", "label": o.get("label") or "", "name": o.get("name") or "",
                    "type": o.get("typeRef") or "", "values": _text(o, "outputValues")} for o in _dmn(table, "output")]
        rules = {}
        for row, rule in enumerate(_dmn(table, "rule"), start=1):
            cells = [_text(e, "text") if _dmn(e, "text") else (e.text or "").strip()
                     for e in _dmn(rule, "inputEntry")]
            cells = [c or "-" for c in cells] + [(_text(e, "text") if _dmn(e, "text") else "") or ""
                                                 for e in _dmn(rule, "outputEntry")]
            rules[rule.get("id") or f"row{row}"] = {"row": row, "cells": cells,
                                                     "annotation": _text(rule, "description")}
        out[decision.get("id")] = {"name": decision.get("name") or "", "hit_policy": table.get("hitPolicy") or "UNIQUE",
                                   "aggregation": table.get("aggregation") or "", "inputs": inputs,
                                   "outputs": outputs, "rules": rules,
                                   "columns": [i["label"] or i["expression"] for i in inputs] +
                                              [o["label"] or o["name"] for o in outputs]}
    return out


def diff_dmn(file: str, old: bytes | None, new: bytes | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(table changes, rule changes) of one DMN file."""
    a, b = _tables(old), _tables(new)
    tables, rules = [], []
    for did in sorted(set(a) | set(b)):
        ta, tb = a.get(did), b.get(did)
        if ta is None or tb is None:
            t = tb or ta
            tables.append({"file": file, "decision": did, "name": t["name"], "change": "added" if ta is None else
                           "removed", "changes": [], "detail": ""})
            for rid, r in t["rules"].items():
                rules.append({"file": file, "decision": did, "id": rid, "row": r["row"],
                              "change": "added" if ta is None else "removed", "columns": t["columns"],
                              "cells": r["cells"], "before": None if ta is None else r["cells"],
                              "after": r["cells"] if ta is None else None, "changed_columns": [],
                              "annotation": r["annotation"], "annotation_before": None})
            continue
        fields = _compare(_table_fields(ta), _table_fields(tb))
        if fields:
            tables.append({"file": file, "decision": did, "name": tb["name"], "change": "changed", "changes": fields,
                           "detail": _detail(fields)})
        for rid in sorted(set(ta["rules"]) | set(tb["rules"]),
                          key=lambda k: (tb["rules"].get(k) or ta["rules"][k])["row"]):
            ra, rb = ta["rules"].get(rid), tb["rules"].get(rid)
            base = {"file": file, "decision": did, "id": rid, "columns": tb["columns"]}
            if ra is None:
                rules.append({**base, "row": rb["row"], "change": "added", "cells": rb["cells"], "before": None,
                              "after": rb["cells"], "changed_columns": [], "annotation": rb["annotation"],
                              "annotation_before": None})
            elif rb is None:
                rules.append({**base, "columns": ta["columns"], "row": ra["row"], "change": "removed",
                              "cells": ra["cells"], "before": ra["cells"], "after": None, "changed_columns": [],
                              "annotation": ra["annotation"], "annotation_before": ra["annotation"]})
            elif ra["cells"] != rb["cells"] or ra["annotation"] != rb["annotation"] or ra["row"] != rb["row"]:
                width = max(len(ra["cells"]), len(rb["cells"]))
                changed = [i for i in range(width) if (ra["cells"] + [None] * width)[i] != (rb["cells"] + [None] * width)[i]]
                rules.append({**base, "row": rb["row"], "row_before": ra["row"], "change": "changed",
                              "cells": rb["cells"], "before": ra["cells"], "after": rb["cells"],
                              "changed_columns": changed, "annotation": rb["annotation"],
                              "annotation_before": ra["annotation"] if ra["annotation"] != rb["annotation"] else None})
    return tables, rules


def _table_fields(t: dict[str, Any]) -> dict[str, str]:
    fields = {"名称": t["name"], "命中策略": t["hit_policy"] + (f" {t['aggregation']}" if t["aggregation"] else "")}
    for i in t["inputs"]:
        key = f"输入“{i['label'] or i['id']}”"
        fields[f"{key} 表达式"] = i["expression"]
        fields[f"{key} 类型"] = i["type"]
        fields[f"{key} 取值"] = i["values"]
    for o in t["outputs"]:
        key = f"输出“{o['label'] or o['name'] or o['id']}”"
        fields[f"{key} 名称"] = o["name"]
        fields[f"{key} 类型"] = o["type"]
        fields[f"{key} 取值"] = o["values"]
    return {k: v for k, v in fields.items() if v}


# --------------------------------------------------------------------------- forms and shared helpers

def _flatten_json(data: bytes | None) -> dict[str, str]:
    if not data:
        return {}
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return {"(文件)": data.decode("utf-8", "replace")}
    out: dict[str, str] = {}

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict) and v:
            for k, item in v.items():
                walk(item, f"{path}.{k}" if path else k)
        elif isinstance(v, list) and v and all(isinstance(x, (dict, list)) for x in v):
            for n, item in enumerate(v):
                walk(item, f"{path}[{n}]")
        else:
            out[path or "(根)"] = json.dumps(v, ensure_ascii=False, sort_keys=True)
    walk(value, "")
    return out


def _file_change(a: bytes | None, b: bytes | None) -> str:
    return "added" if a is None else ("removed" if b is None else "changed")


def _compare(a: dict[str, str], b: dict[str, str]) -> list[dict[str, Any]]:
    """Each field whose value differs, in a stable order, with a reader's label where one is known."""
    out = []
    for key in list(a) + [k for k in b if k not in a]:
        if a.get(key) != b.get(key):
            out.append({"field": key, "label": LABELS.get(key, key), "before": a.get(key), "after": b.get(key)})
    return out


def _detail(changes: list[dict[str, Any]]) -> str:
    def show(v):
        return "（无）" if v is None else (v if len(v) <= 120 else v[:117] + "…")
    return "；".join(f"{c['label']}：{show(c['before'])} → {show(c['after'])}" for c in changes)
