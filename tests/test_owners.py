"""Procedure owners and reviewers: versions, diffs, moving open cases, rule usage (SQLite and PostgreSQL)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from service.auth import Principal
from service.bundle import Bundle
from service.cases.migration import PERSONLESS
from service.errors import Forbidden, Invalid
from service.store.models import CaseState, Event, Task, Timer
from service.store.repository import Store

ROOT = Path(__file__).resolve().parent.parent
OFFICE = Principal("office_li", frozenset({"office"}))
ADMIN = Principal("admin", frozenset({"admin"}))
REVIEWER = Principal("reviewer", frozenset({"reviewer"}))
INTAKE = {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7], "summary": "s",
          "act_date": "2026-03-02"}
REGISTRATION = {"register": True, "grounds": [7], "respondents": [
    {"person": "zhang_wei", "role": "handler", "unit": "执法一科"},
    {"person": "wang_fang", "role": "reviewer", "unit": "法制科"}]}
CONCLUSION = {"conclusion": "c", "findings": [{"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
                                              {"person": "wang_fang", "reviewer_missed": True, "severity": "minor"}]}
STATEMENT_TIMER = ('<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P7D</bpmn:timeDuration>',
                   '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P10D</bpmn:timeDuration>')
PRE_PERSON_COMMIT = "dde16b5"  # the last version of the procedure with one subject per case


def step(services, who, case_id, name, data):
    task = services.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items[0]
    return services.cases.complete(who, task["id"], data)


def to_conclusion(services, case_id: int | None = None) -> int:
    case_id = case_id or services.cases.start_case(OFFICE, INTAKE)["id"]
    step(services, OFFICE, case_id, "Task_register", REGISTRATION)
    step(services, OFFICE, case_id, "Task_investigate", {"facts_found": "f", "evidence": ["e"],
                                                         "investigators": ["a", "b"], "act_date": "2026-03-02"})
    return case_id


def to_statement(services) -> int:
    """Two respondents, each with their own statement task."""
    case_id = to_conclusion(services)
    step(services, OFFICE, case_id, "Task_conclude", CONCLUSION)
    return case_id


def hear(services, case_id: int) -> None:
    for person in ("zhang_wei", "wang_fang"):
        step(services, Principal(person), case_id, "Task_statement", {"statement_waived": True})


def edited(services, **replacements: str) -> dict[str, bytes]:
    """Version 1's files (as deployed: processes/ may change on disk meanwhile) with these replacements."""
    with services.db.session() as s:
        files = Store(s).deployment_files(1)
    for name, (old, new) in replacements.items():
        text = files[name].decode("utf-8")
        assert old in text
        files[name] = text.replace(old, new).encode("utf-8")
    return files


def test_moving_open_cases_moves_what_it_may_and_refuses_what_it_must(services):
    at_registration = services.cases.start_case(OFFICE, INTAKE)["id"]
    at_statement = to_statement(services)
    # v2 renames the hearing step: a case waiting in it cannot move, the one at registration can
    renamed = edited(services, **{"processes/accountability_case.bpmn": ("Task_statement", "Task_hearing")})
    v2, created = services.owners.upload(ADMIN, {"accountability_case.bpmn":
                                                 renamed["processes/accountability_case.bpmn"]})
    assert (v2, created) == (2, True)
    check = services.cases.migration_check(ADMIN, 1, v2)
    assert [c["id"] for c in check["movable"]] == [at_registration]
    [blocked] = check["blocked"]
    assert blocked["id"] == at_statement and "Task_statement" in blocked["reasons"][0]
    with services.db.session() as s:
        before = s.scalar(select(CaseState.state).where(CaseState.case_id == at_statement))
    result = services.cases.migrate(ADMIN, [at_registration, at_statement], v2)
    assert result["moved"] == [at_registration]
    assert result["refused"][0]["id"] == at_statement
    with services.db.session() as s:
        after = s.scalar(select(CaseState.state).where(CaseState.case_id == at_statement))
        moved_events = s.scalars(select(Event).where(Event.kind == "migrated")).all()
    assert after == before  # the refused case is untouched
    assert [(e.case_id, e.detail) for e in moved_events] == [(at_registration, {"source": 1, "target": 2,
                                                                                "deadlines": "keep"})]
    assert services.cases.get_case(OFFICE, at_registration)["deployment"] == 2
    assert services.cases.get_case(OFFICE, at_statement)["deployment"] == 1
    # both go on: the moved one through the renamed step of v2, the other on v1
    to_conclusion(services, at_registration)
    step(services, OFFICE, at_registration, "Task_conclude", CONCLUSION)
    for person in ("zhang_wei", "wang_fang"):
        assert sorted((t["case_id"], t["name"], t["person"]) for t in services.cases.list_tasks(
            Principal(person)).items) == [(at_registration, "Task_hearing", person),
                                          (at_statement, "Task_statement", person)]


