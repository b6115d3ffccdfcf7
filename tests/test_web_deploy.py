"""Owners' deploy loop in Debian's Chromium (issue 12): the refused draft table, the diff's before and after, moving
a case with its deadline recomputed (the inbox agrees with the timer), and rolling back from the page."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from service.auth import Principal
from service.workdays import WORKING, work_calendar
from service.store.models import Timer
from service.web import build_services, create_app
from tests.test_owners import STATEMENT_TIMER, to_statement
from tests.test_web import axe, login

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(sqlite_template):
    url = sqlite_template.new()
    services = build_services(url)
    app = create_app(services=services, config={"SECRET_KEY": "test-secret", "COMPLAINT_RATE_LIMIT": "500/minute"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", services
    server.shutdown()
    services.db.dispose()
    sqlite_template.drop(url)


def upload(page, name: str, data: bytes) -> None:
    page.get_by_label("文件").set_input_files(files=[{"name": name, "mimeType": "text/xml", "buffer": data}])
    page.get_by_role("button", name="校验并部署").click()


def test_an_owner_is_refused_a_draft_table_reads_the_diff_moves_a_case_and_rolls_back(site, page, artifacts):
    base, services = site
    case_id = to_statement(services)  # two respondents in their hearing on v1
    login(page, base, "admin")
    page.get_by_role("link", name="流程管理").click()
    # the table saved under a new name, as the old README advised: refused, in Chinese, naming file and element
    sanction = (ROOT / "processes" / "sanction.dmn").read_bytes()
    upload(page, "sanction-draft.dmn", sanction)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("未部署")
    expect(alert).to_contain_text("processes/sanction.dmn:decision 'sanction'")
    expect(alert).to_contain_text("决策 id“sanction”在 sanction-draft.dmn 和 sanction.dmn 中都有定义")
    axe(page)
    page.screenshot(path=str(artifacts / "deploy-refused-duplicate.png"), full_page=True)
    # a ten-day statement period
    bpmn = (ROOT / "processes" / "accountability_case.bpmn").read_text(encoding="utf-8")
    ten = bpmn.replace(*STATEMENT_TIMER).replace('camunda:assignee="${hearing.person}" camunda:dueDate="P7D"',
                                                 'camunda:assignee="${hearing.person}" camunda:dueDate="P10D"')
    upload(page, "accountability_case.bpmn", ten.encode())
    expect(page.locator(".flash-success")).to_contain_text("已部署版本 v2，现在是现行版本")
    expect(page.locator("#version-2 .badge-hit")).to_have_text("现行")
    # the diff: before and after
    page.get_by_role("button", name="比较").click()
    timer = page.locator('#diff-elements tr[data-element="Timer_statement"]')
    expect(timer.locator("td.before")).to_have_text("P7D")
    expect(timer.locator("td.after")).to_have_text("P10D")
    task = page.locator('#diff-elements tr[data-element="Task_statement"]')
    expect(task).to_contain_text("办理期限（camunda:dueDate）")
    expect(task.locator("td.before")).to_have_text("P7D")
    expect(task.locator("td.after")).to_have_text("P10D")
    axe(page)
    page.screenshot(path=str(artifacts / "deploy-diff-before-after.png"), full_page=True)
    # move the case, recomputing the statement deadline from when the hearing opened
    page.goto(f"{base}/processes")
    page.get_by_role("link", name="迁移到 v2").click()
    rows = page.locator(f"#case-{case_id} table.deadlines tbody tr")
    expect(rows).to_have_count(4)  # each respondent's statement task and its timer
    page.get_by_label("按新版本的期限重新计算：从该环节原来开始的时间起算").check()
    axe(page)
    page.screenshot(path=str(artifacts / "deploy-migrate-deadlines.png"), full_page=True)
    page.get_by_role("button", name="迁移选中的案件").click()
    expect(page.locator(".flash-success")).to_contain_text("已将 1 件案件迁移到 v2")
    with services.db.session() as s:
        timers = sorted(t.due for t in s.scalars(select(Timer).where(Timer.case_id == case_id)))
    [opened] = {t["created_at"][:19] for t in services.cases.get_case(Principal("office_li", frozenset({"office"})),
                                                                       case_id)["tasks"] if t["name"] == "Task_statement"}
    # the statement period counts working days (Task_statement's days = working): 10 of them from the opening day
    expected = work_calendar().limit_end(dt.datetime.fromisoformat(opened + "+00:00"), "P10D", WORKING)
    assert timers and all(abs((due - expected).total_seconds()) < 2 for due in timers)
    # the accused's inbox shows the due date the timer will keep
    page.get_by_role("button", name="退出").click()
    login(page, base, "zhang_wei")
    shown = page.locator("time").first.get_attribute("datetime")
    assert min(abs((dt.datetime.fromisoformat(shown) - due).total_seconds()) for due in timers) < 1
    page.get_by_role("button", name="退出").click()
    # roll back from the page: v1 is live again, on record
    login(page, base, "admin")
    page.goto(f"{base}/processes")
    page.locator("#version-1 details.activate summary").click()
    page.get_by_role("button", name="确认把 v1 设为现行版本").click()
    expect(page.locator(".flash-success")).to_contain_text("已把 v1 设为现行版本（此前是 v2）")
    expect(page.locator("#version-1 .badge-hit")).to_have_text("现行")
    expect(page.locator("#version-2 .badge-hit")).to_have_count(0)
    expect(page.locator("#activations tbody tr").first).to_contain_text("回退")
    expect(page.locator("#activations tbody tr").first).to_contain_text("admin")
    axe(page)
    page.screenshot(path=str(artifacts / "deploy-rolled-back.png"), full_page=True)
    assert services.deployments.current() == 1
    assert page.errors == []
