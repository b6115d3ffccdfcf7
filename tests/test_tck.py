"""The DMN Technology Compatibility Kit (compliance levels 2 and 3) run through the decision engine.

The kit's test cases are vendored in tests/tck/ (see its README for the commit and the licence).
Each expected result of each test case is classified:

* ``pass``: the engine loaded the model and gave the expected value (or an error where the kit
  expects an error result);
* ``refused``: the engine refused the model at load, with a problem that names where
  (decision, rule, cell or expression) — the engine does not evaluate what it does not support;
* ``wrong``: anything else (a different value, a crash, or an error on a model it accepted).

Compliance level 2 must pass completely; across compliance level 3 nothing may be wrong, and the
counts must be the ones the README states. A stricter probe of level 3 also runs, in each refused
model, the decisions the engine accepts on their own; there an error (the engine declining to
answer) is allowed, a wrong value is not. ``python tests/test_tck.py`` prints the counts per case;
``pytest tests/test_tck.py -rP`` shows the totals the tests print.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

if __name__ == "__main__":  # run as a script from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.cli import main
from service.decisions import DecisionError, DecisionInputError, DmnLoadError, evaluate, load_bytes, load_file
from service.decisions.feel import FeelEvaluationError
from service.decisions.model import DecisionModel, Problem
from tests.dmn_builder import table, table_xml

TCK = Path(__file__).parent / "tck"
LEVELS = ("compliance-level-2", "compliance-level-3")
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
KIT_COMMIT = "0dbcaf9b98bc3af4e36d44a7aed95e9e85703a13"


@dataclass(frozen=True)
class Unrepresentable:
    """A kit value of a type the engine has no values for (time, duration)."""

    kind: str
    text: str


@dataclass(frozen=True)
class Outcome:
    level: str
    case: str  # the kit's folder, e.g. 0039-dt-list-semantics
    test: str  # testCase id
    result: str  # resultNode name
    status: str  # pass, refused, wrong
    detail: str = ""
    problem: Problem | None = None  # the first problem of a refused model


def _local(el) -> str:
    return etree.QName(el).localname


def _kids(el, name: str) -> list:
    return [c for c in el if isinstance(c.tag, str) and _local(c) == name]


def _scalar(text: str | None, xsi_type: str | None) -> Any:
    text = text or ""
    kind = (xsi_type or "").split(":")[-1]
    if kind in ("decimal", "double", "integer", "int", "long"):
        return decimal.Decimal(text.strip())
    if kind == "boolean":
        return {"true": True, "false": False}[text.strip()]
    try:
        if kind == "date":
            return dt.date.fromisoformat(text.strip())
        if kind == "dateTime":
            value = text.strip()
            return dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:  # e.g. the year -2017, or a time zone given by its name
        return Unrepresentable(kind, text.strip())
    if kind in ("time", "duration"):
        return Unrepresentable(kind, text.strip())
    return text  # xsd:string, and untyped text as the kit writes it


def _value(el) -> Any:
    """A kit value holder (inputNode, expected, component, item) as a FEEL value."""
    vals, comps, lists = _kids(el, "value"), _kids(el, "component"), _kids(el, "list")
    if vals:
        v = vals[0]
        if v.get(XSI_NIL) == "true":
            return None
        return _scalar(v.text, v.get(XSI_TYPE))
    if lists:
        return [_value(item) for item in _kids(lists[0], "item")]
    if comps:
        return {c.get("name"): _value(c) for c in comps}
    return None


def _same(actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, decimal.Decimal):
        if not isinstance(actual, decimal.Decimal):
            return False
        if actual == expected:
            return True
        # the kit writes long results cut short and computed in binary floating point
        # (562.707359373292 for 562.70735937326592...): a result given with 10 or more significant
        # digits matches when the relative difference is below 1e-12
        if len(expected.as_tuple().digits) < 10 or not actual.is_finite() or not expected:
            return False
        return abs(actual - expected) / abs(expected) < decimal.Decimal("1e-12")
    if isinstance(expected, dict):
        return isinstance(actual, dict) and expected.keys() == actual.keys() and all(
            _same(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            _same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, Unrepresentable):
        return False
    return type(actual) is type(expected) and actual == expected


@lru_cache(maxsize=None)
def _load(dmn: Path) -> DecisionModel | DmnLoadError:
    try:
        return load_file(dmn)
    except DmnLoadError as exc:
        return exc


def _show(value: Any) -> str:
    return repr(value)


_DECISION_WHERE = re.compile(r"decision '([^']*)'")
_BKM_WHERE = re.compile(r"business knowledge model '([^']*)'")


@lru_cache(maxsize=None)
def _load_per_decision(dmn: Path) -> DecisionModel | DmnLoadError:
    """The model with only the decisions the engine accepts on their own (a stricter probe of the
    subset than whole files: a decision that loads in a refused file must not answer wrongly either).

    Built with the loader's own model builder, then every decision with a problem, or that calls a
    business knowledge model with a problem or requires such a decision, is left out. A problem that
    belongs to no decision (a type, the XML) refuses the file as before."""
    from service.decisions import loader

    whole = _load(dmn)
    if isinstance(whole, DecisionModel):
        return whole
    if any(not (_DECISION_WHERE.match(p.where) or _BKM_WHERE.match(p.where)
                or p.where.startswith(("import ", "decisionService "))) for p in whole.problems):
        return whole
    root = etree.fromstring(dmn.read_bytes(), loader._XML_PARSER)
    namespace = etree.QName(root).namespace
    version = loader.DMN_NAMESPACES.get(namespace) or next(
        loader.DMN_NAMESPACES[v] for v in root.nsmap.values() if v in loader.DMN_NAMESPACES)
    model = loader._ModelBuilder(root, str(dmn), version, []).build()
    bad_bkms = {m.group(1) for p in whole.problems if (m := _BKM_WHERE.match(p.where))}
    bad = {m.group(1) for p in whole.problems if (m := _DECISION_WHERE.match(p.where))}
    changed = True
    while changed:
        changed = False
        for bkm in model.bkms.values():
            if bkm.name not in bad_bkms and bkm.body.functions() & bad_bkms:
                bad_bkms.add(bkm.name)
                changed = True
        for d in model.decisions.values():
            nodes = _decision_nodes(d)
            calls_bad = any(n.functions() & bad_bkms for n in nodes)
            if d.id not in bad and (calls_bad or any(r in bad or r not in model.decisions
                                                     for r in d.required_decisions)):
                bad.add(d.id)
                changed = True
    for did in bad:
        model.decisions.pop(did, None)
    return model


def _decision_nodes(decision) -> list:
    logic = decision.logic
    if decision.table is None:
        return [logic.expression]
    table = decision.table
    nodes = [c.expression for c in table.inputs] + [o.default for o in table.outputs if o.default is not None]
    nodes += [ep for r in table.rules for t in r.inputs for ep in t.endpoints()]
    return nodes + [o for r in table.rules for o in r.outputs if o is not None]


def run_test_file(level: str, test_file: Path, *, per_decision: bool = False) -> list[Outcome]:
    """Every expected result of one of the kit's test files, classified."""
    root = etree.parse(str(test_file)).getroot()
    model_name = (_kids(root, "modelName")[0].text or "").strip()
    case = test_file.parent.name
    dmn = test_file.parent / model_name
    loaded = _load_per_decision(dmn) if per_decision else _load(dmn)
    outcomes = []
    for test in _kids(root, "testCase"):
        tid = test.get("id") or ""
        for result in _kids(test, "resultNode"):
            name = result.get("name") or ""
            if isinstance(loaded, DmnLoadError):
                outcomes.append(Outcome(level, case, tid, name, "refused", str(loaded.problems[0]), loaded.problems[0]))
            elif per_decision and (test.get("type") not in (None, "decision")
                                   or all(d.name != name for d in loaded.decisions.values())):
                outcomes.append(Outcome(level, case, tid, name, "refused", "not accepted on its own"))
            else:
                outcomes.append(_run_result(level, case, tid, loaded, test, result, per_decision))
    return outcomes


