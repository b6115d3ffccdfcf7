"""Deploys that can never break the service (issue 12, parts 3, 4 and 6), on SQLite and PostgreSQL:

the duplicate-id table set (``sanction-draft.dmn`` beside ``sanction.dmn``) is refused by `validate`, the upload
and the deploy, and every page keeps answering; a broken version written into the database does not break the
cases of healthy versions; deploys compare with the live version; roll-back from the page and the command line;
versions identified by canonical content; the diff's before and after; reviewers' counts across versions; moving
a case keeps or recomputes its statement deadline and the inbox agrees with the timer.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.auth import Principal
from service.bundle import Bundle, canonical
from service.cli import main as cli
from service.errors import Invalid
from service.store.models import Case, DeploymentActivation, Event, Task, Timer
from service.store.repository import Store
from service.web import create_app
from service.workdays import end_of_day, local_date, work_calendar
from tests.databases import PASSWORD
from tests.test_owners import ADMIN, INTAKE, OFFICE, REVIEWER, STATEMENT_TIMER, edited, step, to_statement

ROOT = Path(__file__).resolve().parent.parent
DUPLICATE = "决策 id“sanction”在 sanction-draft.dmn 和 sanction.dmn 中都有定义"
STATEMENT_DUE = ('camunda:assignee="${hearing.person}" camunda:dueDate="P7D"',
                 'camunda:assignee="${hearing.person}" camunda:dueDate="P10D"')


def ten_day_statement(services, **more: tuple[str, str]) -> dict[str, bytes]:
    """Version 1's files with the statement period (the timer and the task's due date) at ten days."""
    files = edited(services, **{"processes/accountability_case.bpmn": STATEMENT_TIMER, **more})
    bpmn = files["processes/accountability_case.bpmn"]
    assert STATEMENT_DUE[0].encode() in bpmn
    files["processes/accountability_case.bpmn"] = bpmn.replace(STATEMENT_DUE[0].encode(), STATEMENT_DUE[1].encode())
    return files


@pytest.fixture
def app(services):
    return create_app(services=services, config={"TESTING": True, "WTF_CSRF_ENABLED": False,
                                                  "COMPLAINT_RATE_LIMIT": "1000 per minute"})


def logged_in(app, user: str = "admin"):
    client = app.test_client()
    assert client.post("/login", data={"username": user, "password": PASSWORD}).status_code == 302
    return client


def basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


def live(services) -> int:
    return services.deployments.current()


def draft_folder(tmp_path: Path) -> Path:
    """processes/ and forms/ as an owner following the old README had them: the edited table saved as a draft."""
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    shutil.copy(tmp_path / "processes" / "sanction.dmn", tmp_path / "processes" / "sanction-draft.dmn")
    return tmp_path


def every_page_answers(app, services, case_id: int) -> None:
    """The pages and API calls the issue names, for a case on a healthy version: none is a 500."""
    admin, office = logged_in(app, "admin"), logged_in(app, "office_li")
    for client, path in ((office, "/"), (office, "/cases"), (office, f"/cases/{case_id}"), (office, "/decisions"),
                         (office, "/decisions/sanction"), (office, "/register"), (admin, "/processes"),
                         (app.test_client(), "/report"), (app.test_client(), "/report/status")):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    for path in (f"/api/v1/cases/{case_id}", "/api/v1/tasks", "/api/v1/cases", "/api/v1/disqualifications"):
        response = app.test_client().get(path, headers=basic("office_li"))
        assert response.status_code == 200, (path, response.status_code)
    diagram = office.get(f"/cases/{case_id}/diagram.json")
    assert diagram.status_code == 200 and diagram.get_json()["version"] == services.cases.get_case(
        OFFICE, case_id)["deployment"]


# --------------------------------------------------------------------------- 1. the duplicate-id table set

def test_the_duplicate_id_table_set_is_refused_everywhere_and_every_page_keeps_answering(services, app, tmp_path,
                                                                                       monkeypatch):
    folder = draft_folder(tmp_path)
    case_id = to_statement(services)
    # `accountability validate` on the folder
    result = CliRunner().invoke(cli, ["validate", str(folder / "processes"), str(folder / "forms")])
    assert result.exit_code == 1 and DUPLICATE in result.output and "sanction.dmn: decision 'sanction'" in result.output
    # the upload on /processes: refused, in Chinese, naming file and element; nothing deployed
    admin = logged_in(app)
    draft = (folder / "processes" / "sanction-draft.dmn").read_bytes()
    response = admin.post("/processes/upload", data={"files": [(io.BytesIO(draft), "sanction-draft.dmn")]},
                          content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "未部署" in page and "processes/sanction.dmn:decision &#39;sanction&#39;" in page and DUPLICATE in page
    assert [v["id"] for v in services.owners.versions(ADMIN)] == [1] and live(services) == 1
    # `accountability deploy` from the folder and the page's "deploy processes/": refused the same way
    env = {"DATABASE_URL": services.db.url, "ACCOUNTABILITY_PROCESSES": str(folder / "processes"),
           "ACCOUNTABILITY_FORMS": str(folder / "forms")}
    result = CliRunner().invoke(cli, ["deploy"], env=env)
    assert result.exit_code == 1 and DUPLICATE in result.output and "not deployed" in result.output
    monkeypatch.setenv("ACCOUNTABILITY_PROCESSES", env["ACCOUNTABILITY_PROCESSES"])
    monkeypatch.setenv("ACCOUNTABILITY_FORMS", env["ACCOUNTABILITY_FORMS"])
    response = admin.post("/processes/deploy")
    assert response.status_code == 422 and DUPLICATE in response.get_data(as_text=True)
    assert [v["id"] for v in services.owners.versions(ADMIN)] == [1]
    every_page_answers(app, services, case_id)


def test_a_table_whose_file_fails_to_load_is_refused_with_its_reason(services):
    broken = edited(services, **{"processes/sanction.dmn": ('<text>"minor"</text>', '<text>minor ==</text>')})
    with pytest.raises(Invalid) as err:
        services.owners.upload(ADMIN, {"sanction.dmn": broken["processes/sanction.dmn"]})
    assert any(k.startswith("processes/sanction.dmn") for k in err.value.fields)
    overlapping = edited(services, **{"processes/sanction.dmn": ('<text>"light"</text>', '<text>"minor"</text>')})
    with pytest.raises(Invalid) as err:
        services.owners.upload(ADMIN, {"sanction.dmn": overlapping["processes/sanction.dmn"]})
    assert any("sanction" in k and "行" in v for k, v in err.value.fields.items())  # the analysis names the rows
    assert [v["id"] for v in services.owners.versions(ADMIN)] == [1]


# --------------------------------------------------------------------------- 2. a broken version somehow deployed

def test_a_broken_version_in_the_database_does_not_break_healthy_cases(services, app):
    healthy = to_statement(services)
    files = dict(edited(services))
    files["processes/sanction-draft.dmn"] = files["processes/sanction.dmn"]
    with services.db.session() as s, s.begin():  # written by hand, past every check: it becomes the live version
        broken = Store(s).add_deployment(files, Bundle(files).content_hash, "somebody").id
    assert broken == 2 and live(services) == 2
    every_page_answers(app, services, healthy)
    office = logged_in(app, "office_li")
    assert "无法加载" in office.get("/decisions").get_data(as_text=True)
    assert "v2" in logged_in(app).get("/processes").get_data(as_text=True)
    # the healthy case goes on, through the API as through the service
    for person in ("zhang_wei", "wang_fang"):
        [task] = [t for t in services.cases.list_tasks(Principal(person)).items if t["case_id"] == healthy]
        response = app.test_client().post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"statement_waived": True}},
                                          headers=basic(person))
        assert response.status_code == 200, response.get_json()
    assert services.cases.get_case(OFFICE, healthy)["stage"] == "集体讨论决定（第七条）"
    # a new case cannot start on the broken live version: a clear 503, never a 500; the report page keeps the input
    response = app.test_client().post("/api/v1/cases", json=INTAKE, headers=basic("office_li"))
    assert response.status_code == 503 and "v2" in response.get_json()["message"]
    public = app.test_client()
    token = re.search(r'name="submission" value="([^"]+)"', public.get("/report").get_data(as_text=True)).group(1)
    response = public.post("/report", data={"submission": token, "officer": "张三", "unit": "执法一科",
                                            "act_date": "2026-03-02", "summary": "多收了罚款"})
    assert response.status_code == 422 and "多收了罚款" in response.get_data(as_text=True)
    assert "暂时无法受理" in response.get_data(as_text=True)
    # the broken version cannot be made live again, the good one can (roll-back), and then cases start again
    admin = logged_in(app)
    assert admin.post("/processes/1/activate").status_code == 302 and live(services) == 1
    response = admin.post("/processes/2/activate")
    assert response.status_code == 422 and DUPLICATE in response.get_data(as_text=True) and live(services) == 1
    assert app.test_client().post("/api/v1/cases", json=INTAKE, headers=basic("office_li")).status_code == 201


def test_timers_of_healthy_cases_fire_while_a_broken_version_has_due_timers(services):
    stuck, healthy = to_statement(services), None
    files = dict(edited(services))
    files["processes/sanction-draft.dmn"] = files["processes/sanction.dmn"]
    with services.db.session() as s, s.begin():
        Store(s).add_deployment(files, Bundle(files).content_hash, "somebody", activate=False)
        s.get(Case, stuck).deployment_id = 2  # a case that somehow ended up on the broken version
    healthy = to_statement(services)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)  # past 7 working days, whatever the holidays
    assert services.cases.fire_due_timers(now=later) == 2  # the healthy case's two statement periods
    assert services.cases.get_case(OFFICE, healthy)["stage"] == "集体讨论决定（第七条）"
    assert services.cases.get_case(OFFICE, stuck)["stage"] == "陈述和辩解"


# --------------------------------------------------------------------------- 3. live version, roll-back, identity

def test_deploy_compares_with_the_live_version_and_rolls_back_by_page_and_command(services, app, tmp_path):
    v2, created = services.owners.upload(ADMIN, {"accountability_case.bpmn": edited(
        services, **{"processes/accountability_case.bpmn": STATEMENT_TIMER})["processes/accountability_case.bpmn"]})
    assert (v2, created) == (2, True) and live(services) == 2
    # roll back on the page
    admin = logged_in(app)
    page = admin.get("/processes").get_data(as_text=True)
    assert 'action="/processes/1/activate"' in page and 'action="/processes/2/activate"' not in page
    response = admin.post("/processes/1/activate", follow_redirects=True)
    assert response.status_code == 200 and "已把 v1 设为现行版本（此前是 v2）" in response.get_data(as_text=True)
    assert live(services) == 1
    assert services.cases.start_case(OFFICE, INTAKE) and _case_versions(services)[-1] == 1
    # and forward again with the command
    env = {"DATABASE_URL": services.db.url}
    result = CliRunner().invoke(cli, ["deploy", "--activate", "2", "--by", "owner_wu"], env=env)
    assert result.exit_code == 0 and "version 2 is the live version again (was version 1)" in result.output
    result = CliRunner().invoke(cli, ["deploy", "--activate", "9"], env=env)
    assert result.exit_code == 1 and "there is no version 9" in result.output
    assert live(services) == 2
    # deploying processes/ (the same files as v1) makes v1 live again instead of saying "v2 is current"
    result = CliRunner().invoke(cli, ["deploy", "--by", "owner_wu"],
                                env={**env, "ACCOUNTABILITY_PROCESSES": str(ROOT / "processes"),
                                     "ACCOUNTABILITY_FORMS": str(ROOT / "forms")})
    assert result.exit_code == 0 and "these files are version 1: it is the live version again (was version 2)" \
        in result.output
    assert live(services) == 1 and [v["id"] for v in services.owners.versions(ADMIN)] == [2, 1]
    result = CliRunner().invoke(cli, ["deploy"], env={**env, "ACCOUNTABILITY_PROCESSES": str(ROOT / "processes"),
                                                      "ACCOUNTABILITY_FORMS": str(ROOT / "forms")})
    assert "no changes: version 1 is current" in result.output
    # every switch is on record: who, when, how
    with services.db.session() as s:
        switches = [(a.deployment_id, a.previous_id, a.by, a.how) for a in
                    s.scalars(select(DeploymentActivation).order_by(DeploymentActivation.id))]
        events = [(e.actor, e.detail) for e in s.scalars(select(Event).where(Event.kind == "activated")
                                                          .order_by(Event.id))]
    assert switches[1:] == [(2, 1, "admin", "deploy"), (1, 2, "admin", "rollback"), (2, 1, "owner_wu", "rollback"),
                            (1, 2, "owner_wu", "redeploy")]
    assert events == [("admin", {"version": 1, "previous": 2, "how": "rollback"}),
                      ("owner_wu", {"version": 2, "previous": 1, "how": "rollback"}),
                      ("owner_wu", {"version": 1, "previous": 2, "how": "redeploy"})]
    history = admin.get("/processes").get_data(as_text=True)
    assert "现行版本的变更记录" in history and "owner_wu" in history and "回退" in history
    assert services.owners.activations(ADMIN)[0] == {**services.owners.activations(ADMIN)[0], "version": 1,
                                                     "previous": 2, "by": "owner_wu", "how": "redeploy"}


def _case_versions(services) -> list[int]:
    with services.db.session() as s:
        return list(s.scalars(select(Case.deployment_id).order_by(Case.id)))


NODE_RESAVE = """
const fs = require('fs');
const file = process.argv[2];
const isDmn = file.endsWith('.dmn');
const Moddle = isDmn ? require('dmn-moddle') : require('bpmn-moddle');
const Ctor = Moddle.default || Moddle.BpmnModdle || Moddle.DmnModdle || Moddle;
(async () => {
  const moddle = new Ctor();
  const { rootElement } = await moddle.fromXML(fs.readFileSync(file, 'utf8'), isDmn ? 'dmn:Definitions' : 'bpmn:Definitions');
  rootElement.exporterVersion = '5.99.0';
  const { xml } = await moddle.toXML(rootElement, { format: true });
  process.stdout.write(xml);
})().catch(e => { console.error(e); process.exit(1); });
"""


def resave(path: Path, tmp_path: Path) -> bytes:
    """The file as Camunda Modeler writes it back after opening and saving it unchanged (bpmn-moddle/dmn-moddle,
    the libraries the Modeler reads and writes with; a later Modeler release stamps its own version)."""
    script = tmp_path / "resave.cjs"
    script.write_text(NODE_RESAVE)
    out = subprocess.run(["node", str(script), str(path)], capture_output=True, check=True,
                         env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")})
    return out.stdout


def test_versions_are_identified_by_canonical_content(services, tmp_path):
    bpmn, dmn = ROOT / "processes" / "accountability_case.bpmn", ROOT / "processes" / "sanction.dmn"
    resaved = {"accountability_case.bpmn": resave(bpmn, tmp_path), "sanction.dmn": resave(dmn, tmp_path)}
    assert resaved["accountability_case.bpmn"] != bpmn.read_bytes() and resaved["sanction.dmn"] != dmn.read_bytes()
    assert canonical("x.dmn", resaved["sanction.dmn"]) == canonical("x.dmn", dmn.read_bytes())
    import json
    form = json.loads((ROOT / "forms" / "statement.json").read_text(encoding="utf-8"))
    resaved["statement.json"] = json.dumps(form, indent=4, ensure_ascii=True).encode()
    assert services.owners.upload(ADMIN, resaved) == (1, False)  # a no-op save in the modeler: no new version
    assert [v["id"] for v in services.owners.versions(ADMIN)] == [1]
    changed = resaved["sanction.dmn"].replace('"责令书面检查，给予通报批评"'.encode(), '"书面检查并通报批评"'.encode())
    assert services.owners.upload(ADMIN, {**resaved, "sanction.dmn": changed}) == (2, True)


# --------------------------------------------------------------------------- 4. the diff, before and after

def test_the_diff_shows_before_and_after_of_every_changed_attribute_and_rule(services, app):
    files = ten_day_statement(services, **{"processes/sanction.dmn": ('<text>["开除公职"]</text>',
                                                                     '<text>["撤职处分"]</text>')})
    draft = services.owners.diff_against_live(ADMIN, files)  # what the modeler shows for a draft
    assert draft["old"] == 1 and draft["new"] is None
    v2, _ = services.owners.upload(ADMIN, {"accountability_case.bpmn": files["processes/accountability_case.bpmn"],
                                           "sanction.dmn": files["processes/sanction.dmn"]})
    d = services.owners.diff(ADMIN, 1, v2)
    assert {k: draft[k] for k in ("elements", "rules")} == {k: d[k] for k in ("elements", "rules")}
    changes = {e["id"]: e["changes"] for e in d["elements"]}
    assert changes == {
        "Timer_statement": [{"field": "timerEventDefinition/timeDuration", "label": "时限（timeDuration）",
                             "before": "P7D", "after": "P10D"}],
        "Task_statement": [{"field": "@camunda:dueDate", "label": "办理期限（camunda:dueDate）", "before": "P7D",
                            "after": "P10D"}]}
    [rule] = d["rules"]
    assert rule["before"][3] == '["开除公职"]' and rule["after"][3] == '["撤职处分"]' and rule["changed_columns"] == [3]
    assert rule["before"][:3] == rule["after"][:3] == ['"grave"', "true", "4"]
    page = logged_in(app).get(f"/processes/diff?old=1&new={v2}").get_data(as_text=True)
    for text in ("时限（timeDuration）", "<code>P7D</code>", "<code>P10D</code>", "办理期限（camunda:dueDate）",
                 "[&#34;开除公职&#34;]", "[&#34;撤职处分&#34;]", "修改前", "修改后"):
        assert text in page, text
    assert services.owners.diff(ADMIN, 1, 1)["count"] == 0


# --------------------------------------------------------------------------- 5. per-rule counts across versions

def test_reviewers_counts_follow_a_tables_content_across_versions(services):
    case_id = to_statement(services)
    before = {r["row"]: r["cases"] for r in services.reviews.table(REVIEWER, "sanction", 1)["rules"]}
    assert before[3] == [case_id]
    v2, _ = services.owners.upload(ADMIN, {"accountability_case.bpmn": edited(
        services, **{"processes/accountability_case.bpmn": STATEMENT_TIMER})["processes/accountability_case.bpmn"]})
    unchanged = services.reviews.table(REVIEWER, "sanction", v2)
    assert {r["row"]: r["cases"] for r in unchanged["rules"]} == before and unchanged["evaluations"] == 2
    v3, _ = services.owners.upload(ADMIN, {"sanction.dmn": edited(
        services, **{"processes/sanction.dmn": ('<text>["开除公职"]</text>', '<text>["撤职处分"]</text>')})[
        "processes/sanction.dmn"]})
    assert all(not r["cases"] for r in services.reviews.table(REVIEWER, "sanction", v3)["rules"])  # another table
    assert services.reviews.table(REVIEWER, "exemption", v3)["evaluations"] == \
        services.reviews.table(REVIEWER, "exemption", 1)["evaluations"] == 2  # the unchanged table keeps its count


# --------------------------------------------------------------------------- 6. migration keeps deadlines honest

def _statement_dues(services, case_id: int) -> tuple[dict[str, dt.datetime], dict[str, dt.datetime]]:
    """Per person: the inbox's due date of their statement task, and the statement timer's due date."""
    with services.db.session() as s:
        tasks = {t.person: t.due for t in s.scalars(select(Task).where(Task.case_id == case_id, Task.state == "open",
                                                                       Task.name == "Task_statement"))}
        timers = sorted(t.due for t in s.scalars(select(Timer).where(Timer.case_id == case_id)))
    inbox = {p: dt.datetime.fromisoformat(t["due"]) for p in ("zhang_wei", "wang_fang")
             for t in services.cases.list_tasks(Principal(p)).items if t["case_id"] == case_id}
    assert inbox == tasks
    return tasks, timers


def test_moving_a_case_keeps_its_statement_deadline_or_recomputes_it_and_the_inbox_agrees(services, app):
    kept, recomputed = to_statement(services), to_statement(services)
    opened = {c: _statement_dues(services, c) for c in (kept, recomputed)}
    for c in (kept, recomputed):  # P7D from when the hearing opened, task and timer alike
        tasks, timers = opened[c]
        assert all(abs((t - timers[0]).total_seconds()) < 1 for t in tasks.values())
    files = ten_day_statement(services)
    v2, _ = services.owners.upload(ADMIN, {"accountability_case.bpmn": files["processes/accountability_case.bpmn"]})
    # the page shows both choices and each case's due dates under each
    check = services.cases.migration_check(ADMIN, 1, v2)
    assert sorted(c["id"] for c in check["movable"]) == [kept, recomputed] and check["blocked"] == []
    rows = {(r["kind"], r["person"]): r for r in check["movable"][0]["deadlines"]}
    timer = rows[("timer", "zhang_wei")]
    assert timer["now"] == timer["keep"] and timer["changes"]
    # P10D instead of P7D, both in working days: the 10th working day instead of the 7th
    assert local_date(dt.datetime.fromisoformat(timer["recompute"])) == \
        work_calendar().add_working_days(local_date(dt.datetime.fromisoformat(timer["now"])), 3)
    page = logged_in(app).get(f"/processes/migrate?source=1&target={v2}").get_data(as_text=True)
    assert "保留原期限" in page and "按新版本的期限重新计算" in page and "陈述期限届满" in page
    assert logged_in(app).post("/processes/migrate", data={"source": 1, "target": v2, "case": [kept],
                                                           "deadlines": "keep"}).status_code == 200
    moved = services.cases.migrate(ADMIN, [recomputed], v2, recompute=True)
    assert moved["moved"] == [recomputed]
    tasks, timers = _statement_dues(services, kept)
    assert (tasks, timers) == opened[kept]  # unchanged to the microsecond: the move restarted nothing
    tasks, timers = _statement_dues(services, recomputed)
    for person, due in tasks.items():  # P10D from when the hearing opened: 3 working days after the 7th
        assert due == end_of_day(work_calendar().add_working_days(local_date(opened[recomputed][0][person]), 3))
    assert all(min(abs((t - due).total_seconds()) for t in timers) < 1 for due in tasks.values())  # inbox = timer
    with services.db.session() as s:
        assert [e.detail["deadlines"] for e in s.scalars(select(Event).where(Event.kind == "migrated")
                                                         .order_by(Event.case_id))] == ["keep", "recompute"]
    timeline = logged_in(app, "office_li").get(f"/cases/{recomputed}").get_data(as_text=True)
    assert "迁移到新版本" in timeline and f"v1 → v{v2}（期限按新版本重新计算）" in timeline
    # the timers do what the inbox says: 8 days on, only the kept period has lapsed
    eight_days = min(opened[kept][1]) + dt.timedelta(days=1)
    assert services.cases.fire_due_timers(now=eight_days) == 2
    assert services.cases.get_case(OFFICE, kept)["stage"] == "集体讨论决定（第七条）"
    assert services.cases.get_case(OFFICE, recomputed)["stage"] == "陈述和辩解"
    assert services.cases.fire_due_timers(now=eight_days + dt.timedelta(days=20)) == 2
    assert services.cases.get_case(OFFICE, recomputed)["stage"] == "集体讨论决定（第七条）"


def test_a_case_with_one_statement_in_moves_and_finishes_its_hearing(services):
    case_id = to_statement(services)
    step(services, Principal("zhang_wei"), case_id, "Task_statement", {"statement_waived": True})
    files = edited(services, **{"processes/accountability_case.bpmn": STATEMENT_TIMER})
    v2, _ = services.owners.upload(ADMIN, {"accountability_case.bpmn": files["processes/accountability_case.bpmn"]})
    assert services.cases.migrate(ADMIN, [case_id], v2)["moved"] == [case_id]
    step(services, Principal("wang_fang"), case_id, "Task_statement", {"statement_waived": True})
    case = services.cases.get_case(OFFICE, case_id)
    assert case["stage"] == "集体讨论决定（第七条）" and case["deployment"] == v2


def test_reasons_a_case_cannot_move_are_in_chinese(services):
    case_id = to_statement(services)
    renamed = edited(services, **{"processes/accountability_case.bpmn": ('id="Sub_hearing"', 'id="Sub_heard"')})
    renamed["processes/accountability_case.bpmn"] = renamed["processes/accountability_case.bpmn"].replace(
        b'"Sub_hearing"', b'"Sub_heard"').replace(b">Sub_hearing<", b">Sub_heard<")
    v2, _ = services.owners.upload(ADMIN, {"accountability_case.bpmn": renamed["processes/accountability_case.bpmn"]})
    [blocked] = services.cases.migration_check(ADMIN, 1, v2)["blocked"]
    assert blocked["id"] == case_id and blocked["reasons"]
    for reason in blocked["reasons"]:
        assert re.search(r"[\u4e00-\u9fff]", reason) and "不存在" in reason, reason
    result = services.cases.migrate(ADMIN, [case_id, 999], v2)
    assert result["moved"] == [] and result["refused"][1]["reasons"] == ["不是其他版本上正在办理的案件"]


# --------------------------------------------------------------------------- 7. what the modeler's draft page calls

def test_a_draft_is_checked_compared_and_its_affected_cases_listed_without_deploying(services):
    from service.deployments import check_bundle

    case_id = to_statement(services)
    draft = ten_day_statement(services)
    assert check_bundle(Bundle(draft)) == []
    assert [e["id"] for e in services.owners.diff_against_live(ADMIN, draft)["elements"]] == ["Task_statement",
                                                                                              "Timer_statement"]
    affected = services.cases.affected_cases(ADMIN, draft)
    [entry] = affected["movable"]
    assert entry["id"] == case_id and affected["blocked"] == []
    assert {(d["kind"], d["person"]) for d in entry["deadlines"] if d["changes"]} == {
        ("task", "zhang_wei"), ("timer", "zhang_wei"), ("task", "wang_fang"), ("timer", "wang_fang")}
    duplicate = {**draft, "processes/sanction-draft.dmn": draft["processes/sanction.dmn"]}
    [problem] = check_bundle(Bundle(duplicate))
    assert (problem.file, problem.where) == ("processes/sanction.dmn", "decision 'sanction'")
    assert problem.message.startswith(DUPLICATE)
    with pytest.raises(Invalid):
        services.cases.affected_cases(ADMIN, duplicate)
    assert [v["id"] for v in services.owners.versions(ADMIN)] == [1]  # nothing was deployed


def test_the_schema_upgrade_keeps_the_newest_version_live_and_identifies_versions_canonically(tmp_path):
    """Migration 0009: the newest version is the live one; each version's hash is its canonical content's, and a
    version that means the same as an earlier one keeps its old hash (the earlier one is the one found)."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from service.deployments import Deployments
    from service.store.db import MIGRATIONS, Database

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005_task_data")
    files = Bundle.from_folders(ROOT / "processes", ROOT / "forms").files
    reindented = {**files, "processes/sanction.dmn": files["processes/sanction.dmn"].replace(b"\n  ", b"\n    ")}
    with db.engine.begin() as c:
        for version, content in ((1, files), (2, reindented)):
            c.execute(sa.text("INSERT INTO deployments (id, content_hash, created_at, created_by) "
                              "VALUES (:id, :h, '2026-01-01 00:00:00', 'owner')"), {"id": version, "h": f"raw{version}"})
            for name, data in content.items():
                c.execute(sa.text("INSERT INTO deployment_files (deployment_id, name, content) VALUES (:d, :n, :c)"),
                          {"d": version, "n": name, "c": data})
    db.migrate()
    deployments = Deployments(db)
    assert deployments.current() == 2
    with db.session() as s:
        store = Store(s)
        assert [(d.id, d.content_hash) for d in store.deployments()] == [(1, Bundle(files).content_hash), (2, "raw2")]
        assert Bundle(reindented).content_hash == Bundle(files).content_hash
    assert deployments.publish(Bundle(files), "owner").reactivated and deployments.current() == 1
    db.dispose()
