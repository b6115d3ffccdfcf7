"""Diagram code is contained: a hostile condition or script deployed by an owner fails its step with a clear
message (422), leaves every case as it was, never sees the reporter, and the server keeps answering others."""
from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service.auth import Principal
from service.bundle import Bundle
from service.errors import Invalid
from service.web import build_services, create_app
from tests.databases import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
OFFICE = Principal("office_li", frozenset({"office"}))
PREFILL = 'respondents = [{"person": subject, "role": "handler", "unit": unit}] if subject and unit else []'
HOSTILE = {
    "huge power": "x = 10**10**9",
    "four nested loops": "n = 0\nfor a in range(999):\n    for b in range(999):\n        for c in range(999):\n"
                         "            for d in range(999):\n                n = n + 1",
    "a billion elements": "x = [0] * 10**9",
    "doubling a string": "s = 'x' * 100000\nfor i in range(40):\n    s = s + s",
    "recursion": "def f(n):\n    return f(n + 1)\nx = f(0)",
    "padding": "x = 'a'.ljust(10**9)",
    "nested comprehension": "x = [[[i for i in range(999)] for j in range(999)] for k in range(999)]",
}
INTAKE = {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7],
          "summary": "未按程序送达", "act_date": "2026-03-02"}


def with_script(code: str) -> Bundle:
    """Today's files, with diagram code added to the first script every case runs (at intake)."""
    files = dict(Bundle.from_folders(ROOT / "processes", ROOT / "forms").files)
    bpmn = files["processes/accountability_case.bpmn"].decode()
    assert PREFILL in bpmn
    escaped = code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    files["processes/accountability_case.bpmn"] = bpmn.replace(PREFILL, PREFILL + "\n" + escaped).encode()
    return Bundle(files)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_code_fails_the_step_quickly_and_no_case_is_created(services, name):
    services.deployments.deploy(with_script(HOSTILE[name]), "owner")  # it passes `validate`: it compiles
    before = services.cases.list_cases(OFFICE).total
    started = time.monotonic()
    with pytest.raises(Invalid) as refused:
        services.cases.start_case(OFFICE, dict(INTAKE))
    assert time.monotonic() - started < 5
    assert "图中代码" in str(refused.value) or "not available in diagram code" in str(refused.value)
    assert services.cases.list_cases(OFFICE).total == before


def test_a_script_never_sees_the_reporter(services):
    services.deployments.deploy(with_script("summary = '举报人：' + str(reporter)"), "owner")
    intake = {k: v for k, v in INTAKE.items() if k not in ("subject", "unit")}
    case_id = services.cases.start_case(None, {**intake, "officer": "一名执法人员",
                                               "reporter": {"name": "钱举报", "contact": "13800009999"}})["id"]
    case = services.cases.get_case(OFFICE, case_id)
    assert "钱举报" not in case["summary"] and "13800009999" not in case["summary"]
    assert "举报人信息仅办公室可见" in case["summary"]
    assert case["reporter"] == {"name": "钱举报", "contact": "13800009999"}  # kept for the office


def test_the_server_answers_others_while_hostile_steps_run(sqlite_template):
    url = sqlite_template.new()
    services = build_services(url)
    app = create_app(services=services, config={"TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    auth = "Basic " + base64.b64encode(f"office_li:{PASSWORD}".encode()).decode()
    try:
        statuses: list[int] = []

        def hostile() -> None:
            request = urllib.request.Request(f"{base}/api/v1/cases", data=json.dumps(INTAKE).encode(), method="POST",
                                             headers={"Authorization": auth, "Content-Type": "application/json"})
            try:
                statuses.append(urllib.request.urlopen(request, timeout=30).status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)

        slowest = 0.0
        for code in (HOSTILE["four nested loops"], HOSTILE["nested comprehension"]):
            services.deployments.deploy(with_script(code), "owner")
            workers = [threading.Thread(target=hostile) for _ in range(3)]
            for w in workers:
                w.start()
            give_up = time.monotonic() + 60
            while any(w.is_alive() for w in workers):
                assert time.monotonic() < give_up, "hostile steps still running after 60 s: diagram code is not bounded"
                started = time.monotonic()
                with urllib.request.urlopen(f"{base}/login", timeout=30) as answer:
                    assert answer.status == 200
                slowest = max(slowest, time.monotonic() - started)
                time.sleep(0.05)
        assert statuses and set(statuses) == {422}
        assert slowest < 2.0, f"/login took {slowest:.2f} s while hostile steps ran"
    finally:
        server.shutdown()
        services.db.dispose()
        sqlite_template.drop(url)