def _run_result(level: str, case: str, tid: str, model: DecisionModel, test, result, per_decision: bool) -> Outcome:
    name = result.get("name") or ""
    wants_error = result.get("errorResult") == "true"
    expected_holder = _kids(result, "expected")
    expected = _value(expected_holder[0]) if expected_holder else None

    def outcome(status: str, detail: str = "") -> Outcome:
        return Outcome(level, case, tid, name, status, detail)

    if test.get("type") not in (None, "decision"):
        return outcome("wrong", f"the engine loaded a model whose test invokes a {test.get('type')}")
    decision = next((d for d in model.decisions.values() if d.name == name), None)
    if decision is None:
        return outcome("wrong", f"the loaded model has no decision named {name!r}")
    inputs = {node.get("name"): _value(node) for node in _kids(test, "inputNode")}
    try:
        actual = evaluate(decision, inputs).outputs
    except (DecisionError, FeelEvaluationError) as exc:
        if wants_error or expected is None:
            return outcome("pass", f"error as expected: {exc}")
        # per decision, an error is the engine declining to answer (e.g. a time value among the
        # inputs); on a model it accepted as a whole, it is a wrong answer
        return outcome("error" if per_decision else "wrong", f"error {exc} where the kit expects {_show(expected)}")
    except Exception as exc:  # a crash is never a right answer
        return outcome("wrong", f"crashed: {type(exc).__name__}: {exc}")
    if wants_error and actual is None:
        return outcome("pass")
    if _same(actual, expected) and not wants_error:
        return outcome("pass")
    return outcome("wrong", f"got {_show(actual)}, expected {'an error' if wants_error else _show(expected)}")


