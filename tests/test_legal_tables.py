"""The regulation's decision tables in processes/, article by article."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from lxml import etree

from service.decisions import DecisionInputError, load_catalog

PROCESSES = Path(__file__).resolve().parent.parent / "processes"
CN = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四", "十五",
      "十六", "十七", "十八", "十九", "二十"]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog([PROCESSES])


def decide(catalog, decision, **inputs):
    result = catalog.evaluate(decision, inputs)
    return result.outputs, result.trace


def item(article: str, n: int) -> str:
    return f"第{article}条第（{CN[n]}）项"


# --------------------------------------------------------------------------- contracts

CONTRACT = {  # data-dictionary.md: names, types and hit policies are contracts
    "exemption": ("UNIQUE", [("exemption_ground", "integer")], [("exempt", "boolean"), ("citation", "string")]),
    "responsibility": ("COLLECT", [("handler_fault", "integer"), ("reviewer_missed", "boolean"),
                                   ("approver_fault", "boolean")], [("role", "string"), ("citation", "string")]),
    "aggravation": ("COLLECT", [("corruption", "boolean"), ("lost_lawsuit", "boolean"),
                                ("errors_this_year", "integer"), ("concealed", "boolean")],
                    [("aggravated", "boolean"), ("citation", "string")]),
    "sanction": ("UNIQUE", [("severity", "string"), ("aggravated", "boolean")],
                 [("tier", "integer"), ("measure", "string"), ("citation", "string")]),
    "grounds": ("UNIQUE", [("ground", "integer")], [("accountable", "boolean"), ("citation", "string")]),
}


@pytest.mark.parametrize("decision_id", sorted(CONTRACT))
def test_tables_keep_the_data_dictionary_contract(catalog, decision_id):
    hit_policy, inputs, outputs = CONTRACT[decision_id]
    table = catalog.find(decision_id).table
    assert table.hit_policy == hit_policy and table.aggregation is None
    assert [(c.text, c.type_ref) for c in table.inputs] == inputs
    assert [(o.name, o.type_ref) for o in table.outputs] == outputs


@pytest.mark.parametrize("decision_id", sorted(CONTRACT))
def test_every_rule_cites_its_article_and_every_label_is_chinese(catalog, decision_id):
    decision = catalog.find(decision_id)
    assert CJK.search(decision.name) and CJK.search(decision.description)
    for clause in decision.table.inputs:
        assert clause.label and CJK.search(clause.label), clause.text
    for out in decision.table.outputs:
        assert out.label and CJK.search(out.label), out.name
    for rule in decision.table.rules:
        assert re.match(r"^第[一二三四五六七八九十]+条(第（[一二三四五六七八九十]+）项)?", rule.annotation), rule.id
        assert len(CJK.findall(rule.annotation)) > 8, f"{rule.id} should quote the article's text"


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.dmn")), ids=lambda p: p.name)
def test_files_are_dmn_1_3_with_a_drd_for_the_modeler(path):
    root = etree.parse(str(path)).getroot()
    assert etree.QName(root).namespace == "https://www.omg.org/spec/DMN/20191111/MODEL/"
    ns = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/",
          "dmndi": "https://www.omg.org/spec/DMN/20191111/DMNDI/"}
    decisions = root.xpath("dmn:decision/@id", namespaces=ns)
    shapes = root.xpath("dmndi:DMNDI/dmndi:DMNDiagram/dmndi:DMNShape/@dmnElementRef", namespaces=ns)
    assert decisions and set(decisions) <= set(shapes)


# --------------------------------------------------------------------------- Art. 5

@pytest.mark.parametrize("ground", range(1, 21))
def test_art5_each_ground_is_accountable_with_its_citation(catalog, ground):
    outputs, trace = decide(catalog, "grounds", ground=ground)
    assert outputs == {"accountable": True, "citation": item("五", ground)}
    assert trace["matched"][0]["annotation"].startswith(item("五", ground))


@pytest.mark.parametrize("ground", [0, 21])
def test_art5_has_no_other_grounds(catalog, ground):
    with pytest.raises(DecisionInputError, match="allowed values"):
        catalog.evaluate("grounds", {"ground": ground})


# --------------------------------------------------------------------------- Art. 6

ART6_WORDS = {1: "规定不明确", 2: "法律法规修改", 3: "新的证据", 4: "不可抗力", 5: "明显轻微", 6: "自行纠正",
              7: "上级主管部门", 8: "其他不应追究"}


@pytest.mark.parametrize("ground", range(1, 9))
def test_art6_every_item_exempts(catalog, ground):
    outputs, trace = decide(catalog, "exemption", exemption_ground=ground)
    assert outputs == {"exempt": True, "citation": item("六", ground)}
    [match] = trace["matched"]
    assert match["annotation"].startswith(item("六", ground)) and ART6_WORDS[ground] in match["annotation"]


def test_art6_no_item_means_no_exemption(catalog):
    outputs, trace = decide(catalog, "exemption", exemption_ground=None)
    assert outputs == {"exempt": False, "citation": "第六条"}
    assert trace["matched"][0]["id"] == "Rule_exemption_none"


def test_art6_item_7_shifts_liability_only_away_from_the_individual(catalog):
    _, trace = decide(catalog, "exemption", exemption_ground=7)
    assert "不追究执法个人的责任" in trace["matched"][0]["annotation"]
    assert "不予免除" in trace["matched"][0]["annotation"]


@pytest.mark.parametrize("bad", [0, 9, "2", True])
def test_art6_rejects_what_is_not_an_item(catalog, bad):
    with pytest.raises(DecisionInputError):
        catalog.evaluate("exemption", {"exemption_ground": bad})


# --------------------------------------------------------------------------- Art. 8-10

def liable(catalog, handler_fault, reviewer_missed=False, approver_fault=False):
    outputs, _ = decide(catalog, "responsibility", handler_fault=handler_fault,
                        reviewer_missed=reviewer_missed, approver_fault=approver_fault)
    return [(r["role"], r["citation"]) for r in outputs]


@pytest.mark.parametrize("fault", range(1, 7))
def test_art8_the_handler_alone_is_liable_for_each_item(catalog, fault):
    assert liable(catalog, fault) == [("handler", item("八", fault))]


@pytest.mark.parametrize("fault", range(1, 7))
def test_art9_the_reviewer_who_missed_it_is_liable_with_the_handler(catalog, fault):
    assert liable(catalog, fault, reviewer_missed=True) == [("handler", item("八", fault)), ("reviewer", "第九条")]


def test_art10_the_approver_alone_is_liable_when_the_proposal_was_proper(catalog):
    assert liable(catalog, 0, approver_fault=True) == [("approver", "第十条")]


def test_art8_10_no_one_is_liable_without_a_fault(catalog):
    assert liable(catalog, 0) == []


def test_art9_a_reviewer_is_liable_only_in_addition_to_the_handler(catalog):
    assert liable(catalog, 0, reviewer_missed=True) == []


def test_art10_the_approver_rule_needs_a_proper_proposal(catalog):
    # Art. 8(1): a handler who misled the approver is liable; Art. 10 presupposes a proper proposal
    assert liable(catalog, 1, approver_fault=True) == [("handler", item("八", 1))]


# --------------------------------------------------------------------------- Art. 11

NO_AGGRAVATION = dict(corruption=False, lost_lawsuit=False, errors_this_year=1, concealed=False)


@pytest.mark.parametrize("fact,value,n", [("corruption", True, 1), ("lost_lawsuit", True, 2),
                                          ("errors_this_year", 3, 3), ("concealed", True, 4)])
def test_art11_each_item_aggravates(catalog, fact, value, n):
    outputs, trace = decide(catalog, "aggravation", **{**NO_AGGRAVATION, fact: value})
    assert outputs == [{"aggravated": True, "citation": item("十一", n)}]
    assert trace["matched"][0]["annotation"].startswith(item("十一", n))


@pytest.mark.parametrize("count,aggravates", [(1, False), (2, False), (3, True), (4, True), (12, True)])
def test_art11_3_counts_from_the_third_error_of_the_year(catalog, count, aggravates):
    outputs, _ = decide(catalog, "aggravation", **{**NO_AGGRAVATION, "errors_this_year": count})
    assert bool(outputs) is aggravates


def test_art11_nothing_aggravates_by_default_and_every_item_is_cited(catalog):
    assert decide(catalog, "aggravation", **NO_AGGRAVATION)[0] == []
    outputs, _ = decide(catalog, "aggravation", corruption=True, lost_lawsuit=True, errors_this_year=5, concealed=True)
    assert [o["citation"] for o in outputs] == [item("十一", n) for n in range(1, 5)]


# --------------------------------------------------------------------------- Art. 12

SANCTIONS = {
    "minor": (1, "批评教育，责令限期改正", "批评教育，责令限期改正"),
    "light": (2, "责令书面检查，给予通报批评", "责令书面检查，给予通报批评"),
    "serious": (3, "责令停职检查，暂停执法活动或给予警告、严重警告处分", "严重警告处分"),
    "grave": (4, "给予记过以上处分直至调离、辞退和开除公职", "开除公职"),
    "criminal": (5, "交由司法部门依法追究刑事责任", "交由司法部门依法追究刑事责任"),
}


@pytest.mark.parametrize("severity", list(SANCTIONS))
def test_art12_each_severity_without_aggravation(catalog, severity):
    tier, measure, _ = SANCTIONS[severity]
    outputs, trace = decide(catalog, "sanction", severity=severity, aggravated=False)
    assert outputs == {"tier": tier, "measure": measure, "citation": item("十二", tier)}
    assert trace["matched"][0]["annotation"].startswith(item("十二", tier))


@pytest.mark.parametrize("severity", list(SANCTIONS))
def test_art12_each_severity_with_aggravation_takes_the_heaviest_measure_of_its_tier(catalog, severity):
    tier, _, heaviest = SANCTIONS[severity]
    outputs, trace = decide(catalog, "sanction", severity=severity, aggravated=True)
    assert outputs == {"tier": tier, "measure": heaviest, "citation": f"{item('十二', tier)}、第十一条"}
    assert "第十一条" in trace["matched"][0]["annotation"]


def test_art12_the_aggravation_policy_is_written_where_a_reviewer_reads_it(catalog):
    decision = catalog.find("sanction")
    assert "同一档次内取该档最重的措施" in decision.description
    root = etree.parse(str(PROCESSES / "sanction.dmn")).getroot()
    notes = root.xpath("//*[local-name()='textAnnotation']/*[local-name()='text']/text()")
    assert any("从重" in n and "加重" in n for n in notes)


@pytest.mark.parametrize("decision_id,domains", [
    ("sanction", {"severity": list(SANCTIONS), "aggravated": [True, False]}),
    ("exemption", {"exemption_ground": [None, *range(1, 9)]}),
    ("grounds", {"ground": list(range(1, 21))}),
])
def test_unique_tables_give_exactly_one_answer_for_every_allowed_input(catalog, decision_id, domains):
    names = list(domains)
    for combo in itertools.product(*domains.values()):
        _, trace = decide(catalog, decision_id, **dict(zip(names, combo)))
        assert len(trace["matched"]) == 1, combo


def test_traces_carry_table_version_hit_policy_inputs_and_rows(catalog):
    _, trace = decide(catalog, "sanction", severity="serious", aggravated=True)
    assert trace["decision"] == "sanction" and trace["table"] == "DecisionTable_sanction"
    assert re.fullmatch(r"[0-9a-f]{64}", trace["version"])
    assert trace["hit_policy"] == "UNIQUE"
    assert trace["inputs"] == {"severity": "serious", "aggravated": True}
    [match] = trace["matched"]
    assert match["id"] == "Rule_sanction_serious_aggravated" and match["row"] == 6
    assert match["annotation"].startswith("第十二条第（三）项")
