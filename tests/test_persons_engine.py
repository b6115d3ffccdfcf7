"""Issue 9, at engine level: every respondent has their own findings, aggravation, measure, hearing, service and
appeal; one test per defect of the case-level model, each now fixed. The real diagram, tables and forms."""
from __future__ import annotations

import pytest

from service.forms import FormErrors
from tests.test_procedure import APPROVER, HANDLER, MEMBERS, REVIEWER, Run, engine, start, state  # noqa: F401

TIER4 = ["记过处分", "记大过处分", "降级处分", "撤职处分", "调离", "辞退", "开除公职"]


def concluded(engine, findings, respondents=(HANDLER, REVIEWER, APPROVER), **kwargs) -> Run:
    run = start(engine, **kwargs)
    run.register(*respondents)
    run.investigate()
    run.conclude(findings)
    return run


def statement_persons(run: Run) -> list[str]:
    return sorted(t.assignee for t in run.tasks("Task_statement"))


def decide(run: Run, choices=None) -> None:
    run.hear()
    run.vote("approve", "approve", "approve", choices=choices)
    run.serve()


def appeal_persons(run: Run) -> list[str]:
    return sorted(t.assignee for t in run.tasks("Task_appeal"))


def close_appeals(run: Run) -> None:
    for person in appeal_persons(run):
        run.do("Task_appeal", {"appeal": False}, person)


# --------------------------------------------------------------------------- who is liable

def test_approver_only_liability_gives_the_approver_their_own_hearing_and_appeal(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 0, "severity": "light"},
                             {"person": "wang_fang", "severity": "light"},
                             {"person": "liu_yang", "approver_fault": True, "severity": "light"}])
    approver, handler = run.outcome("liu_yang"), run.outcome("zhang_wei")
    assert approver["liable"] is True and "第十条" in approver["citations"] and approver["tier"] == 2
    assert handler["liable"] is False and handler["tier"] is None
    assert not any(c.startswith("第八条") for c in handler["citations"])
    assert run.outcome("wang_fang")["liable"] is False
    [notice] = [run.engine.task_data(run.case, t.id)["hearing"]["notice"] for t in run.tasks("Task_statement")
                if t.assignee == "liu_yang"]
    assert notice["proposal"]["liable"] is True and notice["proposal"]["role"] == "approver"
    assert "liu_yang" in statement_persons(run)
    decide(run)
    assert appeal_persons(run) == ["liu_yang"]  # only the liable person may appeal
    assert run.task("Task_appeal", "liu_yang").person == "liu_yang"


def test_the_reviewer_is_not_aggravated_by_the_handlers_bribe_and_each_gets_their_own_measure(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 2, "corruption": True, "severity": "grave"},
                             {"person": "wang_fang", "reviewer_missed": True, "severity": "grave"}],
                    respondents=(HANDLER, REVIEWER))
    handler, reviewer = run.outcome("zhang_wei"), run.outcome("wang_fang")
    assert handler["aggravated"] is True and handler["measures"] == ["开除公职"]
    assert "第十一条第（一）项" in handler["citations"]
    assert reviewer["aggravated"] is False and reviewer["measures"] == TIER4
    assert "第九条" in reviewer["citations"] and not any(c.startswith("第十一条") for c in reviewer["citations"])
    aggravation = {t["person"]: t for t in run.case.decision_traces() if t["decision"] == "aggravation"}
    assert aggravation["zhang_wei"]["inputs"]["corruption"] is True
    assert aggravation["wang_fang"]["inputs"]["corruption"] is False
    decide(run, choices={"wang_fang": "记过处分"})
    assert run.outcome("zhang_wei")["measure"] == "开除公职" and run.outcome("wang_fang")["measure"] == "记过处分"


def test_art11_3_is_counted_per_person(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "serious"},
                             {"person": "wang_fang", "reviewer_missed": True, "severity": "serious"}],
                    respondents=(HANDLER, REVIEWER), errors={"zhang_wei": 1, "wang_fang": 3})
    assert run.outcome("wang_fang")["aggravated"] is True
    assert "第十一条第（三）项" in run.outcome("wang_fang")["citations"]
    assert run.outcome("wang_fang")["measures"] == ["严重警告处分"]
    assert run.outcome("zhang_wei")["aggravated"] is False and len(run.outcome("zhang_wei")["measures"]) == 4
    counts = {t["person"]: t["inputs"]["errors_this_year"] for t in run.case.decision_traces()
              if t["decision"] == "aggravation"}
    assert counts == {"zhang_wei": 1, "wang_fang": 3}


# --------------------------------------------------------------------------- heard again when it gets heavier

