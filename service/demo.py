"""Demo users and cases in several states, made through the service layer like real work."""
from __future__ import annotations

from typing import Any

from .auth import Principal, hash_password
from .store.repository import Store

USERS = [
    ("office_li", ["office"], "执法监督科", "李主任", "领导小组办公室"),
    ("office_sun", ["office"], "执法监督科", "孙科员", "领导小组办公室"),
    ("lg_chen", ["leading_group"], "局领导", "陈局长", "领导小组成员"),
    ("lg_wu", ["leading_group"], "局领导", "吴副局长", "领导小组成员"),
    ("lg_zhou", ["leading_group"], "局领导", "周副局长", "领导小组成员"),
    ("admin", ["admin"], "信息中心", "系统管理员", "系统管理员"),
    ("owner_he", ["owner"], "法制科", "何科长", "流程负责人：流程图、决策表、表单的草稿、检查、部署与案件迁移"),
    ("reviewer", ["reviewer"], "法制科", "合规审查员", "只读：决策表与追溯"),
    ("zhang_wei", [], "执法一科", "张伟", "执法人员（承办人，多案当事人）"),
    ("wang_fang", [], "法制科", "王芳", "执法人员（审核人，案件当事人）"),
    ("liu_yang", [], "局办公室", "刘洋", "执法人员（批准人，案件当事人）"),
]
# 职务 of the officers, printed in the decisions served on them
POSTS = {"zhang_wei": "一级行政执法员", "wang_fang": "法制审核员", "liu_yang": "办公室主任"}
# the leading group has three members who are never respondents of a demo case: every vote has its quorum of 3

FACTS = "调查查明的事实，见询问笔录、处罚决定书和送达回证（证据一至三）。"


def respondent(person: str, role: str) -> dict[str, str]:
    unit = next(u for name, _, u, _, _ in USERS if name == person)
    return {"person": person, "role": role, "unit": unit}


def load_demo(services, password: str) -> list[tuple[str, str, str]]:
    """Create the demo users (if missing) and, on an empty database, demo cases. Returns the accounts."""
    with services.db.session() as s, s.begin():
        store = Store(s)
        for username, roles, unit, name, _ in USERS:
            if store.user(username) is None:
                store.add_user(username, display_name=name, unit=unit, password_hash=hash_password(password),
                               roles=roles).post = POSTS.get(username)
        has_cases = store.cases(filters={}, visible_to_subject=None, page=1, per_page=1).total > 0
    if not has_cases:
        _cases(services.cases)
    return [(u, ",".join(r) or "officer", note) for u, r, _, _, note in USERS]


def _cases(svc) -> None:
    office = Principal("office_li", frozenset({"office"}))
    members = [Principal(m, frozenset({"leading_group"})) for m in ("lg_chen", "lg_wu", "lg_zhou")]

    def step(case_id: int, who: Principal, name: str, data: dict[str, Any], person: str | None = None) -> None:
        task = next(t for t in svc.list_tasks(who, filters={"case_id": case_id, "name": name}).items
                    if person is None or t["person"] == person)
        svc.complete(who, task["id"], data)

    def until_statements(case_id: int, respondents: list[dict[str, str]], grounds: list[int], act_date: str,
                         findings: list[dict[str, Any]]) -> None:
        step(case_id, office, "Task_register", {"register": True, "grounds": grounds, "respondents": respondents,
                                                "registration_note": "符合立案条件"})
        step(case_id, office, "Task_investigate", {"facts_found": FACTS, "evidence": ["询问笔录", "处罚决定书", "送达回证"],
                                                   "investigators": ["office_li", "office_sun"], "act_date": act_date})
        step(case_id, office, "Task_conclude", {"conclusion": "经调查，逐人认定如下：见逐人认定。", "findings": findings})

    def hear(case_id: int, persons: list[str]) -> None:
        for person in persons:
            step(case_id, Principal(person), "Task_statement", {"statement_waived": False,
                                                                "statement": "对认定的事实无异议，系工作疏忽。"})

    # 1. a public complaint waiting for registration (the reporter is known to the office only)
    svc.start_case(None, {"officer": "执法一科 张姓执法人员", "unit": "执法一科", "act_date": "2026-10-08",
                          "summary": "在市场检查中未出示执法证件，当场作出罚款且未开具票据。",
                          "reporter": {"name": "赵先生", "contact": "13900001111"}})
    # 2. an inspection finding with three respondents, waiting for their statements (one has been heard)
    c2 = svc.start_case(office, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                 "grounds": [4, 7], "act_date": "2026-03-12",
                                 "summary": "内部执法检查发现：一起行政处罚案件未履行告知程序，审核、批准均未发现。"})["id"]
    until_statements(c2, [respondent("zhang_wei", "handler"), respondent("wang_fang", "reviewer"),
                          respondent("liu_yang", "approver")], [4, 7], "2026-03-12",
                     [{"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
                      {"person": "wang_fang", "reviewer_missed": True, "severity": "light"},
                      {"person": "liu_yang", "severity": "minor"}])
    hear(c2, ["liu_yang"])
    # 3. a self-report waiting for the leading group's vote (one member has voted)
    c3 = svc.start_case(Principal("wang_fang"), {"channel": "self_report", "subject": "wang_fang", "unit": "法制科",
                                                 "grounds": [6], "act_date": "2026-06-02",
                                                 "summary": "本人在一起案件中适用法律条款错误，主动报告。"})["id"]
    until_statements(c3, [respondent("wang_fang", "handler")], [6], "2026-06-02",
                     [{"person": "wang_fang", "handler_fault": 6, "severity": "minor", "self_reported": True,
                       "self_reported_on": "2026-06-03"}])
    hear(c3, ["wang_fang"])
    step(c3, members[0], "Task_vote", {"vote": "approve", "opinion": "同意"})
    # 4. a superior referral, decided per person and closed: the handler liable, the approver not
    c4 = svc.start_case(office, {"channel": "superior_referral", "subject": "zhang_wei", "unit": "执法一科",
                                 "grounds": [2], "act_date": "2026-02-20",
                                 "summary": "市局转来：一起行政处罚被复议机关撤销。"})["id"]
    until_statements(c4, [respondent("zhang_wei", "handler"), respondent("liu_yang", "approver")], [2], "2026-02-20",
                     [{"person": "zhang_wei", "handler_fault": 6, "severity": "serious"},
                      {"person": "liu_yang", "severity": "light"}])
    hear(c4, ["zhang_wei", "liu_yang"])
    for m in members:
        step(c4, m, "Task_vote", {"vote": "approve", "opinion": "同意",
                                  "measure_choices": [{"person": "zhang_wei", "measure": "警告处分"}]})
    for n, person in enumerate(("zhang_wei", "liu_yang")):
        step(c4, office, "Task_serve", {"decision_number": f"明执追〔2026〕{3 + n}号", "served_on": "2026-09-01",
                                        "service_method": "direct"}, person=person)
    step(c4, Principal("zhang_wei"), "Task_appeal", {"appeal": False})
    step(c4, office, "Task_recovery", {"compensation_paid": 0, "recovery": []})
    # 5. an inspection finding not registered
    c5 = svc.start_case(office, {"channel": "inspection", "subject": "liu_yang", "unit": "局办公室", "grounds": [4],
                                 "act_date": "2026-07-01", "summary": "检查中发现的文书瑕疵。"})["id"]
    step(c5, office, "Task_register", {"register": False, "grounds": [4],
                                       "not_registered_reason": "属文书笔误，已当场更正，不构成执法过错。"})
