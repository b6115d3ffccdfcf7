"""Drafts of the process files (service/drafts.py) on SQLite and PostgreSQL: a draft never reaches a running case,
saving is refused on a stale revision, the check lists problems per element, scenario results, the diff and the
affected cases, and only a checked, clean revision deploys."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from service.auth import Principal
from service.drafts import DraftService, editable_name, form_problems, problem_target
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.store.models import Event
from tests.steps import case_at_statement

ADMIN = Principal("admin", frozenset({"admin"}))
OFFICE = Principal("office_li", frozenset({"office"}))
BPMN = "processes/accountability_case.bpmn"
SANCTION = "processes/sanction.dmn"
FINDING = {"person": "wang_fang", "handler_fault": 5, "severity": "light"}


@pytest.fixture
def drafts(services, one_scenario):
    return DraftService(services.db, services.deployments, services.cases)


def _text(drafts: DraftService, draft_id: int, name: str) -> str:
    return drafts.file(ADMIN, draft_id, name).decode("utf-8")




def test_a_draft_is_a_copy_of_the_live_version_and_reaches_no_case(services, drafts):
    case_id = case_at_statement(services, FINDING)
    live = services.deployments.current()
    draft_id = drafts.create(ADMIN)
    draft = drafts.draft(ADMIN, draft_id)
    with services.db.session() as s:
        from service.store.repository import Store
        assert {n: c.decode() for n, c in Store(s).deployment_files(live).items()} == \
            {n: _text(drafts, draft_id, n) for n in draft["files"]}
    bpmn = _text(drafts, draft_id, BPMN).replace('name="陈述和辩解"', 'name="陈述和辩解（草稿）"')
    assert drafts.save(ADMIN, draft_id, 1, {BPMN: bpmn}) == 2
    # nothing of the draft is live: the same version, the case still on it with its old task title
    assert services.deployments.current() == live
    case = services.cases.get_case(OFFICE, case_id)
    assert case["deployment"] == live
    assert [t["title"] for t in case["tasks"] if t["state"] == "open"] == ["陈述和辩解"]


def test_saving_on_a_stale_revision_is_refused_and_keeps_the_newer_save(drafts):
    draft_id = drafts.create(ADMIN)
    original = _text(drafts, draft_id, SANCTION)
    first = original.replace("第十二条第（一）项 性质轻微的", "第十二条第（一）项 性质轻微的（甲）")
    second = original.replace("第十二条第（一）项 性质轻微的", "第十二条第（一）项 性质轻微的（乙）")
    assert drafts.save(ADMIN, draft_id, 1, {SANCTION: first}) == 2
    with pytest.raises(Conflict, match="重新载入"):
        drafts.save(ADMIN, draft_id, 1, {SANCTION: second})
    assert _text(drafts, draft_id, SANCTION) == first
    assert drafts.save(ADMIN, draft_id, 2, {SANCTION: first}) == 2  # unchanged content: no new revision


@pytest.mark.parametrize("name", ["../processes/x.bpmn", "processes/sub/x.bpmn", "processes/x.py", "forms/.json",
                                  "scenarios/x.yaml", "processes/.bpmn", "forms/a\\b.json"])
def test_only_process_and_form_files_can_be_saved(drafts, name):
    draft_id = drafts.create(ADMIN)
    assert not editable_name(name)
    with pytest.raises(Invalid):
        drafts.save(ADMIN, draft_id, 1, {name: "<x/>"})
    with pytest.raises(Invalid, match="too large"):
        drafts.save(ADMIN, draft_id, 1, {SANCTION: "x" * (2 * 1024 * 1024 + 1)})
    assert editable_name("processes/new_table.dmn") and editable_name("forms/new_form.json")


def test_only_administrators_work_on_drafts(drafts):
    draft_id = drafts.create(ADMIN)
    for call in (lambda: drafts.drafts(OFFICE), lambda: drafts.create(OFFICE), lambda: drafts.draft(OFFICE, draft_id),
                 lambda: drafts.file(OFFICE, draft_id, SANCTION), lambda: drafts.check(OFFICE, draft_id),
                 lambda: drafts.save(OFFICE, draft_id, 1, {SANCTION: "x"}), lambda: drafts.discard(OFFICE, draft_id),
                 lambda: drafts.deploy(OFFICE, draft_id, 1)):
        with pytest.raises(Forbidden):
            call()
    with pytest.raises(NotFound):
        drafts.draft(ADMIN, draft_id + 100)


def test_the_check_names_each_problem_with_its_element_and_blocks_the_deploy(drafts):
    draft_id = drafts.create(ADMIN)
    bpmn = _text(drafts, draft_id, BPMN).replace(">P7D</bpmn:timeDuration>", ">10天</bpmn:timeDuration>")
    revision = drafts.save(ADMIN, draft_id, 1, {BPMN: bpmn})
    with pytest.raises(Invalid, match="not checked"):
        drafts.deploy(ADMIN, draft_id, revision)
    check = drafts.check(ADMIN, draft_id)
    assert [(p["file"], p["element"]) for p in check["problems"]] == [(BPMN, "Timer_statement")]
    assert "'10天' 不是 ISO-8601 时长" in check["problems"][0]["message"]
    assert check["scenarios"] is None and check["cases"] is None  # nothing runs on files that do not validate
    assert [e["id"] for e in check["diff"]["elements"]] == ["Timer_statement"]
    with pytest.raises(Invalid, match="problems"):
        drafts.deploy(ADMIN, draft_id, revision)
    assert drafts.draft(ADMIN, draft_id)["check"]["problems"] == check["problems"]


def test_the_loop_save_check_deploy_lists_the_touched_cases_and_scenarios(services, drafts):
    case_id = case_at_statement(services, FINDING)
    live = services.deployments.current()
    draft_id = drafts.create(ADMIN)
    bpmn = _text(drafts, draft_id, BPMN).replace(">P7D</bpmn:timeDuration>", ">P10D</bpmn:timeDuration>")
    sanction = _text(drafts, draft_id, SANCTION).replace("<text>\"第十二条第（二）项\"</text>",
                                                         "<text>\"第十二条第（二）项（政策：修订）\"</text>", 1)
    revision = drafts.save(ADMIN, draft_id, 1, {BPMN: bpmn, SANCTION: sanction})
    check = drafts.check(ADMIN, draft_id)
    assert check["problems"] == []
    assert check["scenarios"]["passed"] == 1 and check["scenarios"]["failed"] == 0
    assert [e["id"] for e in check["diff"]["elements"]] == ["Timer_statement"]
    (rule,) = check["diff"]["rules"]
    assert rule["id"] == "Rule_sanction_light" and rule["change"] == "changed"
    assert '"第十二条第（二）项"' in rule["before"] and '"第十二条第（二）项（政策：修订）"' in rule["after"]
    (case,) = check["cases"]
    assert case["id"] == case_id and case["touched"] == ["陈述期限届满（Timer_statement）"]
    # it could move; its statement timer kept as it is, or recomputed from the hearing's start under P10D
    assert case["movable"] is True and case["reasons"] == []
    (timer,) = [d for d in case["deadlines"] if d["name"] == "Timer_statement"]
    assert timer["changes"] is True and timer["keep"] == timer["now"] != timer["recompute"]
    # a save after the check makes it stale: deploy needs a new check
    stale = drafts.save(ADMIN, draft_id, revision, {SANCTION: sanction.replace("修订", "修订二")})
    with pytest.raises(Invalid, match="not checked"):
        drafts.deploy(ADMIN, draft_id, stale)
    with pytest.raises(Conflict):
        drafts.deploy(ADMIN, draft_id, revision)
    drafts.check(ADMIN, draft_id)
    outcome = drafts.deploy(ADMIN, draft_id, stale)
    assert outcome.created and outcome.version == live + 1 and services.deployments.current() == outcome.version
    assert services.cases.get_case(OFFICE, case_id)["deployment"] == live  # open cases stay until moved
    assert drafts.draft(ADMIN, draft_id)["status"] == "deployed"
    assert drafts.drafts(ADMIN) == []
    with pytest.raises(Conflict):
        drafts.save(ADMIN, draft_id, stale, {SANCTION: sanction})
    with services.db.session() as s:
        kinds = [e.kind for e in s.scalars(select(Event).where(Event.case_id.is_(None)).order_by(Event.id))]
    assert kinds[-5:] == ["draft_created", "draft_saved", "draft_saved", "deployed", "draft_deployed"]


def test_failing_scenarios_deploy_only_when_the_owner_accepts_them(services, drafts, tmp_path, monkeypatch):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "expiry.yaml").write_text(EXPIRY, encoding="utf-8")
    monkeypatch.setenv("ACCOUNTABILITY_SCENARIOS", str(tmp_path / "s"))
    draft_id = drafts.create(ADMIN)
    bpmn = _text(drafts, draft_id, BPMN).replace(">P7D</bpmn:timeDuration>", ">P10D</bpmn:timeDuration>")
    revision = drafts.save(ADMIN, draft_id, 1, {BPMN: bpmn})
    check = drafts.check(ADMIN, draft_id)
    assert check["problems"] == [] and check["scenarios"]["failed"] == 1
    (failed,) = [r for r in check["scenarios"]["results"] if not r["passed"]]
    assert failed["name"] == "陈述期限届满" and "Task_vote" in " ".join(failed["failures"])
    with pytest.raises(Invalid, match="scenarios failed"):
        drafts.deploy(ADMIN, draft_id, revision)
    outcome = drafts.deploy(ADMIN, draft_id, revision, accept_failed_scenarios=True)
    assert outcome.created and services.deployments.current() == outcome.version


def test_a_draft_that_restores_an_earlier_version_makes_it_live_again(services, drafts):
    live = services.deployments.current()
    first = drafts.create(ADMIN)
    original = _text(drafts, first, BPMN)
    drafts.save(ADMIN, first, 1, {BPMN: original.replace(">P7D</bpmn:timeDuration>", ">P10D</bpmn:timeDuration>")})
    drafts.check(ADMIN, first)
    assert drafts.deploy(ADMIN, first, 2).version == live + 1
    # the owner takes the change back in a new draft: the same content as v1, which is live again, no v3
    second = drafts.create(ADMIN)
    drafts.save(ADMIN, second, 1, {BPMN: original})
    assert drafts.check(ADMIN, second)["diff"]["elements"][0]["changes"][0]["after"] == "P7D"
    outcome = drafts.deploy(ADMIN, second, 2)
    assert (outcome.version, outcome.created, outcome.reactivated, outcome.previous) == (live, False, True, live + 1)
    assert services.deployments.current() == live


def test_a_discarded_draft_is_gone_from_the_list_and_cannot_be_saved(drafts):
    draft_id = drafts.create(ADMIN)
    assert [d["id"] for d in drafts.drafts(ADMIN)] == [draft_id]
    drafts.discard(ADMIN, draft_id)
    assert drafts.drafts(ADMIN) == []
    with pytest.raises(Conflict, match="丢弃"):
        drafts.save(ADMIN, draft_id, 1, {SANCTION: "<x/>"})
    with pytest.raises(NotFound):
        drafts.check(ADMIN, draft_id)


def test_the_choices_are_the_roles_and_the_drafts_forms_and_decisions(drafts):
    draft_id = drafts.create(ADMIN)
    choices = drafts.choices(ADMIN, draft_id)
    assert [c["value"] for c in choices["roles"]] == ["office", "leading_group"]
    assert "vote" in [c["value"] for c in choices["forms"]]
    assert sorted(c["value"] for c in choices["decisions"]) == ["aggravation", "exemption", "grounds",
                                                                 "responsibility", "sanction"]
    assert {"value": "sanction", "label": "责任形式（第十二条）（sanction）"} in choices["decisions"]


def test_form_problems_have_paths():
    assert form_problems("{")[0]["message"].startswith("不是有效的 JSON")
    problems = form_problems('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
                             '"title": "t", "properties": {"a": {"type": "strang"}, "b": {"type": "string"}}}')
    assert [p["path"] for p in problems] == [["properties", "a", "type"]]
    problems = form_problems('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
                             '"title": "t", "properties": {"b": {"type": "string"}}}')
    assert [p["path"] for p in problems] == [["properties", "b"]]  # the project's rule: a field needs a title
    assert form_problems('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
                         '"title": "t", "properties": {"b": {"type": "string", "title": "B"}}}') == []


EXPIRY = """- name: 陈述期限届满
  intake: {channel: inspection, subject: zhang_wei, unit: 执法一科, grounds: [7], summary: s, act_date: "2026-03-02"}
  steps:
    - {task: Task_register, data: {register: true, grounds: [7], respondents: [{person: zhang_wei, role: handler, unit: 执法一科}]}}
    - {task: Task_investigate, data: {facts_found: f, evidence: [e], investigators: [office_li, office_sun], act_date: "2026-03-02"}}
    - {task: Task_conclude, data: {conclusion: c, findings: [{person: zhang_wei, handler_fault: 5, severity: light}]}}
    - {wait: P8D}
  expect:
    open: [Task_vote]
"""


def test_a_table_problem_points_at_its_rule(drafts):
    draft_id = drafts.create(ADMIN)
    sanction = _text(drafts, draft_id, SANCTION).replace("<text>\"第十二条第（二）项\"</text>",
                                                         "<text>第十二条第（二）项</text>", 1)  # quotes forgotten
    drafts.save(ADMIN, draft_id, 1, {SANCTION: sanction})
    problems = drafts.check(ADMIN, draft_id)["problems"]
    (cell,) = [p for p in problems if p["file"] == SANCTION]
    assert cell["target"] == "Rule_sanction_light" and "citation" in cell["element"]
    assert problem_target(BPMN, "Timer_statement") == "Timer_statement"
    assert problem_target(BPMN, "decision 'x'") == "" and problem_target("forms/x.json", "") == ""
