"""The decision engine on small tables made for the tests: hit policies, FEEL forms, types, load errors."""
from __future__ import annotations

import datetime as dt

import pytest

from service.decisions import DecisionInputError, DmnLoadError, HitPolicyViolation, evaluate, load_bytes
from tests.dmn_builder import table, table_xml


def out(decision, **inputs):
    return evaluate(decision, inputs).outputs


def rows(decision, **inputs):
    return [m["row"] for m in evaluate(decision, inputs).trace["matched"]]


# --------------------------------------------------------------------------- hit policies

OVERLAP = [([">= 10"], ['"big"']), (["> 5"], ['"medium"']), (["< 0"], ['"negative"'])]


def test_unique_returns_the_one_match_and_null_without_match():
    d = table("UNIQUE", [("x", "integer")], [("size", "string")], OVERLAP)
    assert out(d, x=7) == "medium"
    assert out(d, x=3) is None
    assert rows(d, x=3) == []


def test_unique_with_two_matches_is_an_error_naming_both_rules():
    d = table("UNIQUE", [("x", "integer")], [("size", "string")], OVERLAP)
    with pytest.raises(HitPolicyViolation) as err:
        evaluate(d, {"x": 12})
    assert "rule 1 (r1)" in str(err.value) and "rule 2 (r2)" in str(err.value)
    assert [r.id for r in err.value.rules] == ["r1", "r2"]


def test_first_takes_the_first_match_in_rule_order():
    d = table("FIRST", [("x", "integer")], [("size", "string")], OVERLAP)
    assert out(d, x=12) == "big"
    trace = evaluate(d, {"x": 12}).trace
    assert [m["id"] for m in trace["matched"]] == ["r1", "r2"] and trace["selected"] == ["r1"]


def test_priority_takes_the_highest_output_value_not_the_first_rule():
    d = table("PRIORITY", [("x", "integer")], [("level", "string", '"high","medium","low"')],
              [(["> 0"], ['"low"']), (["> 5"], ['"high"']), (["> 3"], ['"medium"'])])
    assert out(d, x=9) == "high"
    assert out(d, x=4) == "medium"
    assert out(d, x=1) == "low"


def test_priority_with_several_outputs_ranks_by_the_first_output_with_values():
    d = table("PRIORITY", [("x", "integer")], [("level", "string", '"high","low"'), ("code", "integer")],
              [(["> 0"], ['"low"', "1"]), (["> 5"], ['"high"', "2"])])
    assert out(d, x=9) == {"level": "high", "code": 2}


def test_any_accepts_matches_that_agree():
    d = table("ANY", [("x", "integer")], [("ok", "boolean")], [(["> 0"], ["true"]), (["> 5"], ["true"])])
    assert out(d, x=9) is True


def test_any_with_disagreeing_matches_is_an_error_naming_the_rules():
    d = table("ANY", [("x", "integer")], [("ok", "boolean")], [(["> 0"], ["true"]), (["> 5"], ["false"])])
    with pytest.raises(HitPolicyViolation) as err:
        evaluate(d, {"x": 9})
    assert "different outputs" in str(err.value) and "rule 2 (r2)" in str(err.value)
    assert out(d, x=1) is True  # only one match: no conflict


COLLECTABLE = [(["> 1"], ["100"]), (["> 2"], ["200"]), (["> 3"], ["300"]), (["> 5"], ["500"])]


def test_collect_returns_every_match():
    d = table("COLLECT", [("years", "integer")], [("amount", "number")], COLLECTABLE)
    assert out(d, years=4) == [100, 200, 300]
    assert out(d, years=0) == []


@pytest.mark.parametrize("aggregation,years,expected", [
    ("SUM", 6, 1100), ("SUM", 2, 100), ("SUM", 0, None),
    ("MIN", 6, 100), ("MIN", 0, None),
    ("MAX", 6, 500), ("MAX", 3, 200),
    ("COUNT", 6, 4), ("COUNT", 3, 2), ("COUNT", 0, 0),
])
def test_collect_aggregations(aggregation, years, expected):
    d = table("COLLECT", [("years", "integer")], [("amount", "number")], COLLECTABLE, aggregation=aggregation)
    result = out(d, years=years)
    assert result == expected


