"""Test databases: SQLite files, and PostgreSQL from $TEST_DATABASE_URL or a throwaway server.

Each test gets a fresh database copied from a template that is migrated, deployed and has the
standard users, so the PostgreSQL half and the SQLite half run the same suite."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-test-1"
USERS = [("office_li", ["office"], "执法监督科"), ("office_sun", ["office"], "执法监督科"),
         ("lg_chen", ["leading_group"], "局领导"), ("lg_wu", ["leading_group"], "局领导"),
         ("lg_zhou", ["leading_group"], "局领导"), ("admin", ["admin"], "信息中心"),
         ("reviewer", ["reviewer"], "法制科"), ("owner_he", ["owner"], "法制科"), ("zhang_wei", [], "执法一科"), ("wang_fang", [], "执法二科"),
         ("liu_yang", [], "执法一科")]


def prepare(url: str) -> None:
    """Migrate, deploy processes/ and add the standard users."""
    from service.auth import hash_password
    from service.bundle import Bundle
    from service.store.repository import Store
    from service.web import build_services

    services = build_services(url)
    services.db.migrate()
    services.deployments.deploy(Bundle.from_folders(ROOT / "processes", ROOT / "forms"), "tests")
    digest = hash_password(PASSWORD)
    with services.db.session() as s, s.begin():
        store = Store(s)
        for name, roles, unit in USERS:
            store.add_user(name, display_name=name, unit=unit, password_hash=digest, roles=roles)
    services.db.dispose()


class SqliteTemplate:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="acc-sqlite-"))
        self.path = self.dir / "template.db"
        prepare(f"sqlite:///{self.path}")

    def new(self) -> str:
        target = self.dir / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresTemplate:
    """Per-test databases made with CREATE DATABASE ... TEMPLATE on one server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url).set(drivername="postgresql+psycopg")
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.template = f"acc_tmpl_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.template}"'))
        prepare(self._url(self.template))

    def _url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def new(self) -> str:
        name = f"acc_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)'))
        self.admin.dispose()


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent.parent.name)
    return found[-1].parent if found else None


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temp folder on a free port, for machines without a server."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="acc-pg-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run = as_postgres
        subprocess.run([*as_postgres, str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], check=True,
                       capture_output=True)
        subprocess.run([*as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-l",
                        str(self.dir / "server.log"), "-w", "-t", "60", "-o",
                        f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                        f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start"],
                       check=True, capture_output=True)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self._run, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w",
                        "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_admin_url() -> tuple[str | None, ThrowawayPostgres | None, str]:
    """($TEST_DATABASE_URL or a throwaway server's URL, the server to stop, why there is none)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url, None, ""
    bin_dir = _pg_bin()
    if bin_dir is None:
        return None, None, "no PostgreSQL: set TEST_DATABASE_URL or install the postgresql package"
    server = ThrowawayPostgres(bin_dir)
    return server.url, server, ""