def test_a_revised_heavier_proposal_is_heard_again_by_that_person_only(engine):
    light = {"person": "zhang_wei", "handler_fault": 5, "severity": "light"}
    run = concluded(engine, [light, {"person": "wang_fang", "reviewer_missed": True, "severity": "light"}],
                    respondents=(HANDLER, REVIEWER))
    assert statement_persons(run) == ["wang_fang", "zhang_wei"]
    run.hear()
    run.vote("revise", "revise", "revise")
    assert run.open() == ["Task_conclude"]
    run.conclude([light, {"person": "wang_fang", "reviewer_missed": True, "severity": "grave"}])
    assert run.outcome("wang_fang")["tier"] == 4
    assert run.open() == ["Task_statement"] and statement_persons(run) == ["wang_fang"]
    notice = run.engine.task_data(run.case, run.task("Task_statement").id)["hearing"]["notice"]
    assert notice["round"] == 2 and notice["proposal"]["tier"] == 4
    run.hear()
    assert run.open() == ["Task_vote"] * 3
    assert sorted((s["person"], s["round"]) for s in run.data["statements"]) == [("wang_fang", 1), ("wang_fang", 2),
                                                                                ("zhang_wei", 1)]
    # sent back again with a proposal that is not heavier for anyone: straight to the vote
    run.vote("revise", "revise", "approve", choices={"wang_fang": "记过处分"})
    run.conclude([{**light, "severity": "minor"}, {"person": "wang_fang", "reviewer_missed": True,
                                                   "severity": "grave"}])
    assert run.open() == ["Task_vote"] * 3


# --------------------------------------------------------------------------- Art. 6(7) and Art. 2

@pytest.mark.parametrize("handler_fault,approver_facts,citation", [
    (5, {"review_lax": True}, "第五条第（十九）项"),
    (0, {"approver_fault": True}, "第十条"),
    # the handler erred because the leader decided so (6(7)): their Art. 8 fault does not make the leader's act
    # "proper" under Art. 10, so the deciding approver stays liable
    (5, {"approver_fault": True}, "第十条"),
])
def test_art6_7_frees_the_handler_but_not_the_approver(engine, handler_fault, approver_facts, citation):
    run = concluded(engine, [{"person": "zhang_wei", "exemption_ground": 7, "handler_fault": handler_fault,
                              "severity": "light"},
                             {"person": "liu_yang", "exemption_ground": 7, "severity": "light", **approver_facts}],
                    respondents=(HANDLER, APPROVER))
    handler, approver = run.outcome("zhang_wei"), run.outcome("liu_yang")
    assert handler["exempt"] is True and handler["liable"] is False and "第六条第（七）项" in handler["citations"]
    assert approver["exempt"] is False and approver["liable"] is True and citation in approver["citations"]
    decide(run)
    assert appeal_persons(run) == ["liu_yang"]


def test_a_finding_that_makes_nobody_liable_without_an_art6_ground_is_refused(engine):
    run = start(engine)
    run.register(HANDLER, REVIEWER)
    run.investigate()
    before = state(run)
    with pytest.raises(FormErrors) as err:
        run.conclude([{"person": "zhang_wei", "handler_fault": 0, "severity": "light"},
                      {"person": "wang_fang", "severity": "light"}])
    assert list(err.value.errors) == ["findings"] and "第六条" in err.value.errors["findings"]
    assert state(run) == before and run.open() == ["Task_conclude"]


# --------------------------------------------------------------------------- the appeal review

def appealed(engine, members=("lg_chen", "lg_wu", "lg_zhou", "zhang_wei", "wang_fang")) -> Run:
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "serious"},
                             {"person": "wang_fang", "reviewer_missed": True, "severity": "light"}],
                    respondents=(HANDLER, REVIEWER), members=list(members))
    decide(run, choices={"zhang_wei": "警告处分"})
    run.do("Task_appeal", {"appeal": True, "appeal_reason": "处分过重"}, "zhang_wei")
    return run


def review(run: Run, votes: dict[str, dict]) -> None:
    for member, data in votes.items():
        run.do("Task_review", {"review_reason": "复查意见", **data}, member)


def zhang_after_review(run: Run) -> dict:
    """zhang_wei's branch of the service sub-process (wang_fang's appeal window is still open)."""
    assert run.tasks("Task_review") == [] and appeal_persons(run) == ["wang_fang"]
    [service] = [s for s in run.case.instance_values("service") if s["person"] == "zhang_wei"][-1:]
    return service["outcome"]


def test_the_review_is_collective_without_the_respondents(engine):
    run = appealed(engine)
    reviews = run.tasks("Task_review")
    assert sorted(t.assignee for t in reviews) == MEMBERS  # appellant and the other respondent recused
    assert all(t.person == "zhang_wei" and t.role == "leading_group" for t in reviews)