def run_level(level: str, *, per_decision: bool = False) -> list[Outcome]:
    out: list[Outcome] = []
    for folder in sorted(p for p in (TCK / level).iterdir() if p.is_dir()):
        for test_file in sorted(folder.glob("*-test-*.xml")):
            out.extend(run_test_file(level, test_file, per_decision=per_decision))
    return out


@lru_cache(maxsize=None)
def outcomes(level: str, per_decision: bool = False) -> tuple[Outcome, ...]:
    return tuple(run_level(level, per_decision=per_decision))


def counts(level: str, per_decision: bool = False) -> Counter:
    return Counter(o.status for o in outcomes(level, per_decision))


# --------------------------------------------------------------------------- tests

def test_the_vendored_kit_is_the_current_one_and_complete():
    readme = (TCK / "README.md").read_text(encoding="utf-8")
    assert KIT_COMMIT in readme
    level2 = sorted(p.name for p in (TCK / "compliance-level-2").iterdir() if p.is_dir())
    assert len(level2) == 28 and level2[0] == "0001-input-data-string" and level2[-1] == "0119-multi-collect-hitpolicy"
    assert len([p for p in (TCK / "compliance-level-3").iterdir() if p.is_dir()]) == 118
    assert len(outcomes("compliance-level-2")) == 126


@pytest.mark.parametrize("level", LEVELS)
def test_no_result_of_the_kit_is_wrong(level):
    wrong = [o for o in outcomes(level) if o.status == "wrong"]
    assert not wrong, "\n".join(f"{o.case} {o.test} {o.result}: {o.detail}" for o in wrong)


def test_no_decision_the_engine_accepts_on_its_own_answers_wrongly():
    """Stricter than whole files: in the models it refuses, every decision it would accept alone
    (with what it needs) still gives the kit's answer, or an error, never another value."""
    wrong = [o for o in outcomes("compliance-level-3", True) if o.status == "wrong"]
    assert not wrong, "\n".join(f"{o.case} {o.test} {o.result}: {o.detail}" for o in wrong)
    c = counts("compliance-level-3", True)
    print(f"compliance level 3, decision by decision: {dict(c)}")
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    line = f"decision by decision: {c['pass']} pass, {c['error']} errors, {c['refused']} refused, 0 wrong"
    assert line in readme, f"README should say: {line}"


def test_every_compliance_level_2_result_passes():
    c = counts("compliance-level-2")
    print(f"compliance level 2: {dict(c)}")
    assert c == Counter({"pass": 126}), dict(c)


def test_compliance_level_3_counts_are_the_ones_the_readme_states():
    c = counts("compliance-level-3")
    print(f"compliance level 3: {dict(c)}")
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    line = f"compliance level 3: {c['pass']} pass, {c['refused']} refused at load, 0 wrong"
    assert line in readme, f"README should say: {line}"


def test_a_refused_model_names_where_the_problem_is():
    """Refusals are useful messages: each names the file, the line, and the decision, business knowledge
    model or element (with its rule and column, or its expression) and says what is wrong."""
    refused = [o for level in LEVELS for o in outcomes(level) if o.status == "refused"]
    assert refused
    for o in refused:
        p = o.problem
        assert p is not None and p.file.endswith(".dmn") and p.line, o.detail
        kinds = ("decision", "business", "import", "decisionService", "item", "input")
        assert p.where.split(" ")[0] in kinds, o.detail
        assert p.message.strip(), o.detail