def test_rule_order_lists_matches_in_rule_order():
    d = table("RULE ORDER", [("x", "integer")], [("level", "string", '"high","low"')],
              [(["> 0"], ['"low"']), (["> 5"], ['"high"'])])
    assert out(d, x=9) == ["low", "high"]


def test_output_order_lists_matches_by_output_value_priority():
    d = table("OUTPUT ORDER", [("x", "integer")], [("level", "string", '"high","medium","low"')],
              [(["> 0"], ['"low"']), (["> 5"], ['"high"']), (["> 3"], ['"medium"'])])
    assert out(d, x=9) == ["high", "medium", "low"]


def test_several_outputs_give_one_object_per_hit():
    d = table("RULE ORDER", [("x", "integer")], [("role", "string"), ("citation", "string")],
              [(["> 0"], ['"handler"', '"a"']), (["> 5"], ['"reviewer"', '"b"'])])
    assert out(d, x=9) == [{"role": "handler", "citation": "a"}, {"role": "reviewer", "citation": "b"}]


# --------------------------------------------------------------------------- FEEL unary tests

def one_cell(cell: str, typ: str = "integer"):
    return table("FIRST", [("x", typ)], [("hit", "boolean")], [([cell], ["true"])])


@pytest.mark.parametrize("cell,typ,yes,no", [
    ('"minor"', "string", ["minor"], ["Minor", "grave", None]),
    ("3", "integer", [3], [2, 4, None]),
    ("-2.5", "number", [-2.5], [2.5]),
    ("true", "boolean", [True], [False, None]),
    ("false", "boolean", [False], [True]),
    ("-", "integer", [1, None], []),
    ("", "integer", [1, None], []),
    ("< 3", "integer", [2, -10], [3, 4, None]),
    ("<= 3", "integer", [3], [4]),
    ("> 3", "integer", [4], [3]),
    (">= 3", "integer", [3, 4], [2, None]),
    ("[1..5]", "integer", [1, 3, 5], [0, 6]),
    ("]1..5[", "integer", [2, 4], [1, 5]),
    ("(1..5)", "integer", [2, 4], [1, 5]),
    ("[1..5[", "integer", [1, 4], [5]),
    ("]1..5]", "integer", [5], [1]),
    ('"a","b"', "string", ["a", "b"], ["c"]),
    ("1,2,3", "integer", [1, 2, 3], [4]),
    ("< 0, > 10", "integer", [-1, 11], [5]),
    ('not("a","b")', "string", ["c"], ["a", "b"]),
    ("not(3)", "integer", [4], [3]),
    ("not([1..5])", "integer", [0, 6], [3]),
    ("null", "integer", [None], [0]),
    ("not(null)", "integer", [0, 7], [None]),
    ('date("2026-01-01")', "date", ["2026-01-01"], ["2026-01-02"]),
    ('>= date("2026-01-01")', "date", ["2026-06-30", "2026-01-01"], ["2025-12-31"]),
    ('[date("2026-01-01")..date("2026-12-31")]', "date", ["2026-07-01"], ["2027-01-01"]),
])
def test_feel_unary_test_forms(cell, typ, yes, no):
    d = one_cell(cell, typ)
    for v in yes:
        assert out(d, x=v) is True, f"{cell!r} should match {v!r}"
    for v in no:
        assert out(d, x=v) is None, f"{cell!r} should not match {v!r}"


def test_a_name_as_an_endpoint_reads_another_input():
    d = table("FIRST", [("x", "integer"), ("limit", "integer")], [("hit", "boolean")], [(["< limit", "-"], ["true"])])
    assert out(d, x=2, limit=3) is True
    assert out(d, x=4, limit=3) is None


def test_string_escapes_in_literals():
    d = one_cell(r'"say \"hi\""', "string")
    assert out(d, x='say "hi"') is True


def test_input_expression_and_output_entry_as_simple_expressions():
    d = table("FIRST", [("case.count", "integer")], [("label", "string"), ("n", "number")],
              [([">= 3"], ['"many"', "case.count"])])
    assert out(d, case={"count": 4}) == {"label": "many", "n": 4}


