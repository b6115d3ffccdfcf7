"""Lists at scale: keyset paging without duplicates or gaps while rows arrive, counts that stop at 1,000, the
inbox's own tasks found however deep in the queue; rate limits shared by every server process; serving with
several processes. On SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from service.auth import Principal
from service.store.models import Case, Task
from service.store.paging import COUNT_CAP
from service.store.repository import Store
from service.web import create_app
from tests.databases import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
OFFICE = {"Authorization": "Basic " + base64.b64encode(f"office_li:{PASSWORD}".encode()).decode()}
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def add_cases(services, n: int, rng: random.Random, *, assignee: str | None = None) -> list[str]:
    """``n`` open cases, each with one office task: due times spread over a few days, some without one, and many
    sharing a due and a creation time (ties are the hard part of keyset paging). Returns the task ids."""
    with services.db.session() as s, s.begin():
        store = Store(s)
        deployment = store.latest_deployment().id
        first = store.max_id(Case) + 1
        cases = [{"id": first + i, "deployment_id": deployment, "channel": rng.choice(["inspection", "self_report"]),
                  "subject": "zhang_wei", "unit": "执法一科", "summary": "s", "grounds": [7], "act_date": "2026-03-02",
                  "year": 2026, "status": "open", "stage": "立案审查", "version": 1} for i in range(n)]
        tasks = [{"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "case_id": c["id"],
                  "name": "Task_register", "title": "立案审查", "role": None if assignee else "office",
                  "assignee": assignee, "form_key": "registration", "state": "open",
                  "due": rng.choice([None, NOW + dt.timedelta(days=rng.randrange(4))]),
                  "created_at": NOW - dt.timedelta(hours=rng.randrange(3))} for c in cases]
        store.bulk_insert(Case, cases)
        store.bulk_insert(Task, tasks)  # due_order comes from due (the column's default)
    return [t["id"] for t in tasks]


@pytest.fixture
def client(services):
    app = create_app(services=services, config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    return app.test_client()


def login(client, user: str = "office_li") -> None:
    assert client.post("/login", data={"username": user, "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("sort", ["due", "created", "case"])
def test_cursor_paging_sees_every_task_once_while_tasks_arrive(services, client, sort):
    rng = random.Random(sort)
    before = set(add_cases(services, 60, rng))
    seen: list[str] = []
    cursor = None
    for _ in range(40):
        params = {"per_page": 7, "sort": sort, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/tasks", query_string=params, headers=OFFICE).get_json()
        seen += [t["id"] for t in body["items"]]
        add_cases(services, 3, rng)  # arrivals between pages, before and after the cursor's place
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a task came twice"
    assert before <= set(seen), "a task that was there all along was left out"
    # and the pages came in the list's order
    order = {"due": lambda t: (t["due"] is None, t["due"] or "", t["created_at"], t["id"]),
             "created": lambda t: (t["created_at"], t["id"]),
             "case": lambda t: (-t["case_id"], t["created_at"], t["id"])}[sort]
    everything = client.get("/api/v1/tasks", query_string={"per_page": 200, "sort": sort}, headers=OFFICE).get_json()
    assert [t["id"] for t in everything["items"]] == [t["id"] for t in sorted(everything["items"], key=order)]


def test_page_numbers_and_cursors_agree_and_filters_hold(services, client):
    add_cases(services, 45, random.Random(3))
    pages = [client.get("/api/v1/tasks", query_string={"per_page": 10, "page": n}, headers=OFFICE).get_json()
             for n in range(1, 6)]
    by_number = [t["id"] for p in pages for t in p["items"]]
    by_cursor, cursor = [], None
    while True:
        body = client.get("/api/v1/tasks", query_string={"per_page": 10, **({"cursor": cursor} if cursor else {})},
                          headers=OFFICE).get_json()
        by_cursor += [t["id"] for t in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert by_number == by_cursor and len(by_cursor) == 45
    assert pages[-1]["next_cursor"] is None and pages[0]["total"] == 45 and not pages[0]["total_capped"]
    channel = client.get("/api/v1/tasks", query_string={"channel": "inspection", "per_page": 200},
                         headers=OFFICE).get_json()
    assert channel["items"] and channel["total"] == len(channel["items"])
    assert all(t["channel"] == "inspection" for t in channel["items"])
    cases = client.get("/api/v1/cases", query_string={"per_page": 20}, headers=OFFICE).get_json()
    more = client.get("/api/v1/cases", query_string={"per_page": 20, "cursor": cases["next_cursor"]},
                      headers=OFFICE).get_json()
    ids = [c["id"] for c in cases["items"] + more["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 40


def test_a_cursor_from_elsewhere_is_a_clear_422(services, client):
    add_cases(services, 5, random.Random(4))
    tasks_cursor = client.get("/api/v1/tasks", query_string={"per_page": 2}, headers=OFFICE).get_json()["next_cursor"]
    nested = base64.urlsafe_b64encode(b"[" * 5000).decode()
    for path, cursor in (("/api/v1/tasks", "nonsense"), ("/api/v1/cases", tasks_cursor), ("/api/v1/tasks", nested),
                         ("/api/v1/tasks", base64.urlsafe_b64encode(b'["tasks:due",["x","y","z"]]').decode())):
        response = client.get(path, query_string={"cursor": cursor}, headers=OFFICE)
        assert response.status_code == 422 and "cursor" in response.get_json()["fields"], (path, cursor)
    other_sort = client.get("/api/v1/tasks", query_string={"cursor": tasks_cursor, "sort": "case"}, headers=OFFICE)
    assert other_sort.status_code == 422


def test_counts_stop_at_the_cap_and_the_pages_stay_small(services, client):
    add_cases(services, COUNT_CAP + 5, random.Random(5))
    body = client.get("/api/v1/tasks", query_string={"per_page": 5}, headers=OFFICE).get_json()
    assert body["total"] == COUNT_CAP and body["total_capped"] is True and body["next_cursor"]
    cases = client.get("/api/v1/cases", query_string={"per_page": 5}, headers=OFFICE).get_json()
    assert cases["total"] == COUNT_CAP and cases["total_capped"] is True
    login(client)
    inbox = client.get("/").get_data(as_text=True)
    assert f">{COUNT_CAP}+</span>" in inbox  # 组内待领取 1000+
    pager = re.search(r'<nav class="pager".*?</nav>', inbox, re.S).group(0)
    assert len(re.findall(r"<a ", pager)) <= 6  # first, nearby pages and next: not a link per page
    listing = client.get("/cases").get_data(as_text=True)
    assert f">{COUNT_CAP}+</span>" in listing
    page_three = client.get("/cases?page=3").get_data(as_text=True)
    assert 'aria-current="page">3<' in page_three and 'rel="prev"' in page_three and 'rel="next"' in page_three


def test_my_claimed_task_shows_in_my_list_however_deep_in_the_queue(services, client):
    ids = add_cases(services, 260, random.Random(6))
    with services.db.session() as s:
        last = s.get(Task, max(ids, key=lambda i: (s.get(Task, i).due_order, s.get(Task, i).created_at, i)))
        last_case = last.case_id
    services.cases.claim(Principal("office_li", frozenset({"office"})), last.id)
    login(client)
    html = client.get("/").get_data(as_text=True)
    mine = html[html.index('id="mine-h"'):html.index('id="group-h"')]
    assert f"/cases/{last_case}\"" in mine, "the claimed task is missing from 我的任务"
    assert '<span class="count" aria-label="共 1 项">1</span>' in mine
    group = html[html.index('id="group-h"'):]
    assert f"/cases/{last_case}\"" not in group and ">259</span>" in group


def test_rate_limits_hold_across_processes_on_one_database(database_url, services):
    """A complaint limit of 3 a minute: two requests in this process, two more from another process on the same
    database, and the fourth is refused — the count lives in the database, not in each process."""
    config = {"TESTING": True, "COMPLAINT_RATE_LIMIT": "3 per minute"}
    ip = f"10.9.{random.randint(0, 255)}.{random.randint(1, 254)}"
    body = {"officer": "某执法人员", "summary": "s", "act_date": "2026-03-02"}
    first, second = (create_app(services=services, config=config).test_client() for _ in range(2))
    codes = [c.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": ip}).status_code
             for c in (first, second)]
    script = (
        "import json, sys\n"
        "from service.web import create_app\n"
        f"app = create_app({database_url!r}, config={config!r})\n"
        "c = app.test_client()\n"
        f"print(json.dumps([c.post('/api/v1/complaints', json={body!r}, environ_base={{'REMOTE_ADDR': {ip!r}}})"
        ".status_code for _ in range(2)]))\n")
    other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert other.returncode == 0, other.stderr
    codes += json.loads(other.stdout.strip().splitlines()[-1])
    assert codes == [201, 201, 201, 429]
    # another address has its own count
    assert first.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": "10.8.0.1"}).status_code == 201


def test_serve_with_several_processes_answers_and_shares_the_complaint_limit(tmp_path):
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**os.environ, "DATABASE_URL": db, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "service.cli", "init"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--processes", "2",
                               "--workers", "2"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer")
        codes = []
        for _ in range(6):  # the default limit: 5 a minute per address, whichever process answers
            request = urllib.request.Request(f"{base}/api/v1/complaints", method="POST",
                                             data=json.dumps({"officer": "某执法人员", "summary": "s",
                                                              "act_date": "2026-03-02"}).encode(),
                                             headers={"Content-Type": "application/json", "Connection": "close"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    codes.append(response.status)
            except urllib.error.HTTPError as exc:
                codes.append(exc.code)
        assert codes == [201] * 5 + [429]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert output.count("Booting worker") == 2, output
