"""`accountability validate` passes on the shipped models and explains what is wrong with broken copies;
bpmnlint (recommended rules) passes on the diagrams; the diagrams keep Art. 2's due process."""
from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from service import sandbox
from service.cli import main

ROOT = Path(__file__).resolve().parent.parent
BPMNLINT = ROOT / "node_modules" / ".bin" / "bpmnlint"
MAIN = "processes/accountability_case.bpmn"


def validate(*paths: Path):
    res = CliRunner().invoke(main, ["validate", *map(str, paths)])
    return res.exit_code, res.output


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A copy of processes/ and forms/ to break; returns a function that edits one file."""
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    monkeypatch.chdir(tmp_path)

    def edit(rel: str, old: str, new: str, count: int = 1) -> Path:
        path = tmp_path / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")
        return path
    edit.root = tmp_path
    return edit


def test_the_shipped_models_validate(monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out = validate()
    assert code == 0, out
    assert "no problems" in out


@pytest.mark.parametrize("rel,old,new,expected", [
    (MAIN, "register == True", "${register}", ": Flow_registered: 条件“${register}”是 JUEL 表达式"),
    (MAIN, '>P7D</bpmn:timeDuration>', ">P7 days</bpmn:timeDuration>",
     ": Timer_statement: 定时器的值 'P7 days' 不是 ISO-8601 时长、日期或重复周期"),
    (MAIN, '>P7D</bpmn:timeDuration>', ' language="python">P7D</bpmn:timeDuration>',
     ': Timer_statement: 定时器的值 P7D 声明了 language="python"，但它是 ISO-8601 字面值'),
    (MAIN, 'camunda:formKey="registration"', 'camunda:formKey="registraton"',
     ": Task_register: 表单“registraton”不存在（没有 forms/registraton.json）"),
    (MAIN, 'camunda:candidateGroups="office"', 'camunda:candidateGroups="offices"',
     ": Task_register: camunda:candidateGroups 中的角色“offices”不存在"),
    (MAIN, 'camunda:formKey="statement" camunda:assignee="${hearing.person}"', 'camunda:formKey="statement"',
     ": Task_statement: 没有人能办理这个任务"),
    (MAIN, 'camunda:assignee="${ballot.member}"', 'camunda:assignee="${ballot member}"',
     ": Task_vote: camunda:assignee“${ballot member}”必须是用户名或变量"),
    (MAIN, 'camunda:dueDate="P15D"', 'camunda:dueDate="in two weeks"',
     ": Task_register: camunda:dueDate“in two weeks”必须是从任务开始起算的 ISO-8601 时长"),
    (MAIN, 'aggravated = len(aggravation_result) &gt; 0', 'import os',
     ": Script_aggravated: 脚本无法在沙箱中编译，请按提示修改：“第 1 行：流程图脚本中不允许 import"),
    (MAIN, 'approvals = len([b for b in voting', 'approvals = = len([b for b in voting',
     ": Script_tally: 脚本无法在沙箱中编译"),
    (MAIN, 'camunda:decisionRef="sanction"', 'camunda:decisionRef="sanctions"',
     ": Decision_sanction: 决策“sanctions”不存在"),
    (MAIN, "<bpmn:exclusiveGateway", "<bpmn:exclusivGateway", "exclusivGateway"),
    (MAIN, 'language="python">channel == "self_report"', 'language="python">channel = "self_report"',
     ": Flow_self_report: 条件“channel = \"self_report\"”无法在沙箱中编译"),
    ("processes/sanction.dmn", "<text>\"minor\"</text>", "<text>minor</text>",
     "processes/sanction.dmn:"),
])
def test_a_broken_copy_fails_with_file_element_and_message(copy, rel, old, new, expected):
    copy(rel, old, new)
    code, out = validate(Path("processes"), Path("forms"))
    assert code != 0
    assert expected in out, out
    assert "Traceback" not in out


def test_a_gateway_flow_without_condition_or_default(copy):
    path = copy(MAIN, '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="python">register == True'
                      '</bpmn:conditionExpression>', "")
    code, out = validate(Path("processes"), Path("forms"))
    assert code != 0 and "Flow_registered: 网关“是否立案？”的这条出口连线既没有条件" in out
    assert str(Path("processes") / path.name) in out


def test_a_table_input_no_form_provides(copy):
    """Per person, the table inputs come from the script that reads the person's finding: drop one line and the
    input is missing."""
    copy(MAIN, 'corruption = determination.get("corruption", False)\n', "")
    code, out = validate(Path("processes"), Path("forms"))
    assert code != 0
    assert "Decision_aggravation: 决策“aggravation”读取“corruption”，但没有任何表单、受理字段、脚本或系统事实提供它" in out


def test_a_table_input_set_inside_an_if_block_counts(copy):
    copy(MAIN, "aggravated = len(aggravation_result) &gt; 0",
         "if len(aggravation_result) &gt; 0:\n    aggravated = True\nelse:\n    aggravated = False")
    code, out = validate(Path("processes"), Path("forms"))
    assert code == 0, out


def test_a_script_that_does_not_compile_is_one_problem_not_a_cascade(copy):
    copy(MAIN, 'or (channel == "self_report" and person == subject)', 'or (channel = "self_report" and person == subject)')
    code, out = validate(Path("processes"), Path("forms"))
    assert code != 0
    assert ": Script_person_facts: 脚本无法在沙箱中编译" in out
    assert "1 problem(s)" in out and "读取" not in out, out


def test_forms_without_a_task_and_broken_forms(copy):
    (copy.root / "forms" / "unused.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "多余", "type": "object",
        "properties": {"x": {"type": "string"}}}), encoding="utf-8")
    (copy.root / "forms" / "broken.json").write_text("{not json", encoding="utf-8")
    code, out = validate(Path("processes"), Path("forms"))
    assert code != 0
    assert "forms/unused.json: form 'unused': 没有用户任务使用表单“unused”" in out
    assert "forms/unused.json: form 'unused': 字段“x”需要标题" in out
    assert "forms/broken.json:1: 不是有效的 JSON" in out


def test_validating_a_single_file_uses_the_deployed_forms_and_tables(copy):
    code, out = validate(Path("processes") / "accountability_case.bpmn")
    assert code == 0, out
    assert "no problems" in out


def test_a_file_that_is_not_a_process_file_or_does_not_exist_is_one_problem_each(copy):
    (copy.root / "README.md").write_text("# notes", encoding="utf-8")
    code, out = validate(Path("README.md"))
    assert code == 1 and "README.md: 不是流程文件" in out and "1 problem(s) in 0 file(s)" in out
    code, out = validate(Path("processes") / "missing.bpmn")
    assert code == 1 and "missing.bpmn: 没有这个文件或文件夹" in out and "1 problem(s)" in out


# --------------------------------------------------------------------------- bpmnlint

def test_bpmnlint_recommended_rules_pass_on_the_diagrams():
    assert BPMNLINT.exists(), "run the README's set-up: npm ci installs bpmnlint"
    res = subprocess.run([str(BPMNLINT), *sorted(str(p) for p in (ROOT / "processes").glob("*.bpmn"))],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_bpmnlint_really_lints(copy):
    path = copy(MAIN, 'name="立案审查"', 'name=""')
    res = subprocess.run([str(BPMNLINT), str(path)], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode != 0 and "Task_register" in res.stdout and "label-required" in res.stdout


GROUNDS_LOOP = ('<bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="grounds" '
                'camunda:elementVariable="ground"/>')
LINT_CASES = [
    ('modeler:executionPlatform="SpiffWorkflow"', 'modeler:executionPlatform="Camunda Platform"',
     "Definitions_accountability_case", "accountability/execution-platform", 'Declares execution platform "Camunda'),
    (' modeler:executionPlatform="SpiffWorkflow" modeler:executionPlatformVersion="3.2.0"', "",
     "Definitions_accountability_case", "accountability/execution-platform", "Declares execution platform (none)"),
    ('language="python">register == True', ">register == True",
     "Flow_registered", "accountability/expression-language", 'Condition without language="python"'),
    ('language="python">register == True', 'language="python">${register}',
     "Flow_registered", "accountability/expression-language", "is JUEL"),
    ('<bpmn:scriptTask id="Script_tally" name="统计表决结果" scriptFormat="python">',
     '<bpmn:scriptTask id="Script_tally" name="统计表决结果" scriptFormat="groovy">',
     "Script_tally", "accountability/expression-language", 'Script without scriptFormat="python"'),
    (">P7D</bpmn:timeDuration>", '>"P7D"</bpmn:timeDuration>',
     "Timer_statement", "accountability/literal-timers", "is not a literal ISO-8601 value"),
    (">P7D</bpmn:timeDuration>", ' language="python">P7D</bpmn:timeDuration>',
     "Timer_statement", "accountability/literal-timers", 'declares language="python": drop the language'),
    ('camunda:formKey="registration"', 'camunda:formKey="registraton"',
     "Task_register", "accountability/user-task-assignment", 'Unknown form key "registraton"'),
    ('camunda:formKey="registration"', "",
     "Task_register", "accountability/user-task-assignment", "User task without camunda:formKey"),
    ('camunda:candidateGroups="office"', 'camunda:candidateGroups="offices"',
     "Task_register", "accountability/user-task-assignment", 'Unknown role "offices"'),
    ('camunda:decisionRef="sanction"', 'camunda:decisionRef="sanctions"',
     "Decision_sanction", "accountability/decision-reference", 'Unknown decision "sanctions"'),
    (GROUNDS_LOOP, '<bpmn:extensionElements><camunda:properties><camunda:property name="collection" value="grounds"/>'
                   '</camunda:properties></bpmn:extensionElements>',
     "Decision_grounds", "accountability/standard-loops", 'Loop hidden in the Camunda property "collection"'),
    (GROUNDS_LOOP, GROUNDS_LOOP.replace("/>", "><bpmn:loopCardinality>2</bpmn:loopCardinality>"
                                              "</bpmn:multiInstanceLoopCharacteristics>"),
     "Decision_grounds", "accountability/standard-loops", "takes only camunda:collection"),
]


@pytest.fixture(scope="module")
def linted_breakages(tmp_path_factory) -> dict[int, str]:
    """Each breakage of LINT_CASES in a copy of its own, linted in one bpmnlint run: its report per case."""
    folder = tmp_path_factory.mktemp("lint")
    text = (ROOT / MAIN).read_text(encoding="utf-8")
    paths = []
    for i, (old, new, *_) in enumerate(LINT_CASES):
        assert old in text, old
        paths.append(folder / f"case{i}.bpmn")
        paths[-1].write_text(text.replace(old, new, 1), encoding="utf-8")
    res = subprocess.run([str(BPMNLINT), *map(str, paths)], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 1, res.stdout + res.stderr
    reports, current = {}, None
    for line in res.stdout.splitlines():
        if line.strip().endswith(".bpmn") and "case" in line:
            current = int(Path(line.strip()).stem.removeprefix("case"))
            reports[current] = ""
        elif current is not None:
            reports[current] += line + "\n"
    return reports


@pytest.mark.parametrize("case", range(len(LINT_CASES)), ids=lambda i: LINT_CASES[i][3].split("/")[1] + f"-{i}")
def test_the_projects_bpmnlint_rules_catch_what_the_engine_relies_on(linted_breakages, case):
    """.bpmnlintrc adds the project's plugin (lint/bpmnlint-plugin-accountability): each rule on a broken copy."""
    _, _, element, rule, message = LINT_CASES[case]
    lines = [line for line in linted_breakages.get(case, "").splitlines() if rule in line]
    assert any(line.split()[0] == element and message in line for line in lines), linted_breakages.get(case)


