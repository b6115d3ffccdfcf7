"""Procedure owners and reviewers: versions, diffs, moving open cases, rule usage (SQLite and PostgreSQL)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from service.auth import Principal
from service.bundle import Bundle
from service.errors import Forbidden, Invalid
from service.store.models import CaseState, Event
from service.web import build_services

ROOT = Path(__file__).resolve().parent.parent
OFFICE = Principal("office_li", frozenset({"office"}))
ADMIN = Principal("admin", frozenset({"admin"}))
REVIEWER = Principal("reviewer", frozenset({"reviewer"}))
INTAKE = {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7], "summary": "s",
          "act_date": "2026-03-02"}
CONCLUSION = {"conclusion": "c", "exemption_ground": None, "handler_fault": 5, "reviewer_missed": False,
              "approver_fault": False, "corruption": False, "lost_lawsuit": False, "concealed": False,
              "severity": "light"}


@pytest.fixture
def services(database_url):
    services = build_services(database_url)
    yield services
    services.db.dispose()


def step(services, who, case_id, name, data):
    task = services.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items[0]
    return services.cases.complete(who, task["id"], data)


def to_statement(services) -> int:
    case_id = services.cases.start_case(OFFICE, INTAKE)["id"]
    step(services, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "subject": "zhang_wei",
                                                      "unit": "执法一科"})
    step(services, OFFICE, case_id, "Task_investigate", {"facts_found": "f", "evidence": ["e"],
                                                         "investigators": ["a", "b"], "act_date": "2026-03-02"})
    return case_id


def edited(**replacements: str) -> dict[str, bytes]:
    files = Bundle.from_folders(ROOT / "processes", ROOT / "forms").files
    for name, (old, new) in replacements.items():
        text = files[name].decode("utf-8")
        assert old in text
        files[name] = text.replace(old, new).encode("utf-8")
    return files


def test_moving_open_cases_moves_what_it_may_and_refuses_what_it_must(services):
    at_registration = services.cases.start_case(OFFICE, INTAKE)["id"]
    at_statement = to_statement(services)
    # v2 renames the hearing step: a case waiting in it cannot move, the one at registration can
    v2, created = services.owners.upload(ADMIN, {"accountability_case.bpmn": edited(
        **{"processes/accountability_case.bpmn": ("Task_statement", "Task_hearing")})["processes/accountability_case.bpmn"]})
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
    assert [(e.case_id, e.detail) for e in moved_events] == [(at_registration, {"source": 1, "target": 2})]
    assert services.cases.get_case(OFFICE, at_registration)["deployment"] == 2
    assert services.cases.get_case(OFFICE, at_statement)["deployment"] == 1
    # both go on: the moved one through the renamed step of v2, the other on v1
    step(services, OFFICE, at_registration, "Task_register", {"register": True, "grounds": [7],
                                                              "subject": "zhang_wei", "unit": "执法一科"})
    step(services, OFFICE, at_registration, "Task_investigate", {"facts_found": "f", "evidence": ["e"],
                                                                 "investigators": ["a", "b"],
                                                                 "act_date": "2026-03-02"})
    accused = Principal("zhang_wei")
    assert sorted((t["case_id"], t["name"]) for t in services.cases.list_tasks(accused).items) == [
        (at_registration, "Task_hearing"), (at_statement, "Task_statement")]


def test_a_moved_case_uses_the_new_tables(services):
    case_id = to_statement(services)
    v2, _ = services.owners.upload(ADMIN, {"sanction.dmn": edited(
        **{"processes/sanction.dmn": ('"责令书面检查，给予通报批评"', '"书面检查并通报批评"')})["processes/sanction.dmn"]})
    assert services.cases.migrate(ADMIN, [case_id], v2)["moved"] == [case_id]
    step(services, Principal("zhang_wei"), case_id, "Task_statement", {"statement_waived": True})
    step(services, OFFICE, case_id, "Task_conclude", CONCLUSION)
    assert services.cases.get_case(OFFICE, case_id)["outcome"]["measure"] == "书面检查并通报批评"


def test_only_owners_deploy_and_move(services):
    with pytest.raises(Forbidden):
        services.owners.upload(OFFICE, {"x.dmn": b""})
    with pytest.raises(Forbidden):
        services.cases.migrate(OFFICE, [1], 1)
    with pytest.raises(Forbidden):
        services.owners.versions(REVIEWER)


def test_a_broken_upload_lists_every_problem_and_deploys_nothing(services):
    broken = edited(**{"processes/accountability_case.bpmn": ("register == True", "${register}")})
    with pytest.raises(Invalid) as err:
        services.owners.upload(ADMIN, {"accountability_case.bpmn": broken["processes/accountability_case.bpmn"],
                                       "notes.txt": b"x"})
    assert "notes.txt" in err.value.fields
    with pytest.raises(Invalid) as err:
        services.owners.upload(ADMIN, {"accountability_case.bpmn": broken["processes/accountability_case.bpmn"]})
    assert any("Flow_registered" in k and "JUEL" in v for k, v in err.value.fields.items())
    assert [v["id"] for v in services.owners.versions(ADMIN)] == [1]


def test_the_diff_between_versions_names_elements_and_rules(services):
    files = edited(**{"processes/accountability_case.bpmn": ('name="立案审查"', 'name="立案审查（15日）"'),
                      "processes/sanction.dmn": ('"开除公职"', '"撤职"')})
    v2, _ = services.owners.upload(ADMIN, {"accountability_case.bpmn": files["processes/accountability_case.bpmn"],
                                           "sanction.dmn": files["processes/sanction.dmn"]})
    d = services.owners.diff(ADMIN, 1, v2)
    assert [(e["id"], e["change"]) for e in d["elements"]] == [("Task_register", "changed")]
    assert "立案审查 → 立案审查（15日）" in d["elements"][0]["detail"]
    [rule] = d["rules"]
    assert (rule["decision"], rule["row"], rule["change"]) == ("sanction", 8, "changed")
    assert '"开除公职"' in rule["before"] and '"撤职"' in rule["after"]
    assert d["files_added"] == d["files_removed"] == []


def test_reviewers_see_each_rule_with_the_cases_it_decided(services):
    case_id = to_statement(services)
    step(services, Principal("zhang_wei"), case_id, "Task_statement", {"statement_waived": True})
    step(services, OFFICE, case_id, "Task_conclude", CONCLUSION)
    table = services.reviews.table(REVIEWER, "sanction")
    rows = {r["row"]: r["cases"] for r in table["rules"]}
    assert rows[3] == [case_id] and all(not cases for row, cases in rows.items() if row != 3)
    assert table["findings"] == [] and table["evaluations"] == 1
    tried = services.reviews.try_table(REVIEWER, "sanction", None, {"severity": "serious", "aggravated": "true"})
    assert tried["outputs"]["measure"] == "严重警告处分"
    with pytest.raises(Invalid) as err:
        services.reviews.try_table(REVIEWER, "exemption", None, {"exemption_ground": "two"})
    assert err.value.fields == {"exemption_ground": "应为整数"}
    with pytest.raises(Forbidden):
        services.reviews.tables(Principal("zhang_wei"))


def test_a_case_in_the_middle_of_the_vote_cannot_move(services):
    case_id = to_statement(services)
    step(services, Principal("zhang_wei"), case_id, "Task_statement", {"statement_waived": True})
    step(services, OFFICE, case_id, "Task_conclude", CONCLUSION)
    step(services, Principal("lg_chen", frozenset({"leading_group"})), case_id, "Task_vote", {"vote": "approve"})
    v2, _ = services.owners.upload(ADMIN, {"sanction.dmn": edited(
        **{"processes/sanction.dmn": ('"开除公职"', '"撤职"')})["processes/sanction.dmn"]})
    [blocked] = services.cases.migration_check(ADMIN, 1, v2)["blocked"]
    assert blocked["id"] == case_id and "Task_vote" in blocked["reasons"][0]
    assert services.cases.migrate(ADMIN, [case_id], v2)["moved"] == []
    for member in ("lg_wu", "lg_zhou"):  # the vote goes on, on version 1
        step(services, Principal(member, frozenset({"leading_group"})), case_id, "Task_vote", {"vote": "approve"})
    assert services.cases.get_case(OFFICE, case_id)["stage"] == "制作并送达处理决定"
