"""FEEL list literals ``["a", "b"]`` in expressions and output entries (the sanction table's measures)."""
from __future__ import annotations

import decimal

import pytest

from service.decisions import DecisionInputError, DmnLoadError, evaluate, load_bytes
from service.decisions.feel import (Env, FeelSyntaxError, IntervalTest, ListExpr, Literal, parse_expression,
                                    parse_unary_tests, to_json)
from tests.dmn_builder import table, table_xml


def value(text, **variables):
    return parse_expression(text).evaluate(Env(variables))


# --------------------------------------------------------------------------- parse and evaluate

def test_a_list_of_strings_is_one_literal_and_evaluates_to_a_python_list():
    node = parse_expression('["责令停职检查", "暂停执法活动"]')
    assert node == Literal(["责令停职检查", "暂停执法活动"])
    assert node.evaluate(Env({})) == ["责令停职检查", "暂停执法活动"]


@pytest.mark.parametrize("text,expected", [
    ("[]", []),
    ('["a"]', ["a"]),
    ('[ "a" ,"b" ]', ["a", "b"]),
    ("[1, 2.5, -3]", [1, 2.5, -3]),
    ("[true, false, null]", [True, False, None]),
    ('[date("2026-01-01")]', ["2026-01-01"]),
    ("[1 + 2, 2 * 3, (4)]", [3, 6, 4]),
    ('[["a"], []]', [["a"], []]),
])
def test_list_literals(text, expected):
    assert to_json(value(text)) == expected


def test_numbers_in_a_list_are_feel_decimals():
    assert value("[1, 2]") == [decimal.Decimal(1), decimal.Decimal(2)]


def test_a_list_with_names_reads_them_when_evaluated():
    node = parse_expression('[severity, "x", a.b]')
    assert isinstance(node, ListExpr) and node.names() == {"severity", "a"}
    assert node.evaluate(Env({"severity": "grave", "a": {"b": "y"}})) == ["grave", "x", "y"]


def test_each_evaluation_gives_a_fresh_list():
    node = parse_expression('["a", ["b"]]')
    first = node.evaluate(Env({}))
    first[1].append("changed")
    first.append("changed")
    assert node.evaluate(Env({})) == ["a", ["b"]]


def test_a_list_literal_can_be_hashed_like_other_nodes():
    assert hash(parse_expression('["a", "b"]')) == hash(parse_expression('["a","b"]'))


# --------------------------------------------------------------------------- rejected forms

@pytest.mark.parametrize("text,needle", [
    ('["a", "b"', "not closed with ']'"),
    ("[", "not closed with ']'"),
    ('["a",', "not closed with ']'"),
    ('["a",]', "expected a value"),
    ("[,]", "expected a value"),
    ('["a" "b"]', "expected ',' or ']'"),
    ('["a"; "b"]', "unexpected character"),
    ("[1..5]", "a range [a..b] is a unary test"),
    ('"a", "b"', "unexpected ','"),
    ("]", "expected a value"),
    ('["a"]]', "unexpected ']'"),
])
def test_malformed_lists_are_rejected(text, needle):
    with pytest.raises(FeelSyntaxError) as err:
        parse_expression(text)
    assert needle in str(err.value)


def test_in_an_input_entry_brackets_still_open_an_interval_and_lists_are_refused():
    [test] = parse_unary_tests("[1..5]").tests
    assert isinstance(test, IntervalTest)
    with pytest.raises(FeelSyntaxError):
        parse_unary_tests('["a", "b"]')


# --------------------------------------------------------------------------- in a decision table

def test_a_list_in_an_output_without_typeref_loads_and_is_returned():
    d = table("UNIQUE", [("tier", "integer")], [("measures", None), ("citation", "string")],
              [(["3"], ['["警告处分", "严重警告处分"]', '"第十二条第（三）项"']),
               (["4"], ['["开除公职"]', '"第十二条第（四）项"'])])
    assert d.table.outputs[0].type_ref is None
    assert evaluate(d, {"tier": 3}).outputs == {"measures": ["警告处分", "严重警告处分"], "citation": "第十二条第（三）项"}
    result = evaluate(d, {"tier": 4}).to_json()
    assert result["outputs"]["measures"] == ["开除公职"]
    assert result["trace"]["matched"][0]["outputs"]["measures"] == ["开除公职"]


def test_a_list_in_a_collect_table_gives_one_list_per_hit():
    d = table("COLLECT", [("n", "integer")], [("xs", None)], [(["> 0"], ['["a"]']), (["> 1"], ['["b", "c"]'])])
    assert evaluate(d, {"n": 2}).outputs == [["a"], ["b", "c"]]


def test_a_list_for_an_output_typed_as_a_single_value_is_rejected_at_load():
    xml = table_xml("UNIQUE", [("n", "integer")], [("measure", "string")], [(["-"], ['["a", "b"]'])])
    with pytest.raises(DmnLoadError) as err:
        load_bytes(xml.encode(), "list.dmn")
    assert "值与输出列的类型 string 不符" in str(err.value)


@pytest.mark.parametrize("cell,needle", [
    ('["a", "b"', "not closed with ']'"),
    ("[minor]", "未知的名称 minor：字符串值请加引号"),
    ("[cube(3)]", "调用了 cube()"),
])
def test_a_bad_list_in_an_output_entry_is_rejected_at_load(cell, needle):
    xml = table_xml("UNIQUE", [("n", "integer")], [("xs", None)], [(["-"], [cell])])
    with pytest.raises(DmnLoadError) as err:
        load_bytes(xml.encode(), "list.dmn")
    assert needle in str(err.value)


def test_list_values_as_input_are_still_refused_for_a_typed_input():
    d = table("UNIQUE", [("n", "integer")], [("o", "string")], [(["-"], ['"x"'])])
    with pytest.raises(DecisionInputError, match="expected integer"):
        evaluate(d, {"n": [1, 2]})


# --------------------------------------------------------------------------- a list in an input entry

def test_a_name_holding_a_list_in_an_input_entry_means_membership():
    """DMN's semantics of unary tests: an input entry whose expression evaluates to a list is satisfied when the
    list contains the input value (the TCK's compliance-level-3 case 0039)."""
    d = table("COLLECT", [("symptom", "string"), ("flu", None)], [("o", "string")],
              [(['"cough", "sore throat"', "-"], ['"cold"']), (["flu", "-"], ['"flu"']),
               (["not(flu)", "-"], ['"not flu"'])])
    assert evaluate(d, {"symptom": "cough", "flu": ["fever", "cough"]}).outputs == ["cold", "flu"]
    assert evaluate(d, {"symptom": "fever", "flu": ["fever", "cough"]}).outputs == ["flu"]
    assert evaluate(d, {"symptom": "rash", "flu": ["fever", "cough"]}).outputs == ["not flu"]
    assert evaluate(d, {"symptom": "rash", "flu": []}).outputs == ["not flu"]


def test_a_list_in_an_input_entry_still_matches_an_equal_list_and_null_only_a_null_member():
    d = table("COLLECT", [("xs", None), ("allowed", None)], [("o", "string")], [(["allowed", "-"], ['"in"'])])
    assert evaluate(d, {"xs": ["a", "b"], "allowed": ["a", "b"]}).outputs == ["in"]
    assert evaluate(d, {"xs": None, "allowed": ["a", None]}).outputs == ["in"]
    assert evaluate(d, {"xs": None, "allowed": ["a"]}).outputs == []
    assert evaluate(d, {"xs": 1, "allowed": ["1", "2"]}).outputs == []