def test_the_lint_configuration_knows_the_services_roles():
    from service.engine import ROLES
    config = json.loads((ROOT / ".bpmnlintrc").read_text(encoding="utf-8"))
    assert "plugin:accountability/recommended" in config["extends"]
    assert tuple(config["rules"]["accountability/user-task-assignment"][1]["roles"]) == ROLES


# --------------------------------------------------------------------------- Art. 2 due process, statically

BPMN = {"b": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def _graph(path: Path) -> dict[str, set[str]]:
    """Elements and sequence flows as nodes (so a flow can be removed like a task). A sub-process is entered at its
    start events and left only from its end events; a boundary event leaves from the task it is attached to."""
    root = etree.parse(str(path)).getroot()
    edges: dict[str, set[str]] = {}
    subs = {sp.get("id"): sp for sp in root.iterfind(".//b:subProcess", BPMN)}
    for flow in root.iterfind(".//b:sequenceFlow", BPMN):
        source = flow.get("sourceRef")
        source = f"{source}#end" if source in subs else source
        edges.setdefault(source, set()).add(flow.get("id"))
        edges.setdefault(flow.get("id"), set()).add(flow.get("targetRef"))
    for boundary in root.iterfind(".//b:boundaryEvent", BPMN):
        edges.setdefault(boundary.get("attachedToRef"), set()).add(boundary.get("id"))
    for sid, sp in subs.items():
        for start in sp.iterfind("b:startEvent", BPMN):
            edges.setdefault(sid, set()).add(start.get("id"))
        for end in sp.iterfind("b:endEvent", BPMN):
            edges.setdefault(end.get("id"), set()).add(f"{sid}#end")
    return edges


def _reachable(edges, start: str, removed: set[str]) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node in seen or node in removed:
            continue
        seen.add(node)
        todo.extend(edges.get(node, ()))
    return seen


@pytest.mark.parametrize("step", [{"Task_register"}, {"Flow_registered"}, {"Task_investigate"}, {"Task_conclude"},
                                  {"Task_statement", "Flow_no_hearing"}, {"Task_vote"}])
def test_no_path_to_the_handling_decision_skips_due_process(step):
    """Art. 2: without 立案 (and the decision to register), 调查, the office's finding, 陈述申辩 (or its lapse) and
    the group's vote, no decision is served. Flow_no_hearing is the one way past the statements: see below."""
    edges = _graph(ROOT / MAIN)
    reachable = _reachable(edges, "Start_intake", set())
    assert {"Task_serve", "Task_statement", "Timer_statement", "Flow_no_hearing"} <= reachable
    assert "Task_serve" not in _reachable(edges, "Start_intake", step)


def test_without_a_statement_only_the_no_hearing_flow_reaches_the_decision():
    edges = _graph(ROOT / MAIN)
    without = _reachable(edges, "Start_intake", {"Task_statement"})
    assert "Task_serve" in without and "Timer_statement" not in without and "Sub_hearing#end" not in without
    assert "Task_serve" not in _reachable(edges, "Start_intake", {"Task_statement", "Flow_no_hearing"})


def _writes(code: str, name: str) -> bool:
    """Whether a script assigns `name` or into it (name[...] = ..., name.update(...))."""
    for node in ast.walk(ast.parse(code)):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
        for target in targets:
            while isinstance(target, (ast.Subscript, ast.Attribute)):
                target = target.value
            if isinstance(target, ast.Name) and target.id == name:
                return True
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == name):
            return True
    return False


