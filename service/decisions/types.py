"""typeRef handling: check and convert input values to the types a table declares.

A value of the wrong type is an error, never a silent mismatch: ``"3"`` for an integer
input is rejected with a message that names the input and the expected type.
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass, field
from typing import Any

from .feel import Env, UnaryTests, feel_kind, parse_unary_tests, to_feel, to_json

# typeRef spellings of DMN 1.1-1.5 and Camunda Modeler, mapped to one base type.
BASE_TYPES = {
    "string": "string",
    "number": "number",
    "double": "number",
    "decimal": "number",
    "integer": "integer",
    "int": "integer",
    "long": "integer",
    "boolean": "boolean",
    "date": "date",
    "dateTime": "dateTime",
    "date and time": "dateTime",
    "Any": "any",
    "any": "any",
}

TYPE_NAMES_ZH = {
    "string": "字符串", "number": "数字", "integer": "整数", "boolean": "布尔值（true/false）",
    "date": "日期（YYYY-MM-DD）", "dateTime": "日期时间", "context": "对象", "any": "任意",
}


class TypeMismatch(ValueError):
    """A value that does not conform to its declared type, at ``where`` (an input or a path in it)."""

    def __init__(self, where: str, detail: str):
        self.where = where
        self.detail = detail
        super().__init__(f"{where}: {detail}")


def normalize_type_ref(type_ref: str | None) -> str | None:
    """Strip a namespace prefix such as ``feel:`` from a typeRef."""
    if not type_ref:
        return None
    type_ref = type_ref.strip()
    if ":" in type_ref and not type_ref.startswith("http"):
        type_ref = type_ref.split(":", 1)[1]
    return type_ref


@dataclass
class ItemDefinition:
    """A named type of a DMN model: a base type with allowed values, or a structure."""

    name: str
    type_ref: str | None = None
    allowed: UnaryTests | None = None
    components: dict[str, "ItemDefinition"] = field(default_factory=dict)
    is_collection: bool = False


@dataclass
class TypeSystem:
    """Resolves typeRefs of one model (built-in types and its item definitions)."""

    items: dict[str, ItemDefinition] = field(default_factory=dict)

    def base_type(self, type_ref: str | None) -> str | None:
        """The built-in type a typeRef stands for, or None when unknown or structured."""
        seen: set[str] = set()
        ref = normalize_type_ref(type_ref)
        while ref is not None and ref not in BASE_TYPES and ref in self.items and ref not in seen:
            seen.add(ref)
            item = self.items[ref]
            if item.components or item.is_collection:
                return "context" if item.components else "list"
            ref = normalize_type_ref(item.type_ref)
        return BASE_TYPES.get(ref) if ref else None

    def is_known(self, type_ref: str | None) -> bool:
        ref = normalize_type_ref(type_ref)
        return ref is None or ref in BASE_TYPES or ref in self.items

    def coerce(self, value: Any, type_ref: str | None, where: str) -> Any:
        """Convert a JSON value to the FEEL value of type_ref, or raise TypeMismatch."""
        ref = normalize_type_ref(type_ref)
        if value is None:
            return None
        if ref is None or ref in ("Any", "any"):
            return to_feel(value)
        if ref in BASE_TYPES:
            return coerce_base(value, BASE_TYPES[ref], where)
        item = self.items.get(ref)
        if item is None:
            return to_feel(value)
        return self._coerce_item(value, item, where)

    def conform(self, value: Any, type_ref: str | None, where: str) -> Any:
        """A result checked against its declared type, with the two type conversions DMN defines:
        a singleton list becomes its element when the type is not a list, and a value becomes a
        singleton list when the type is one. A value that does not conform raises TypeMismatch: the
        engine refuses to hand on a result of the wrong type (DMN would turn it into null)."""
        if value is None or normalize_type_ref(type_ref) in (None, "Any", "any"):
            return value
        if self._conforms(value, type_ref):
            return value
        is_list = self.base_type(type_ref) == "list"
        if not is_list and isinstance(value, list) and len(value) == 1 and self._conforms(value[0], type_ref):
            return value[0]
        if is_list and not isinstance(value, list) and self._conforms([value], type_ref):
            return [value]
        raise TypeMismatch(where, f"the value {_show_feel(value)} does not conform to its type "
                                  f"{normalize_type_ref(type_ref)}")

    def _conforms(self, value: Any, type_ref: str | None, seen: frozenset[str] = frozenset()) -> bool:
        ref = normalize_type_ref(type_ref)
        if value is None or ref is None or ref in ("Any", "any"):
            return True
        if ref in BASE_TYPES:
            base = BASE_TYPES[ref]
            if base == "integer":
                return feel_kind(value) == "number" and value == value.to_integral_value()
            return feel_kind(value) == base
        item = self.items.get(ref)
        if item is None or ref in seen:
            return False
        return self._item_conforms(value, item, seen | {ref})

    def _item_conforms(self, value: Any, item: ItemDefinition, seen: frozenset[str]) -> bool:
        """``seen`` guards against typeRefs that name each other in a circle; it starts afresh for the
        members of a list or a context (a recursive type such as a tree is fine: the value is finite)."""
        if value is None:
            return True
        if item.is_collection:
            single = ItemDefinition(item.name, item.type_ref, item.allowed, item.components, False)
            return isinstance(value, list) and all(self._item_conforms(v, single, frozenset()) for v in value)
        if item.components:
            return isinstance(value, dict) and all(
                self._item_conforms(value[name], comp, frozenset()) for name, comp in item.components.items()
                if name in value)
        if not self._conforms(value, item.type_ref, seen):
            return False
        return item.allowed is None or item.allowed.matches(value, Env({}))

    def _coerce_item(self, value: Any, item: ItemDefinition, where: str) -> Any:
        if item.is_collection:
            if not isinstance(value, list):
                raise TypeMismatch(where, f"expected a list ({item.name}), got {_show(value)}")
            single = ItemDefinition(item.name, item.type_ref, item.allowed, item.components, False)
            return [self._coerce_item(v, single, f"{where}[{i}]") for i, v in enumerate(value)]
        if item.components:
            if not isinstance(value, dict):
                raise TypeMismatch(where, f"expected an object ({item.name}) with "
                                   f"{', '.join(item.components)}, got {_show(value)}")
            out = {str(k): to_feel(v) for k, v in value.items()}
            for name, comp in item.components.items():
                if name in value:
                    out[name] = self._coerce_item(value[name], comp, f"{where}.{name}") if value[name] is not None else None
            return out
        result = self.coerce(value, item.type_ref, where)
        if item.allowed is not None and result is not None:
            if not item.allowed.matches(result, Env({})):
                raise TypeMismatch(where, f"{_show(value)} is not one of the allowed values {item.allowed.text}")
        return result


def coerce_base(value: Any, base: str, where: str) -> Any:
    """Check a JSON value against a built-in type and return its FEEL value."""
    expected = f"expected {base} ({TYPE_NAMES_ZH.get(base, base)})"
    if base == "any":
        return to_feel(value)
    if base == "string":
        if isinstance(value, str):
            return value
    elif base == "boolean":
        if isinstance(value, bool):
            return value
    elif base == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return decimal.Decimal(value)
        if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
            return value
        if isinstance(value, float) and value.is_integer():
            return decimal.Decimal(int(value))
    elif base == "number":
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return to_feel(value)
    elif base == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
    elif base == "dateTime":
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                pass
    elif base in ("context", "list"):
        return to_feel(value)
    raise TypeMismatch(where, f"{expected}, got {_show(value)}")


def literal_fits(value: Any, base: str | None) -> bool:
    """Whether a literal written in a table cell fits a column of the given base type."""
    if value is None or base in (None, "any", "context", "list"):
        return True
    kind = feel_kind(value)
    if base == "integer":
        return kind == "number" and value == value.to_integral_value()
    return kind == base


def _show_feel(value: Any) -> str:
    shown = to_json(value)
    return f'"{shown}"' if isinstance(shown, str) and not isinstance(value, dt.date) else str(shown)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float, decimal.Decimal)):
        return f"the number {value}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def parse_allowed(text: str | None) -> UnaryTests | None:
    """Parse an allowedValues/inputValues text; None when absent."""
    return parse_unary_tests(text) if text and text.strip() else None
