"""Owner-written scenario tests: the shipped ones pass; a broken table fails them with a readable report."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from service.cli import main
from service.engine import ProcessEngine
from service.scenarios import load_scenarios, run_all

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_scenarios_pass_and_cover_every_article_that_sets_an_outcome():
    scenarios = load_scenarios([ROOT / "scenarios"])
    results = run_all(ProcessEngine.from_folders(ROOT / "processes", ROOT / "forms"), scenarios)
    assert [r.name for r in results if not r.passed] == []
    names = " ".join(s.name for s in scenarios)
    for article in ("第六条第（一）项", "第六条第（八）项", "第七条", "第八条第（六）项", "第九条", "第十条",
                    "第十一条第（一）项", "第十一条第（二）项", "第十一条第（三）项", "第十一条第（四）项",
                    "第十二条第（一）项", "第十二条第（五）项", "第十三条", "第十四", "第十五条", "第十八条", "第十九条",
                    "第二十条"):
        assert article in names, article


def test_a_broken_table_fails_with_a_readable_report(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    sanction = tmp_path / "processes" / "sanction.dmn"
    sanction.write_text(sanction.read_text(encoding="utf-8").replace('"严重警告处分"', '"警告处分"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["test-scenarios"])
    assert result.exit_code == 1
    assert "FAIL  第十一条第（一）项：从重" in result.output
    assert "outcome.measure: expected '严重警告处分', got '警告处分'" in result.output
    assert "passed, 3 failed" in result.output
    report = json.loads(CliRunner().invoke(main, ["test-scenarios", "--json"]).output)
    assert sum(not r["passed"] for r in report) == 3


def test_a_scenario_that_cannot_proceed_says_where(tmp_path):
    (tmp_path / "s.yaml").write_text("""
- name: 少填了必填项
  intake: {channel: inspection, subject: zhang_wei, unit: 一科, grounds: [7], summary: s, act_date: "2026-01-01"}
  steps:
    - {task: Task_register, data: {register: true, grounds: [7]}}
    - {task: Task_conclude, data: {}}
  expect: {end: 结案}
- name: 走错了环节
  intake: {channel: inspection, subject: zhang_wei, unit: 一科, grounds: [7], summary: s, act_date: "2026-01-01"}
  steps:
    - {task: Task_conclude, data: {}}
  expect: {end: 结案}
""", encoding="utf-8")
    results = run_all(ProcessEngine.from_folders(ROOT / "processes", ROOT / "forms"), load_scenarios([tmp_path]))
    assert results[0].failures == ["step 1: form errors: subject: 必填项，请填写; unit: 必填项，请填写"]
    assert results[1].failures == ["step 1: Task_conclude is not open; open: ['Task_register']"]