def test_a_moved_case_uses_the_new_tables(services):
    case_id = to_conclusion(services)
    v2, _ = services.owners.upload(ADMIN, {"sanction.dmn": edited(
        services, **{"processes/sanction.dmn": ('"责令书面检查，给予通报批评"', '"书面检查并通报批评"')})["processes/sanction.dmn"]})
    assert services.cases.migrate(ADMIN, [case_id], v2)["moved"] == [case_id]
    step(services, OFFICE, case_id, "Task_conclude", CONCLUSION)
    measures = {o["person"]: o["measure"] for o in services.cases.get_case(OFFICE, case_id)["outcomes"]}
    assert measures == {"zhang_wei": "书面检查并通报批评", "wang_fang": "批评教育，责令限期改正"}


def test_only_owners_deploy_and_move(services):
    with pytest.raises(Forbidden):
        services.owners.upload(OFFICE, {"x.dmn": b""})
    with pytest.raises(Forbidden):
        services.cases.migrate(OFFICE, [1], 1)
    with pytest.raises(Forbidden):
        services.owners.versions(REVIEWER)


def test_a_broken_upload_lists_every_problem_and_deploys_nothing(services):
    broken = edited(services, **{"processes/accountability_case.bpmn": ("register == True", "${register}")})
    with pytest.raises(Invalid) as err:
        services.owners.upload(ADMIN, {"accountability_case.bpmn": broken["processes/accountability_case.bpmn"],
                                       "notes.txt": b"x"})
    assert "notes.txt" in err.value.fields
    with pytest.raises(Invalid) as err:
        services.owners.upload(ADMIN, {"accountability_case.bpmn": broken["processes/accountability_case.bpmn"]})
    assert any("Flow_registered" in k and "JUEL" in v for k, v in err.value.fields.items())
    assert [v["id"] for v in services.owners.versions(ADMIN)] == [1]


def test_the_diff_between_versions_names_elements_and_rules(services):
    files = edited(services, **{"processes/accountability_case.bpmn": ('name="立案审查"', 'name="立案审查（15日）"'),
                      "processes/sanction.dmn": ('["开除公职"]', '["撤职处分"]')})
    v2, _ = services.owners.upload(ADMIN, {"accountability_case.bpmn": files["processes/accountability_case.bpmn"],
                                           "sanction.dmn": files["processes/sanction.dmn"]})
    d = services.owners.diff(ADMIN, 1, v2)
    assert [(e["id"], e["change"]) for e in d["elements"]] == [("Task_register", "changed")]
    assert d["elements"][0]["changes"] == [{"field": "@name", "label": "名称", "before": "立案审查",
                                            "after": "立案审查（15日）"}]
    assert "立案审查 → 立案审查（15日）" in d["elements"][0]["detail"]
    [rule] = d["rules"]
    assert (rule["decision"], rule["row"], rule["change"]) == ("sanction", 8, "changed")
    assert '["开除公职"]' in rule["before"] and '["撤职处分"]' in rule["after"]
    assert rule["changed_columns"] == [3] and rule["columns"][3].startswith("可选处理措施")
    assert d["files_added"] == d["files_removed"] == [] and d["tables"] == d["forms"] == []


def test_reviewers_see_each_rule_with_the_cases_and_persons_it_decided(services):
    case_id = to_statement(services)
    table = services.reviews.table(REVIEWER, "sanction")
    rows = {r["row"]: r for r in table["rules"]}
    assert rows[3]["cases"] == [case_id] and rows[1]["cases"] == [case_id]
    assert all(not r["cases"] for row, r in rows.items() if row not in (1, 3))
    assert rows[3]["persons"] == [{"case_id": case_id, "person": "zhang_wei"}]
    assert rows[1]["persons"] == [{"case_id": case_id, "person": "wang_fang"}]
    assert table["findings"] == [] and table["evaluations"] == 2  # the table ran once per respondent
    traces = services.cases.traces(OFFICE, case_id)
    assert {(t["decision"], t["person"]) for t in traces if t["decision"] == "sanction"} == {
        ("sanction", "zhang_wei"), ("sanction", "wang_fang")}
    tried = services.reviews.try_table(REVIEWER, "sanction", None, {"severity": "serious", "aggravated": "true"})
    assert tried["outputs"]["measures"] == ["严重警告处分"]
    with pytest.raises(Invalid) as err:
        services.reviews.try_table(REVIEWER, "exemption", None, {"exemption_ground": "two"})
    assert err.value.fields == {"exemption_ground": "应为整数"}
    with pytest.raises(Forbidden):
        services.reviews.tables(Principal("zhang_wei"))


