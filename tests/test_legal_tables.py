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
    "exemption": ("UNIQUE", [("exemption_ground", "integer"), ("role", "string")],
                  [("exempt", "boolean"), ("citation", "string")]),
    "responsibility": ("COLLECT", [("role", "string"), ("handler_fault", "integer"), ("reviewer_missed", "boolean"),
                                   ("approver_fault", "boolean"), ("review_lax", "boolean")],
                       [("role", "string"), ("citation", "string")]),
    "aggravation": ("COLLECT", [("corruption", "boolean"), ("lost_lawsuit", "boolean"),
                                ("errors_this_year", "integer"), ("concealed", "boolean"), ("self_reported", "boolean")],
                    [("aggravated", "boolean"), ("citation", "string")]),
    # measures is a FEEL list: no typeRef (Camunda Modeler offers no list type)
    "sanction": ("UNIQUE", [("severity", "string"), ("aggravated", "boolean")],
                 [("tier", "integer"), ("measures", None), ("citation", "string")]),
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
ART6 = {  # the exact text of each item of Art. 6
    1: "因法律法规规定不明确造成适用法律、法规出现偏差的",
    2: "因法律法规修改造成适用法律法规出现错误的",
    3: "因事实认定或定案后出现新的证据，使原认识的事实或案件的性质发生了变化的",
    4: "因行政管理相对人的过错或由于不可预见，不可抗力的原因造成认定事实出现偏差",
    5: "执法违法行为的情节明显轻微的",
    6: "对执法违法行为能自行纠正并采取补救措施，没有造成损失或不良影响的",
    7: "执法过错主要由上级主管部门或负责人决定造成的，不追究执法个人的责任",
    8: "其他不应追究执法过错责任的情形",
}
ROLES = ["handler", "reviewer", "approver"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("ground", [1, 2, 3, 4, 5, 6, 8])
def test_art6_every_item_but_7_exempts_everybody(catalog, ground, role):
    outputs, trace = decide(catalog, "exemption", exemption_ground=ground, role=role)
    assert outputs == {"exempt": True, "citation": item("六", ground)}
    [match] = trace["matched"]
    assert match["annotation"].startswith(f"{item('六', ground)} {ART6[ground]}")
    assert ART6_WORDS[ground] in match["annotation"]


@pytest.mark.parametrize("role", ["handler", "reviewer"])
def test_art6_7_frees_the_individual_officer(catalog, role):
    outputs, trace = decide(catalog, "exemption", exemption_ground=7, role=role)
    assert outputs == {"exempt": True, "citation": item("六", 7)}
    [match] = trace["matched"]
    assert match["id"] == "Rule_exemption_7_individual"
    assert match["annotation"].startswith(f"{item('六', 7)} {ART6[7]}")
    assert "政策" in match["annotation"] and "审核人" in match["annotation"]  # a reviewer counts as 执法个人: policy


def test_art6_7_does_not_free_the_leader_who_decided(catalog):
    outputs, trace = decide(catalog, "exemption", exemption_ground=7, role="approver")
    assert outputs == {"exempt": False, "citation": item("六", 7)}
    [match] = trace["matched"]
    assert match["id"] == "Rule_exemption_7_approver"
    assert match["annotation"].startswith(f"{item('六', 7)} {ART6[7]}")
    assert "政策" in match["annotation"] and "不予免除" in match["annotation"]


@pytest.mark.parametrize("role", ROLES)
def test_art6_no_item_means_no_exemption(catalog, role):
    outputs, trace = decide(catalog, "exemption", exemption_ground=None, role=role)
    assert outputs == {"exempt": False, "citation": None}
    assert trace["matched"][0]["id"] == "Rule_exemption_none"
    assert "政策" in trace["matched"][0]["annotation"]


@pytest.mark.parametrize("bad", [0, 9, "2", True])
def test_art6_rejects_what_is_not_an_item(catalog, bad):
    with pytest.raises(DecisionInputError):
        catalog.evaluate("exemption", {"exemption_ground": bad, "role": "handler"})


@pytest.mark.parametrize("bad", ["leader", "", 1])
def test_art6_rejects_what_is_not_a_role(catalog, bad):
    with pytest.raises(DecisionInputError):
        catalog.evaluate("exemption", {"exemption_ground": 1, "role": bad})


# --------------------------------------------------------------------------- Art. 8-10, 5(19)

ART8 = {  # the exact text of each item of Art. 8
    1: "故意制造虚假案情或谎报事实，致使审批人作出错误决定的",
    2: "因收受礼品或贿赂故意袒护违法的行政管理相对人，对其处罚畸轻的",
    3: "利用职权要挟报复，对行政管理相对人处罚畸重的",
    4: "违法失职行为或故意拖延、推诿，给行政管理相对人造成损失的",
    5: "不按法定程序处理，造成严重后果的",
    6: "其他因渎职、失职，出现过错的",
}
ART5_19 = "玩忽职守，工作失职，在审核、审批中把关不严，造成一定后果的"
ART9 = "负责具体行政行为审核的人员对出现的差错应该发现而没有发现的，除追究承办人员责任外，还要追究审核人员的责任"
ART10 = "事实清楚，证据确凿，负责实施的具体行政行为适当，因批准人不负责任或故意作出错误决定的，追究批准人的责任"


def liable(catalog, role, handler_fault, reviewer_missed=False, approver_fault=False, review_lax=False):
    """One respondent's evaluation: the (role, citation) rows that make this person liable."""
    outputs, _ = decide(catalog, "responsibility", role=role, handler_fault=handler_fault,
                        reviewer_missed=reviewer_missed, approver_fault=approver_fault, review_lax=review_lax)
    return [(r["role"], r["citation"]) for r in outputs]


def liable_persons(catalog, **facts):
    """The act's three respondents evaluated one by one, on the same facts."""
    return {role: liable(catalog, role, **facts) for role in ROLES}


@pytest.mark.parametrize("fault", range(1, 7))
def test_art8_the_handler_alone_is_liable_for_each_item(catalog, fault):
    assert liable_persons(catalog, handler_fault=fault) == {
        "handler": [("handler", item("八", fault))], "reviewer": [], "approver": []}
    _, trace = decide(catalog, "responsibility", role="handler", handler_fault=fault, reviewer_missed=False,
                      approver_fault=False, review_lax=False)
    assert trace["matched"][0]["annotation"].startswith(f"{item('八', fault)} {ART8[fault]}")


@pytest.mark.parametrize("fault", range(1, 7))
def test_art9_the_reviewer_who_missed_it_is_liable_with_the_handler(catalog, fault):
    assert liable_persons(catalog, handler_fault=fault, reviewer_missed=True) == {
        "handler": [("handler", item("八", fault))], "reviewer": [("reviewer", "第九条")], "approver": []}


def test_art10_the_approver_alone_is_liable_when_the_proposal_was_proper(catalog):
    assert liable_persons(catalog, handler_fault=0, approver_fault=True) == {
        "handler": [], "reviewer": [], "approver": [("approver", "第十条")]}


def test_art9_and_art10_rows_quote_their_article(catalog):
    rules = {r.id: r.annotation for r in catalog.find("responsibility").table.rules}
    assert rules["Rule_responsibility_reviewer"].startswith(f"第九条 {ART9}")
    assert rules["Rule_responsibility_approver"].startswith(f"第十条 {ART10}")


def test_art8_10_no_one_is_liable_without_a_fault(catalog):
    assert liable_persons(catalog, handler_fault=0) == {role: [] for role in ROLES}


def test_art9_a_reviewer_is_liable_only_in_addition_to_the_handler(catalog):
    assert liable(catalog, "reviewer", 0, reviewer_missed=True) == []


def test_art10_the_approver_rule_needs_a_proper_proposal(catalog):
    # Art. 8(1): a handler who misled the approver is liable; Art. 10 presupposes a proper proposal
    assert liable_persons(catalog, handler_fault=1, approver_fault=True) == {
        "handler": [("handler", item("八", 1))], "reviewer": [], "approver": []}


@pytest.mark.parametrize("role", ["reviewer", "approver"])
def test_art5_19_a_lax_reviewer_or_approver_is_liable(catalog, role):
    assert liable(catalog, role, 0, review_lax=True) == [(role, item("五", 19))]
    assert liable(catalog, role, 3, review_lax=True)[-1] == (role, item("五", 19))
    _, trace = decide(catalog, "responsibility", role=role, handler_fault=0, reviewer_missed=False,
                      approver_fault=False, review_lax=True)
    assert trace["matched"][0]["annotation"].startswith(f"{item('五', 19)} {ART5_19}")


def test_art5_19_does_not_apply_to_the_handler(catalog):
    assert liable(catalog, "handler", 0, review_lax=True) == []


def test_art5_19_and_art9_are_both_cited_for_a_reviewer(catalog):
    assert liable(catalog, "reviewer", 2, reviewer_missed=True, review_lax=True) == [
        ("reviewer", "第九条"), ("reviewer", item("五", 19))]


@pytest.mark.parametrize("facts", [
    dict(handler_fault=h, reviewer_missed=r, approver_fault=a, review_lax=x)
    for h, r, a, x in itertools.product(range(0, 7), [True, False], [True, False], [True, False])])
def test_a_row_only_ever_names_the_person_evaluated(catalog, facts):
    for role in ROLES:
        assert {r for r, _ in liable(catalog, role, **facts)} <= {role}


def test_responsibility_needs_the_role_of_the_person(catalog):
    with pytest.raises(DecisionInputError, match="role"):
        catalog.evaluate("responsibility", {"handler_fault": 1, "reviewer_missed": False, "approver_fault": False,
                                            "review_lax": False})


# --------------------------------------------------------------------------- Art. 11

ART11 = {  # the exact text of each item of Art. 11
    1: "因索贿受贿，敲诈勒索，以权谋私，徇私枉法等原因出现过错的",
    2: "执法犯法，处罚故意畸轻或不按程序办理，引起行政诉讼并导致败诉的",
    3: "全年累计发生三次（含三次）以上行政执法过错的",
    4: "行政执法过错责任人对所犯错故意隐瞒不报的",
}
NO_AGGRAVATION = dict(corruption=False, lost_lawsuit=False, errors_this_year=1, concealed=False, self_reported=False)


@pytest.mark.parametrize("fact,value,n", [("corruption", True, 1), ("lost_lawsuit", True, 2),
                                          ("errors_this_year", 3, 3), ("concealed", True, 4)])
def test_art11_each_item_aggravates(catalog, fact, value, n):
    outputs, trace = decide(catalog, "aggravation", **{**NO_AGGRAVATION, fact: value})
    assert outputs == [{"aggravated": True, "citation": item("十一", n)}]
    assert trace["matched"][0]["annotation"].startswith(f"{item('十一', n)} {ART11[n]}")


@pytest.mark.parametrize("count,aggravates", [(1, False), (2, False), (3, True), (4, True), (12, True)])
def test_art11_3_counts_from_the_third_error_of_the_year(catalog, count, aggravates):
    outputs, _ = decide(catalog, "aggravation", **{**NO_AGGRAVATION, "errors_this_year": count})
    assert bool(outputs) is aggravates


def test_art11_nothing_aggravates_by_default_and_every_item_is_cited(catalog):
    assert decide(catalog, "aggravation", **NO_AGGRAVATION)[0] == []
    outputs, _ = decide(catalog, "aggravation", corruption=True, lost_lawsuit=True, errors_this_year=5, concealed=True,
                        self_reported=False)
    assert [o["citation"] for o in outputs] == [item("十一", n) for n in range(1, 5)]


def test_art11_4_a_person_who_reported_the_error_did_not_conceal_it(catalog):
    assert decide(catalog, "aggravation", **{**NO_AGGRAVATION, "concealed": True, "self_reported": True})[0] == []
    _, trace = decide(catalog, "aggravation", **{**NO_AGGRAVATION, "concealed": True})
    assert "第十九条" in trace["matched"][0]["annotation"] and "政策" in trace["matched"][0]["annotation"]


def test_art11_a_self_report_excludes_only_item_4(catalog):
    outputs, _ = decide(catalog, "aggravation", corruption=True, lost_lawsuit=True, errors_this_year=3, concealed=True,
                        self_reported=True)
    assert [o["citation"] for o in outputs] == [item("十一", n) for n in range(1, 4)]


# --------------------------------------------------------------------------- Art. 12

SANCTIONS = {  # severity: tier, the measures the leading group may choose from, and those when aggravated
    "minor": (1, ["批评教育，责令限期改正"], ["批评教育，责令限期改正"]),
    "light": (2, ["责令书面检查，给予通报批评"], ["责令书面检查，给予通报批评"]),
    "serious": (3, ["责令停职检查", "暂停执法活动", "警告处分", "严重警告处分"], ["严重警告处分"]),
    "grave": (4, ["记过处分", "记大过处分", "降级处分", "撤职处分", "调离", "辞退", "开除公职"], ["开除公职"]),
    # the regulation says 交由司法部门…; the measure is named as the disciplinary rules name it (政策, see the row)
    "criminal": (5, ["移送司法机关依法追究刑事责任"], ["移送司法机关依法追究刑事责任"]),
}
ART12 = {  # the exact text of each item of Art. 12
    1: "性质轻微的，给予批评教育，责令其限期改正",
    2: "性质较轻，影响较小的，责令书面检查，给予通报批评",
    3: "性质较重，影响较大的，责令停职检查，暂停执法活动或给予警告、严重警告处分",
    4: "性质严重，影响重大的，给予记过以上处分直至调离、辞退和开除公职",
    5: "构成犯罪，交由司法部门依法追究刑事责任",
}


@pytest.mark.parametrize("severity", list(SANCTIONS))
def test_art12_each_severity_without_aggravation_lists_the_measures_of_its_tier(catalog, severity):
    tier, measures, _ = SANCTIONS[severity]
    outputs, trace = decide(catalog, "sanction", severity=severity, aggravated=False)
    assert outputs == {"tier": tier, "measures": measures, "citation": item("十二", tier)}
    assert trace["matched"][0]["annotation"].startswith(f"{item('十二', tier)} {ART12[tier]}")


@pytest.mark.parametrize("severity", list(SANCTIONS))
def test_art12_each_severity_with_aggravation_takes_the_heaviest_measure_of_its_tier(catalog, severity):
    tier, measures, heaviest = SANCTIONS[severity]
    outputs, trace = decide(catalog, "sanction", severity=severity, aggravated=True)
    assert outputs == {"tier": tier, "measures": heaviest, "citation": f"{item('十二', tier)}、第十一条"}
    assert len(heaviest) == 1 and heaviest[0] == measures[-1]  # one measure: the last (heaviest) of the tier
    assert "第十一条" in trace["matched"][0]["annotation"]


@pytest.mark.parametrize("severity,measure", [("serious", "严重警告处分"), ("grave", "开除公职")])
def test_art12_aggravated_tiers_3_and_4_leave_a_single_measure(catalog, severity, measure):
    outputs, trace = decide(catalog, "sanction", severity=severity, aggravated=True)
    assert outputs["measures"] == [measure]
    assert f"取本档最重的措施：{measure}" in trace["matched"][0]["annotation"]


def test_art12_tiers_3_and_4_offer_a_choice_that_is_a_list_not_a_sentence(catalog):
    for severity in ("serious", "grave"):
        outputs, _ = decide(catalog, "sanction", severity=severity, aggravated=False)
        assert isinstance(outputs["measures"], list) and len(outputs["measures"]) > 1
        assert all("、" not in m and "或" not in m for m in outputs["measures"])


def test_art12_measures_are_fresh_lists_on_every_evaluation(catalog):
    first, _ = decide(catalog, "sanction", severity="grave", aggravated=False)
    first["measures"].clear()
    again, _ = decide(catalog, "sanction", severity="grave", aggravated=False)
    assert len(again["measures"]) == 7


def test_art12_the_aggravation_policy_is_written_where_a_reviewer_reads_it(catalog):
    decision = catalog.find("sanction")
    assert "同一档次内取该档最重的措施" in decision.description
    root = etree.parse(str(PROCESSES / "sanction.dmn")).getroot()
    notes = root.xpath("//*[local-name()='textAnnotation']/*[local-name()='text']/text()")
    assert any("从重" in n and "加重" in n for n in notes)


@pytest.mark.parametrize("decision_id,domains", [
    ("sanction", {"severity": list(SANCTIONS), "aggravated": [True, False]}),
    ("exemption", {"exemption_ground": [None, *range(1, 9)], "role": ROLES}),
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