def test_date_inputs_are_typed_from_json_strings():
    d = one_cell('>= date("2026-01-01")', "date")
    assert evaluate(d, {"x": "2026-03-01"}).trace["inputs"] == {"x": "2026-03-01"}
    assert out(d, x=dt.date(2026, 3, 1)) is True


# --------------------------------------------------------------------------- types and missing inputs

@pytest.mark.parametrize("typ,value,needle", [
    ("integer", "3", 'got the string "3"'),
    ("integer", True, "got the boolean true"),
    ("integer", 3.5, "got the number 3.5"),
    ("number", "3", 'got the string "3"'),
    ("boolean", "true", 'got the string "true"'),
    ("boolean", 1, "got the number 1"),
    ("string", 3, "got the number 3"),
    ("date", "01/02/2026", "expected date"),
    ("date", "2026-02-30", "expected date"),
])
def test_a_value_of_the_wrong_type_is_an_error_not_a_mismatch(typ, value, needle):
    d = one_cell("-", typ)
    with pytest.raises(DecisionInputError) as err:
        evaluate(d, {"x": value})
    assert "x" in err.value.errors and needle in err.value.errors["x"]


def test_missing_inputs_are_named():
    d = table("UNIQUE", [("a", "integer"), ("b", "boolean")], [("o", "boolean")], [(["-", "-"], ["true"])])
    with pytest.raises(DecisionInputError) as err:
        evaluate(d, {})
    assert set(err.value.errors) == {"a", "b"}
    assert all("missing input" in m for m in err.value.errors.values())


def test_a_value_outside_the_input_values_is_rejected():
    d = table("UNIQUE", [("kind", "string")], [("o", "boolean")], [(['"a"'], ["true"])],
              input_values={"kind": '"a","b"'})
    assert out(d, kind="b") is None
    with pytest.raises(DecisionInputError, match="not one of the allowed values"):
        evaluate(d, {"kind": "c"})


# --------------------------------------------------------------------------- rejected at load

@pytest.mark.parametrize("cell,needle", [
    ("x > 3", "unexpected"),
    ("? > 3", "unexpected character"),
    ('contains("a")', "unexpected"),
    ("1 + 2", "unexpected"),
    ("!= 3", "or not(value) for inequality"),
    ("= 3", "not a FEEL unary test"),
    ("[1..5", "interval must end"),
    ('"open', "not closed"),
    ("3 in [1,2]", "unexpected"),
    (" in [1, 2]", "unexpected"),
    ("1 <= ? <= 5", "unexpected"),
    ("True", "未知的名称 True：FEEL 中写作 true"),
    ("minor", "未知的名称 minor：字符串值请加引号"),
    ("not 3", "must enclose the whole cell"),
    ('date("2026-13-01")', "not a valid date"),
])
def test_an_unsupported_cell_is_rejected_at_load_with_its_location(cell, needle):
    xml = table_xml("UNIQUE", [("x", "integer"), ("y", "integer")], [("o", "boolean")],
                    [(["-", "-"], ["true"]), (["-", cell], ["false"])])
    with pytest.raises(DmnLoadError) as err:
        load_bytes(xml.encode(), "broken.dmn")
    problem = err.value.problems[0]
    assert problem.file == "broken.dmn" and problem.line is not None
    assert "rule 2 (r2)" in problem.where and "input 'y'" in problem.where
    assert needle in problem.message
    assert str(err.value).startswith(f"broken.dmn:{problem.line}: decision 't', rule 2 (r2), input 'y'")


def test_a_literal_of_the_wrong_type_for_its_column_is_rejected_at_load():
    xml = table_xml("UNIQUE", [("x", "integer")], [("o", "boolean")], [(['"3"'], ["true"]), (["4"], ['"yes"'])])
    with pytest.raises(DmnLoadError) as err:
        load_bytes(xml.encode(), "types.dmn")
    messages = [f"{p.where}: {p.message}" for p in err.value.problems]
    assert any("rule 1 (r1), input 'x'" in m and "与该列的类型 integer 不符" in m for m in messages)
    assert any("rule 2 (r2), output 'o'" in m and "与输出列的类型 boolean 不符" in m for m in messages)