def test_the_review_may_lower_but_never_makes_it_heavier(engine):
    run = appealed(engine)
    before = state(run)
    for heavier in ("严重警告处分", "警告处分", "开除公职"):  # heavier or the same: refused
        with pytest.raises(FormErrors) as err:
            review(run, {"lg_chen": {"review_vote": "lowered", "lowered_measure": heavier}})
        assert list(err.value.errors) == ["lowered_measure"]
        assert state(run) == before
    review(run, {"lg_chen": {"review_vote": "lowered", "lowered_measure": "批评教育，责令限期改正"},
                 "lg_wu": {"review_vote": "lowered", "lowered_measure": "责令停职检查"},
                 "lg_zhou": {"review_vote": "upheld"}})
    outcome = zhang_after_review(run)
    assert outcome["appeal_result"] == "lowered"
    assert outcome["measure"] == "责令停职检查" and outcome["tier"] == 3  # the heaviest of the lowered choices
    assert outcome["review_votes"]["lowered"] == 2


@pytest.mark.parametrize("votes,result", [
    (["dismissed", "dismissed", "upheld"], "dismissed"),
    (["revoked", "dismissed", "upheld"], "upheld"),  # no majority: the decision stands
    (["revoked", "revoked", "upheld"], "revoked"),
])
def test_review_results(engine, votes, result):
    run = appealed(engine)
    review(run, {m: {"review_vote": v} for m, v in zip(MEMBERS, votes)})
    outcome = zhang_after_review(run)
    assert outcome["appeal_result"] == result
    assert outcome["measure"] == "警告处分"
    assert outcome["established"] is (result != "revoked")
    assert outcome.get("revoked", False) is (result == "revoked")
    run.do("Task_appeal", {"appeal": False}, "wang_fang")
    assert run.open() == ["Task_recovery"]  # wang_fang is still liable
    assert run.outcome("zhang_wei")["appeal_result"] == result and run.outcome("wang_fang")["appeal"] is False
    run.do("Task_recovery", {"compensation_paid": 0, "recovery": []})
    disqualified = [e["person"] for e in run.data["disqualification"]["entries"]]
    assert disqualified == (["wang_fang"] if result == "revoked" else ["zhang_wei", "wang_fang"])


# --------------------------------------------------------------------------- quorum and recusal

def test_fewer_than_three_eligible_members_stops_the_case_with_the_office(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "light"}],
                    respondents=(HANDLER,), members=["lg_chen", "lg_wu", "zhang_wei"])
    run.hear()
    assert run.open() == ["Task_quorum"]
    task = run.task("Task_quorum")
    assert (task.role, task.form_key) == ("office", "quorum")
    run.do("Task_quorum", {"quorum_note": "已报请增补成员"},
           facts={"leading_group_members": ["lg_chen", "lg_wu", "lg_zhou", "zhang_wei"]})
    assert sorted(t.assignee for t in run.tasks("Task_vote")) == MEMBERS  # zhang_wei never gets a ballot


def test_a_member_who_recuses_reduces_the_eligible_count(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "light"}],
                    respondents=(HANDLER,))
    run.hear()
    run.do("Task_vote", {"vote": "recuse"}, "lg_chen")
    run.do("Task_vote", {"vote": "approve"}, "lg_wu")
    run.do("Task_vote", {"vote": "approve"}, "lg_zhou")
    assert run.data["votes"] == {"approve": 2, "revise": 0, "recused": 1, "eligible": 2, "quorum": 3}
    assert run.data["resolution"] == "no_quorum" and run.open() == ["Task_quorum"]
    assert run.outcome()["established"] is False


# --------------------------------------------------------------------------- the group fixes one measure

def test_the_group_fixes_one_measure_per_person(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "serious"},
                             {"person": "wang_fang", "severity": "light"}], respondents=(HANDLER, REVIEWER))
    run.hear()
    before = state(run)
    for choices in ([], [{"person": "zhang_wei", "measure": "开除公职"}],
                    [{"person": "wang_fang", "measure": "警告处分"}, {"person": "zhang_wei", "measure": "警告处分"}]):
        with pytest.raises(FormErrors) as err:
            run.do("Task_vote", {"vote": "approve", "measure_choices": choices}, "lg_chen")
        assert list(err.value.errors) == ["measure_choices"]
        assert state(run) == before
    for member, measure in zip(MEMBERS, ["警告处分", "责令停职检查", "警告处分"]):
        run.do("Task_vote", {"vote": "approve", "measure_choices": [{"person": "zhang_wei", "measure": measure}]},
               member)
    assert run.data["resolution"] == "approve" and run.outcome()["measure"] == "警告处分"


def test_no_majority_for_a_measure_sends_the_proposal_back(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "serious"}],
                    respondents=(HANDLER,))
    run.hear()
    for member, measure in zip(MEMBERS, ["警告处分", "责令停职检查", "暂停执法活动"]):
        run.do("Task_vote", {"vote": "approve", "measure_choices": [{"person": "zhang_wei", "measure": measure}]},
               member)
    assert run.data["resolution"] == "revise" and "zhang_wei" in run.data["vote_note"]
    assert run.open() == ["Task_conclude"]


