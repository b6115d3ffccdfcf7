"""`accountability validate` passes on the shipped models and explains what is wrong with broken copies;
bpmnlint (recommended rules) passes on the diagrams; the diagrams keep Art. 2's due process."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

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
    (MAIN, "register == True", "${register}", ": Flow_registered: condition '${register}' is a JUEL expression"),
    (MAIN, '"P7D"</bpmn:timeDuration>', "P7D</bpmn:timeDuration>",
     ': Timer_statement: unquoted timer value P7D: timer expressions are Python, write "P7D"'),
    (MAIN, 'camunda:formKey="registration"', 'camunda:formKey="registraton"',
     ": Task_register: unknown form key 'registraton': there is no forms/registraton.json"),
    (MAIN, 'camunda:candidateGroups="office"', 'camunda:candidateGroups="offices"',
     ": Task_register: unknown role 'offices' in camunda:candidateGroups"),
    (MAIN, 'camunda:formKey="statement" camunda:assignee="${subject}"', 'camunda:formKey="statement"',
     ": Task_statement: no one can work on this task"),
    (MAIN, 'camunda:dueDate="P15D"', 'camunda:dueDate="in two weeks"',
     ": Task_register: camunda:dueDate 'in two weeks' must be an ISO-8601 duration"),
    (MAIN, 'aggravated = len(aggravation_result) &gt; 0', 'import os',
     ": Script_aggravated: the script does not compile in the sandbox: line 1: imports are not allowed"),
    (MAIN, 'resolution = "approve" if', 'resolution = = "approve" if',
     ": Script_tally: the script does not compile in the sandbox"),
    (MAIN, 'camunda:decisionRef="sanction"', 'camunda:decisionRef="sanctions"',
     ": Decision_sanction: decision 'sanctions' does not exist"),
    (MAIN, 'calledElement="appeal_review"', 'calledElement="appeal_reviews"',
     ": Activity_appeal_review: calls process 'appeal_reviews', which none of the files defines"),
    (MAIN, "<bpmn:exclusiveGateway", "<bpmn:exclusivGateway", "exclusivGateway"),
    (MAIN, 'channel == "self_report"', 'channel = "self_report"',
     ": Flow_self_report: condition 'channel = \"self_report\"' does not compile in the sandbox"),
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
    path = copy(MAIN, '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">register == True'
                      '</bpmn:conditionExpression>', "")
    code, out = validate(Path("processes"), Path("forms"))
    assert code != 0 and "Flow_registered: flow out of gateway '是否立案？' has no condition" in out
    assert str(Path("processes") / path.name) in out


def test_a_table_input_no_form_provides(copy):
    form = copy.root / "forms" / "conclusion.json"
    schema = json.loads(form.read_text(encoding="utf-8"))
    del schema["properties"]["corruption"]
    schema["required"].remove("corruption")
    form.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    code, out = validate(Path("processes"), Path("forms"))
    assert code != 0
    assert ("Decision_aggravation: decision 'aggravation' reads 'corruption', which no form, intake field, script "
            "or system fact provides") in out


def test_forms_without_a_task_and_broken_forms(copy):
    (copy.root / "forms" / "unused.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "多余", "type": "object",
        "properties": {"x": {"type": "string"}}}), encoding="utf-8")
    (copy.root / "forms" / "broken.json").write_text("{not json", encoding="utf-8")
    code, out = validate(Path("processes"), Path("forms"))
    assert code != 0
    assert "forms/unused.json: no user task uses the form 'unused'" in out
    assert "forms/unused.json: field 'x' needs a title" in out
    assert "forms/broken.json: not valid JSON" in out


def test_validating_a_single_file_uses_the_deployed_forms_and_tables(copy):
    code, out = validate(Path("processes") / "appeal_review.bpmn")
    assert code == 0, out


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


# --------------------------------------------------------------------------- Art. 2 due process, statically

def _graph(path: Path):
    root = etree.parse(str(path)).getroot()
    ns = {"b": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    edges: dict[str, set[str]] = {}
    for flow in root.iterfind(".//b:sequenceFlow", ns):
        edges.setdefault(flow.get("sourceRef"), set()).add(flow.get("targetRef"))
    for boundary in root.iterfind(".//b:boundaryEvent", ns):  # a boundary event leaves from its task
        edges.setdefault(boundary.get("attachedToRef"), set()).add(boundary.get("id"))
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


@pytest.mark.parametrize("step", [{"Task_register"}, {"Flow_registered"}, {"Task_investigate"},
                                  {"Task_statement"}])
def test_no_path_to_the_handling_decision_skips_due_process(step):
    """Art. 2: without 立案 (and the decision to register), 调查 and 陈述申辩 (or its lapse), no decision."""
    edges = _graph(ROOT / MAIN)
    assert "Task_serve" in _reachable(edges, "Start_intake", set())
    if step == {"Flow_registered"}:  # the only way on from registration review is the "立案" flow
        edges = {s: {t for t in ts if not (s == "Gateway_register" and t == "Task_investigate")}
                 for s, ts in edges.items()}
        step = set()
    assert "Task_serve" not in _reachable(edges, "Start_intake", step)
