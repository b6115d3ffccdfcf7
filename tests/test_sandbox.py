"""Diagram code runs in a sandbox: no imports, no files, no dunder escapes, no unbounded loops."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service import sandbox
from service.engine import EngineError, ProcessEngine

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script,needle", [
    ("import os", "不允许 import"),
    ("from os import path", "不允许 import"),
    ("x = __import__('os')", "invalid variable name"),
    ("x = ().__class__.__base__.__subclasses__()", "invalid attribute name"),
    ("while True:\n    pass", "不允许 while 循环"),
    ("exec('x = 1')", "Exec calls are not allowed"),
])
def test_scripts_that_reach_outside_are_refused_before_they_run(script, needle):
    with pytest.raises(sandbox.SandboxError, match=needle):
        sandbox.execute(script, {})


def test_a_script_cannot_open_files(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    with pytest.raises(NameError, match="open"):
        sandbox.execute(f"x = open({str(secret)!r}).read()", {})
    variables = {}
    with pytest.raises(NameError):
        sandbox.execute("x = globals()", variables)
    assert "x" not in variables


def test_ranges_are_limited():
    with pytest.raises(ValueError, match="range"):
        sandbox.execute("x = list(range(10 ** 9))", {})


def test_ordinary_case_scripts_work():
    data = {"ballots": [{"vote": "approve"}, {"vote": "revise"}, {"vote": "approve"}], "outcome": {"tier": 1}}
    sandbox.execute('approvals = len([b for b in ballots if b.get("vote") == "approve"])\n'
                    'o = dict(outcome)\no["tier"] = 2\nresolution = "approve" if approvals * 2 > len(ballots) else "x"',
                    data)
    assert data["approvals"] == 2 and data["resolution"] == "approve" and data["o"] == {"tier": 2}
    assert data["outcome"] == {"tier": 1}
    assert sandbox.evaluate('channel == "inspection" and len(grounds) > 0', {"channel": "inspection", "grounds": [1]})


def test_refuse_is_the_one_extra_builtin_and_stops_a_script_with_a_field_and_message():
    data = {"findings": [{"person": "zhao_pi"}]}
    with pytest.raises(sandbox.Refusal) as err:
        sandbox.execute('for f in findings:\n    refuse("findings", "不是本案当事人：" + f["person"])\nafter = 1', data)
    assert (err.value.field, err.value.message) == ("findings", "不是本案当事人：zhao_pi")
    assert "after" not in data
    sandbox.execute('refused = 0\nfor f in findings:\n    if f["person"] == "nobody":\n        refuse("x", "y")', data)
    assert data["refused"] == 0


def test_a_diagram_script_that_opens_a_file_fails_the_step_and_reads_nothing(tmp_path):
    """Through the engine: a script task in a deployed diagram cannot read the server's files."""
    processes, forms = tmp_path / "processes", tmp_path / "forms"
    shutil.copytree(ROOT / "processes", processes)
    shutil.copytree(ROOT / "forms", forms)
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    bpmn = processes / "accountability_case.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace(
        "aggravated = len(aggravation_result) &gt; 0", f"aggravated = open({str(secret)!r}).read()"), encoding="utf-8")
    engine = ProcessEngine.from_folders(processes, forms)
    case = engine.start({"channel": "inspection", "subject": "zhang_wei", "unit": "一科", "grounds": [7],
                         "summary": "s", "act_date": "2026-01-05"}, {"leading_group_members": ["a", "b", "c"],
                                                                     "errors_by_person": {}})
    for name, data in [("Task_register", {"register": True, "grounds": [7], "respondents": [
                            {"person": "zhang_wei", "role": "handler", "unit": "一科"}]}),
                       ("Task_investigate", {"facts_found": "f", "evidence": ["e"], "investigators": ["a", "b"],
                                             "act_date": "2026-01-05"})]:
        task = next(t for t in engine.open_tasks(case) if t.name == name)
        engine.complete(case, task.id, data)
    task = next(t for t in engine.open_tasks(case) if t.name == "Task_conclude")
    with pytest.raises(EngineError, match="open"):
        engine.complete(case, task.id, {"conclusion": "c", "findings": [
            {"person": "zhang_wei", "handler_fault": 1, "severity": "minor"}]})
    assert "top secret" not in engine.serialize(case)
    assert [t.name for t in engine.open_tasks(case)] == ["Task_conclude"]


def test_a_script_that_piles_up_data_is_stopped_at_its_memory_limit(monkeypatch):
    """Each loop is within the limited range and the time budget would stop it later; the memory reading stops it
    first, with a message that says what to fix. A script that keeps little memory runs to its end. (The time
    budget is wall-clock: on a loaded machine 1 s can pass before 64 MB do, so this test gives it 60 s.)"""
    monkeypatch.setattr(sandbox, "SCRIPT_SECONDS", 60.0)
    hoarder = "x = []\nfor i in range(999):\n    for j in range(999):\n        x.append(str(i) * 999)\n"
    with pytest.raises(sandbox.ScriptLimit, match="内存超过 64 MB"):
        sandbox.execute(hoarder, {})
    frugal = {"total": 0}
    sandbox.execute("for i in range(999):\n    total = total + len(str(i) * 999)\n", frugal)
    assert frugal["total"] == sum(len(str(i) * 999) for i in range(999))
