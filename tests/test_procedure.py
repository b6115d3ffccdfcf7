"""The Article 18-20 procedure per respondent: the real BPMN, DMN and forms driven in-process through every path."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from service.workdays import local_date, work_calendar

from service.engine import Case, EngineError, ProcessEngine, TaskNotOpen
from service.forms import FormErrors

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = ["lg_chen", "lg_wu", "lg_zhou"]
INTAKE = {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7],
          "summary": "未按法定程序送达处罚决定书", "act_date": "2026-03-02"}
HANDLER = {"person": "zhang_wei", "role": "handler", "unit": "执法一科"}
REVIEWER = {"person": "wang_fang", "role": "reviewer", "unit": "法制科"}
APPROVER = {"person": "liu_yang", "role": "approver", "unit": "局办公室"}
FINDING = {"handler_fault": 5, "severity": "light"}  # zhang_wei's, unless a test says otherwise


@pytest.fixture(scope="module")
def engine() -> ProcessEngine:
    return ProcessEngine.from_folders(ROOT / "processes", ROOT / "forms")


class Run:
    """Drives one case through the diagram by task name, as the people in each role would."""

    def __init__(self, engine: ProcessEngine, case: Case, members=MEMBERS):
        self.engine, self.case, self.members = engine, case, members

    def open(self) -> list[str]:
        return sorted(t.name for t in self.engine.open_tasks(self.case))

    def tasks(self, name: str):
        return [t for t in self.engine.open_tasks(self.case) if t.name == name]

    def task(self, name: str, who: str | None = None):
        tasks = [t for t in self.tasks(name) if who is None or who in (t.assignee, t.person)]
        assert tasks, f"{name} for {who} is not open; open: {[(t.name, t.assignee, t.person) for t in self.engine.open_tasks(self.case)]}"
        return tasks[0]

    def do(self, name: str, data: dict[str, Any], who: str | None = None, facts=None):
        return self.engine.complete(self.case, self.task(name, who).id, data, facts)

    def roundtrip(self) -> None:
        self.case = self.engine.restore(self.engine.serialize(self.case))

    @property
    def data(self) -> dict[str, Any]:
        return self.case.data

    def outcome(self, person: str = "zhang_wei") -> dict[str, Any]:
        [o] = [o for o in self.data["outcomes"] if o["person"] == person]
        return o

    # the procedure, step by step
    def register(self, *respondents, **extra):
        self.do("Task_register", {"register": True, "grounds": self.data["grounds"],
                                  "respondents": list(respondents or [HANDLER]), **extra})

    def investigate(self, **extra):
        self.do("Task_investigate", {"facts_found": "调查认定的事实（证据1-3）", "evidence": ["证据1", "证据2"],
                                     "investigators": ["office_li", "office_sun"], "act_date": "2026-03-02", **extra})

    def conclude(self, findings: list[dict] | None = None, facts=None, **changes):
        """Findings per person; keyword changes apply to zhang_wei's finding."""
        if findings is None:
            findings = [{"person": "zhang_wei", **FINDING, **changes}]
        return self.do("Task_conclude", {"conclusion": "查明：未按法定程序送达。", "findings": findings}, facts=facts)

    def hear(self, *persons: str):
        """Each person told (or everyone with an open statement task) makes a statement."""
        for person in persons or [t.assignee for t in self.tasks("Task_statement")]:
            self.do("Task_statement", {"statement_waived": False, "statement": "我对事实无异议，请求从轻。"}, person)

    def vote(self, *votes: str, choices: dict[str, str] | None = None):
        for member, vote in zip(self.members, votes):
            data: dict[str, Any] = {"vote": vote}
            if vote == "revise":
                data["opinion"] = "事实认定需补充"
            if vote == "approve" and choices:
                data["measure_choices"] = [{"person": p, "measure": m} for p, m in choices.items()]
            self.do("Task_vote", data, member)
            self.roundtrip()  # as the service does: each vote is saved and restored

    def serve(self):
        for task in self.tasks("Task_serve"):
            self.engine.complete(self.case, task.id, {"decision_number": f"明执追〔2026〕7号-{task.person}",
                                                      "served_on": "2026-11-20", "service_method": "direct"})

    def to_decision(self, findings=None, choices=None, **changes):
        self.register()
        self.investigate()
        self.conclude(findings, **changes)
        self.hear()
        self.vote("approve", "approve", "approve", choices=choices)
        self.serve()


