"""Paging that costs the same at 1,000 and at 100,000 rows: keyset cursors, capped counts, index-ordered top-N.

A list is read in the order of an index (e.g. the open tasks of one role by due time), so the database reads only
the rows of the page. A page after another is found by the last row's sort key (a *cursor*), not by skipping
rows; page numbers (offset) still work. Counts stop at ``COUNT_CAP``: a queue longer than that shows "1000+"
instead of counting every row of it on every request.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any, Sequence

from sqlalchemy import DateTime, Integer, Select, and_, literal, or_, select, tuple_, union_all
from sqlalchemy.sql.elements import ColumnElement

COUNT_CAP = 1000  # counts stop here: "1000+"


class BadCursor(ValueError):
    """A cursor this list did not hand out (edited, or from another list or sort order)."""


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int  # exact up to COUNT_CAP; when ``total_capped``, there are more than that
    page: int
    per_page: int
    total_capped: bool = False
    next_cursor: str | None = None  # the page after this one (None: this is the last)

    def with_items(self, items: list[Any]) -> "Page":
        return replace(self, items=items)

    @property
    def pages(self) -> int:
        """Pages known to exist (at least this many when the count is capped)."""
        return max(1, -(-self.total // self.per_page))


# a sort order: (column, descending) from the most significant key to the unique last one
SortKey = Sequence[tuple[ColumnElement, bool]]


def encode_cursor(kind: str, values: Sequence[Any]) -> str:
    raw = json.dumps([kind, [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]],
                     separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, key: SortKey) -> list[Any]:
    """The sort values a cursor holds, typed like the key's columns; BadCursor when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_kind, values = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        raise BadCursor("not a cursor of this list") from None
    if got_kind != kind or not isinstance(values, list) or len(values) != len(key):
        raise BadCursor("not a cursor of this list and order")
    out = []
    for value, (column, _) in zip(values, key):
        python_type = _python_type(column)
        try:
            if python_type is dt.datetime:
                value = dt.datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError
            elif python_type is int:
                if isinstance(value, bool) or not isinstance(value, int) or not -2**31 <= value < 2**31:
                    raise ValueError
            elif not isinstance(value, str) or "\x00" in value:
                raise ValueError
            else:
                value.encode("utf-8")  # a lone surrogate is no key of ours
        except (ValueError, TypeError, OverflowError):
            raise BadCursor("not a cursor of this list") from None
        out.append(value)
    return out


def _python_type(column: ColumnElement) -> type:
    kind = getattr(column.type, "impl", column.type)  # a TypeDecorator stores through its impl
    if isinstance(kind, DateTime):
        return dt.datetime
    return int if isinstance(kind, Integer) else str


def after(key: SortKey, values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that come after ``values`` in the order ``key``. Runs of columns sorted the same way become one row-value
    comparison, which both PostgreSQL and SQLite use to start the index scan at the cursor."""
    run = 1
    while run < len(key) and key[run][1] == key[0][1]:
        run += 1
    columns = [c for c, _ in key[:run]]
    bound = [literal(v, c.type) for (c, _), v in zip(key[:run], values[:run])]
    left, right = (columns[0], bound[0]) if run == 1 else (tuple_(*columns), tuple_(*bound))
    descending = key[0][1]
    strictly = left < right if descending else left > right
    if run == len(key):
        return strictly
    at_least = left <= right if descending else left >= right
    return and_(at_least, or_(strictly, after(key[run:], values[run:])))


def ordered(key: SortKey) -> list[ColumnElement]:
    return [c.desc() if descending else c.asc() for c, descending in key]


def top(branches: Sequence[Select], key: SortKey, limit: int, offset: int = 0) -> Select:
    """Rows ``offset`` to ``offset + limit`` of several index-ordered queries together: each query reads at most
    that many rows of its own index (an OR of them would make the database sort the whole queue). Each branch
    selects the key's columns under their own names."""
    if len(branches) == 1:
        return branches[0].order_by(*ordered(key)).limit(limit).offset(offset or None)
    parts = [select(b.order_by(*ordered(key)).limit(offset + limit).subquery()) for b in branches]
    merged = union_all(*parts).subquery()
    return (select(merged).order_by(*[merged.c[c.key].desc() if d else merged.c[c.key].asc() for c, d in key])
            .limit(limit).offset(offset or None))


def capped_count(session, branches: Sequence[Select], cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows the branches hold together, counting at most ``cap`` + 1: (count, whether there are more)."""
    from sqlalchemy import func
    # only the first column (the id): an index that holds the id and the filter's columns answers without the rows
    parts = [select(b.with_only_columns(b.selected_columns[0]).limit(cap + 1).subquery()) for b in branches]
    source = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
    n = session.scalar(select(func.count()).select_from(source)) or 0
    return min(n, cap), n > cap
