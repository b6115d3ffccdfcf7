"""The Article 18-20 procedure: the real BPMN, DMN and forms driven in-process through every path."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from service.engine import Case, EngineError, ProcessEngine, TaskNotOpen
from service.forms import FormErrors

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = ["lg_chen", "lg_wu", "lg_zhou"]
INTAKE = {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7],
          "summary": "未按法定程序送达处罚决定书", "act_date": "2026-03-02"}
CONCLUSION = {"conclusion": "查明：未按法定程序送达。", "exemption_ground": None, "handler_fault": 5,
              "reviewer_missed": False, "approver_fault": False, "corruption": False, "lost_lawsuit": False,
              "concealed": False, "severity": "light"}


@pytest.fixture(scope="module")
def engine() -> ProcessEngine:
    return ProcessEngine.from_folders(ROOT / "processes", ROOT / "forms")


class Run:
    """Drives one case through the diagram by task name, as the people in each role would."""

    def __init__(self, engine: ProcessEngine, case: Case):
        self.engine, self.case = engine, case

    def open(self) -> list[str]:
        return sorted(t.name for t in self.engine.open_tasks(self.case))

    def task(self, name: str, assignee: str | None = None):
        tasks = [t for t in self.engine.open_tasks(self.case) if t.name == name
                 and (assignee is None or t.assignee == assignee)]
        assert tasks, f"{name} is not open; open: {self.open()}"
        return tasks[0]

    def do(self, name: str, data: dict[str, Any], assignee: str | None = None, facts=None):
        return self.engine.complete(self.case, self.task(name, assignee).id, data, facts)

    def roundtrip(self) -> None:
        self.case = self.engine.restore(self.engine.serialize(self.case))

    @property
    def data(self) -> dict[str, Any]:
        return self.case.data

    # the procedure, step by step
    def register(self, **extra):
        self.do("Task_register", {"register": True, "grounds": self.data["grounds"], "subject": self.data["subject"],
                                  "unit": self.data["unit"], **extra})

    def investigate(self):
        self.do("Task_investigate", {"facts_found": "调查认定的事实（证据1-3）", "evidence": ["证据1", "证据2"],
                                     "investigators": ["office_li", "office_sun"], "act_date": self.data["act_date"]})

    def hear(self):
        self.do("Task_statement", {"statement_waived": False, "statement": "我对事实无异议，请求从轻。"})

    def conclude(self, facts=None, **changes):
        return self.do("Task_conclude", {**CONCLUSION, **changes}, facts=facts)

    def vote(self, *votes: str):
        for member, vote in zip(MEMBERS, votes):
            data = {"vote": vote} if vote == "approve" else {"vote": vote, "opinion": "事实认定需补充"}
            self.do("Task_vote", data, assignee=member)
            self.roundtrip()  # as the service does: each vote is saved and restored

    def serve(self):
        self.do("Task_serve", {"decision_number": "明执追〔2026〕7号", "served_on": "2026-11-20",
                               "service_method": "direct"})

    def to_decision(self, **changes):
        self.register()
        self.investigate()
        self.hear()
        self.conclude(**changes)
        self.vote("approve", "approve", "approve")
        self.serve()


def start(engine, errors_this_year: int = 1, **intake) -> Run:
    intake = {**INTAKE, **intake}
    if intake["channel"] == "public_complaint":
        intake.setdefault("officer", "执法一科张某")
    case = engine.start(intake, {"errors_this_year": errors_this_year, "leading_group_members": MEMBERS})
    return Run(engine, case)


# --------------------------------------------------------------------------- intake and registration

CHANNEL_MARKERS = {"Task_self_report", "Task_public_complaint", "Task_superior_referral", "Task_inspection"}


@pytest.mark.parametrize("channel,marker", [("self_report", "Task_self_report"),
                                            ("public_complaint", "Task_public_complaint"),
                                            ("superior_referral", "Task_superior_referral"),
                                            ("inspection", "Task_inspection")])
def test_each_channel_reaches_the_offices_registration_review(engine, channel, marker):
    run = start(engine, channel=channel)
    [task] = engine.open_tasks(run.case)
    assert (task.name, task.title, task.role, task.form_key) == ("Task_register", "立案审查", "office", "registration")
    assert task.due - task.ready_since == dt.timedelta(days=15)
    markers = [h["name"] for h in run.case.history() if h["name"] in CHANNEL_MARKERS]
    assert markers == [marker]


def test_intake_is_checked_against_its_form(engine):
    with pytest.raises(FormErrors) as err:
        engine.start({**INTAKE, "channel": "rumour", "grounds": [21], "act_date": "3 March"}, {})
    assert set(err.value.errors) == {"channel", "grounds[0]", "act_date"}
    assert err.value.errors["act_date"].startswith("应为日期")


def test_a_public_complaint_may_name_the_officer_in_words_and_the_office_identifies_them(engine):
    intake = {"channel": "public_complaint", "officer": "城管执法队 穿制服的张姓队员", "summary": "暴力执法",
              "act_date": "2026-05-01", "reporter": {"name": "王某"}}
    case = engine.start(intake, {"leading_group_members": MEMBERS})
    run = Run(engine, case)
    with pytest.raises(FormErrors) as err:
        run.do("Task_register", {"register": True, "grounds": [10]})
    assert set(err.value.errors) == {"subject", "unit"}
    run.do("Task_register", {"register": True, "grounds": [10], "subject": "zhang_wei", "unit": "城管执法队"})
    run.investigate()
    assert run.task("Task_statement").assignee == "zhang_wei"
    with pytest.raises(FormErrors) as err:
        engine.start({"channel": "inspection", "summary": "s", "act_date": "2026-05-01"}, {})
    assert set(err.value.errors) == {"subject", "unit", "grounds"}


def test_not_registered_closes_with_the_reason(engine):
    run = start(engine)
    run.do("Task_register", {"register": False, "grounds": [7], "not_registered_reason": "不属于执法过错"})
    assert run.case.completed and run.case.end_event == ("End_not_registered", "不予立案，结案")
    assert run.data["not_registered_reason"] == "不属于执法过错"
    assert "outcome" not in run.data


def test_an_identifiable_reporter_is_told_why_a_complaint_was_not_registered(engine):
    run = start(engine, channel="public_complaint", reporter={"name": "王某", "contact": "13800000000"})
    run.do("Task_register", {"register": False, "grounds": [8], "not_registered_reason": "经核实不属实"})
    assert run.open() == ["Task_notify_reporter"]
    run.do("Task_notify_reporter", {"notified_on": "2026-11-21", "method": "phone", "notice": "经核实不属实"})
    assert run.case.end_event == ("End_not_registered", "不予立案，结案")


def test_not_registering_needs_a_reason_and_a_rejected_form_changes_nothing(engine):
    run = start(engine)
    before = engine.serialize(run.case)
    with pytest.raises(FormErrors) as err:
        run.do("Task_register", {"register": False, "grounds": [7]})
    assert err.value.errors == {"not_registered_reason": "必填项，请填写"}
    assert engine.serialize(run.case) == before
    assert run.open() == ["Task_register"]


def test_fields_a_form_does_not_define_are_refused(engine):
    run = start(engine)
    with pytest.raises(FormErrors) as err:
        run.do("Task_register", {"register": True, "grounds": [7], "subject": "zhang_wei", "unit": "一科",
                                 "outcome": {"exempt": True}})
    assert err.value.errors == {"outcome": "表单中没有此字段"}


# --------------------------------------------------------------------------- hearing

def test_the_accused_is_heard_in_a_task_of_their_own(engine):
    run = start(engine)
    run.register()
    run.investigate()
    task = run.task("Task_statement")
    assert (task.assignee, task.role, task.form_key) == ("zhang_wei", None, "statement")
    assert task.due - task.ready_since == dt.timedelta(days=7)
    [timer] = engine.pending_timers(run.case)
    assert timer.name == "Timer_statement"
    assert dt.timedelta(days=7) - dt.timedelta(seconds=5) < timer.due - task.ready_since < dt.timedelta(days=7, seconds=5)


def test_the_statement_period_expiring_records_the_waiver_and_goes_on(engine):
    run = start(engine)
    run.register()
    run.investigate()
    now = dt.datetime.now(dt.timezone.utc)
    assert engine.fire_due_timers(run.case, now + dt.timedelta(days=6)).fired == []
    assert run.open() == ["Task_statement"]
    run.roundtrip()
    fired = engine.fire_due_timers(run.case, now + dt.timedelta(days=7, minutes=1))
    assert fired.fired == ["Timer_statement"]
    assert run.open() == ["Task_conclude"]
    assert run.data["statement_waived"] is True and run.data["statement_expired"] is True
    assert "Script_statement_waived" in [h["name"] for h in run.case.history()]


def test_the_accused_may_waive_the_statement(engine):
    run = start(engine)
    run.register()
    run.investigate()
    run.do("Task_statement", {"statement_waived": True})
    assert run.open() == ["Task_conclude"] and run.data["statement_waived"] is True


def test_no_decision_without_registration_investigation_and_hearing(engine):
    """Art. 2: the handling decision is only reachable through 立案, 调查 and 陈述申辩 (or its waiver)."""
    run = start(engine)
    for step in (run.register, run.investigate):
        assert "Task_serve" not in run.open() and "Task_conclude" not in run.open()
        step()
    assert run.open() == ["Task_statement"]
    run.hear()
    assert run.open() == ["Task_conclude"]
    names = [h["name"] for h in run.case.history()]
    assert names.index("Task_register") < names.index("Task_investigate") < names.index("Task_statement")


# --------------------------------------------------------------------------- the office's conclusion

def test_exemption_closes_without_sanction_appeal_or_disqualification(engine):
    run = start(engine)
    run.register()
    run.investigate()
    run.hear()
    step = run.conclude(exemption_ground=2)
    assert [t["decision"] for t in step.traces] == ["grounds", "exemption"]
    assert run.data["outcome"] == {"exempt": True, "responsible": [], "aggravated": False, "tier": None,
                                   "measure": None, "citations": ["第五条第（七）项", "第六条第（二）项"]}
    run.vote("approve", "approve", "revise")
    run.serve()
    assert run.case.completed and run.case.end_event == ("End_closed", "结案")
    assert "Task_appeal" not in [h["name"] for h in run.case.history()]
    assert "disqualification" not in run.data


TIERS = {"minor": (1, "批评教育，责令限期改正"), "light": (2, "责令书面检查，给予通报批评"),
         "serious": (3, "责令停职检查，暂停执法活动或给予警告、严重警告处分"),
         "grave": (4, "给予记过以上处分直至调离、辞退和开除公职"), "criminal": (5, "交由司法部门依法追究刑事责任")}
CN = ["", "一", "二", "三", "四", "五"]


@pytest.mark.parametrize("severity", list(TIERS))
def test_each_sanction_tier(engine, severity):
    run = start(engine)
    run.register()
    run.investigate()
    run.hear()
    step = run.conclude(severity=severity)
    tier, measure = TIERS[severity]
    outcome = run.data["outcome"]
    assert (outcome["tier"], outcome["measure"], outcome["aggravated"]) == (tier, measure, False)
    assert outcome["responsible"] == [{"person": "zhang_wei", "role": "handler"}]
    assert outcome["citations"] == ["第五条第（七）项", "第八条第（五）项", f"第十二条第（{CN[tier]}）项"]
    assert [t["decision"] for t in step.traces] == ["grounds", "exemption", "responsibility", "aggravation",
                                                    "sanction"]
    run.vote("approve", "approve", "approve")
    run.serve()
    assert run.open() == ["Task_appeal"]  # Art. 13: the window opens when the decision carries a sanction


@pytest.mark.parametrize("fact,value,item", [("corruption", True, "一"), ("lost_lawsuit", True, "二"),
                                             ("concealed", True, "四")])
def test_each_art11_item_aggravates(engine, fact, value, item):
    run = start(engine)
    run.register()
    run.investigate()
    run.hear()
    run.conclude(severity="serious", **{fact: value})
    outcome = run.data["outcome"]
    assert outcome["aggravated"] is True and outcome["measure"] == "严重警告处分"
    assert f"第十一条第（{item}）项" in outcome["citations"]
    assert "第十二条第（三）项、第十一条" in outcome["citations"]


@pytest.mark.parametrize("count,aggravated", [(2, False), (3, True)])
def test_art11_3_the_third_error_of_the_year_aggravates_and_the_second_does_not(engine, count, aggravated):
    run = start(engine)
    run.register()
    run.investigate()
    run.hear()
    run.conclude(severity="grave", facts={"errors_this_year": count})
    outcome = run.data["outcome"]
    assert outcome["aggravated"] is aggravated
    assert ("第十一条第（三）项" in outcome["citations"]) is aggravated
    assert outcome["measure"] == ("开除公职" if aggravated else "给予记过以上处分直至调离、辞退和开除公职")


def test_reviewer_and_approver_are_named_in_the_outcome(engine):
    run = start(engine)
    run.register()
    run.investigate()
    run.hear()
    run.conclude(reviewer_missed=True, reviewer="li_shen")
    assert run.data["outcome"]["responsible"] == [{"person": "zhang_wei", "role": "handler"},
                                                  {"person": "li_shen", "role": "reviewer"}]
    with pytest.raises(FormErrors) as err:  # a missing reviewer name is caught by the form
        run2 = start(engine)
        run2.register()
        run2.investigate()
        run2.hear()
        run2.conclude(reviewer_missed=True)
    assert err.value.errors == {"reviewer": "必填项，请填写"}

    run3 = start(engine)
    run3.register()
    run3.investigate()
    run3.hear()
    run3.conclude(handler_fault=0, approver_fault=True, approver="zhao_pi")
    assert run3.data["outcome"]["responsible"] == [{"person": "zhao_pi", "role": "approver"}]
    assert "第十条" in run3.data["outcome"]["citations"]


def test_decision_traces_are_kept_with_the_case(engine):
    run = start(engine, grounds=[7, 8])
    run.register()
    run.investigate()
    run.hear()
    run.conclude(severity="serious", corruption=True)
    run.roundtrip()
    traces = run.case.decision_traces()
    assert [(t["decision"], t["task"]) for t in traces] == [
        ("grounds", "Decision_grounds"), ("grounds", "Decision_grounds"), ("exemption", "Decision_exemption"),
        ("responsibility", "Decision_responsibility"), ("aggravation", "Decision_aggravation"),
        ("sanction", "Decision_sanction")]
    sanction = traces[-1]
    assert sanction["inputs"] == {"severity": "serious", "aggravated": True}
    assert sanction["matched"][0]["annotation"].startswith("第十二条第（三）项、第十一条")
    assert len(sanction["version"]) == 64


# --------------------------------------------------------------------------- collective determination

def test_each_member_votes_and_revise_sends_the_case_back_to_the_office(engine):
    run = start(engine)
    run.register()
    run.investigate()
    run.hear()
    run.conclude()
    votes = [t for t in engine.open_tasks(run.case) if t.name == "Task_vote"]
    assert sorted(t.assignee for t in votes) == sorted(MEMBERS)
    assert all(t.role == "leading_group" and t.form_key == "vote" for t in votes)
    run.vote("revise", "revise", "approve")
    assert run.data["resolution"] == "revise" and run.data["votes"] == {"approve": 1, "revise": 2, "members": 3}
    assert run.open() == ["Task_conclude"]
    run.conclude(severity="minor")
    run.vote("approve", "revise", "approve")
    assert run.data["resolution"] == "approve"
    assert run.open() == ["Task_serve"]
    assert run.data["outcome"]["tier"] == 1


def test_a_vote_needs_a_reason_to_send_back(engine):
    run = start(engine)
    run.register()
    run.investigate()
    run.hear()
    run.conclude()
    with pytest.raises(FormErrors) as err:
        run.do("Task_vote", {"vote": "revise"}, assignee=MEMBERS[0])
    assert "opinion" in err.value.errors


# --------------------------------------------------------------------------- appeal and after

@pytest.mark.parametrize("result", ["upheld", "changed", "revoked"])
def test_appeal_with_each_result(engine, result):
    run = start(engine)
    run.to_decision(severity="serious")
    run.do("Task_appeal", {"appeal": True, "appeal_reason": "处分过重"})
    review = run.task("Task_review")
    assert (review.role, review.form_key) == ("leading_group", "appeal_review")
    data = {"admissible": True, "appeal_result": result, "review_reason": "复查意见"}
    if result == "changed":
        data["severity"] = "minor"
    run.do("Task_review", data)
    outcome = run.data["outcome"]
    assert outcome["appeal_result"] == result and "第十三条" in outcome["citations"]
    if result == "revoked":
        assert outcome["revoked"] is True
        assert run.case.completed and "disqualification" not in run.data  # no Art. 14/15 after revocation
        return
    expected_tier = 1 if result == "changed" else 3
    assert outcome["tier"] == expected_tier
    assert run.open() == ["Task_recovery"]
    run.do("Task_recovery", {"compensation_paid": 2000, "recovery": [{"person": "zhang_wei", "amount": 800}]})
    assert run.case.end_event == ("End_closed", "结案")
    assert run.data["disqualification"] == {"year": 2026, "persons": ["zhang_wei"], "units": ["执法一科"],
                                            "citation": "第十五条"}


def test_the_appeal_window_expiring_means_no_appeal(engine):
    run = start(engine)
    run.to_decision()
    now = dt.datetime.now(dt.timezone.utc)
    assert engine.fire_due_timers(run.case, now + dt.timedelta(days=29)).fired == []
    assert engine.fire_due_timers(run.case, now + dt.timedelta(days=31)).fired == ["Timer_appeal"]
    assert run.data["appeal"] is False and run.open() == ["Task_recovery"]


def test_declining_to_appeal_goes_to_recovery(engine):
    run = start(engine)
    run.to_decision()
    run.do("Task_appeal", {"appeal": False})
    run.do("Task_recovery", {"compensation_paid": 0, "recovery": []})
    assert run.case.completed and run.data["disqualification"]["persons"] == ["zhang_wei"]


def test_no_one_liable_means_no_sanction(engine):
    run = start(engine)
    run.to_decision(handler_fault=0)
    assert run.data["outcome"]["responsible"] == [] and run.data["outcome"]["tier"] is None
    assert run.case.completed and "disqualification" not in run.data


# --------------------------------------------------------------------------- failures leave the case as it was

def test_a_failing_step_leaves_the_case_as_it_was(engine):
    case = engine.start(INTAKE, {"errors_this_year": 1})  # no leading group members: preparing the vote fails
    run = Run(engine, case)
    run.register()
    run.investigate()
    run.hear()
    before = engine.serialize(run.case)
    with pytest.raises(EngineError, match="leading_group_members"):
        run.conclude()
    assert engine.serialize(run.case) == before
    assert run.open() == ["Task_conclude"]


def test_a_task_that_is_no_longer_open_is_refused(engine):
    run = start(engine)
    task = run.task("Task_register")
    run.register()
    with pytest.raises(TaskNotOpen):
        engine.complete(run.case, task.id, {"register": True, "grounds": [7], "subject": "zhang_wei", "unit": "一科"})
    with pytest.raises(TaskNotOpen):
        engine.complete(run.case, "not-a-task-id", {})


def test_only_declared_system_facts_can_be_injected(engine):
    run = start(engine)
    with pytest.raises(EngineError, match="not system facts: outcome"):
        run.do("Task_register", {"register": True, "grounds": [7], "subject": "zhang_wei", "unit": "一科"},
               facts={"outcome": {}})
