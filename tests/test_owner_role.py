"""The procedure owner's role (owner, 流程负责人): the whole loop on the process files, and nothing else."""
from __future__ import annotations

import pytest

from service.auth import Principal
from service.drafts import DraftService
from service.errors import Forbidden
from tests.steps import case_at_statement
from tests.test_csrf import logged_in, site  # noqa: F401 - the fixture

OWNER = Principal("owner_he", frozenset({"owner"}))
OFFICE = Principal("office_li", frozenset({"office"}))
BPMN = "processes/accountability_case.bpmn"


def test_an_owner_saves_checks_deploys_rolls_back_and_moves_cases(services, one_scenario):
    drafts = DraftService(services.db, services.deployments, services.cases)
    live = services.deployments.current()
    draft_id = drafts.create(OWNER)
    bpmn = drafts.file(OWNER, draft_id, BPMN).decode().replace(">P7D</bpmn:timeDuration>", ">P10D</bpmn:timeDuration>")
    revision = drafts.save(OWNER, draft_id, 1, {BPMN: bpmn})
    check = drafts.check(OWNER, draft_id)
    assert check["problems"] == [] and check["scenarios"]["failed"] == 0
    outcome = drafts.deploy(OWNER, draft_id, revision)
    assert outcome.created and services.deployments.current() == outcome.version != live
    assert services.owners.versions(OWNER)
    assert services.cases.migration_check(OWNER, live, outcome.version) is not None
    services.owners.activate(OWNER, live)
    assert services.deployments.current() == live
    with pytest.raises(Forbidden):
        drafts.create(OFFICE)


def test_owner_pages_and_refusals(site):  # noqa: F811
    app, _ = site
    owner = logged_in(app, "owner_he")
    for path in ("/processes", "/processes/edit", "/processes/1"):
        assert owner.get(path).status_code == 200, path
    assert "流程管理" in owner.get("/").get_data(as_text=True)
    for path in ("/cases", "/register", "/decisions", "/reports"):  # staff and administrator pages
        assert owner.get(path).status_code == 403, path
    office = logged_in(app, "office_li")
    assert office.get("/processes/edit").status_code == 403
    assert office.get("/processes").status_code == 403


def test_an_owner_sees_which_cases_would_move_but_not_who_is_accused(site):  # noqa: F811
    """A procedure owner decides about versions, not persons: case numbers and steps, no names, no case links."""
    app, services = site
    case_id = case_at_statement(services, {"person": "wang_fang", "handler_fault": 5, "severity": "light"})
    owner = logged_in(app, "owner_he")
    page = owner.get("/processes/migrate?source=1&target=1").get_data(as_text=True)
    assert f"#{case_id}" in page and "陈述和辩解" in page and "2026-" in page  # the case, its step, its deadlines
    assert "wang_fang" not in page and f"/cases/{case_id}" not in page
    check = services.cases.migration_check(OWNER, 1, 1)
    assert [c["id"] for c in check["movable"]] == [case_id]
    assert check["movable"][0]["subject"] == "" and {d["person"] for d in check["movable"][0]["deadlines"]} == {None}
    admin = logged_in(app, "admin")
    assert "wang_fang" in admin.get("/processes/migrate?source=1&target=1").get_data(as_text=True)
