"""Who is acting: users, roles, password hashes."""
from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("office", "leading_group", "admin", "reviewer", "owner")
ROLE_NAMES = {"office": "领导小组办公室", "leading_group": "领导小组成员", "admin": "系统管理员", "reviewer": "合规审查",
              "owner": "流程负责人"}
STAFF_ROLES = frozenset({"office", "leading_group", "admin", "reviewer"})
# who may manage the process files: versions, the modeler's drafts and their checks, deploy, rollback, moving cases.
# An owner (流程负责人) does only that: no case, task or table pages of staff, nothing else of the administrator's.
PROCESS_OWNER_ROLES = frozenset({"admin", "owner"})


@dataclass(frozen=True)
class Principal:
    """An authenticated user as the service sees them. Anyone can be the subject of a case."""

    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    display_name: str = ""
    unit: str | None = None

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    @property
    def owns_processes(self) -> bool:
        """May manage the process files (role admin or owner)."""
        return bool(self.roles & PROCESS_OWNER_ROLES)

    @property
    def sees_reporter(self) -> bool:
        """Only the office may know who reported (Art. 5(12))."""
        return "office" in self.roles


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, werkzeug's current default


def verify_password(password_hash: str | None, password: str) -> bool:
    return bool(password_hash) and check_password_hash(password_hash, password)


class VerifiedCredentials:
    """Remembers recently verified passwords (as keyed HMACs, never in clear) so that API clients
    sending HTTP Basic on every request do not pay a full scrypt check each time."""

    def __init__(self, ttl_seconds: float = 300.0):
        import secrets
        import threading
        self._key = secrets.token_bytes(32)
        self._ttl = ttl_seconds
        self._seen: dict[str, tuple[bytes, str, float]] = {}
        self._lock = threading.Lock()

    def _digest(self, username: str, password: str) -> bytes:
        import hashlib
        import hmac
        return hmac.new(self._key, f"{username}\0{password}".encode(), hashlib.sha256).digest()

    def remembered(self, username: str, password: str, password_hash: str | None) -> bool:
        """Whether these credentials were verified recently (and the password has not changed since)."""
        import hmac
        import time
        if not password_hash:
            return False
        with self._lock:
            hit = self._seen.get(username)
        return bool(hit and hit[1] == password_hash and hit[2] > time.monotonic()
                    and hmac.compare_digest(hit[0], self._digest(username, password)))

    def remember(self, username: str, password: str, password_hash: str | None) -> None:
        """Remember credentials that a full check has just verified."""
        import time
        if password_hash:
            with self._lock:
                self._seen[username] = (self._digest(username, password), password_hash, time.monotonic() + self._ttl)
