"""Owner-written scenario tests: the shipped ones pass and cover every article that sets an outcome, per person;
a broken table fails them with a readable report; a scenario that cannot proceed says where and why."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from click.testing import CliRunner

from service.cli import main
from service.engine import ProcessEngine
from service.scenarios import load_scenarios, run_all

ROOT = Path(__file__).resolve().parent.parent
INTAKE = '{channel: inspection, subject: zhang_wei, unit: 执法一科, grounds: [7], summary: s, act_date: "2026-01-01"}'
BEFORE = """
    - {task: Task_register, data: {register: true, grounds: [7], respondents: [{person: zhang_wei, role: handler, unit: 执法一科}, {person: wang_fang, role: reviewer, unit: 法制科}]}}
    - {task: Task_investigate, data: {facts_found: f, evidence: [e], investigators: [a, b], act_date: "2026-01-01"}}"""
CONCLUDE = """
    - {task: Task_conclude, data: {conclusion: c, findings: [{person: zhang_wei, handler_fault: 5, severity: light}, {person: wang_fang, reviewer_missed: true, severity: light}]}%s}"""
STEPS = BEFORE + CONCLUDE % ""


def _engine() -> ProcessEngine:
    return ProcessEngine.from_folders(ROOT / "processes", ROOT / "forms")


def _expected_citations(scenarios) -> set[str]:
    """Every citation some scenario expects, at the end or after a step, for a person or case-wide."""
    found: set[str] = set()
    expects = [s.expect for s in scenarios] + [st.get("expect") or {} for s in scenarios for st in s.steps]
    for expect in expects:
        citations = expect.get("citations") or []
        for item in citations.values() if isinstance(citations, dict) else [citations]:
            found.update(item)
    return found


def _table_citations(name: str) -> set[str]:
    text = (ROOT / "processes" / f"{name}.dmn").read_text(encoding="utf-8")
    return set(re.findall(r'<text>"(第[^"<]*)"</text>', text))


def test_the_shipped_scenarios_pass_and_cover_every_article_that_sets_an_outcome():
    scenarios = load_scenarios([ROOT / "scenarios"])
    results = run_all(_engine(), scenarios)
    assert {r.name: r.failures for r in results if not r.passed} == {}
    names = " ".join(s.name for s in scenarios)
    for article in ("第五条第（十九）项", "第六条第（一）项", "第六条第（七）项", "第六条第（八）项", "第七条",
                    "第八条第（六）项", "第九条", "第十条", "第十一条第（一）项", "第十一条第（二）项",
                    "第十一条第（三）项", "第十一条第（四）项", "第十二条第（一）项", "第十二条第（五）项", "第十三条",
                    "第十四", "第十五条", "第十八条", "第十九条", "第二十条"):
        assert article in names, article
    # every row of the per-person tables is expected by some scenario (Art. 6, 8-10, 5(19), 11, 12)
    expected = _expected_citations(scenarios)
    wanted = set()
    for table in ("exemption", "responsibility", "aggravation"):
        wanted |= _table_citations(table)
    wanted |= {c for c in _table_citations("sanction") if "第十一条" not in c}
    assert wanted - expected == set()
    assert any("、第十一条" in c for c in expected)  # an aggravated sanction
    # the per-role rows: 6(7) for handler, reviewer and approver; 5(19) for reviewer and approver; 11(4) both ways
    for phrase in ("第六条第（七）项：承办人", "第六条第（七）项：审核人", "第六条第（七）项：批准人",
                   "第五条第（十九）项：审核人", "第五条第（十九）项：批准人", "第十一条第（四）项：隐瞒不报且非本人报告",
                   "第十一条第（四）项、第十九条：本人主动报告"):
        assert phrase in names, phrase


def test_a_broken_table_fails_with_a_readable_report(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    sanction = tmp_path / "processes" / "sanction.dmn"
    sanction.write_text(sanction.read_text(encoding="utf-8").replace('"严重警告处分"', '"警告处分"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["test-scenarios"])
    assert result.exit_code == 1
    assert "FAIL  第十一条第（一）项：从重\n" in result.output
    assert "outcome of zhang_wei: measure expected '严重警告处分', got '警告处分'" in result.output
    assert "outcome of wang_fang: measure expected '严重警告处分', got '警告处分'" in result.output  # Art. 11(3)
    # the vote's choice and the review's "lighter than" are checked against the table's measures
    assert "form errors: measure_choices: wang_fang 的措施须为以下之一：" in result.output
    assert "passed, 7 failed" in result.output
    report = json.loads(CliRunner().invoke(main, ["test-scenarios", "--json"]).output)
    assert sum(not r["passed"] for r in report) == 7


def test_a_scenario_that_cannot_proceed_says_where(tmp_path):
    (tmp_path / "s.yaml").write_text(f"""
