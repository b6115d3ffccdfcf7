"""Logging in, on the pages and the API alike: failed attempts are throttled per account and per address in the
database (so every process shares the count) without locking other accounts out; logging out ends the session on
the server; an unknown account costs a full password check like a known one."""
from __future__ import annotations

import base64
import re


import service.logins as logins
from service.logins import ACCOUNT_LIMIT, ADDRESS_LIMIT
from service.web import build_services, create_app
from tests.databases import PASSWORD


def app_on(services):
    return create_app(services=services, config={"TESTING": True, "WTF_CSRF_ENABLED": False})


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def api_get(client, user: str, password: str, address: str = "10.0.0.1"):
    return client.get("/api/v1/tasks", headers=basic(user, password), environ_base={"REMOTE_ADDR": address})


def page_login(client, user: str, password: str, address: str = "10.0.0.1"):
    return client.post("/login", data={"username": user, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_guessing_one_accounts_password_is_stopped_and_other_accounts_still_log_in(services):
    client = app_on(services).test_client()
    for _ in range(ACCOUNT_LIMIT):
        assert api_get(client, "office_li", "guess").status_code == 401
    blocked = api_get(client, "office_li", PASSWORD)  # even the right password: the guesser learns nothing
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert page_login(client, "office_li", PASSWORD).status_code == 429  # the pages share the count
    assert api_get(client, "office_sun", PASSWORD).status_code == 200  # a colleague at the same address
    assert page_login(client, "lg_chen", PASSWORD).status_code == 302


def test_the_count_is_shared_by_every_server_process(services, database_url):
    first, second = app_on(services).test_client(), app_on(build_services(database_url)).test_client()
    for i in range(ACCOUNT_LIMIT):
        client = first if i % 2 else second
        assert page_login(client, "lg_wu", "guess").status_code == 401
    assert api_get(first, "lg_wu", PASSWORD).status_code == 429
    assert api_get(second, "lg_wu", PASSWORD).status_code == 429


def test_an_address_that_tries_many_accounts_is_stopped_but_not_other_addresses(services):
    client = app_on(services).test_client()
    for i in range(ADDRESS_LIMIT):
        assert page_login(client, f"nobody{i % 40}", "guess", address="10.9.9.9").status_code == 401
    assert page_login(client, "office_li", PASSWORD, address="10.9.9.9").status_code == 429
    assert page_login(client, "office_li", PASSWORD, address="10.0.0.2").status_code == 302


def test_a_success_clears_the_accounts_failures(services):
    client = app_on(services).test_client()
    for _ in range(ACCOUNT_LIMIT - 1):
        assert page_login(client, "reviewer", "guess").status_code == 401
    assert page_login(client, "reviewer", PASSWORD).status_code == 302
    for _ in range(ACCOUNT_LIMIT - 1):
        assert page_login(client, "reviewer", "guess").status_code == 401
    assert page_login(client, "reviewer", PASSWORD).status_code == 302


def test_logging_out_ends_the_session_on_the_server(services):
    app = app_on(services)
    client = app.test_client()
    assert page_login(client, "office_li", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200
    cookie = client.get_cookie("session").value
    stolen = app.test_client()
    stolen.set_cookie("session", cookie)
    assert stolen.get("/").status_code == 200  # a copy of the cookie works while the session lasts
    assert client.post("/logout").status_code == 302
    assert stolen.get("/").status_code == 302 and "/login" in stolen.get("/").headers["Location"]


def test_an_unknown_account_costs_a_full_password_check(services, monkeypatch):
    checked: list[str] = []
    real = logins.verify_password

    def counting(password_hash, password):
        checked.append(re.sub(r"\$.*", "", password_hash))  # the hash method, e.g. "scrypt:32768:8:1"
        return real(password_hash, password)

    monkeypatch.setattr(logins, "verify_password", counting)
    client = app_on(services).test_client()
    assert page_login(client, "no_such_user", "guess").status_code == 401
    assert page_login(client, "office_li", "guess").status_code == 401
    assert len(checked) == 2 and checked[0] == checked[1] and checked[0].startswith("scrypt")
    answers = [re.sub(r'name="csrf_token"[^>]*', "TOKEN",  # signed with a timestamp: differs across a second
                      page_login(client, u, "guess").get_data(as_text=True).replace(u, "NAME"))
               for u in ("no_such_user", "office_li")]
    assert answers[0] == answers[1]  # the same page (with what was typed): nothing tells which accounts exist
