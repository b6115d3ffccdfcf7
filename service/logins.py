"""Logging in, for the pages and the API alike: passwords checked in constant time whether or not the account
exists, failed attempts throttled per account and per address in the database (so the limits hold across every
server process), and browser sessions kept on the server so that logging out ends them.

政策 (security settings, not the regulation): an account takes 10 failed logins in 15 minutes, an address 50
(an office behind one address is not locked out by one colleague's typing); a browser session ends after 30
minutes without activity or at logout.
"""
from __future__ import annotations

import datetime as dt
import secrets
from functools import lru_cache
from typing import Callable

from sqlalchemy.exc import IntegrityError

from .auth import Principal, hash_password, verify_password
from .errors import TooManyAttempts, Unauthenticated
from .store.db import Database
from .store.models import utcnow
from .store.repository import Store

WINDOW = dt.timedelta(minutes=15)
ACCOUNT_LIMIT = 10
ADDRESS_LIMIT = 50
SESSION_IDLE = dt.timedelta(minutes=30)
TOUCH_EVERY = dt.timedelta(seconds=60)  # how often a session's last activity is written


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to check unknown accounts against, so that they cost what a real check costs."""
    return hash_password(secrets.token_urlsafe(16))


def _keys(username: str, address: str | None) -> tuple[str, str]:
    return f"account:{username.strip().lower()[:150]}", f"address:{(address or 'unknown')[:150]}"


class LoginService:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime] = utcnow):
        self.db = db
        self.clock = clock

    def check(self, username: str, password: str, address: str | None) -> Principal:
        """The person these credentials belong to; Unauthenticated (same answer and about the same time for an
        unknown account, an inactive one or a wrong password) or TooManyAttempts."""
        account, place = _keys(username, address)
        now = self.clock()
        self.refuse_if_throttled(username, address)
        with self.db.session() as s:
            user = Store(s).user(username) if username else None
            principal = (Principal(user.username, frozenset(user.roles), user.display_name, user.unit)
                         if user is not None and user.active else None)
            password_hash = user.password_hash if principal is not None else None
        ok = verify_password(password_hash or _dummy_hash(), password) and principal is not None and bool(password_hash)
        if not ok:
            self._record_failure(account, place, now)
            raise Unauthenticated("wrong username or password")
        with self.db.session() as s, s.begin():
            Store(s).clear_failures(account)
        return principal

    def refuse_if_throttled(self, username: str, address: str | None) -> None:
        """TooManyAttempts while the account or the address has used up its failed logins — whatever the
        password, even one a cache remembers as right (else a guesser who hits it would learn it)."""
        account, place = _keys(username, address)
        with self.db.session() as s:
            counts = Store(s).failures([account, place], self.clock() - WINDOW)
        if counts.get(account, 0) >= ACCOUNT_LIMIT or counts.get(place, 0) >= ADDRESS_LIMIT:
            raise TooManyAttempts("too many failed logins: wait a quarter of an hour and try again",
                                  int(WINDOW.total_seconds()))

    def _record_failure(self, account: str, place: str, now: dt.datetime) -> None:
        for _ in range(3):  # two processes creating the same key at once: the loser counts again
            try:
                with self.db.session() as s, s.begin():
                    Store(s).record_failure([account, place], now, now - WINDOW)
                return
            except IntegrityError:
                continue

    # ---------------------------------------------------------------- browser sessions

    def open_session(self, username: str) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.session() as s, s.begin():
            store = Store(s)
            store.drop_sessions_idle_since(now - SESSION_IDLE)
            store.add_session(session_id, username, now)
        return session_id

    def session_user(self, session_id: str | None, username: str) -> bool:
        """Whether this browser session is still logged in as ``username`` (and mark it active)."""
        if not session_id:
            return False
        now = self.clock()
        with self.db.session() as s, s.begin():
            store = Store(s)
            row = store.session(session_id)
            if row is None or row.username != username:
                return False
            if row.last_seen < now - SESSION_IDLE:
                store.drop_session(session_id)
                return False
            if row.last_seen < now - TOUCH_EVERY:
                row.last_seen = now
            return True

    def close_session(self, session_id: str | None) -> None:
        if session_id:
            with self.db.session() as s, s.begin():
                Store(s).drop_session(session_id)
