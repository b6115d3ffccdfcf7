"""Shared fixtures: a static file server over the repository and Debian's Chromium via Playwright."""
from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-results"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture(scope="session")
def static_server():
    """Serves the repository root (node_modules/, processes/, tests/browser/) on a free port."""
    handler = functools.partial(_QuietHandler, directory=str(ROOT))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium (Playwright cannot download browsers here): set CHROMIUM_PATH to use another."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is not installed: run the README's test command (it installs Debian's chromium) "
                    "or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser tests save screenshots (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --------------------------------------------------------------------------- databases

from tests.databases import PostgresTemplate, SqliteTemplate, postgres_admin_url  # noqa: E402


@pytest.fixture(scope="session")
def sqlite_template():
    template = SqliteTemplate()
    yield template
    template.close()


@pytest.fixture(scope="session")
def postgresql_template():
    url, server, why = postgres_admin_url()
    if url is None:
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here (REQUIRE_POSTGRES is set): {why}")
        pytest.skip(why)
    template = PostgresTemplate(url)
    yield template
    template.close()
    if server is not None:
        server.stop()


ONE_SCENARIO = """- name: 检查发现：进入立案审查
  intake: {channel: inspection, subject: zhang_wei, unit: 执法一科, grounds: [7], summary: s, act_date: "2026-03-02"}
  expect: {open: [Task_register]}
"""


@pytest.fixture
def one_scenario(tmp_path, monkeypatch):
    """The owners' scenario runs on one quick scenario instead of all the shipped ones."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "one.yaml").write_text(ONE_SCENARIO, encoding="utf-8")
    monkeypatch.setenv("ACCOUNTABILITY_SCENARIOS", str(tmp_path / "scenarios"))


@pytest.fixture
def services(database_url):
    """The services (case, reviews, owners, logins) on a fresh database of each kind."""
    from service.web import build_services

    services = build_services(database_url)
    yield services
    services.db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """A fresh, migrated and deployed database with the standard users, on SQLite and on PostgreSQL."""
    template = request.getfixturevalue(f"{request.param}_template")
    url = template.new()
    yield url
    template.drop(url)
