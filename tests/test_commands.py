"""The case-service commands as an operator runs them: init, user add, deploy, timers, demo, serve."""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).with_name("accountability"))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh folder with its own copy of processes/ and forms/ and a SQLite file under instance/."""
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ACCOUNTABILITY_PROCESSES",
                                                             "ACCOUNTABILITY_FORMS")}
    return tmp_path, env


def run(workdir, *args, ok=True):
    cwd, env = workdir
    result = subprocess.run([EXE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_commands_on_an_uninitialised_database_say_to_run_init(workdir):
    for args in (("timers", "--once"), ("user", "add", "zhang_wei"), ("deploy",)):
        result = run(workdir, *args, ok=False)
        assert result.returncode != 0 and "run `accountability init` first" in result.stderr, args
        assert "Traceback" not in result.stderr


def test_init_user_add_and_deploy(workdir):
    assert "deployed version 1" in run(workdir, "init").stdout
    assert (workdir[0] / "instance" / "accountability.db").exists()
    assert "no changes: version 1 is current" in run(workdir, "deploy").stdout
    out = run(workdir, "user", "add", "office_li", "--role", "office", "--unit", "监督科").stdout
    assert out.startswith("added office_li (office); password: ")
    for weak, why in (("secret-1", "at least 10"), ("1234567890", "mix letters"), ("zhang_wei-2026", "user name")):
        refused = run(workdir, "user", "add", "zhang_wei", "--password", weak, ok=False)
        assert refused.returncode != 0 and why in refused.stderr, refused.stderr
    assert "added zhang_wei (officer)" in run(workdir, "user", "add", "zhang_wei", "--password",
                                              "correct-horse-7").stdout
    again = run(workdir, "user", "add", "zhang_wei", ok=False)
    assert again.returncode != 0 and "exists already" in again.stderr
    bad_mail = run(workdir, "user", "add", "li_si", "--email", "not-an-address", ok=False)
    assert bad_mail.returncode != 0 and "e-mail address" in bad_mail.stderr
    assert "added li_si" in run(workdir, "user", "add", "li_si", "--role", "office", "--email", "li@mingshan.example").stdout
    import sqlite3
    with sqlite3.connect(workdir[0] / "instance" / "accountability.db") as db:  # where reminders are mailed
        assert db.execute("SELECT email FROM users WHERE username = 'li_si'").fetchone() == ("li@mingshan.example",)
    bad_role = run(workdir, "user", "add", "x", "--role", "boss", ok=False)
    assert bad_role.returncode != 0 and "boss" in bad_role.stderr
    dmn = workdir[0] / "processes" / "sanction.dmn"
    dmn.write_text(dmn.read_text(encoding="utf-8").replace('"开除公职"', '"撤职"'), encoding="utf-8")
    assert "deployed version 2" in run(workdir, "deploy").stdout


def test_deploy_refuses_broken_files_and_names_each_problem(workdir):
    run(workdir, "init")
    bpmn = workdir[0] / "processes" / "accountability_case.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace("register == True", "${register}"), encoding="utf-8")
    result = run(workdir, "deploy", ok=False)
    assert result.returncode != 0
    assert "Flow_registered" in result.stderr and "JUEL" in result.stderr and "not deployed" in result.stderr


def test_demo_then_serve_answers_the_api_with_demo_accounts(workdir):
    out = run(workdir, "demo").stdout
    assert "office_li" in out and "demo1234" in out
    for account in ("zhang_wei", "wang_fang", "liu_yang", "lg_chen", "lg_wu", "lg_zhou"):
        assert account in out
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cwd, env = workdir
    server = subprocess.Popen([EXE, "serve", "--port", str(port), "--workers", "4"], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        token = base64.b64encode(b"office_li:demo1234").decode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/cases",
                                         headers={"Authorization": f"Basic {token}"})
        for _ in range(100):
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    cases = json.loads(response.read())
                    assert response.headers["Server"] == "accountability"  # waitress, not Flask's dev server
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer")
        assert cases["total"] == 5
        assert {c["status"] for c in cases["items"]} == {"open", "closed"}
        # per person: a case waiting for the statements of three respondents, one closed with an outcome each
        outcomes = {c["channel"]: [(o["person"], o["liable"], o.get("served_on")) for o in c["outcomes"] or []]
                    for c in cases["items"] if c["status"] == "closed"}
        assert outcomes["superior_referral"] == [("zhang_wei", True, "2026-09-01"), ("liu_yang", False, "2026-09-01")]
        stages = sorted(c["stage"] for c in cases["items"] if c["status"] == "open")
        assert stages == sorted(["立案审查", "陈述和辩解", "集体讨论决定（第七条）"])
        waiting = next(c for c in cases["items"] if c["stage"] == "陈述和辩解")
        assert [o["person"] for o in waiting["outcomes"]] == ["zhang_wei", "wang_fang", "liu_yang"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "timer(s)" in run(workdir, "timers", "--once").stdout


def test_serve_refuses_an_unmigrated_database(workdir):
    result = run(workdir, "serve", "--port", "1", ok=False)
    assert result.returncode != 0 and "accountability init" in result.stderr