def state(run: Run) -> dict[str, Any]:
    """The case's saved state (compared as data: a restored case may list the same keys in another order)."""
    return json.loads(run.engine.serialize(run.case))


def start(engine, errors: dict[str, int] | None = None, members=MEMBERS, **intake) -> Run:
    intake = {**INTAKE, **intake}
    if intake["channel"] == "public_complaint":
        intake.setdefault("officer", "执法一科张某")
    case = engine.start(intake, {"errors_by_person": errors or {}, "leading_group_members": members})
    return Run(engine, case, members)


def liable_run(engine, **changes) -> Run:
    run = start(engine)
    run.register()
    run.investigate()
    run.conclude(**changes)
    run.hear()
    return run


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
    assert local_date(task.due) == work_calendar().last_day(local_date(task.ready_since), "P15D", "working")  # 政策
    markers = [h["name"] for h in run.case.history() if h["name"] in CHANNEL_MARKERS]
    assert markers == [marker]
    # a named subject is prefilled as the handler, for the office to check
    assert engine.task_data(run.case, task.id)["respondents"] == [HANDLER]


def test_intake_is_checked_against_its_form(engine):
    with pytest.raises(FormErrors) as err:
        engine.start({**INTAKE, "channel": "rumour", "grounds": [21], "act_date": "3 March"}, {})
    assert set(err.value.errors) == {"channel", "grounds[0]", "act_date"}
    assert err.value.errors["act_date"].startswith("应为日期")


def test_a_public_complaint_may_name_the_officer_in_words_and_the_office_identifies_them(engine):
    intake = {"channel": "public_complaint", "officer": "城管执法队 穿制服的张姓队员", "summary": "暴力执法",
              "act_date": "2026-05-01", "reporter": {"name": "王某"}}
    case = engine.start(intake, {"leading_group_members": MEMBERS, "errors_by_person": {}})
    run = Run(engine, case)
    assert engine.task_data(run.case, run.task("Task_register").id)["respondents"] == []  # no one named yet
    with pytest.raises(FormErrors) as err:
        run.do("Task_register", {"register": True, "grounds": [10]})
    assert set(err.value.errors) == {"respondents"}
    run.do("Task_register", {"register": True, "grounds": [10],
                             "respondents": [{"person": "zhang_wei", "role": "handler", "unit": "城管执法队"}]})
    assert (run.data["subject"], run.data["unit"]) == ("zhang_wei", "城管执法队")
    run.investigate()
    run.conclude()
    assert run.task("Task_statement").assignee == "zhang_wei"
    with pytest.raises(FormErrors) as err:
        engine.start({"channel": "inspection", "summary": "s", "act_date": "2026-05-01"}, {})
    assert set(err.value.errors) == {"subject", "unit", "grounds"}


def test_a_person_listed_twice_is_refused_on_respondents(engine):
    run = start(engine)
    before = state(run)
    with pytest.raises(FormErrors) as err:
        run.register(HANDLER, {**REVIEWER, "person": "zhang_wei"})
    assert list(err.value.errors) == ["respondents"] and "zhang_wei" in err.value.errors["respondents"]
    assert state(run) == before


def test_the_office_may_add_a_respondent_during_the_investigation(engine):
    run = start(engine)
    run.register()
    run.investigate(added_respondents=[REVIEWER])
    assert [r["person"] for r in run.data["respondents"]] == ["zhang_wei", "wang_fang"]
    assert [f["person"] for f in engine.task_data(run.case, run.task("Task_conclude").id)["findings"]] == \
        ["zhang_wei", "wang_fang"]


def test_not_registered_closes_with_the_reason(engine):
    run = start(engine)
    run.do("Task_register", {"register": False, "grounds": [7], "not_registered_reason": "不属于执法过错"})
    assert run.case.completed and run.case.end_event == ("End_not_registered", "不予立案，结案")
    assert run.data["not_registered_reason"] == "不属于执法过错"
    assert "outcomes" not in run.data


def test_an_identifiable_reporter_is_told_why_a_complaint_was_not_registered(engine):
    run = start(engine, channel="public_complaint", reporter={"name": "王某", "contact": "13800000000"})
    run.do("Task_register", {"register": False, "grounds": [8], "not_registered_reason": "经核实不属实"})
    assert run.open() == ["Task_notify_reporter"]
    run.do("Task_notify_reporter", {"notified_on": "2026-11-21", "method": "phone", "notice": "经核实不属实"})
    assert run.case.end_event == ("End_not_registered", "不予立案，结案")


