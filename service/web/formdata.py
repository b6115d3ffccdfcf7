"""Between a form's JSON Schema and an HTML form: fields to render, and submitted text to typed data.

Everything typed is kept: on an error the page shows exactly what the person entered.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

NULL = "__null__"


@dataclass
class Field:
    name: str
    title: str
    kind: str  # text, textarea, date, number, integer, boolean, select, radio, multi, lines, rows, object
    required: bool
    help: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)  # (value as text, label)
    columns: list["Field"] = field(default_factory=list)  # for rows and objects
    rows: int = 3
    lookup: str | None = None  # "officers": pick an existing account (x-lookup)
    min_items: int = 0  # a list that, when given, needs at least this many items
    required_when: tuple[str, str] | None = None  # (field title, option label): required when that is chosen


def _options(schema: dict[str, Any]) -> list[tuple[str, str]] | None:
    choices = schema.get("oneOf") or (schema.get("items") or {}).get("oneOf")
    if not choices or not all("const" in c for c in choices):
        return None
    return [(NULL if c["const"] is None else json.dumps(c["const"], ensure_ascii=False).strip('"'),
             c.get("title", str(c["const"]))) for c in choices]


def fields_of(schema: dict[str, Any]) -> list[Field]:
    """The fields of a form schema, in order, with the widget each needs."""
    required = set(schema.get("required", []))
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        out.append(_field(name, prop, name in required))
    _conditions(schema, out)
    return out


def _conditions(schema: dict[str, Any], fields: list[Field]) -> None:
    """Fields required only when another field has a given answer (if/then/else on one field's const), so the
    page can say so instead of marking them always required."""
    by_name = {f.name: f for f in fields}
    for rule in schema.get("allOf") or []:
        cond = ((rule.get("if") or {}).get("properties") or {})
        if len(cond) != 1:
            continue
        (name, test), = cond.items()
        f = by_name.get(name)
        if f is None or "const" not in test:
            continue
        value = json.dumps(test["const"], ensure_ascii=False).strip('"')
        labels = dict(f.options)
        others = [label for v, label in f.options if v != value]
        for branch, label in (("then", labels.get(value)), ("else", others[0] if len(others) == 1 else None)):
            for required in (rule.get(branch) or {}).get("required", []):
                if label and required in by_name and not by_name[required].required:
                    by_name[required].required_when = (f.title, label)


def _field(name: str, prop: dict[str, Any], required: bool) -> Field:
    made = _make_field(name, prop, required)
    made.lookup = prop.get("x-lookup")
    return made


def _make_field(name: str, prop: dict[str, Any], required: bool) -> Field:
    title, help_text = prop.get("title", name), prop.get("description", "")
    typ = prop.get("type")
    options = _options(prop)
    if typ == "array":
        items = prop.get("items", {})
        if options:
            return Field(name, title, "multi", required, help_text, options)
        if items.get("type") == "object":
            cols = [_field(k, v, k in set(items.get("required", []))) for k, v in items.get("properties", {}).items()]
            return Field(name, title, "rows", required, help_text, columns=cols, min_items=prop.get("minItems", 0))
        return Field(name, title, "lines", required, help_text)
    if typ == "object":
        cols = [_field(k, v, k in set(prop.get("required", []))) for k, v in prop.get("properties", {}).items()]
        return Field(name, title, "object", required, help_text, columns=cols)
    if options:
        kind = "radio" if len(options) <= 4 else "select"
        return Field(name, title, kind, required, help_text, options)
    if typ == "boolean":
        return Field(name, title, "boolean", required, help_text, [("true", "是"), ("false", "否")])  # translated in the page
    if typ in ("integer", "number"):
        return Field(name, title, typ, required, help_text)
    if prop.get("format") == "date":
        return Field(name, title, "date", required, help_text)
    if prop.get("x-widget") == "textarea":
        return Field(name, title, "textarea", required, help_text, rows=5)
    return Field(name, title, "text", required, help_text)


ROW_SLOTS = 4  # blank rows offered for a list of objects


def raw_from_request(fields: list[Field], form: MultiDict) -> dict[str, Any]:
    """What the person typed, as text, per field (for re-display)."""
    raw: dict[str, Any] = {}
    for f in fields:
        if f.kind == "multi":
            raw[f.name] = form.getlist(f.name)
        elif f.kind == "rows":
            raw[f.name] = _rows_from_request(f, form)
        elif f.kind == "object":
            raw[f.name] = {c.name: form.get(f"{f.name}.{c.name}", "") for c in f.columns}
        else:
            raw[f.name] = form.get(f.name, "")
    return raw


def _rows_from_request(f: Field, form: MultiDict) -> list[dict[str, str]]:
    """The rows typed, filled ones first (so row numbers match the service's messages), then blank slots."""
    prefix = f"{f.name}."
    count = 0
    for key in form.keys():
        if key.startswith(prefix):
            index = key[len(prefix):].split(".", 1)[0]
            if index.isdigit():
                count = max(count, int(index) + 1)
    rows = [{c.name: form.get(f"{f.name}.{i}.{c.name}", "") for c in f.columns} for i in range(count)]
    filled = [r for r in rows if any(str(v).strip() for v in r.values())]
    return filled + [{c.name: "" for c in f.columns} for _ in range(max(count, ROW_SLOTS) - len(filled))]


def raw_from_data(fields: list[Field], data: dict[str, Any]) -> dict[str, Any]:
    """Stored values as the text a form shows."""
    raw: dict[str, Any] = {}
    for f in fields:
        value = data.get(f.name)
        if value is None:
            raw[f.name] = NULL if f.name in data and f.kind in ("select", "radio") else (
                [] if f.kind == "multi" else "")
            if f.kind == "rows":
                raw[f.name] = [{c.name: "" for c in f.columns} for _ in range(ROW_SLOTS)]
            if f.kind == "object":
                raw[f.name] = {c.name: "" for c in f.columns}
            continue
        if f.kind == "multi":
            raw[f.name] = [str(v) for v in value]
        elif f.kind == "lines":
            raw[f.name] = "\n".join(str(v) for v in value)
        elif f.kind == "rows":
            rows = [{c.name: _text(c, r, c.name) for c in f.columns} for r in value if isinstance(r, dict)]
            raw[f.name] = (rows + [{c.name: "" for c in f.columns} for _ in range(ROW_SLOTS)])[:max(ROW_SLOTS,
                                                                                                     len(rows))]
        elif f.kind == "object":
            raw[f.name] = {c.name: str(value.get(c.name) or "") for c in f.columns}
        elif f.kind == "boolean":
            raw[f.name] = "true" if value else "false"
        else:
            raw[f.name] = str(value)
    return raw


def _text(f: Field, values: dict[str, Any], key: str) -> str:
    """One stored value as the text its widget shows."""
    value = values.get(key)
    if value is None:
        return NULL if key in values and f.kind in ("select", "radio") else ""
    if f.kind == "boolean":
        return "true" if value else "false"
    if f.kind in ("select", "radio"):
        return json.dumps(value, ensure_ascii=False).strip('"')
    return str(value)


def _scalar(f: Field, text: str, errors: dict[str, str], key: str) -> Any:
    text = text.strip()
    if text == "":
        return None
    if f.kind in ("select", "radio"):
        if text == NULL:
            return None
        for value, _ in f.options:
            if value == text:
                try:
                    return json.loads(text)
                except ValueError:
                    return text
        errors[key] = "请从给定的选项中选择"
        return None
    if f.kind == "boolean":
        return {"true": True, "false": False}.get(text)
    if f.kind == "integer":
        try:
            return int(text)
        except ValueError:
            errors[key] = "应为整数"
            return None
    if f.kind == "number":
        try:
            number = float(text)
            return int(number) if number.is_integer() else number
        except ValueError:
            errors[key] = "应为数字"
            return None
    return text


def typed(fields: list[Field], raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed data for the form's schema from what was typed; conversion problems per field.

    Empty fields are left out, so the schema's `required` speaks for them."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        value = raw.get(f.name)
        if f.kind == "multi":
            items = []
            for text in value or []:
                try:
                    items.append(json.loads(text))
                except ValueError:
                    items.append(text)
            if items:
                data[f.name] = items
        elif f.kind == "lines":
            lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
            if lines:
                data[f.name] = lines
        elif f.kind == "rows":
            rows = []
            for i, row in enumerate(value or []):
                if not any(str(v).strip() for v in row.values()):
                    continue
                rows.append({c.name: _scalar(c, row.get(c.name, ""), errors, f"{f.name}[{len(rows)}].{c.name}")
                             for c in f.columns})
                rows[-1] = {k: v for k, v in rows[-1].items() if v is not None}
            if rows or f.required or not f.min_items:  # an empty list that could never be valid is not an answer
                data[f.name] = rows
        elif f.kind == "object":
            obj = {c.name: _scalar(c, (value or {}).get(c.name, ""), errors, f"{f.name}.{c.name}") for c in f.columns}
            obj = {k: v for k, v in obj.items() if v is not None}
            if obj:
                data[f.name] = obj
        else:
            text = value or ""
            if f.kind in ("select", "radio") and text == NULL:
                data[f.name] = None
                continue
            result = _scalar(f, text, errors, f.name)
            if result is not None:
                data[f.name] = result
    return data, errors


def shown(fields: list[Field], data: dict[str, Any]) -> list[dict[str, Any]]:
    """What a completed form submitted, for reading: each answered field with its value as the form labels it
    (``text``), or for a list of rows its columns and rows (``columns``, ``rows``)."""
    out = []
    for f in fields:
        if f.name not in data:
            continue
        value = data[f.name]
        if f.kind == "rows":
            rows = [r for r in value or [] if isinstance(r, dict)]
            if rows:
                out.append({"field": f, "columns": f.columns,
                            "rows": [{c.name: _label(c, r.get(c.name)) for c in f.columns} for r in rows]})
            continue
        if f.kind == "object":
            value = value if isinstance(value, dict) else {}
            text = "；".join(f"{c.title}：{_label(c, value.get(c.name))}" for c in f.columns if c.name in value)
        elif f.kind == "multi":
            text = [_label(f, v) for v in value or []]
        elif f.kind == "lines":
            text = [str(v) for v in value or []]
        else:
            text = _label(f, value)
        if text not in ("", []):
            out.append({"field": f, "text": text})
    return out


def _label(f: Field, value: Any) -> str:
    """One stored value as its option's label (a boolean: 是/否, translated in the page)."""
    if value is None:
        return "—" if f.kind not in ("select", "radio") else next((label for v, label in f.options if v == NULL), "—")
    if f.kind == "boolean":
        return "是" if value else "否"
    if f.options:
        as_text = json.dumps(value, ensure_ascii=False).strip('"')
        return next((label for v, label in f.options if v == as_text), str(value))
    return str(value)