- name: 少填了必填项
  intake: {INTAKE}
  steps:
    - {{task: Task_register, data: {{register: true, grounds: [7]}}}}
  expect: {{end: 结案}}
- name: 走错了环节
  intake: {INTAKE}
  steps:
    - {{task: Task_conclude, data: {{}}}}
- name: 没说是谁的陈述
  intake: {INTAKE}
  steps:{STEPS}
    - {{task: Task_statement, data: {{statement_waived: true}}}}
- name: 不是此人的任务
  intake: {INTAKE}
  steps:{STEPS}
    - {{task: Task_statement, person: liu_yang, data: {{statement_waived: true}}}}
- name: 票数与可表决成员不符
  intake: {INTAKE}
  steps:{STEPS}
    - {{task: Task_statement, persons: [zhang_wei, wang_fang], data: {{statement_waived: true}}}}
    - {{votes: [approve, approve]}}
- name: 应被拒绝却通过了
  intake: {INTAKE}
  steps:{BEFORE + CONCLUDE % ", refused: {findings: 缺少当事人}"}
- name: 拒绝的理由不符
  intake: {INTAKE}
  steps:
    - {{task: Task_register, data: {{register: true, grounds: [7]}}, refused: {{grounds: 必填}}}}
- name: 中途的检查不符
  intake: {INTAKE}
  steps:{STEPS}
    - {{expect: {{open: [{{task: Task_statement, persons: [zhang_wei]}}], outcomes: {{wang_fang: {{tier: 3}}}}}}}}
- name: 写错了键
  intake: {INTAKE}
  steps:
    - {{task: Task_register, date: {{register: false}}}}
  expect: {{outcome: {{tier: 2}}}}
""", encoding="utf-8")
    results = run_all(_engine(), load_scenarios([tmp_path]))
    failures = {r.name: (r.failures, r.steps_done) for r in results}
    assert failures == {
        "少填了必填项": (["step 1 (Task_register): form errors: respondents: 必填项，请填写"], 0),
        "走错了环节": (["step 1 (Task_conclude): Task_conclude is not open; open: Task_register"], 0),
        "没说是谁的陈述": (["step 4 (Task_statement): Task_statement is open for wang_fang, zhang_wei: "
                      "say whose with person:"], 3),
        "不是此人的任务": (["step 4 (Task_statement for liu_yang): Task_statement is not open for liu_yang; "
                     "it is open for wang_fang, zhang_wei"], 3),
        "票数与可表决成员不符": (["step 5 (votes): 2 ballots given, but 3 members may vote: lg_chen, lg_wu, lg_zhou"], 4),
        "应被拒绝却通过了": (["step 3 (Task_conclude): expected the step to be refused (findings: …缺少当事人…), "
                      "but it was accepted; open now: Task_statement for wang_fang, Task_statement for zhang_wei"],
                      2),
        "拒绝的理由不符": (["step 1 (Task_register): expected a refusal on grounds saying …必填…, "
                     "got: respondents: 必填项，请填写"], 0),
        "中途的检查不符": (["after step 4 (check): expected Task_statement open for zhang_wei, it is open for "
                     "wang_fang, zhang_wei; after step 4 (check): outcome of wang_fang: tier expected 3, got 2"], 4),
        "写错了键": (["expect: unknown outcome (known: citations, data, end, open, outcomes)"], 0),
    }


def test_registration_naming_an_unknown_account_is_the_case_services_check_not_the_engines():
    """The scenario runner drives the engine alone, which takes any well-formed user name: whether a respondent
    is an existing account is checked by the case service against its accounts (422 on "respondents[1].person",
    nothing written), tested in tests/test_persons_service.py::test_three_respondents_each_heard_decided_served_
    and_one_appeals. This test pins down that division, so a scenario cannot claim to cover it."""
    path = ROOT / "tests" / "test_persons_service.py"
    assert '["respondents[1].person"]' in path.read_text(encoding="utf-8")
    (scenario,) = [s for s in load_scenarios([ROOT / "scenarios"]) if s.name.startswith("第二十条 检查发现")]
    scenario.steps = [{"task": "Task_register", "data": {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"},
        {"person": "nobody_here", "role": "reviewer", "unit": "法制科"}]}}]
    scenario.expect = {"open": ["Task_investigate"]}
    [result] = run_all(_engine(), [scenario])
    assert result.passed, result.failures
