"""Task forms: one JSON Schema (draft 2020-12) per form key in ``forms/``.

``FormLibrary.validate`` checks submitted data against a form and returns it, or raises
:class:`FormErrors` with one message per field, in Chinese, that says what to fix.
Fields a form does not define are refused, so no one can write case facts their form lacks.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
TYPE_ZH = {"string": "文字", "integer": "整数", "number": "数字", "boolean": "是或否", "array": "列表",
           "object": "对象", "null": "空"}


FORM_MAX_DEPTH = 64  # arrays and objects nested in one form file (real forms use fewer than ten)


def json_depth_within(text: str | bytes, limit: int) -> bool:
    """Whether JSON text nests at most ``limit`` arrays/objects deep (checked before parsing it, so a file nested
    100,000 levels is refused without recursing)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def load_form_json(data: str | bytes) -> Any:
    """Parse a form file; ValueError with a clear message when it is not JSON or nests too deeply."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("文件不是 UTF-8 文本") from None
    if not json_depth_within(data, FORM_MAX_DEPTH):
        raise ValueError(f"嵌套超过 {FORM_MAX_DEPTH} 层（对象或列表相互嵌套）")
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("嵌套过深") from None


class FormErrors(Exception):
    """Data that does not fit its form: ``errors`` maps each field to a message."""

    def __init__(self, form_key: str, errors: dict[str, str]):
        self.form_key = form_key
        self.errors = errors
        super().__init__(f"form '{form_key}': " + "; ".join(f"{k}: {v}" for k, v in errors.items()))


class UnknownForm(KeyError):
    """No form with that key."""


def field_path(error: ValidationError) -> str:
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p)))
    return "".join(parts)


def messages(error: ValidationError) -> list[tuple[str, str]]:
    """(field, Chinese message) pairs for one validation error."""
    path = field_path(error)
    schema = error.schema if isinstance(error.schema, dict) else {}
    v = error.validator
    if v == "required":
        missing = [f for f in error.validator_value if isinstance(error.instance, dict) and f not in error.instance]
        return [(f"{path}.{name}" if path else name, "必填项，请填写") for name in missing]
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(schema.get("properties", {})))
        return [(f"{path}.{name}" if path else name, "表单中没有此字段") for name in extra]
    return [message(error)]


def message(error: ValidationError) -> tuple[str, str]:
    """(field, Chinese message) for one validation error about a value."""
    path = field_path(error)
    schema = error.schema if isinstance(error.schema, dict) else {}
    v, value = error.validator, error.validator_value
    custom = schema.get("x-message")
    if custom:
        return path, custom
    if v == "type":
        types = value if isinstance(value, list) else [value]
        return path, "应为" + "或".join(TYPE_ZH.get(t, t) for t in types)
    if v in ("enum", "const", "oneOf", "anyOf"):
        return path, "请从给定的选项中选择"
    if v == "minimum":
        return path, f"不能小于 {value}"
    if v == "maximum":
        return path, f"不能大于 {value}"
    if v == "exclusiveMinimum":
        return path, f"应大于 {value}"
    if v == "minLength":
        return path, "不能为空" if value == 1 else f"至少 {value} 个字"
    if v == "maxLength":
        return path, f"最多 {value} 个字"
    if v == "minItems":
        return path, f"至少需要 {value} 项"
    if v == "maxItems":
        return path, f"最多 {value} 项"
    if v == "uniqueItems":
        return path, "不能有重复项"
    if v == "format" and value == "date":
        return path, "应为日期，格式 YYYY-MM-DD（如 2026-11-26）"
    if v == "pattern":
        return path, "格式不正确"
    return path, error.message


class FormLibrary:
    """The forms of one deployment: form key -> JSON Schema, each with its validator."""

    def __init__(self, schemas: Mapping[str, dict[str, Any]]):
        self._forms = {key: (schema, Draft202012Validator(schema, format_checker=FormatChecker()))
                       for key, schema in schemas.items()}

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> "FormLibrary":
        """From ``forms/<key>.json`` contents (as in a deployment bundle)."""
        return cls({Path(name).stem: load_form_json(data) for name, data in files.items()})

    @classmethod
    def from_folder(cls, folder: Path) -> "FormLibrary":
        return cls({p.stem: load_form_json(p.read_bytes()) for p in sorted(Path(folder).glob("*.json"))})

    def keys(self) -> list[str]:
        return sorted(self._forms)

    def schema(self, key: str) -> dict[str, Any]:
        return self._get(key)[0]

    def validate(self, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Return the data if it fits the form; else raise FormErrors (first message per field)."""
        if not isinstance(data, Mapping):
            raise FormErrors(key, {"": "应为一个对象（字段名和值）"})
        validator = self._get(key)[1]
        errors: dict[str, str] = {}
        for error in sorted(validator.iter_errors(dict(data)), key=lambda e: (len(e.absolute_path), e.path)):
            for name, text in messages(error):
                errors.setdefault(name, text)
        if errors:
            raise FormErrors(key, errors)
        return dict(data)

    def _get(self, key: str) -> tuple[dict[str, Any], Draft202012Validator]:
        if key not in self._forms:
            raise UnknownForm(f"no form '{key}'")
        return self._forms[key]


def check_schema(schema: dict[str, Any]) -> list[str]:
    """Problems with a form file itself (used by `accountability validate`)."""
    if not isinstance(schema, dict):
        return ['表单必须是一个 JSON 对象（{"$schema": ..., "type": "object", ...}）']
    problems = []
    if schema.get("$schema") != SCHEMA_DRAFT:
        problems.append(f'"$schema" 必须是 "{SCHEMA_DRAFT}"')
    try:
        Draft202012Validator.check_schema(schema)
    except RecursionError:
        problems.append("不是有效的 JSON Schema：嵌套过深")
        return problems
    except Exception as exc:  # jsonschema.SchemaError
        problems.append(f"不是有效的 JSON Schema，请按提示修改：“{getattr(exc, 'message', exc)}”")
        return problems
    if schema.get("type") != "object":
        problems.append('表单必须是对象类型的 schema（"type": "object"）')
    if not schema.get("title"):
        problems.append("表单需要标题（title）")
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or not prop.get("title"):
            problems.append(f"字段“{name}”需要标题（title，即用户看到的标签）")
    return problems