# --------------------------------------------------------------------------- Art. 11(4) and Art. 19

@pytest.mark.parametrize("self_reported,aggravated", [(True, False), (False, True)])
def test_a_person_who_reported_themselves_is_not_aggravated_for_concealment(engine, self_reported, aggravated):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "serious", "concealed": True,
                              "self_reported": self_reported, "self_reported_on": "2026-03-05"}],
                    respondents=(HANDLER,))
    assert run.outcome()["aggravated"] is aggravated
    assert ("第十一条第（四）项" in run.outcome()["citations"]) is aggravated


def test_the_self_reporting_subject_counts_as_self_reported(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "serious", "concealed": True},
                             {"person": "wang_fang", "reviewer_missed": True, "severity": "serious",
                              "concealed": True}],
                    respondents=(HANDLER, REVIEWER), channel="self_report")
    assert run.outcome("zhang_wei")["aggravated"] is False
    assert run.outcome("wang_fang")["aggravated"] is True  # someone else's report does not cover them


# --------------------------------------------------------------------------- Art. 14 and 15

def recovery_run(engine) -> Run:
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
                             {"person": "wang_fang", "reviewer_missed": True, "severity": "light"},
                             {"person": "liu_yang", "severity": "light"}])
    decide(run)
    close_appeals(run)
    assert run.open() == ["Task_recovery"]
    return run


@pytest.mark.parametrize("data,field", [
    ({"compensation_paid": 1000, "recovery": [{"person": "liu_yang", "amount": 100}], "main_responsible": "zhang_wei"},
     "recovery"),
    ({"compensation_paid": 1000, "recovery": [{"person": "zhang_wei", "amount": 800},
                                              {"person": "wang_fang", "amount": 300}], "main_responsible": "zhang_wei"},
     "recovery"),
    ({"compensation_paid": 1000, "recovery": [{"person": "zhang_wei", "amount": 800}], "main_responsible": "liu_yang"},
     "main_responsible"),
    ({"compensation_paid": 1000, "recovery": [{"person": "zhang_wei", "amount": 800}]}, "main_responsible"),
])
def test_recovery_only_from_liable_persons_within_the_compensation(engine, data, field):
    run = recovery_run(engine)
    before = state(run)
    with pytest.raises(FormErrors) as err:
        run.do("Task_recovery", data)
    assert list(err.value.errors) == [field]
    assert state(run) == before and run.open() == ["Task_recovery"]
    run.do("Task_recovery", {"compensation_paid": 1000, "main_responsible": "zhang_wei",
                             "recovery": [{"person": "zhang_wei", "amount": 700}, {"person": "wang_fang", "amount": 300}]})
    assert run.case.end_event == ("End_closed", "结案")


def test_art15_disqualifies_each_liable_person_with_their_own_unit(engine):
    run = recovery_run(engine)
    run.do("Task_recovery", {"compensation_paid": 0, "recovery": []})
    assert run.data["unit"] == "执法一科"  # the subject's unit is not everyone's
    assert run.data["disqualification"] == {"entries": [{"person": "zhang_wei", "unit": "执法一科", "year": 2026},
                                                        {"person": "wang_fang", "unit": "法制科", "year": 2026}],
                                            "citation": "第十五条"}


# --------------------------------------------------------------------------- traces

def test_every_decision_trace_in_sub_determine_names_its_person(engine):
    run = concluded(engine, [{"person": "zhang_wei", "handler_fault": 2, "corruption": True, "severity": "grave"},
                             {"person": "wang_fang", "reviewer_missed": True, "severity": "serious"},
                             {"person": "liu_yang", "severity": "light"}], errors={"wang_fang": 3})
    traces = run.case.decision_traces()
    per_person = [t for t in traces if t["task"] != "Decision_grounds"]
    assert per_person and all(t.get("person") in {"zhang_wei", "wang_fang", "liu_yang"} for t in per_person)
    assert [(t["person"], t["decision"]) for t in per_person] == [
        ("zhang_wei", "exemption"), ("zhang_wei", "responsibility"), ("zhang_wei", "aggravation"),
        ("zhang_wei", "sanction"),
        ("wang_fang", "exemption"), ("wang_fang", "responsibility"), ("wang_fang", "aggravation"),
        ("wang_fang", "sanction"),
        ("liu_yang", "exemption"), ("liu_yang", "responsibility")]
    roles = {t["person"]: t["inputs"]["role"] for t in per_person if t["decision"] == "responsibility"}
    assert roles == {"zhang_wei": "handler", "wang_fang": "reviewer", "liu_yang": "approver"}
    assert statement_persons(run) == ["liu_yang", "wang_fang", "zhang_wei"]
