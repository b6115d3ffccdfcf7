"""Request input checks shared by the JSON API and the pages.

Every value a request carries is checked against what the database can hold before it reaches the
service layer: whole numbers within the column's range (ids, years, page numbers), task ids that are
UUIDs, text without NUL bytes or lone surrogates, and JSON bodies of bounded size and depth. A bad
value is a 404 (an id in the path) or a 422 naming the field (a query, form or JSON value) — never a 500.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from flask import request

from ..forms import json_depth_within
from ..errors import Invalid, NotFound, ServiceError, Unauthenticated

INT_MAX = 2**31 - 1  # INTEGER columns (ids, years) on PostgreSQL and what SQLite indexes hold comfortably
JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 512 * 1024
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
BAD_TEXT_MESSAGE = "含有不允许的字符（空字符或无效的 Unicode 字符）"


class BadInput(Invalid):
    """A request value the service cannot take (422, naming the field); shown as a page outside the API."""


class TooLarge(ServiceError):
    status, code = 413, "too_large"

# query and form values that name a whole number (ids, years, pages, versions): checked on every request
NUMBER_FIELDS = ("page", "per_page", "year", "case_id", "case", "version", "old", "new", "source", "target")


def bad_text(value: str) -> bool:
    """True for text the database cannot store: a NUL byte or a lone surrogate."""
    return bool(_BAD_TEXT.search(value))


def whole_number(name: str, raw: Any, *, minimum: int = 1, maximum: int = INT_MAX) -> int:
    """A query or form value as a whole number within [minimum, maximum], else Invalid (422) naming it."""
    text = str(raw).strip()
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise BadInput(f"{name} must be a whole number", {name: "应为整数"})
    value = int(text)
    if value < minimum:
        raise BadInput(f"{name} must be at least {minimum}", {name: f"不能小于 {minimum}"})
    if value > maximum:
        raise BadInput(f"{name} must be at most {maximum}", {name: f"不能大于 {maximum}"})
    return value


def optional_number(name: str, default: int | None = None, *, minimum: int = 1, maximum: int = INT_MAX,
                    source: Any = None) -> int | None:
    """``name`` from the query string (or ``source``) as a whole number; ``default`` when absent or empty."""
    raw = (request.args if source is None else source).get(name)
    if raw is None or str(raw).strip() == "":
        return default
    return whole_number(name, raw, minimum=minimum, maximum=maximum)


def path_id(value: int) -> int:
    """An id from the path: a number beyond the column's range names nothing (404)."""
    if not 0 < value <= INT_MAX:
        raise NotFound("no such record")
    return value


def task_id(value: str) -> str:
    """A task id from the path: a UUID, else nothing (404)."""
    if not _UUID.match(value or ""):
        raise NotFound("no such task")
    return value


def _check_json(value: Any, path: str, depth: int) -> None:
    if depth > JSON_MAX_DEPTH:
        raise BadInput(f"the JSON is nested more than {JSON_MAX_DEPTH} levels deep",
                      {path or "_body": f"嵌套层级超过 {JSON_MAX_DEPTH} 层"})
    if isinstance(value, str):
        if bad_text(value):
            raise BadInput(f"{path or 'the body'} contains a NUL byte or an invalid Unicode character",
                          {path or "_body": BAD_TEXT_MESSAGE})
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if bad_text(key):
                raise BadInput("a field name contains a NUL byte or an invalid Unicode character",
                              {path or "_body": "字段名" + BAD_TEXT_MESSAGE})
            _check_json(item, where, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]", depth + 1)


def _no_constant(name: str) -> Any:
    raise BadInput(f"{name} is not a JSON number", {"_body": f"{name} 不是有效的数字"})


def parse_json(data: bytes | str) -> Any:
    """JSON text of at most JSON_MAX_BYTES and JSON_MAX_DEPTH levels, with clean text; else TooLarge or Invalid."""
    if len(data) > JSON_MAX_BYTES:
        raise TooLarge(f"the JSON body is larger than {JSON_MAX_BYTES // 1024} KB",
                       {"_body": f"请求内容超过 {JSON_MAX_BYTES // 1024} KB"})
    if not json_depth_within(data, JSON_MAX_DEPTH):
        raise BadInput(f"the JSON is nested more than {JSON_MAX_DEPTH} levels deep",
                      {"_body": f"嵌套层级超过 {JSON_MAX_DEPTH} 层"})
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except BadInput:
        raise
    except (ValueError, RecursionError):
        raise ServiceError("the request body is not valid JSON", {"_body": "不是有效的 JSON"}) from None
    _check_json(value, "", 0)
    return value


def json_object() -> dict[str, Any]:
    """The request's JSON body as an object (checked by parse_json)."""
    length = request.content_length
    if length is not None and length > JSON_MAX_BYTES:
        raise TooLarge(f"the JSON body is larger than {JSON_MAX_BYTES // 1024} KB",
                       {"_body": f"请求内容超过 {JSON_MAX_BYTES // 1024} KB"})
    data = request.get_data(cache=True)
    if not data.strip():
        raise ServiceError("the request body must be a JSON object", {"_body": "应为 JSON 对象"})
    value = parse_json(data)
    if not isinstance(value, dict):
        raise ServiceError("the request body must be a JSON object", {"_body": "应为 JSON 对象"})
    return value


def _strict_pairs(raw: bytes) -> list[tuple[str, str | None]]:
    """Each name=value of a query string or url-encoded body, the value None when it is not valid UTF-8."""
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        name_text = urllib.parse.unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
        try:
            value_text = urllib.parse.unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            value_text = None
        pairs.append((name_text, value_text))
    return pairs


def check_request_text() -> None:
    """Refuse (422, naming the field) query and form values with NUL bytes, lone surrogates or bytes that are
    not UTF-8; and HTTP Basic credentials with them (401)."""
    sources = [request.query_string]
    if request.mimetype == "application/x-www-form-urlencoded" and (request.content_length or 0) <= JSON_MAX_BYTES:
        sources.append(request.get_data(cache=True, parse_form_data=False))
    for raw in sources:
        for name, value in _strict_pairs(raw):
            if value is None or bad_text(value) or bad_text(name):
                field = name if not bad_text(name) else "_form"
                raise BadInput(f"{field} contains a NUL byte or an invalid Unicode character",
                              {field: BAD_TEXT_MESSAGE})
    if request.mimetype == "multipart/form-data":
        for name, value in request.form.items(multi=True):
            if bad_text(value) or bad_text(name):
                field = name if not bad_text(name) else "_form"
                raise BadInput(f"{field} contains a NUL byte or an invalid Unicode character",
                              {field: BAD_TEXT_MESSAGE})
    for source in (request.args, request.form if request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data") else {}):
        for name in NUMBER_FIELDS:
            for raw in (source.getlist(name) if hasattr(source, "getlist") else []):
                if str(raw).strip():
                    whole_number(name, raw, minimum=0)
    auth = request.authorization
    if auth is not None and (bad_text(auth.username or "") or bad_text(auth.password or "")):
        raise Unauthenticated("the credentials contain a NUL byte or an invalid Unicode character")
