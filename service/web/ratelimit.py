"""Flask-Limiter's counters in the application's database, so a limit holds across every server process.

The storage URI ``accountability-db://`` (the default) keeps each limit's fixed window in the ``rate_limits``
table of the database the app runs on: one atomic upsert per counted request. A deployment that has Redis may
set ``RATELIMIT_STORAGE_URI=redis://…`` instead (and install the ``redis`` package).
"""
from __future__ import annotations

import random
import time

from limits.storage import Storage
from sqlalchemy.exc import SQLAlchemyError

from ..store.repository import Store

SCHEME = "accountability-db"


def _db():
    from flask import current_app
    return current_app.extensions["accountability"].db


class DatabaseStorage(Storage):
    """A ``limits`` storage on the app's database (the app of the current request: two apps in one process
    each count in their own database)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with _db().session() as s, s.begin():
            store = Store(s)
            hits = store.rate_limit_hit(key, now, expiry, amount)
            if random.random() < 0.01:  # now and then, forget windows that are over
                store.clear_rate_limits(expired_before=now - 60)
            return hits

    def get(self, key: str) -> int:
        with _db().session() as s:
            return Store(s).rate_limit(key, time.time())[0]

    def get_expiry(self, key: str) -> float:
        with _db().session() as s:
            return Store(s).rate_limit(key, time.time())[1]

    def check(self) -> bool:
        try:
            with _db().session() as s:
                Store(s).rate_limit("", time.time())
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with _db().session() as s, s.begin():
            return Store(s).clear_rate_limits()

    def clear(self, key: str) -> None:
        with _db().session() as s, s.begin():
            Store(s).clear_rate_limits(key)