def test_not_registering_needs_a_reason_and_a_rejected_form_changes_nothing(engine):
    run = start(engine)
    before = state(run)
    with pytest.raises(FormErrors) as err:
        run.do("Task_register", {"register": False, "grounds": [7]})
    assert err.value.errors == {"not_registered_reason": "必填项，请填写"}
    assert state(run) == before
    assert run.open() == ["Task_register"]


def test_fields_a_form_does_not_define_are_refused(engine):
    run = start(engine)
    with pytest.raises(FormErrors) as err:
        run.do("Task_register", {"register": True, "grounds": [7], "respondents": [HANDLER],
                                 "outcomes": [{"exempt": True}]})
    assert err.value.errors == {"outcomes": "表单中没有此字段"}


# --------------------------------------------------------------------------- hearing

def test_each_respondent_is_told_and_heard_in_a_task_of_their_own(engine):
    run = start(engine)
    run.register(HANDLER, REVIEWER)
    run.investigate()
    run.conclude([{"person": "zhang_wei", **FINDING}, {"person": "wang_fang", "reviewer_missed": True,
                                                       "severity": "light"}])
    tasks = run.tasks("Task_statement")
    assert sorted((t.assignee, t.person, t.role, t.form_key) for t in tasks) == [
        ("wang_fang", "wang_fang", None, "statement"), ("zhang_wei", "zhang_wei", None, "statement")]
    for task in tasks:
        assert task.due == statement_limit(task.ready_since)
        notice = engine.task_data(run.case, task.id)["hearing"]["notice"]
        assert notice["facts_found"] == "调查认定的事实（证据1-3）"
        assert notice["proposal"]["person"] == task.assignee  # each is told their own proposal
        assert notice["proposal"]["tier"] == 2
    assert sorted(t.name for t in engine.pending_timers(run.case)) == ["Timer_statement", "Timer_statement"]
    for timer in engine.pending_timers(run.case):  # the period lapses when the task is due
        assert timer.due == statement_limit(tasks[0].ready_since)


def statement_limit(opened: dt.datetime) -> dt.datetime:
    """政策: the statement period, as Timer_statement and Task_statement write it."""
    return work_calendar().limit_end(opened, "P7D", STATEMENT_DAYS)


STATEMENT_DAYS = "working"


def test_the_statement_period_expiring_records_the_waiver_and_goes_on(engine):
    run = start(engine)
    run.register(HANDLER, REVIEWER)
    run.investigate()
    run.conclude([{"person": "zhang_wei", **FINDING}, {"person": "wang_fang", "reviewer_missed": True,
                                                       "severity": "light"}])
    run.hear("wang_fang")
    [due] = {t.due for t in engine.pending_timers(run.case)}
    assert engine.fire_due_timers(run.case, due - dt.timedelta(minutes=1)).fired == []
    assert run.open() == ["Task_statement"]
    run.roundtrip()
    fired = engine.fire_due_timers(run.case, due + dt.timedelta(seconds=1))
    assert fired.fired == ["Timer_statement"]
    assert run.open() == ["Task_vote"] * 3
    statements = {s["person"]: s for s in run.data["statements"]}
    assert statements["zhang_wei"]["statement_waived"] is True and statements["zhang_wei"]["expired"] is True
    assert statements["wang_fang"]["expired"] is False and statements["wang_fang"]["statement"]
    assert "Script_statement_waived" in [h["name"] for h in run.case.history()]


def test_a_respondent_may_waive_the_statement(engine):
    run = start(engine)
    run.register()
    run.investigate()
    run.conclude()
    run.do("Task_statement", {"statement_waived": True}, "zhang_wei")
    assert run.open() == ["Task_vote"] * 3
    assert run.data["heard"]["zhang_wei"]["statement_waived"] is True


def test_no_decision_without_registration_investigation_and_hearing(engine):
    """Art. 2: the handling decision is only reachable through 立案, 调查 and 陈述申辩 (or its waiver)."""
    run = start(engine)
    for step in (run.register, run.investigate, run.conclude):
        assert "Task_serve" not in run.open() and "Task_vote" not in run.open()
        step()
    assert run.open() == ["Task_statement"]
    run.hear()
    assert run.open() == ["Task_vote"] * 3
    names = [h["name"] for h in run.case.history()]
    assert names.index("Task_register") < names.index("Task_investigate") < names.index("Task_conclude") \
        < names.index("Task_statement")


# --------------------------------------------------------------------------- the office's conclusion

