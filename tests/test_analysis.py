"""Static analysis of decision tables: overlaps, gaps, duplicates, shadowed and unreachable rules,
values outside the data dictionary — on tables made to have them, and through `validate`."""
from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from service.cli import main
from service.decisions import load_catalog
from service.decisions.analysis import analyse
from tests.dmn_builder import table

ROOT = Path(__file__).resolve().parent.parent


def kinds(decision):
    return [(f.kind, f.rules) for f in analyse(decision).findings]


def test_the_shipped_tables_have_no_findings():
    for decision in load_catalog([ROOT / "processes"]).decisions:
        assert analyse(decision).findings == [], decision.id


def test_overlapping_rules_under_unique_with_an_example():
    d = table("UNIQUE", [("x", "integer")], [("o", "string")],
              [(["< 10"], ['"a"']), (["[5..20]"], ['"b"']), (["> 20"], ['"c"'])])
    [finding] = analyse(d).findings
    assert (finding.kind, finding.rules) == ("overlap", (1, 2))
    assert 5 <= finding.example["x"] < 10


def test_any_with_different_outputs_is_a_conflict_but_equal_outputs_are_fine():
    conflict = table("ANY", [("x", "integer")], [("o", "string")], [(["< 10"], ['"a"']), (["> 5"], ['"b"'])])
    assert kinds(conflict) == [("conflict", (1, 2))]
    agree = table("ANY", [("x", "integer")], [("o", "string")], [(["< 10"], ['"a"']), (["> 5"], ['"a"'])])
    assert kinds(agree) == []


def test_gaps_are_reported_as_concrete_inputs():
    d = table("UNIQUE", [("severity", "string"), ("flag", "boolean")], [("o", "integer")],
              [(['"minor"', "true"], ["1"]), (['"minor"', "false"], ["2"]), (['"grave"', "true"], ["3"])],
              input_values={"severity": '"minor","grave"'})
    findings = analyse(d).findings
    assert [f.kind for f in findings] == ["gap"]
    assert findings[0].example == {"severity": "grave", "flag": False}
    assert "1 种" in findings[0].message


def test_numeric_gaps_between_intervals():
    d = table("UNIQUE", [("n", "integer")], [("o", "string")], [(["< 3"], ['"low"']), (["> 5"], ['"high"'])])
    gaps = [f.example["n"] for f in analyse(d).findings if f.kind == "gap"]
    assert gaps and all(3 <= g <= 5 for g in gaps)


def test_collect_tables_have_no_gaps_to_report():
    d = table("COLLECT", [("n", "integer")], [("o", "string")], [(["> 5"], ['"x"'])])
    assert kinds(d) == []


def test_duplicate_rules():
    d = table("COLLECT", [("n", "integer"), ("b", "boolean")], [("o", "string")],
              [(["> 5", "true"], ['"x"']), ([">5", "true"], ['"y"'])])
    assert ("duplicate", (1, 2)) in kinds(d)


def test_shadowed_rules_under_first():
    d = table("FIRST", [("n", "integer")], [("o", "string")],
              [(["> 0"], ['"positive"']), (["> 10"], ['"big"']), (["-"], ['"other"'])])
    assert kinds(d) == [("shadowed", (2,))]


def test_a_rule_that_matches_no_allowed_input():
    d = table("COLLECT", [("kind", "string")], [("o", "string")], [(['"a"'], ['"x"']), (['not("a","b")'], ['"y"'])],
              input_values={"kind": '"a","b"'})
    assert kinds(d) == [("unreachable", (2,))]


def test_outputs_outside_the_data_dictionary():
    d = table("UNIQUE", [("n", "integer")], [("role", "string"), ("tier", "integer")],
              [(["< 0"], ['"handler"', "2"]), ([">= 0"], ['"boss"', "9"])])
    messages = [f.message for f in analyse(d).findings if f.kind == "dictionary"]
    assert any("role" in m and '"boss"' in m for m in messages) and any("tier = 9" in m for m in messages)


def test_list_outputs_are_analysed_like_any_other():
    measures = table("UNIQUE", [("n", "integer")], [("measures", None)],
                     [(["< 0"], ['["警告处分", "严重警告处分"]']), ([">= 0"], ['["开除公职"]'])])
    assert kinds(measures) == []
    overlap = table("UNIQUE", [("n", "integer")], [("measures", None)], [(["< 5"], ['["a"]']), ([">= 0"], ['["b"]'])])
    assert [k for k, _ in kinds(overlap)] == ["overlap"]


def test_a_list_where_the_dictionary_wants_one_value_is_reported():
    d = table("UNIQUE", [("n", "integer")], [("role", None)], [(["-"], ['["handler", "reviewer"]'])])
    assert kinds(d) == [("dictionary", (1,))]


def broken_copy(tmp_path, monkeypatch, old: str, new: str) -> None:
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    monkeypatch.chdir(tmp_path)
    sanction = tmp_path / "processes" / "sanction.dmn"
    text = sanction.read_text(encoding="utf-8")
    assert old in text
    sanction.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_validate_enforces_the_analysis(tmp_path, monkeypatch):
    broken_copy(tmp_path, monkeypatch, '<text>"light"</text>', '<text>"light","minor"</text>')
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code != 0
    assert "decision 'sanction': 第 1、3 行同时命中" in result.output
    assert 'severity="minor"' in result.output


def test_validate_refuses_a_value_outside_the_allowed_values(tmp_path, monkeypatch):
    broken_copy(tmp_path, monkeypatch, '<text>"grave"</text>', '<text>"huge"</text>')
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code != 0 and '"huge" 不在该输入的允许值' in result.output
