"""Who is acting: users, roles, password hashes."""
from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("office", "leading_group", "admin", "reviewer")
ROLE_NAMES = {"office": "领导小组办公室", "leading_group": "领导小组成员", "admin": "系统管理员", "reviewer": "合规审查"}
STAFF_ROLES = frozenset({"office", "leading_group", "admin", "reviewer"})


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
    def sees_reporter(self) -> bool:
        """Only the office may know who reported (Art. 5(12))."""
        return "office" in self.roles


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, werkzeug's current default


def verify_password(password_hash: str | None, password: str) -> bool:
    return bool(password_hash) and check_password_hash(password_hash, password)
