"""Persons, not cases: several respondents in one case, through the case service (SQLite and PostgreSQL).

One act with three respondents — handler zhang_wei (执法一科), reviewer wang_fang (法制科), approver liu_yang
(局办公室, who is also in the office and the leading group) — each told and heard, each with their own Art. 11(3)
count, aggravation and measure, each served, the reviewer's appeal reviewed collectively; and the Art. 11(3)
count leaves out the cases that must not count."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from service.auth import Principal
from service.errors import Forbidden, Invalid, NotFound
from service.store.models import Case, Event, Task
from service.store.repository import Store

OFFICE = Principal("office_li", frozenset({"office"}))
MEMBERS = [Principal(m, frozenset({"leading_group"})) for m in ("lg_chen", "lg_wu", "lg_zhou")]
ZHANG, WANG = Principal("zhang_wei"), Principal("wang_fang")
# liu_yang is a respondent who also holds the office and leading-group roles
LIU = Principal("liu_yang", frozenset({"office", "leading_group"}))
REPORTER = {"name": "钱举报", "contact": "13800009999"}
RESPONDENTS = [{"person": "zhang_wei", "role": "handler", "unit": "执法一科"},
               {"person": "wang_fang", "role": "reviewer", "unit": "法制科"},
               {"person": "liu_yang", "role": "approver", "unit": "局办公室"}]
FINDINGS = [{"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
            {"person": "wang_fang", "reviewer_missed": True, "severity": "serious"},
            {"person": "liu_yang", "review_lax": True, "severity": "serious"}]
YEAR = 2026


def tasks(svc, who: Principal, case_id: int, name: str) -> list[dict[str, Any]]:
    return svc.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items


def step(svc, who: Principal, case_id: int, name: str, data: dict[str, Any], person: str | None = None):
    found = [t for t in tasks(svc, who, case_id, name) if person is None or t["person"] == person]
    assert found, f"{who.username} has no {name} ({person}) in case {case_id}"
    return svc.cases.complete(who, found[0]["id"], data)


def start(svc, subject: str = "wang_fang", unit: str = "执法二科", act_date: str = f"{YEAR}-03-02") -> int:
    return svc.cases.start_case(OFFICE, {"channel": "inspection", "subject": subject, "unit": unit, "grounds": [7],
                                         "summary": "未按程序送达", "act_date": act_date})["id"]


def register_and_investigate(svc, case_id: int, respondents: list[dict[str, str]], act_date: str) -> None:
    step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "respondents": respondents})
    step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明的事实", "evidence": ["案卷"],
                                                    "investigators": ["office_li", "office_sun"],
                                                    "act_date": act_date})


def conclude_and_hear(svc, case_id: int, findings: list[dict[str, Any]]) -> None:
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": findings})
    for f in findings:
        step(svc, Principal(f["person"]), case_id, "Task_statement", {"statement_waived": True})


def vote(svc, case_id: int, choices: list[dict[str, str]] | None = None) -> None:
    for member in MEMBERS:
        step(svc, member, case_id, "Task_vote", {"vote": "approve", "measure_choices": choices or []})


def serve_all(svc, case_id: int, served_on: str = f"{YEAR}-11-20") -> None:
    for t in tasks(svc, OFFICE, case_id, "Task_serve"):
        svc.cases.complete(OFFICE, t["id"], {"decision_number": "明执追〔2026〕1号", "served_on": served_on,
                                              "service_method": "direct"})


def decided_case(svc, person: str, act_date: str, **finding) -> int:
    """A case of one handler, decided by the leading group (so established when liable)."""
    case_id = start(svc, person, "执法二科", act_date)
    register_and_investigate(svc, case_id, [{"person": person, "role": "handler", "unit": "执法二科"}], act_date)
    conclude_and_hear(svc, case_id, [{"person": person, "handler_fault": 5, "severity": "light", **finding}])
    vote(svc, case_id)
    return case_id


def snapshot(svc, case_id: int) -> dict[str, Any]:
    with svc.db.session() as s:
        events = s.scalar(select(func.count()).select_from(Event).where(Event.case_id == case_id))
        rows = s.scalars(select(Task).where(Task.case_id == case_id))
        return {"stage": s.get(Case, case_id).stage, "events": events,
                "tasks": sorted((t.id, t.name, t.state) for t in rows)}


def traces(svc, case_id: int, decision: str) -> dict[str, dict[str, Any]]:
    return {t["person"]: t for t in svc.cases.get_case(OFFICE, case_id)["decisions"] if t["decision"] == decision}


def outcomes(svc, case_id: int) -> dict[str, dict[str, Any]]:
    return {o["person"]: o for o in svc.cases.get_case(OFFICE, case_id)["outcomes"]}


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def respondent_views(svc, who: Principal, case_id: int) -> str:
    texts = [dump(svc.cases.list_tasks(who).items), dump(svc.cases.list_cases(who).items)]
    case = svc.cases.get_case(who, case_id)
    texts.append(dump(case))
    texts += [dump(svc.cases.get_task(who, t["id"])) for t in case["tasks"]]
    return "\n".join(texts)


# --------------------------------------------------------------------------- three respondents, one case

def test_three_respondents_each_heard_decided_served_and_one_appeals(services):
    svc = services.cases
    # wang_fang's two earlier established errors of the year (as handler), so this case is her third
    earlier = [decided_case(services, "wang_fang", f"{YEAR}-0{m}-10") for m in (1, 2)]
    with services.db.session() as s, s.begin():
        store = Store(s)
        store.set_roles(store.user("liu_yang"), ["office", "leading_group"])
        assert store.count_established("wang_fang", YEAR, exclude_case=None) == 2
        assert store.count_established("zhang_wei", YEAR, exclude_case=None) == 0

    svc.start_case(None, {"officer": "执法人员三名", "summary": "处罚程序违法", "act_date": f"{YEAR}-05-10",
                          "reporter": REPORTER})
    case_id = max(c["id"] for c in svc.list_cases(OFFICE, filters={"channel": "public_complaint"}).items)

    # registration naming an unknown account: 422 on that field, nothing changed
    before = snapshot(services, case_id)
    [register] = tasks(services, OFFICE, case_id, "Task_register")
    bad = [RESPONDENTS[0], {"person": "nobody_here", "role": "reviewer", "unit": "法制科"}]
    with pytest.raises(Invalid) as err:
        svc.complete(OFFICE, register["id"], {"register": True, "grounds": [7], "respondents": bad})
    assert list(err.value.fields) == ["respondents[1].person"]
    assert snapshot(services, case_id) == before
    assert [t["id"] for t in tasks(services, OFFICE, case_id, "Task_register")] == [register["id"]]

    register_and_investigate(services, case_id, RESPONDENTS, f"{YEAR}-05-10")
    # liu_yang holds the office role but is a respondent: no part in the office's work on their own case
    [conclude] = tasks(services, OFFICE, case_id, "Task_conclude")
    with pytest.raises((Forbidden, NotFound)):
        svc.complete(LIU, conclude["id"], {"conclusion": "x", "findings": FINDINGS})
    with pytest.raises((Forbidden, NotFound)):
        svc.claim(LIU, conclude["id"])
    with pytest.raises(NotFound):
        svc.get_case(LIU, case_id)  # nothing to see before their own task
    assert tasks(services, LIU, case_id, "Task_conclude") == []  # nor in their inbox
    step(services, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": FINDINGS})

    # each respondent has their own statement task, only they can complete it
    statements = {t["person"]: t for t in svc.list_tasks(OFFICE).items if t["name"] == "Task_statement"}
    assert statements == {}  # office staff do not get them
    own = {p: tasks(services, Principal(p), case_id, "Task_statement") for p in ("zhang_wei", "wang_fang", "liu_yang")}
    assert {p: [(t["assignee"], t["person"]) for t in ts] for p, ts in own.items()} == {
        p: [(p, p)] for p in own}
    zhang_task = own["zhang_wei"][0]
    for other in (WANG, LIU):
        with pytest.raises(NotFound):
            svc.complete(other, zhang_task["id"], {"statement_waived": True})
    with pytest.raises(Forbidden):
        svc.complete(OFFICE, zhang_task["id"], {"statement_waived": True})
    # what zhang_wei is told: the facts and his own proposal, never the reporter nor the others' findings
    told = svc.get_task(ZHANG, zhang_task["id"])["case"]
    assert told["hearing"]["person"] == "zhang_wei" and told["hearing"]["notice"]["proposal"]["tier"] == 2
    assert not {"findings", "respondents", "outcomes", "statements", "reporter"} & set(told)
    for p, ts in own.items():
        svc.complete(Principal(p), ts[0]["id"], {"statement_waived": False, "statement": f"{p} 的陈述"})

    # each person's own Art. 11(3) count and aggravation
    agg = traces(services, case_id, "aggravation")
    assert {p: t["inputs"]["errors_this_year"] for p, t in agg.items()} == {"zhang_wei": 1, "wang_fang": 3,
                                                                          "liu_yang": 1}
    proposal = outcomes(services, case_id)
    assert [(p, o["aggravated"], o["tier"], o["measure"]) for p, o in proposal.items()] == [
        ("zhang_wei", False, 2, "责令书面检查，给予通报批评"), ("wang_fang", True, 3, "严重警告处分"),
        ("liu_yang", False, 3, None)]
    assert "第十一条第（三）项" in proposal["wang_fang"]["citations"]
    assert "第十一条第（三）项" not in proposal["zhang_wei"]["citations"]

    # the vote: liu_yang (a leading-group member) is recused as a respondent and has no ballot
    assert tasks(services, LIU, case_id, "Task_vote") == []
    ballots = [t for m in MEMBERS for t in tasks(services, m, case_id, "Task_vote")]
    assert sorted(t["assignee"] for t in ballots) == ["lg_chen", "lg_wu", "lg_zhou"]
    with pytest.raises((Forbidden, NotFound)):
        svc.complete(LIU, ballots[0]["id"], {"vote": "approve"})
    with pytest.raises(Invalid) as err:  # liu_yang's tier offers four measures: the group must fix one
        svc.complete(MEMBERS[0], ballots[0]["id"], {"vote": "approve"})
    assert "measure_choices" in err.value.fields
    vote(services, case_id, [{"person": "liu_yang", "measure": "警告处分"}])
    decided = outcomes(services, case_id)
    assert {p: (o["measure"], o["established"]) for p, o in decided.items()} == {
        "zhang_wei": ("责令书面检查，给予通报批评", True), "wang_fang": ("严重警告处分", True), "liu_yang": ("警告处分", True)}

    # each is served their own decision; a respondent sees only their own outcome, and only once served
    serve = {t["person"]: t for t in tasks(services, OFFICE, case_id, "Task_serve")}
    assert sorted(serve) == ["liu_yang", "wang_fang", "zhang_wei"]
    with pytest.raises((Forbidden, NotFound)):
        svc.complete(LIU, serve["liu_yang"]["id"], {"decision_number": "x", "served_on": f"{YEAR}-11-20",
                                                    "service_method": "direct"})
    assert svc.get_case(ZHANG, case_id)["outcomes"] == []
    assert [t for t in svc.list_tasks(LIU).items if t["case_id"] == case_id] == []  # no Task_serve of their own
    for n, person in enumerate(("zhang_wei", "wang_fang", "liu_yang")):
        svc.complete(OFFICE, serve[person]["id"], {"decision_number": f"明执追〔2026〕{n + 5}号",
                                                    "served_on": f"{YEAR}-11-2{n}", "service_method": "direct"})
        if person == "zhang_wei":
            assert [o["person"] for o in svc.get_case(ZHANG, case_id)["outcomes"]] == ["zhang_wei"]
            assert svc.get_case(WANG, case_id)["outcomes"] == []
    view = svc.get_case(OFFICE, case_id)
    assert {r["person"]: (r["role"], r["unit"], r["served_on"]) for r in view["respondents"]} == {
        "zhang_wei": ("handler", "执法一科", f"{YEAR}-11-20"), "wang_fang": ("reviewer", "法制科", f"{YEAR}-11-21"),
        "liu_yang": ("approver", "局办公室", f"{YEAR}-11-22")}
    for who in (ZHANG, WANG, LIU):
        mine = svc.get_case(who, case_id)["outcomes"]
        assert [o["person"] for o in mine] == [who.username]
        text = respondent_views(services, who, case_id)
        assert REPORTER["name"] not in text and REPORTER["contact"] not in text, who.username
        assert "respondents" not in svc.get_case(who, case_id)
    assert "第八条第（五）项" not in respondent_views(services, WANG, case_id)  # zhang_wei's finding
    assert "第九条" not in respondent_views(services, ZHANG, case_id)  # wang_fang's finding

    # the reviewer appeals; the review is collective and never heavier
    step(services, ZHANG, case_id, "Task_appeal", {"appeal": False})
    step(services, LIU, case_id, "Task_appeal", {"appeal": False})
    step(services, WANG, case_id, "Task_appeal", {"appeal": True, "appeal_reason": "审核时已尽到注意义务"})
    reviews = {t["assignee"]: t for m in MEMBERS for t in tasks(services, m, case_id, "Task_review")}
    assert sorted(reviews) == ["lg_chen", "lg_wu", "lg_zhou"]
    assert {t["person"] for t in reviews.values()} == {"wang_fang"}
    assert tasks(services, LIU, case_id, "Task_review") == []
    for heavier in ("开除公职", "严重警告处分"):
        before = snapshot(services, case_id)
        with pytest.raises(Invalid) as err:
            svc.complete(MEMBERS[0], reviews["lg_chen"]["id"], {"review_vote": "lowered", "lowered_measure": heavier,
                                                                 "review_reason": "降低"})
        assert list(err.value.fields) == ["lowered_measure"]
        assert snapshot(services, case_id) == before
    svc.complete(MEMBERS[0], reviews["lg_chen"]["id"], {"review_vote": "lowered", "lowered_measure": "警告处分",
                                                         "review_reason": "情节较轻"})
    svc.complete(MEMBERS[1], reviews["lg_wu"]["id"], {"review_vote": "lowered", "lowered_measure": "警告处分",
                                                       "review_reason": "情节较轻"})
    svc.complete(MEMBERS[2], reviews["lg_zhou"]["id"], {"review_vote": "upheld", "review_reason": "维持"})
    reviewed = outcomes(services, case_id)["wang_fang"]
    assert (reviewed["appeal"], reviewed["appeal_result"], reviewed["measure"]) == (True, "lowered", "警告处分")
    assert reviewed["review_votes"]["lowered"] == 2 and reviewed["established"] is True

    step(services, OFFICE, case_id, "Task_recovery", {"compensation_paid": 0, "recovery": []})
    closed = svc.get_case(OFFICE, case_id)
    assert (closed["status"], closed["end_event"]) == ("closed", "结案")
    assert [(o["person"], o["appeal_result"]) for o in closed["outcomes"]] == [
        ("zhang_wei", None), ("wang_fang", "lowered"), ("liu_yang", None)]

    # Art. 15: each liable person with their own unit, and the units
    register_rows = [r for r in svc.disqualifications(OFFICE, YEAR) if r["case_id"] == case_id]
    assert sorted((r["kind"], r["name"], r["unit"]) for r in register_rows) == sorted([
        ("person", "liu_yang", "局办公室"), ("person", "wang_fang", "法制科"), ("person", "zhang_wei", "执法一科"),
        ("unit", "执法一科", None), ("unit", "法制科", None), ("unit", "局办公室", None)])
    with pytest.raises(Forbidden):
        svc.disqualifications(ZHANG, YEAR)
    assert earlier  # the earlier cases are decided, waiting to be served


# --------------------------------------------------------------------------- Art. 11(3): what must not count

def test_art11_3_counts_only_the_persons_established_errors_of_the_year(services):
    svc = services.cases
    act = f"{YEAR}-04-01"
    # exempt (Art. 6(1) frees the handler), decided
    decided_case(services, "wang_fang", act, exemption_ground=1)
    # not registered
    not_registered = start(services, "wang_fang", "执法二科", act)
    step(services, OFFICE, not_registered, "Task_register", {
        "register": False, "grounds": [7], "not_registered_reason": "不构成过错",
        "respondents": [{"person": "wang_fang", "role": "handler", "unit": "执法二科"}]})
    # nobody liable on her part: she was the approver without fault, the handler is liable; decided
    not_liable = start(services, "zhang_wei", "执法一科", act)
    register_and_investigate(services, not_liable, [{"person": "zhang_wei", "role": "handler", "unit": "执法一科"},
                                                    {"person": "wang_fang", "role": "approver", "unit": "执法二科"}],
                             act)
    conclude_and_hear(services, not_liable, [{"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
                                             {"person": "wang_fang", "severity": "light"}])
    vote(services, not_liable)
    # revoked on appeal
    revoked = decided_case(services, "wang_fang", act)
    serve_all(services, revoked)
    step(services, WANG, revoked, "Task_appeal", {"appeal": True, "appeal_reason": "事实不清"})
    for m in MEMBERS:
        step(services, m, revoked, "Task_review", {"review_vote": "revoked", "review_reason": "撤销"})
    # still open: proposed and heard, the group has not decided
    still_open = start(services, "wang_fang", "执法二科", act)
    register_and_investigate(services, still_open, [{"person": "wang_fang", "role": "handler", "unit": "执法二科"}],
                             act)
    conclude_and_hear(services, still_open, [{"person": "wang_fang", "handler_fault": 5, "severity": "light"}])

    assert svc.get_case(OFFICE, not_registered)["status"] == "closed"
    assert {p: (o["liable"], o["established"]) for p, o in outcomes(services, not_liable).items()} == {
        "zhang_wei": (True, True), "wang_fang": (False, False)}
    assert outcomes(services, revoked)["wang_fang"]["revoked"] is True
    assert outcomes(services, still_open)["wang_fang"]["liable"] is True
    with services.db.session() as s:
        store = Store(s)
        assert store.count_established("wang_fang", YEAR, exclude_case=None) == 0
        assert store.count_established("zhang_wei", YEAR, exclude_case=None) == 1  # the count does count
    # a later case of hers: the service supplies errors_by_person — this one only
    later = start(services, "wang_fang", "执法二科", f"{YEAR}-09-01")
    register_and_investigate(services, later, [{"person": "wang_fang", "role": "handler", "unit": "执法二科"},
                                               {"person": "zhang_wei", "role": "reviewer", "unit": "执法一科"}],
                             f"{YEAR}-09-01")
    step(services, OFFICE, later, "Task_conclude", {"conclusion": "结论", "findings": [
        {"person": "wang_fang", "handler_fault": 5, "severity": "light"},
        {"person": "zhang_wei", "reviewer_missed": True, "severity": "light"}]})
    agg = traces(services, later, "aggravation")
    assert agg["wang_fang"]["inputs"]["errors_this_year"] == 1
    assert agg["zhang_wei"]["inputs"]["errors_this_year"] == 2
    assert outcomes(services, later)["wang_fang"]["aggravated"] is False
