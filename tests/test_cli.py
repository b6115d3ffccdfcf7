"""`accountability decide` and `accountability tables` as an owner or reviewer uses them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from tests.dmn_builder import table_xml

PROCESSES = Path(__file__).resolve().parent.parent / "processes"


@pytest.fixture
def run(monkeypatch):
    monkeypatch.setenv("ACCOUNTABILITY_PROCESSES", str(PROCESSES))

    def invoke(*args, stdin=None):
        return CliRunner().invoke(main, list(args), input=stdin)
    return invoke


def test_decide_by_id_prints_outputs_and_trace(run):
    res = run("decide", "exemption", "--input", '{"exemption_ground": 2, "role": "handler"}')
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["outputs"] == {"exempt": True, "citation": "第六条第（二）项"}
    assert data["trace"]["matched"][0]["annotation"].startswith("第六条第（二）项 因法律法规修改")
    assert "第六条第（二）项" in res.output  # Chinese is printed as is, not as \\u escapes
    assert data["trace"]["inputs"] == {"exemption_ground": 2, "role": "handler"}


@pytest.mark.parametrize("role,exempt", [("handler", True), ("reviewer", True), ("approver", False)])
def test_decide_art6_7_depends_on_the_role(run, role, exempt):
    res = run("decide", "exemption", "--input", json.dumps({"exemption_ground": 7, "role": role}))
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["outputs"] == {"exempt": exempt, "citation": "第六条第（七）项"}


def test_decide_by_name(run):
    res = run("decide", "责任形式（第十二条）", "--input", '{"severity": "minor", "aggravated": false}')
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["outputs"]["tier"] == 1


def test_decide_reads_standard_input(run):
    res = run("decide", "sanction", "--input", "-", stdin='{"severity": "light", "aggravated": true}')
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["outputs"]["tier"] == 2


@pytest.mark.parametrize("args,needle", [
    (["decide", "exemption", "--input", "{oops"], "not valid JSON"),
    (["decide", "exemption", "--input", "[1]"], "must be a JSON object"),
    (["decide", "nonsense", "--input", "{}"], "no decision with id or name 'nonsense'"),
    (["decide", "exemption", "--input", '{"exemption_ground": "2", "role": "handler"}'], 'got the string "2"'),
    (["decide", "exemption", "--input", '{"exemption_ground": 2}'], "role: missing input"),
    (["decide", "exemption", "--input", '{"exemption_ground": 2, "role": "boss"}'], "not one of the allowed values"),
    (["decide", "sanction", "--input", '{"severity": "minor"}'], "aggravated: missing input"),
    (["decide", "exemption"], "Missing option '--input'"),
])
def test_bad_input_exits_non_zero_with_a_message(run, args, needle):
    res = run(*args)
    assert res.exit_code != 0
    assert needle in res.output
    assert "Traceback" not in res.output


def test_an_owner_tries_an_edited_table_with_file(run, tmp_path):
    edited = tmp_path / "sanction-draft.dmn"
    text = (PROCESSES / "sanction.dmn").read_text(encoding="utf-8")
    edited.write_text(text.replace('"开除公职"', '"撤职"'), encoding="utf-8")
    res = run("decide", "sanction", "--file", str(edited), "--input", '{"severity": "grave", "aggravated": true}')
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["outputs"]["measures"] == ["撤职"]
    deployed = run("decide", "sanction", "--input", '{"severity": "grave", "aggravated": true}')
    assert json.loads(deployed.output)["outputs"]["measures"] == ["开除公职"]


def test_decide_gives_the_tiers_measures_as_a_list(run):
    res = run("decide", "sanction", "--input", '{"severity": "serious", "aggravated": false}')
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["outputs"] == {"tier": 3, "measures": ["责令停职检查", "暂停执法活动", "警告处分",
                                                                         "严重警告处分"],
                                                 "citation": "第十二条第（三）项"}


def test_an_edit_that_breaks_two_overlapping_rules_is_caught_when_run(run, tmp_path):
    edited = tmp_path / "overlap.dmn"
    text = (PROCESSES / "exemption.dmn").read_text(encoding="utf-8")
    edited.write_text(text.replace("<text>2</text>", "<text>1,2</text>", 1), encoding="utf-8")
    res = run("decide", "exemption", "--file", str(edited), "--input", '{"exemption_ground": 1, "role": "handler"}')
    assert res.exit_code != 0
    assert "more than one rule matched: rule 1 (Rule_exemption_1), rule 2 (Rule_exemption_2)" in res.output


def test_a_broken_file_is_reported_with_each_problem_and_location(run, tmp_path):
    broken = tmp_path / "broken.dmn"
    broken.write_text(table_xml("UNIQUE", [("x", "integer")], [("o", "boolean")],
                                [(["[1..5"], ["true"]), (["True"], ["maybe"])]), encoding="utf-8")
    res = run("decide", "t", "--file", str(broken), "--input", '{"x": 1}')
    assert res.exit_code != 0
    lines = [line.strip() for line in res.output.splitlines() if "broken.dmn" in line]
    assert len(lines) == 3
    assert "rule 1 (r1), input 'x'" in lines[0] and "interval must end" in lines[0]
    assert "rule 2 (r2), input 'x'" in lines[1] and "未知的名称 True" in lines[1]
    assert "rule 2 (r2), output 'o'" in lines[2] and "未知的名称 maybe" in lines[2]


def test_a_missing_file_is_a_clear_error(run, tmp_path):
    res = run("decide", "t", "--file", str(tmp_path / "nope.dmn"), "--input", "{}")
    assert res.exit_code != 0 and "无法读取这个文件" in res.output


def test_tables_lists_decisions_inputs_outputs_and_hit_policy(run):
    res = run("tables")
    assert res.exit_code == 0, res.output
    assert "responsibility  责任人（第八条至第十条）  [COLLECT, 10 rules]" in res.output
    assert "in   errors_this_year: integer" in res.output
    assert "in   role: string" in res.output
    assert "out  measures: any  可选处理措施" in res.output
    data = json.loads(run("tables", "--json").output)
    assert {d["id"] for d in data} == {"exemption", "responsibility", "aggravation", "sanction", "grounds"}
    sanction = next(d for d in data if d["id"] == "sanction")
    assert sanction["hit_policy"] == "UNIQUE"
    assert [i["expression"] for i in sanction["inputs"]] == ["severity", "aggravated"]
    assert [o["name"] for o in sanction["outputs"]] == ["tier", "measures", "citation"]
    exemption = next(d for d in data if d["id"] == "exemption")
    assert [i["expression"] for i in exemption["inputs"]] == ["exemption_ground", "role"]


def test_tables_of_a_tck_file_with_an_aggregation(run):
    case = Path(__file__).parent / "tck" / "compliance-level-2" / "0115-sum-collect-hitpolicy"
    tck = case / "0115-sum-collect-hitpolicy.dmn"
    res = run("tables", "--file", str(tck))
    assert res.exit_code == 0 and "[COLLECT SUM, 4 rules]" in res.output
