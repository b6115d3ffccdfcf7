"""Cases running on a version deployed before the person model finish on it, and cannot be moved to it.

The issue "Persons, not cases": cases already running on an earlier deployed version either finish on it or
are listed as not movable, with the reason in Chinese. The earlier version's files are vendored unchanged in
tests/data/single_subject_v1 (from commit dde16b5).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any


from service.auth import Principal
from service.bundle import Bundle
from service.cases.migration import PERSONLESS
from service.store.repository import Store

ROOT = Path(__file__).resolve().parent.parent
V1 = Path(__file__).resolve().parent / "data" / "single_subject_v1"
OFFICE = Principal("office_li", frozenset({"office"}))
ADMIN = Principal("admin", frozenset({"admin"}))
MEMBERS = [Principal(m, frozenset({"leading_group"})) for m in ("lg_chen", "lg_wu", "lg_zhou")]
ZHANG = Principal("zhang_wei")


def deploy_earlier_version(svc) -> int:
    """Store the pre-person files as a deployed version, as an earlier release did (no re-validation)."""
    bundle = Bundle.from_folders(V1 / "processes", V1 / "forms")
    with svc.db.session() as s, s.begin():
        return Store(s).add_deployment(bundle.files, bundle.content_hash, "release-2026-10").id


def deploy_person_model_again(svc) -> int:
    """Deploy today's files again: they are version 1 (the same content), which becomes the live version again."""
    outcome = svc.deployments.publish(Bundle.from_folders(ROOT / "processes", ROOT / "forms"), "owner")
    assert outcome.reactivated and svc.deployments.current() == outcome.version
    return outcome.version


def step(svc, who: Principal, case_id: int, name: str, data: dict[str, Any]) -> None:
    found = svc.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items
    assert found, f"{who.username} has no {name} in case {case_id}"
    svc.cases.complete(who, found[0]["id"], data)


def test_a_case_of_the_earlier_version_is_not_movable_and_finishes_on_it(services):
    svc = services
    old = deploy_earlier_version(svc)
    case_id = svc.cases.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                            "grounds": [7], "summary": "未按程序送达", "act_date": "2026-03-02"})["id"]
    assert svc.cases.get_case(OFFICE, case_id)["deployment"] == old
    step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "subject": "zhang_wei",
                                                 "unit": "执法一科"})
    new = deploy_person_model_again(svc)

    check = svc.cases.migration_check(ADMIN, old, new)
    blocked = {c["id"]: c["reasons"] for c in check["blocked"]}
    assert PERSONLESS in blocked[case_id]
    assert all(re.search("[\u4e00-\u9fff]", r) and not re.search("[A-Za-z]{4,} [a-z]{3,}", r)
               for r in blocked[case_id])  # said in Chinese
    refused = svc.cases.migrate(ADMIN, [case_id], new)
    assert refused["moved"] == [] and PERSONLESS in refused["refused"][0]["reasons"]
    assert svc.cases.get_case(OFFICE, case_id)["deployment"] == old

    # it goes on, on its own version, to the end: the earlier diagram's system fact errors_this_year is supplied
    step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明", "evidence": ["案卷"],
                                                    "investigators": ["office_li", "office_sun"],
                                                    "act_date": "2026-03-02"})
    step(svc, ZHANG, case_id, "Task_statement", {"statement_waived": True})
    step(svc, OFFICE, case_id, "Task_conclude", {
        "conclusion": "结论", "exemption_ground": None, "handler_fault": 5, "reviewer_missed": False,
        "approver_fault": False, "corruption": False, "lost_lawsuit": False, "concealed": False, "severity": "light"})
    aggravation = [t for t in svc.cases.get_case(OFFICE, case_id)["decisions"] if t["decision"] == "aggravation"]
    assert aggravation[0]["inputs"]["errors_this_year"] == 1
    for member in MEMBERS:
        step(svc, member, case_id, "Task_vote", {"vote": "approve"})
    step(svc, OFFICE, case_id, "Task_serve", {"decision_number": "明执追〔2026〕7号", "served_on": "2026-05-06",
                                              "service_method": "direct"})
    step(svc, ZHANG, case_id, "Task_appeal", {"appeal": False})
    step(svc, OFFICE, case_id, "Task_recovery", {"compensation_paid": 0, "recovery": []})

    case = svc.cases.get_case(OFFICE, case_id)
    assert case["status"] == "closed" and case["deployment"] == old
    (mine,) = case["outcomes"]
    assert (mine["person"], mine["tier"], mine["established"], mine["served_on"]) == ("zhang_wei", 2, True,
                                                                                         "2026-05-06")
    assert [o["person"] for o in svc.cases.get_case(ZHANG, case_id)["outcomes"]] == ["zhang_wei"]
    register = svc.cases.disqualifications(OFFICE, 2026)
    assert {"kind": "person", "name": "zhang_wei", "unit": "执法一科"}.items() <= next(
        r for r in register if r["kind"] == "person").items()

    # the established error keeps counting for Art. 11(3) in a case on the person model
    with svc.db.session() as s:
        assert Store(s).count_established("zhang_wei", 2026, exclude_case=None) == 1


def test_the_schema_upgrade_makes_each_earlier_subject_the_respondent_of_their_case(tmp_path):
    """Migration 0003: an earlier case's subject becomes its respondent with the case's outcome as theirs, so an
    established error keeps counting for Art. 11(3), and every page reads one shape (a list of outcomes)."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from service.store.db import MIGRATIONS, Database

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    old_outcome = {"exempt": False, "responsible": [{"person": "zhang_wei", "role": "handler"}], "aggravated": False,
                   "tier": 2, "measure": "责令书面检查，给予通报批评", "citations": ["第八条第（五）项"]}
    with db.engine.begin() as c:
        c.execute(sa.text("INSERT INTO deployments (id, content_hash, created_at) VALUES (1, 'x', '2026-01-01')"))
        for case_id, established, outcome in ((1, True, old_outcome), (2, False, None)):
            c.execute(sa.text(
                "INSERT INTO cases (id, deployment_id, channel, subject, unit, summary, grounds, act_date, year, status,"
                " stage, outcome, served_on, established, created_at, updated_at, version) VALUES (:id, 1, 'inspection',"
                " 'zhang_wei', '执法一科', '', '[7]', '2026-03-02', 2026, 'closed', '', :outcome, :served, :est,"
                " '2026-01-01', '2026-01-01', 1)"),
                {"id": case_id, "outcome": None if outcome is None else __import__("json").dumps(outcome),
                 "served": "2026-05-06" if outcome else None, "est": established})
    db.migrate()
    with db.session() as s:
        store = Store(s)
        assert store.count_established("zhang_wei", 2026, exclude_case=None) == 1
        first = store.case_person(1, "zhang_wei")
        assert (first.role, first.unit, first.established, first.served_on) == ("handler", "执法一科", True,
                                                                                "2026-05-06")
        assert store.case(1).outcome[0]["person"] == "zhang_wei" and store.case(1).outcome[0]["liable"] is True
        assert store.case_person(2, "zhang_wei").established is False
    db.dispose()