@pytest.mark.parametrize("xml_change,needle", [
    (('hitPolicy="UNIQUE"', 'hitPolicy="SOMETIMES"'), "未知的命中策略“SOMETIMES”"),
    (('hitPolicy="UNIQUE"', 'hitPolicy="UNIQUE" aggregation="SUM"'), "只能与命中策略 COLLECT 一起使用"),
    (("<inputEntry><text>-</text></inputEntry>", ""), "规则有 0 个输入单元格，但决策表有 1 个输入列"),
    (("<text>true</text></outputEntry>", "<text>cube(3)</text></outputEntry>"), "调用了 cube()"),
    (('typeRef="integer"', 'typeRef="tUnknown"'), "类型 typeRef“tUnknown”未知"),
])
def test_malformed_tables_are_rejected_at_load(xml_change, needle):
    xml = table_xml("UNIQUE", [("x", "integer")], [("o", "boolean")], [(["-"], ["true"])])
    assert xml_change[0] in xml
    with pytest.raises(DmnLoadError) as err:
        load_bytes(xml.replace(*xml_change, 1).encode(), "bad.dmn")
    assert needle in str(err.value)


def test_priority_without_output_values_is_rejected_at_load():
    xml = table_xml("PRIORITY", [("x", "integer")], [("o", "string")], [(["-"], ['"a"'])])
    with pytest.raises(DmnLoadError, match="需要至少一个输出列给出输出值"):
        load_bytes(xml.encode(), "p.dmn")


def test_files_that_are_not_dmn_are_rejected_with_a_message():
    with pytest.raises(DmnLoadError, match="不是格式正确的 XML"):
        load_bytes(b"<definitions", "x.dmn")
    with pytest.raises(DmnLoadError, match="不是 DMN 1.1-1.5 文件"):
        load_bytes(b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>', "x.bpmn")


# --------------------------------------------------------------------------- decision requirements

DRG = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="drg" name="drg" namespace="http://example.org/drg">
  <decision id="band" name="band">
    <variable name="band" typeRef="string"/>
    <informationRequirement id="ir1"><requiredInput href="#score"/></informationRequirement>
    <decisionTable id="band_table" hitPolicy="UNIQUE">
      <input id="i1"><inputExpression id="ie1" typeRef="number"><text>score</text></inputExpression></input>
      <output id="o1" name="band" typeRef="string"/>
      <rule id="low"><inputEntry><text>&lt; 50</text></inputEntry><outputEntry><text>"low"</text></outputEntry></rule>
      <rule id="high"><inputEntry><text>&gt;= 50</text></inputEntry><outputEntry><text>"high"</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="message" name="message">
    <variable name="message" typeRef="string"/>
    <informationRequirement id="ir2"><requiredDecision href="#band"/></informationRequirement>
    <literalExpression id="le"><text>"score is " + band</text></literalExpression>
  </decision>
  <inputData id="score" name="score"><variable name="score" typeRef="number"/></inputData>
</definitions>"""


def test_a_required_decision_is_evaluated_first_and_traced():
    model = load_bytes(DRG.encode(), "drg.dmn")
    result = evaluate(model.decisions["message"], {"score": 70})
    assert result.outputs == "score is high"
    assert result.trace["inputs"] == {"band": "high"}
    [sub] = result.trace["required"]
    assert sub["decision"] == "band" and [m["id"] for m in sub["matched"]] == ["high"]


def test_a_required_decision_given_as_input_is_not_re_evaluated():
    model = load_bytes(DRG.encode(), "drg.dmn")
    result = evaluate(model.decisions["message"], {"score": 70, "band": "given"})
    assert result.outputs == "score is given" and "required" not in result.trace


def test_input_data_types_are_enforced_for_literal_expressions():
    model = load_bytes(DRG.encode(), "drg.dmn")
    with pytest.raises(DecisionInputError) as err:
        evaluate(model.decisions["message"], {"score": "70"})
    assert err.value.errors == {"score": 'expected number (数字), got the string "70"'}