def test_exemption_closes_without_sanction_appeal_or_disqualification(engine):
    run = start(engine)
    run.register()
    run.investigate()
    step = run.conclude(exemption_ground=2)
    assert [(t["decision"], t.get("person")) for t in step.traces] == [("grounds", None),
                                                                      ("exemption", "zhang_wei")]
    outcome = run.outcome()
    assert (outcome["exempt"], outcome["liable"], outcome["aggravated"], outcome["tier"], outcome["measures"],
            outcome["measure"]) == (True, False, False, None, [], None)
    assert outcome["citations"] == ["第五条第（七）项", "第六条第（二）项"]
    run.hear()
    run.vote("approve", "approve", "revise")
    run.serve()
    assert run.case.completed and run.case.end_event == ("End_closed", "结案")
    assert "Task_appeal" not in [h["name"] for h in run.case.history()]
    assert "disqualification" not in run.data


TIERS = {"minor": (1, ["批评教育，责令限期改正"]), "light": (2, ["责令书面检查，给予通报批评"]),
         "serious": (3, ["责令停职检查", "暂停执法活动", "警告处分", "严重警告处分"]),
         "grave": (4, ["记过处分", "记大过处分", "降级处分", "撤职处分", "调离", "辞退", "开除公职"]),
         "criminal": (5, ["移送司法机关依法追究刑事责任"])}
CN = ["", "一", "二", "三", "四", "五"]


@pytest.mark.parametrize("severity", list(TIERS))
def test_each_sanction_tier(engine, severity):
    run = start(engine)
    run.register()
    run.investigate()
    step = run.conclude(severity=severity)
    tier, measures = TIERS[severity]
    outcome = run.outcome()
    assert (outcome["tier"], outcome["measures"], outcome["aggravated"], outcome["liable"]) == \
        (tier, measures, False, True)
    assert outcome["measure"] == (measures[0] if len(measures) == 1 else None)  # several: the group fixes one
    assert outcome["citations"] == ["第五条第（七）项", "第八条第（五）项", f"第十二条第（{CN[tier]}）项"]
    assert [t["decision"] for t in step.traces] == ["grounds", "exemption", "responsibility", "aggravation",
                                                    "sanction"]
    run.hear()
    chosen = measures[-1]
    run.vote("approve", "approve", "approve", choices={"zhang_wei": chosen} if len(measures) > 1 else None)
    assert run.outcome()["measure"] == chosen and run.outcome()["established"] is True
    run.serve()
    assert run.open() == ["Task_appeal"]  # Art. 13: the window opens when the decision carries a sanction
    assert run.task("Task_appeal").assignee == "zhang_wei"


@pytest.mark.parametrize("fact,item", [("corruption", "一"), ("lost_lawsuit", "二"), ("concealed", "四")])
def test_each_art11_item_aggravates(engine, fact, item):
    run = start(engine)
    run.register()
    run.investigate()
    run.conclude(severity="serious", **{fact: True})
    outcome = run.outcome()
    assert outcome["aggravated"] is True and outcome["measures"] == ["严重警告处分"]
    assert outcome["measure"] == "严重警告处分"
    assert f"第十一条第（{item}）项" in outcome["citations"]
    assert "第十二条第（三）项、第十一条" in outcome["citations"]


@pytest.mark.parametrize("count,aggravated", [(2, False), (3, True)])
def test_art11_3_the_third_error_of_the_year_aggravates_and_the_second_does_not(engine, count, aggravated):
    run = start(engine, errors={"zhang_wei": count, "someone_else": 5})
    run.register()
    run.investigate()
    step = run.conclude(severity="grave")
    outcome = run.outcome()
    assert outcome["aggravated"] is aggravated
    assert ("第十一条第（三）项" in outcome["citations"]) is aggravated
    assert outcome["measures"] == (["开除公职"] if aggravated else TIERS["grave"][1])
    [aggravation] = [t for t in step.traces if t["decision"] == "aggravation"]
    assert aggravation["inputs"]["errors_this_year"] == count and aggravation["person"] == "zhang_wei"


def test_art11_3_can_be_given_at_the_step_that_runs_the_tables(engine):
    run = start(engine)
    run.register()
    run.investigate()
    run.conclude(severity="grave", facts={"errors_by_person": {"zhang_wei": 3}})
    assert run.outcome()["aggravated"] is True