def test_a_case_in_the_middle_of_the_vote_moves_with_the_ballots_cast(services):
    case_id = to_statement(services)
    hear(services, case_id)
    step(services, Principal("lg_chen", frozenset({"leading_group"})), case_id, "Task_vote", {"vote": "approve"})
    v2, _ = services.owners.upload(ADMIN, {"sanction.dmn": edited(
        services, **{"processes/sanction.dmn": ('["开除公职"]', '["撤职处分"]')})["processes/sanction.dmn"]})
    check = services.cases.migration_check(ADMIN, 1, v2)
    assert [c["id"] for c in check["movable"]] == [case_id] and check["blocked"] == []
    assert services.cases.migrate(ADMIN, [case_id], v2)["moved"] == [case_id]
    for member in ("lg_wu", "lg_zhou"):  # the vote goes on, on version 2, with lg_chen's ballot counted
        step(services, Principal(member, frozenset({"leading_group"})), case_id, "Task_vote", {"vote": "approve"})
    case = services.cases.get_case(OFFICE, case_id)
    assert case["stage"] == "制作并送达处理决定" and case["deployment"] == 2
    assert sorted(t["person"] for t in case["tasks"] if t["name"] == "Task_serve") == ["wang_fang", "zhang_wei"]
    assert sorted(t["completed_by"] for t in case["tasks"] if t["name"] == "Task_vote") == ["lg_chen", "lg_wu", "lg_zhou"]


def test_an_edited_statement_period_applies_to_cases_moved_before_the_hearing(services):
    before_hearing = to_conclusion(services)
    in_hearing = to_statement(services)
    v2, created = services.owners.upload(ADMIN, {"accountability_case.bpmn": edited(
        services, **{"processes/accountability_case.bpmn": STATEMENT_TIMER})["processes/accountability_case.bpmn"]})
    assert (v2, created) == (2, True)
    assert services.cases.migrate(ADMIN, [before_hearing], v2)["moved"] == [before_hearing]
    step(services, OFFICE, before_hearing, "Task_conclude", CONCLUSION)
    with services.db.session() as s:
        timers = {c: sorted(t.due for t in s.scalars(select(Timer).where(Timer.case_id == c)))
                  for c in (before_hearing, in_hearing)}
    from service.workdays import work_calendar  # the period counts working days (the timer's days property)
    periods = {c: {work_calendar().limit_end(created_at(services, c, "Task_statement"), period, "working")}
               for c, period in ((before_hearing, "P10D"), (in_hearing, "P7D"))}
    assert {c: set(dues) for c, dues in timers.items()} == periods  # the case left behind keeps its version's period


def created_at(services, case_id: int, name: str):
    with services.db.session() as s:
        return max(t.created_at for t in s.scalars(select(Task).where(Task.case_id == case_id, Task.name == name)))


def pre_person_bundle() -> Bundle:
    """The procedure as deployed before the person model (one subject per case), from the repository's history."""
    try:
        names = subprocess.run(["git", "ls-tree", "-r", "--name-only", PRE_PERSON_COMMIT, "processes", "forms"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        return Bundle({n: subprocess.run(["git", "show", f"{PRE_PERSON_COMMIT}:{n}"], cwd=ROOT, capture_output=True,
                                         check=True).stdout for n in names})
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"the repository's history (commit {PRE_PERSON_COMMIT}) is not available")


def test_a_registered_case_from_before_the_person_model_cannot_move(services):
    # stored as it was deployed then (today's checks refuse it: errors_this_year is no longer a system fact)
    bundle = pre_person_bundle()
    with services.db.session() as s, s.begin():
        old = Store(s).add_deployment(bundle.files, bundle.content_hash, "owner").id
    assert old == 2 and services.deployments.current() == 2
    registered = services.cases.start_case(OFFICE, INTAKE)["id"]
    waiting = services.cases.start_case(OFFICE, INTAKE)["id"]
    step(services, OFFICE, registered, "Task_register", {"register": True, "grounds": [7], "subject": "zhang_wei",
                                                         "unit": "执法一科"})
    new, created = services.deployments.deploy(Bundle(edited(services, **{"processes/accountability_case.bpmn":
                                                                STATEMENT_TIMER})), "owner")
    assert (new, created) == (3, True)
    check = services.cases.migration_check(ADMIN, old, new)
    [blocked] = check["blocked"]
    assert blocked["id"] == registered and blocked["reasons"][0] == PERSONLESS
    assert "旧版本" in PERSONLESS and "当事人" in PERSONLESS
    assert registered not in [c["id"] for c in check["movable"]] and waiting in [c["id"] for c in check["movable"]]
    result = services.cases.migrate(ADMIN, [registered], new)
    assert result["moved"] == [] and result["refused"][0]["reasons"][0] == PERSONLESS
    assert services.cases.get_case(OFFICE, registered)["deployment"] == old