def test_the_no_hearing_flow_is_taken_only_for_persons_already_heard():
    """Flow_no_hearing is the gateway's default, taken when `hearings` is empty. `heard` starts empty at registration,
    only Script_record_heard (after the statements) fills it, and Script_prepare_hearing puts every person not yet
    heard in `hearings`: so the first proposal is always heard, and a later one only skips persons already heard."""
    root = etree.parse(str(ROOT / MAIN)).getroot()
    scripts = {t.get("id"): t.find("b:script", BPMN).text for t in root.iterfind(".//b:scriptTask", BPMN)}
    gateway = root.find(".//b:exclusiveGateway[@id='Gateway_hear']", BPMN)
    assert gateway.get("default") == "Flow_no_hearing"
    hear = root.find(".//b:sequenceFlow[@id='Flow_hear']", BPMN).find("b:conditionExpression", BPMN).text.strip()
    assert {n for n, code in scripts.items() if _writes(code, "heard")} == {"Script_respondents", "Script_record_heard"}
    assert "heard = {}" in scripts["Script_respondents"]
    [incoming] = [f for f in root.iterfind(".//b:sequenceFlow", BPMN) if f.get("targetRef") == "Script_record_heard"]
    assert incoming.get("sourceRef") == "Sub_hearing"
    outcomes = [{"person": p, "liable": liable, "tier": tier, "aggravated": False}
                for p, liable, tier in [("zhang_wei", True, 2), ("wang_fang", False, None), ("liu_yang", True, 4)]]
    data = {"outcomes": outcomes, "heard": {}, "facts_found": "f", "hearing_round": 0}
    sandbox.execute(scripts["Script_prepare_hearing"], data)
    assert sorted(h["person"] for h in data["hearings"]) == ["liu_yang", "wang_fang", "zhang_wei"]
    assert sandbox.evaluate(hear, data) is True
    # heard at these ranks: nothing heavier, nobody is heard again; one person's heavier proposal: only them
    heard = {h["person"]: {"rank": h["rank"]} for h in data["hearings"]}
    data = {"outcomes": outcomes, "heard": heard, "facts_found": "f", "hearing_round": 1}
    sandbox.execute(scripts["Script_prepare_hearing"], data)
    assert data["hearings"] == [] and sandbox.evaluate(hear, data) is False
    heavier = [dict(o, tier=3) if o["person"] == "zhang_wei" else o for o in outcomes]
    data = {"outcomes": heavier, "heard": heard, "facts_found": "f", "hearing_round": 1}
    sandbox.execute(scripts["Script_prepare_hearing"], data)
    assert [h["person"] for h in data["hearings"]] == ["zhang_wei"]