def test_reviewer_and_approver_each_get_their_own_outcome(engine):
    run = start(engine)
    run.register(HANDLER, REVIEWER, APPROVER)
    run.investigate()
    run.conclude([{"person": "zhang_wei", **FINDING}, {"person": "wang_fang", "reviewer_missed": True,
                                                       "severity": "light"},
                  {"person": "liu_yang", "review_lax": True, "severity": "minor"}])
    roles = {o["person"]: (o["role"], o["unit"], o["liable"], o["tier"]) for o in run.data["outcomes"]}
    assert roles == {"zhang_wei": ("handler", "执法一科", True, 2), "wang_fang": ("reviewer", "法制科", True, 2),
                     "liu_yang": ("approver", "局办公室", True, 1)}
    assert "第九条" in run.outcome("wang_fang")["citations"] and "第五条第（十九）项" in run.outcome("liu_yang")["citations"]
    assert "第九条" not in run.outcome("zhang_wei")["citations"]
    assert sorted(t.assignee for t in run.tasks("Task_statement")) == ["liu_yang", "wang_fang", "zhang_wei"]


def test_findings_must_match_the_respondents(engine):
    run = start(engine)
    run.register(HANDLER, REVIEWER)
    run.investigate()
    before = state(run)
    for findings, needle in [([{"person": "zhang_wei", **FINDING}], "wang_fang"),
                             ([{"person": "zhang_wei", **FINDING}, {"person": "wang_fang", "severity": "light"},
                               {"person": "zhao_pi", "severity": "light"}], "zhao_pi")]:
        with pytest.raises(FormErrors) as err:
            run.conclude(findings)
        assert list(err.value.errors) == ["findings"] and needle in err.value.errors["findings"]
        assert state(run) == before


def test_decision_traces_are_kept_with_the_case(engine):
    run = start(engine, grounds=[7, 8])
    run.register()
    run.investigate()
    run.conclude(severity="serious", corruption=True)
    run.roundtrip()
    traces = run.case.decision_traces()
    assert [(t["decision"], t["task"]) for t in traces] == [
        ("grounds", "Decision_grounds"), ("grounds", "Decision_grounds"), ("exemption", "Decision_exemption"),
        ("responsibility", "Decision_responsibility"), ("aggravation", "Decision_aggravation"),
        ("sanction", "Decision_sanction")]
    assert all(t["person"] == "zhang_wei" for t in traces[2:])
    sanction = traces[-1]
    assert sanction["inputs"] == {"severity": "serious", "aggravated": True}
    assert sanction["matched"][0]["annotation"].startswith("第十二条第（三）项、第十一条")
    assert len(sanction["version"]) == 64


# --------------------------------------------------------------------------- collective determination

def test_each_member_votes_and_revise_sends_the_case_back_to_the_office(engine):
    run = liable_run(engine)
    votes = run.tasks("Task_vote")
    assert sorted(t.assignee for t in votes) == sorted(MEMBERS)
    assert all(t.role == "leading_group" and t.form_key == "vote" for t in votes)
    run.vote("revise", "revise", "approve")
    assert run.data["resolution"] == "revise"
    assert run.data["votes"] == {"approve": 1, "revise": 2, "recused": 0, "eligible": 3, "quorum": 3}
    assert run.open() == ["Task_conclude"]
    run.conclude(severity="minor")
    assert run.open() == ["Task_vote"] * 3  # lighter than what zhang_wei was told: not heard again
    run.vote("approve", "revise", "approve")
    assert run.data["resolution"] == "approve"
    assert run.open() == ["Task_serve"]
    assert run.outcome()["tier"] == 1 and run.outcome()["established"] is True


def test_a_vote_needs_a_reason_to_send_back(engine):
    run = liable_run(engine)
    with pytest.raises(FormErrors) as err:
        run.do("Task_vote", {"vote": "revise"}, MEMBERS[0])
    assert "opinion" in err.value.errors


def test_respondents_among_the_members_do_not_vote(engine):
    members = ["lg_chen", "lg_wu", "lg_zhou", "zhang_wei"]
    run = start(engine, members=members)
    run.register()
    run.investigate()
    run.conclude()
    run.hear()
    assert sorted(t.assignee for t in run.tasks("Task_vote")) == MEMBERS


# --------------------------------------------------------------------------- appeal and after

