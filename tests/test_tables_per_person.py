"""The four legal tables run once per respondent (domain.md, "Persons, not cases"): one act, up to three
persons, each with their own role and facts, each with their own outcome."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.decisions import load_catalog

PROCESSES = Path(__file__).resolve().parent.parent / "processes"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog([PROCESSES])


def outcome(catalog, person: dict) -> dict:
    """What the diagram does for one respondent: exemption, responsibility, aggravation, sanction."""
    exemption = catalog.evaluate("exemption", {k: person[k] for k in ("exemption_ground", "role")}).outputs
    rows = catalog.evaluate("responsibility", {k: person[k] for k in (
        "role", "handler_fault", "reviewer_missed", "approver_fault", "review_lax")}).outputs
    liable = bool(rows) and not exemption["exempt"]
    result = {"role": person["role"], "exempt": exemption["exempt"], "liable": liable,
              "citations": [r["citation"] for r in rows]}
    if liable:
        aggravation = catalog.evaluate("aggravation", {k: person[k] for k in (
            "corruption", "lost_lawsuit", "errors_this_year", "concealed", "self_reported")}).outputs
        aggravated = bool(aggravation)
        sanction = catalog.evaluate("sanction", {"severity": person["severity"], "aggravated": aggravated}).outputs
        result.update(aggravated=aggravated, tier=sanction["tier"], measures=sanction["measures"])
    return result


ACT = dict(handler_fault=0, reviewer_missed=False, approver_fault=True, review_lax=False, exemption_ground=None,
           corruption=False, lost_lawsuit=False, errors_this_year=1, concealed=False, self_reported=False,
           severity="serious")


def test_an_error_decided_by_the_leader_frees_the_officers_and_not_the_leader(catalog):
    # Art. 6(7) for everybody on the act; the handler's proposal was proper, the approver decided wrongly (Art. 10)
    persons = {role: {**ACT, "role": role, "exemption_ground": 7} for role in ("handler", "reviewer", "approver")}
    results = {role: outcome(catalog, p) for role, p in persons.items()}
    assert results["handler"] == {"role": "handler", "exempt": True, "liable": False, "citations": []}
    assert results["reviewer"] == {"role": "reviewer", "exempt": True, "liable": False, "citations": []}
    assert results["approver"] == {"role": "approver", "exempt": False, "liable": True, "citations": ["第十条"],
                                   "aggravated": False, "tier": 3,
                                   "measures": ["责令停职检查", "暂停执法活动", "警告处分", "严重警告处分"]}


def test_each_person_is_aggravated_on_their_own_facts(catalog):
    # the handler concealed the error and has a third error this year; the reviewer reported it and was lax
    handler = {**ACT, "role": "handler", "handler_fault": 4, "approver_fault": False, "concealed": True,
               "errors_this_year": 3, "severity": "grave"}
    reviewer = {**ACT, "role": "reviewer", "handler_fault": 4, "approver_fault": False, "reviewer_missed": True,
                "review_lax": True, "concealed": True, "self_reported": True}
    approver = {**ACT, "role": "approver", "handler_fault": 4, "approver_fault": False}
    h, r, a = (outcome(catalog, p) for p in (handler, reviewer, approver))
    assert (h["liable"], h["citations"], h["aggravated"], h["tier"], h["measures"]) == (
        True, ["第八条第（四）项"], True, 4, ["开除公职"])
    assert (r["liable"], r["citations"], r["aggravated"], r["tier"]) == (
        True, ["第九条", "第五条第（十九）项"], False, 3)
    assert len(r["measures"]) == 4
    assert a == {"role": "approver", "exempt": False, "liable": False, "citations": []}


def test_decide_prints_the_measures_list(monkeypatch):
    monkeypatch.setenv("ACCOUNTABILITY_PROCESSES", str(PROCESSES))
    res = CliRunner().invoke(main, ["decide", "sanction", "--input", '{"severity": "grave", "aggravated": false}'])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["outputs"] == {
        "tier": 4, "measures": ["记过处分", "记大过处分", "降级处分", "撤职处分", "调离", "辞退", "开除公职"],
        "citation": "第十二条第（四）项"}
    assert "记大过处分" in res.output  # printed as Chinese, not \\u escapes