def test_the_list_semantics_case_0039_is_right():
    """A name in an input entry that holds a list means membership (DMN's unary-test semantics; the kit's 0039)."""
    results = [o for o in outcomes("compliance-level-3") if o.case == "0039-dt-list-semantics"]
    assert results and all(o.status == "pass" for o in results), results


def test_a_kit_case_runs_through_the_decide_command():
    """The same engine behind ``accountability decide --file`` (in-process and as the installed script)."""
    dmn = TCK / "compliance-level-3" / "0039-dt-list-semantics" / "0039-dt-list-semantics.dmn"
    args = ["decide", "Symptom Analysis", "--file", str(dmn), "--input",
            json.dumps({"Flu Symtoms": ["fever", "cough", "sore throat"], "Symptom": "cough"})]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    expected = ["cough is in the list of Cold symptoms", "cough is in the list of Flu symptoms"]
    assert json.loads(res.output)["outputs"] == expected
    exe = Path(sys.executable).with_name("accountability")
    out = subprocess.run([str(exe), *args], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert data["outputs"] == expected
    assert [m["row"] for m in data["trace"]["matched"]] == [1, 2]


# --------------------------------------------------------------------------- what running the kit revealed
# Loading each decision of the kit on its own (not the whole file) showed answers the subset gave
# wrongly or with a crash; each is now right, an error, or refused at load.

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def _literal_model(text: str, *, type_ref: str | None = None, extra: str = "", types: dict[str, str] = {}) -> str:
    data = "".join(f'<inputData id="i_{n}" name="{n}"><variable name="{n}" typeRef="{t}"/></inputData>'
                   for n, t in types.items())
    var_type = f' typeRef="{type_ref}"' if type_ref else ""
    return (f'<definitions xmlns="{DMN13}" id="defs" name="m" namespace="http://example.org/m">{extra}{data}'
            f'<decision id="d" name="d"><variable name="d"{var_type}/>'
            f"<literalExpression><text>{text}</text></literalExpression></decision></definitions>")


def _decide(text: str, values: dict[str, Any] | None = None, **kw) -> Any:
    model = load_bytes(_literal_model(text, **kw).encode(), "m.dmn")
    return evaluate(model.decisions["d"], values or {}).outputs


def _refusal(text: str, **kw) -> str:
    with pytest.raises(DmnLoadError) as err:
        load_bytes(_literal_model(text, **kw).encode(), "m.dmn")
    return str(err.value)


def test_date_takes_a_string_a_date_or_year_month_day_and_refuses_other_arities_at_load():
    assert _decide("date(2017, 1, 31)") == dt.date(2017, 1, 31)
    assert "is not a valid date" in _refusal('date("2017-02-30")')
    assert _decide("date(s)", {"s": "2017-02-30"}, types={"s": "string"}) is None
    assert _decide("date(2017, 2, 30)") is None
    assert "调用 date() 时给了 2 个参数；它需要 1 或 3 个" in _refusal("date(2017, 1)")
    assert "date() 时给了 0 个参数" in _refusal("date()")


def test_a_date_the_engine_cannot_hold_is_an_error_not_null():
    with pytest.raises(DecisionError, match="outside the years 1-9999"):
        _decide("date(s)", {"s": "-2017-01-01"}, types={"s": "string"})
    assert "outside the years" in _refusal('date("0000-01-01")')


def test_date_properties_and_an_unsupported_one_is_an_error():
    day = {"d0": "2026-11-26"}
    assert _decide("d0.weekday", day, types={"d0": "date"}) == 4
    assert _decide("d0.year + d0.month + d0.day", day, types={"d0": "date"}) == 2026 + 11 + 26
    with pytest.raises(DecisionError, match="property 'hour' of a date is not supported"):
        _decide("d0.hour", day, types={"d0": "date"})


def test_a_path_maps_over_a_list_and_reads_nothing_from_a_value_without_members():
    people = [{"name": "a", "age": 1}, {"name": "b"}]
    tpeople = ('<itemDefinition name="tPerson"><itemComponent name="name"><typeRef>string</typeRef>'
               '</itemComponent><itemComponent name="age"><typeRef>number</typeRef></itemComponent></itemDefinition>'
               '<itemDefinition name="tPeople" isCollection="true"><typeRef>tPerson</typeRef></itemDefinition>')
    assert _decide("people.name", {"people": people}, extra=tpeople, types={"people": "tPeople"}) == ["a", "b"]
    assert _decide("people.age", {"people": people}, extra=tpeople, types={"people": "tPeople"}) == [1, None]
    assert _decide("s.length", {"s": "abc"}, types={"s": "string"}) is None


def test_date_arithmetic_is_an_error_not_null():
    with pytest.raises(DecisionError, match="arithmetic .* on dates is not supported"):
        _decide("a - b", {"a": "2026-01-02", "b": "2026-01-01"}, types={"a": "date", "b": "date"})


def test_numbers_keep_feels_34_digits_through_negation_and_sums_and_overflow_is_null():
    digits = "1.234567890123456789012345678901234"  # 34 significant digits
    assert _decide(f"-{digits}") == decimal.Decimal("-" + digits)
    assert _decide("-x", {"x": decimal.Decimal(digits)}, types={"x": "number"}) == decimal.Decimal("-" + digits)
    assert _decide("10 ** 6145") is None  # beyond decimal128
    rows = [([">= 0"], [digits]), ([">= 1"], [digits])]
    d = table("COLLECT", [("n", "integer")], [("v", "number")], rows, aggregation="SUM")
    assert evaluate(d, {"n": 1}).outputs == decimal.Decimal("2.469135780246913578024691357802468")


def test_min_and_max_of_booleans_and_computed_outputs_outside_the_output_values_are_errors():
    d = table("COLLECT", [("n", "integer")], [("v", "boolean")], [(["-"], ["true"]), (["-"], ["false"])],
              aggregation="MIN")
    with pytest.raises(DecisionError, match="needs comparable values"):
        evaluate(d, {"n": 1})
    xml = table_xml("UNIQUE", [("s", "string")], [("o", "string", '"low","high"')], [(["-"], ["s"])])
    model = load_bytes(xml.encode(), "values.dmn")
    assert evaluate(model.decisions["t"], {"s": "low"}).outputs == "low"
    with pytest.raises(DecisionError, match="'medium' is not among the output values"):
        evaluate(model.decisions["t"], {"s": "medium"})


def test_strings_count_code_points_and_names_may_hold_a_hyphen():
    assert _decide('"\\ud83d\\udc0e" = "\U0001F40E"') is True  # a surrogate pair is one character
    assert "half of a surrogate pair" in _refusal('"\\ud83d"')
    assert _decide("Loan-to-value * 2", {"Loan-to-value": 0.4}, types={"Loan-to-value": "number"}) == (
        decimal.Decimal("0.8"))
    assert "unexpected" in _refusal("\u0663 + 1")  # FEEL digits are ASCII


def test_an_input_column_tests_its_value_converted_to_the_columns_type():
    """A date column whose expression reads a date written as text (a path into a JSON object) tests
    the date, so date cells match it; before, the text was compared with dates and matched nothing."""
    d = table("UNIQUE", [("case.when", "date")], [("o", "string")],
              [(['[date("2026-01-01")..date("2026-12-31")]'], ['"this year"']),
               (['< date("2026-01-01")'], ['"before"'])])
    assert evaluate(d, {"case": {"when": "2026-03-02"}}).outputs == "this year"
    assert evaluate(d, {"case": {"when": "2025-12-31"}}).outputs == "before"
    with pytest.raises(DecisionInputError, match="expected date"):
        evaluate(d, {"case": {"when": "2 March 2026"}})


def test_lists_are_equal_only_when_their_members_are():
    assert _decide("[true] = [1]") is not True
    assert _decide("[1, 2] = [1, 2]") is True
    assert _decide('[1, "a"] = [1, "b"]') is False


def test_a_result_that_does_not_conform_to_its_type_is_an_error_after_dmns_two_conversions():
    assert _decide('"x"', type_ref="string") == "x"
    with pytest.raises(DecisionError, match="does not conform to its type string"):
        _decide("1", type_ref="string")
    assert _decide('["x"]', type_ref="string") == "x"  # a singleton list becomes its element
    lists = '<itemDefinition name="tStrings" isCollection="true"><typeRef>string</typeRef></itemDefinition>'
    assert _decide('"x"', type_ref="tStrings", extra=lists) == ["x"]  # and a value a singleton list
    with pytest.raises(DecisionError, match="does not conform to its type tStrings"):
        _decide("[1]", type_ref="tStrings", extra=lists)


def test_a_recursive_type_conforms_at_any_depth():
    tree = ('<itemDefinition name="tNode"><itemComponent name="name"><typeRef>string</typeRef></itemComponent>'
            '<itemComponent name="children"><typeRef>tNodes</typeRef></itemComponent></itemDefinition>'
            '<itemDefinition name="tNodes" isCollection="true"><typeRef>tNode</typeRef></itemDefinition>')
    value = {"name": "a", "children": [{"name": "b", "children": [{"name": "c", "children": []}]}]}
    result = _decide("t", {"t": value}, type_ref="tNode", extra=tree, types={"t": "tNode"})
    assert result["children"][0]["children"][0]["name"] == "c"
    with pytest.raises(DecisionError, match="does not conform to its type tNode"):
        _decide("t.name", {"t": value}, type_ref="tNode", extra=tree, types={"t": "tNode"})


def test_a_business_knowledge_models_parameters_and_result_are_checked_against_their_types():
    bkm = ('<businessKnowledgeModel id="b" name="twice"><variable name="twice" typeRef="number"/>'
           '<encapsulatedLogic><formalParameter name="n" typeRef="number"/>'
           "<literalExpression><text>n * 2</text></literalExpression></encapsulatedLogic>"
           "</businessKnowledgeModel>")
    assert _decide("twice(3)", extra=bkm) == 6
    with pytest.raises(DecisionError, match="twice\\(\\) parameter 'n'.*does not conform to its type number"):
        _decide('twice("3")', extra=bkm)
    assert "调用 twice() 时给了 2 个参数；它需要 1 个" in _refusal("twice(1, 2)", extra=bkm)


def test_decision_services_and_imports_are_refused_at_load():
    service = '<decisionService id="s" name="S"><outputDecision href="#d"/></decisionService>'
    assert "decisionService 'S': 不支持决策服务" in _refusal("1", extra=service)
    imp = '<import name="other" namespace="http://example.org/o" importType="' + DMN13 + '"/>'
    assert "import 'other': 不支持导入其他模型" in _refusal("1", extra=imp)


def test_a_type_the_engine_has_no_values_for_is_refused_wherever_it_is_declared():
    """An input typed as a time would otherwise take any value unchecked (and compare times as text)."""
    assert "input data 'at': 类型 typeRef“time”未知" in _refusal("at", types={"at": "time"})
    alias = '<itemDefinition name="tWhen"><typeRef>dayTimeDuration</typeRef></itemDefinition>'
    assert "item definition 'tWhen': 类型 typeRef“dayTimeDuration”未知" in _refusal("1", extra=alias)
    nested = ('<itemDefinition name="tSlot"><itemComponent name="start"><typeRef>time</typeRef></itemComponent>'
              "</itemDefinition>")
    assert "item definition 'tSlot.start': 类型 typeRef“time”未知" in _refusal("1", extra=nested)


def test_a_refusal_says_what_lies_outside_the_subset():
    assert "'string length' is neither a name of this model nor a supported function" in _refusal(
        'string length("abc")')
    assert "contexts {...} are outside the supported FEEL subset" in _refusal('{a: 1}.a')
    assert "'in' expressions are outside" in _refusal("1 in [1, 2]")


def _print_report() -> None:
    for level in LEVELS:
        per_case: dict[str, Counter] = {}
        for o in outcomes(level):
            per_case.setdefault(o.case, Counter())[o.status] += 1
        for case, c in per_case.items():
            print(f"{level} {case}: {dict(c)}")
        for o in outcomes(level):
            if o.status == "wrong":
                print(f"  WRONG {o.case} {o.test} {o.result}: {o.detail}")
        c = counts(level)
        print(f"{level}: {c['pass']} pass, {c['refused']} refused at load, {c['wrong']} wrong "
              f"(of {sum(c.values())} results, kit {KIT_COMMIT[:12]})")
    c = counts("compliance-level-3", True)
    for o in outcomes("compliance-level-3", True):
        if o.status == "wrong":
            print(f"  WRONG (decision by decision) {o.case} {o.test} {o.result}: {o.detail}")
    print(f"compliance-level-3 decision by decision: {c['pass']} pass, {c['error']} errors, "
          f"{c['refused']} refused, {c['wrong']} wrong")


if __name__ == "__main__":
    _print_report()