@pytest.mark.parametrize("result", ["upheld", "lowered", "revoked", "dismissed"])
def test_appeal_with_each_result(engine, result):
    run = start(engine)
    run.to_decision(severity="serious", choices={"zhang_wei": "严重警告处分"})
    run.do("Task_appeal", {"appeal": True, "appeal_reason": "处分过重"}, "zhang_wei")
    reviews = run.tasks("Task_review")
    assert sorted(t.assignee for t in reviews) == MEMBERS  # collective review
    assert all((t.role, t.form_key, t.person) == ("leading_group", "appeal_review", "zhang_wei") for t in reviews)
    data = {"review_vote": result, "review_reason": "复查意见"}
    if result == "lowered":
        data["lowered_measure"] = "警告处分"
    for member in MEMBERS:
        run.do("Task_review", data, member)
    if result == "revoked":
        assert run.case.completed and "disqualification" not in run.data  # no Art. 14/15 after revocation
        outcome = run.outcome()
        assert outcome["revoked"] is True and outcome["established"] is False
    else:
        assert run.open() == ["Task_recovery"]
        outcome = run.data["outcomes"][0]
    assert outcome["appeal"] is True and outcome["appeal_result"] == result and "第十三条" in outcome["citations"]
    assert outcome["review_votes"][result] == 3
    if result == "revoked":
        return
    assert outcome["measure"] == ("警告处分" if result == "lowered" else "严重警告处分")
    assert outcome["tier"] == 3
    run.do("Task_recovery", {"compensation_paid": 2000, "recovery": [{"person": "zhang_wei", "amount": 800}],
                             "main_responsible": "zhang_wei"})
    assert run.case.end_event == ("End_closed", "结案")
    assert run.data["disqualification"] == {"entries": [{"person": "zhang_wei", "unit": "执法一科", "year": 2026}],
                                            "citation": "第十五条"}


def test_the_appeal_window_expiring_means_no_appeal(engine):
    run = start(engine)
    run.to_decision()
    [timer] = engine.pending_timers(run.case)
    [task] = run.tasks("Task_appeal")
    assert timer.due == work_calendar().limit_end(task.ready_since, "P30D", "calendar")  # 政策: 30 days
    assert engine.fire_due_timers(run.case, timer.due - dt.timedelta(minutes=1)).fired == []
    assert engine.fire_due_timers(run.case, timer.due + dt.timedelta(seconds=1)).fired == ["Timer_appeal"]
    assert run.open() == ["Task_recovery"]
    assert run.outcome()["appeal"] is False and run.outcome()["appeal_expired"] is True


def test_declining_to_appeal_goes_to_recovery(engine):
    run = start(engine)
    run.to_decision()
    run.do("Task_appeal", {"appeal": False}, "zhang_wei")
    run.do("Task_recovery", {"compensation_paid": 0, "recovery": []})
    assert run.case.completed and [e["person"] for e in run.data["disqualification"]["entries"]] == ["zhang_wei"]
    assert run.outcome()["appeal"] is False and run.outcome()["served_on"] == "2026-11-20"


def test_no_one_liable_needs_an_exemption_ground(engine):
    run = start(engine)
    run.register()
    run.investigate()
    with pytest.raises(FormErrors) as err:
        run.conclude(handler_fault=0)
    assert list(err.value.errors) == ["findings"]


# --------------------------------------------------------------------------- failures leave the case as it was

def test_a_failing_step_leaves_the_case_as_it_was(engine):
    case = engine.start(INTAKE, {"errors_by_person": {}})  # no leading group members: preparing the vote fails
    run = Run(engine, case)
    run.register()
    run.investigate()
    run.conclude()
    before = state(run)
    with pytest.raises(EngineError, match="leading_group_members"):
        run.hear()
    assert state(run) == before
    assert run.open() == ["Task_statement"]


def test_a_task_that_is_no_longer_open_is_refused(engine):
    run = start(engine)
    task = run.task("Task_register")
    run.register()
    with pytest.raises(TaskNotOpen):
        engine.complete(run.case, task.id, {"register": True, "grounds": [7], "respondents": [HANDLER]})
    with pytest.raises(TaskNotOpen):
        engine.complete(run.case, "not-a-task-id", {})


def test_only_declared_system_facts_can_be_injected(engine):
    run = start(engine)
    with pytest.raises(EngineError, match="not system facts: errors_this_year, outcomes"):
        run.do("Task_register", {"register": True, "grounds": [7], "respondents": [HANDLER]},
               facts={"outcomes": [], "errors_this_year": 1})
    run.do("Task_register", {"register": True, "grounds": [7], "respondents": [HANDLER]},
           facts={"errors_by_person": {"zhang_wei": 1}, "today": "2026-03-10"})
