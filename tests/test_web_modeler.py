"""The in-browser modeler (/processes/edit) in Debian's Chromium: a procedure owner changes the statement period
and a sanction rule, sees the validation problem on its element, fixes it, runs the scenarios, reads the
before/after diff and the affected cases, and deploys; the forms editor marks schema problems where they are; the
viewers and the modeler speak the page's language. Screenshots go to the artifacts folder; axe-core on every page."""
from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from service.auth import Principal
from service.web import build_services, create_app
from tests.steps import case_at_statement
from tests.test_drafts import EXPIRY, FINDING
from tests.test_web import OFFICE, axe, login

ROOT = Path(__file__).resolve().parent.parent
ADMIN = Principal("admin", frozenset({"admin"}))
BUNDLE = ROOT / "build" / "modeler" / "modeler.js"
INTAKE_ONLY = """- name: 检查发现：进入立案审查
  intake: {channel: inspection, subject: zhang_wei, unit: 执法一科, grounds: [7], summary: s, act_date: "2026-03-02"}
  expect: {open: [Task_register]}
"""


@pytest.fixture(scope="module")
def site(sqlite_template, tmp_path_factory):
    sources = [p.stat().st_mtime for p in (ROOT / "service" / "web" / "assets").glob("*.js")]
    if not BUNDLE.is_file() or BUNDLE.stat().st_mtime < max(sources):  # `make install` builds it; else here
        subprocess.run(["npm", "run", "--silent", "build"], cwd=ROOT, check=True)
    scenarios = tmp_path_factory.mktemp("scenarios")
    (scenarios / "owner.yaml").write_text(INTAKE_ONLY + EXPIRY, encoding="utf-8")
    url = sqlite_template.new()
    services = build_services(url)
    app = create_app(services=services, config={"SECRET_KEY": "test-secret"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACCOUNTABILITY_SCENARIOS", str(scenarios))
        yield f"http://127.0.0.1:{server.server_port}", services
    server.shutdown()
    services.db.dispose()
    sqlite_template.drop(url)



def new_draft(page: Page, base: str, *, check_axe: bool = True) -> None:
    page.goto(f"{base}/processes")
    page.get_by_role("link", name="在浏览器中编辑").click()
    expect(page.get_by_role("heading", name="在浏览器中编辑", level=1)).to_be_visible()
    if check_axe:  # axe-core is injected as an inline script: only where the test bypasses CSP
        axe(page)
    page.get_by_role("button", name=re.compile("从现行版本 v\\d+ 新建草稿")).click()
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "processes/accountability_case.bpmn",
                                                       timeout=30000)


def open_file(page: Page, name: str) -> None:
    page.locator(f"[data-file='{name}']").click()
    expect(page.locator("#modeler")).to_have_attribute("data-ready", name, timeout=30000)


def go_to(page: Page, element: str) -> None:
    page.get_by_label("定位元素").select_option(element)
    expect(page.locator(".bio-properties-panel-header-label")).to_have_text(re.compile(".+"))


def open_group(page: Page, title: str) -> None:
    header = page.locator(".bio-properties-panel-group-header", has_text=re.compile(f"^{re.escape(title)}"))
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def set_timer(page: Page, value: str) -> None:
    go_to(page, "Timer_statement")
    open_group(page, "定时器")
    field = page.locator("#bio-properties-panel-timerEventDefinitionValue")
    field.fill(value)
    field.press("Tab")
    expect(page.locator("[data-file='processes/accountability_case.bpmn']")).to_have_class(re.compile("dirty"))


def edit_cell(page: Page, rule: str, column: str, text: str) -> None:
    cell = page.locator(f"td[data-row-id='{rule}'][data-col-id='{column}'] [contenteditable='true']")
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.locator("h1").click()  # leave the cell


def save_and_check(page: Page) -> None:
    page.get_by_role("button", name="保存并检查").click()
    expect(page.get_by_role("heading", name=re.compile("检查草稿 #\\d+"))).to_be_visible(timeout=120000)


def test_an_owner_edits_checks_deploys_and_rolls_back_in_the_browser(site, page, artifacts):
    base, services = site
    case_id = case_at_statement(services, FINDING)
    live = services.deployments.current()
    login(page, base, "admin")
    new_draft(page, base)
    draft_id = int(re.search(r"/processes/edit/(\d+)", page.url).group(1))
    # the lists of the properties panel: a user task's role and form, chosen rather than typed
    go_to(page, "Task_register")
    open_group(page, "办理分配")
    roles = page.locator("#bio-properties-panel-candidateGroups")
    expect(roles).to_have_value("office")
    expect(roles.locator("option")).to_have_text(["— 选择角色 —", "领导小组办公室（office）", "领导小组成员（leading_group）"])
    open_group(page, "表单")
    expect(page.locator("#bio-properties-panel-formKey")).to_have_value("registration")
    go_to(page, "Decision_grounds")
    open_group(page, "实现")
    expect(page.locator("#bio-properties-panel-decisionRef")).to_have_value("grounds")
    expect(page.locator("#bio-properties-panel-decisionRef option")).to_contain_text(["责任形式（第十二条）（sanction）"])

    # 1. the statement period 7 → 10 days, first written as words: a problem
    set_timer(page, "10天")
    page.screenshot(path=str(artifacts / "modeler-timer.png"))
    # 2. a sanction rule: tier (二) without 从重 cites the article with the policy note
    open_file(page, "processes/sanction.dmn")
    expect(page.locator(".modeler-dmn")).to_contain_text("命中策略")
    expect(page.locator(".modeler-dmn")).to_contain_text("查看决策需求图")
    edit_cell(page, "Rule_sanction_light", "Output_citation", '"第十二条第（二）项（政策：修订）"')
    expect(page.locator("[data-file='processes/sanction.dmn']")).to_have_class(re.compile("dirty"))
    page.screenshot(path=str(artifacts / "modeler-sanction.png"))
    save_and_check(page)

    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("1 个问题")
    row = page.locator("#check-problems tr", has=page.get_by_role("link", name="Timer_statement"))
    expect(row).to_contain_text("'10天' 不是 ISO-8601 时长")
    expect(page.locator("body")).to_contain_text("校验有问题时不运行场景测试")
    axe(page)
    page.screenshot(path=str(artifacts / "modeler-check-problem.png"), full_page=True)
    # the problem on its element in the canvas
    row.get_by_role("link", name="Timer_statement").click()
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "processes/accountability_case.bpmn",
                                                       timeout=30000)
    note = page.locator(".djs-overlay .problem-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("10天")
    expect(page.locator("g.djs-element.has-problem[data-element-id='Timer_statement']")).to_have_count(1)
    expect(page.locator("#modeler-problems")).to_contain_text("Timer_statement")
    expect(page.locator(".bio-properties-panel-header-label")).to_have_text("陈述期限届满")
    axe(page)
    page.screenshot(path=str(artifacts / "modeler-problem-on-element.png"))

    # 3. fixed: an ISO-8601 duration; the check runs the scenarios, shows the diff and the affected case
    set_timer(page, "P10D")
    save_and_check(page)
    expect(page.locator("body")).to_contain_text("没有发现问题")
    expect(page.get_by_role("status").filter(has_text="通过")).to_contain_text("1 个通过，1 个失败")
    expect(page.locator("tr.row-overdue")).to_contain_text("陈述期限届满")  # P8D no longer closes the period
    timer = page.locator("#diff-elements tr[data-element='Timer_statement']")
    expect(timer.locator(".before")).to_have_text("P7D")
    expect(timer.locator(".after")).to_have_text("P10D")
    rule = page.locator("table.rule-diff[data-rule='Rule_sanction_light']")
    expect(rule.locator("tr.before")).to_contain_text('"第十二条第（二）项"')
    expect(rule.locator("tr.after")).to_contain_text('"第十二条第（二）项（政策：修订）"')
    expect(rule.locator("tr.after .cell-changed")).to_have_text('"第十二条第（二）项（政策：修订）"')
    case_row = page.locator("tr", has=page.get_by_role("link", name=f"#{case_id}"))
    expect(case_row).to_contain_text("陈述期限届满（Timer_statement）")
    expect(case_row).to_contain_text("可以迁移")
    expect(case_row).to_contain_text("重新计算")  # the statement deadline, kept or recomputed under P10D
    axe(page)
    page.screenshot(path=str(artifacts / "modeler-check-diff.png"), full_page=True)

    # 4. deploy: the failed scenario must be acknowledged; then the new version is live and the case stays
    page.get_by_role("button", name="部署为现行版本").click()
    expect(page.get_by_role("alert")).to_contain_text("场景测试未通过")
    assert services.deployments.current() == live
    page.get_by_label(re.compile("我已看过 1 个未通过的场景")).check()
    page.get_by_role("button", name="部署为现行版本").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已部署版本 v{live + 1}")
    assert services.deployments.current() == live + 1
    assert services.cases.get_case(OFFICE, case_id)["deployment"] == live
    files = services.owners.files(ADMIN, live + 1)
    assert ">P10D</bpmn:timeDuration>" in files["processes/accountability_case.bpmn"]
    assert '"第十二条第（二）项（政策：修订）"' in files["processes/sanction.dmn"]
    axe(page)  # the page to move open cases, where the deploy leads
    page.goto(f"{base}/processes/edit")
    expect(page.locator("body")).not_to_contain_text(f"草稿 #{draft_id}")  # the deployed draft is gone

    # 5. roll back: the earlier version is live again; no case moved, nothing of the draft left behind
    page.goto(f"{base}/processes")
    row = page.locator(f"#version-{live}")
    row.locator("summary").click()
    row.get_by_role("button", name=f"确认把 v{live} 设为现行版本").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已把 v{live} 设为现行版本（此前是 v{live + 1}）")
    assert services.deployments.current() == live
    assert services.cases.get_case(OFFICE, case_id)["deployment"] == live
    expect(page.locator(f"#version-{live}")).to_contain_text("现行")
    axe(page)
    page.screenshot(path=str(artifacts / "modeler-rolled-back.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_form_schema_problem_is_marked_where_it_is_and_a_draft_can_be_discarded(site, page, artifacts):
    base, services = site
    login(page, base, "admin")
    new_draft(page, base)
    open_file(page, "forms/vote.json")
    editor = page.locator(".cm-content")
    expect(editor).to_contain_text('"title": "表决意见"')
    # the vote field's title removed and a type misspelt: both marked, each at its place
    page.locator(".cm-line", has_text='"title": "表决意见"').click()
    page.keyboard.press("End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type('"type": "strang",')
    diagnostics = page.locator(".cm-lintRange-error")
    expect(diagnostics.first).to_be_visible(timeout=10000)
    page.locator(".cm-lintRange-error").first.hover()
    expect(page.locator(".cm-tooltip-lint")).to_contain_text("properties › vote › type")
    page.screenshot(path=str(artifacts / "modeler-form-problem.png"))
    expect(page.locator("[data-file='forms/vote.json']")).to_have_class(re.compile("dirty"))
    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator("#modeler-status")).to_contain_text("已保存")
    axe(page)
    draft_id = int(re.search(r"/processes/edit/(\d+)", page.url).group(1))
    saved = json.loads(page.request.get(f"{base}/processes/edit/{draft_id}/files/forms/vote.json").text())
    assert saved["properties"]["vote"]["type"] == "strang"
    page.get_by_role("button", name="丢弃这个草稿").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已丢弃草稿 #{draft_id}")
    assert page.request.get(f"{base}/processes/edit/{draft_id}").url.endswith("/processes/edit")


def test_the_viewers_and_the_modeler_speak_the_pages_language(site, page):
    base, services = site
    login(page, base, "admin")
    version = services.deployments.current()
    page.goto(f"{base}/processes/{version}")
    table = page.locator(".dmn-view .tjs-table").first
    expect(table).to_be_visible(timeout=20000)
    expect(page.locator(".dmn-view").first).to_contain_text("命中策略")
    expect(table.locator("th .clause").first).to_have_text("当")
    expect(page.locator(".dmn-view").first).to_contain_text("查看决策需求图")
    expect(page.locator(".dmn-view").first.locator(".hit-policy-value")).to_have_text("收集（Collect）")
    page.goto(f"{base}/lang/en?next=/processes/{version}")
    table = page.locator(".dmn-view .tjs-table").first
    expect(table).to_be_visible(timeout=20000)
    expect(page.locator(".dmn-view").first).to_contain_text("Hit policy")
    expect(table.locator("th .clause").first).to_have_text("When")
    expect(page.locator(".dmn-view").first).to_contain_text("View DRD")
    expect(page.locator(".dmn-view").first.locator(".hit-policy-value")).to_have_text("Collect")
    page.goto(f"{base}/processes/edit")
    page.get_by_role("button", name=re.compile("New draft from the live version")).click()
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "processes/accountability_case.bpmn",
                                                       timeout=30000)
    expect(page.locator(".djs-palette").get_by_role("button", name="Create task", exact=True)).to_have_count(1)
    page.goto(f"{base}/lang/zh_CN?next=/processes/edit")
    page.locator("table a").first.click()
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "processes/accountability_case.bpmn",
                                                       timeout=30000)
    expect(page.locator(".djs-palette").get_by_role("button", name="创建任务", exact=True)).to_have_count(1)
    assert page.errors == []  # type: ignore[attr-defined]


def test_saving_needs_the_csrf_header_and_the_current_revision(site, page):
    base, services = site
    login(page, base, "admin")
    new_draft(page, base)
    draft_id = int(re.search(r"/processes/edit/(\d+)", page.url).group(1))
    data = json.loads(page.locator("#draft-data").text_content())
    url = f"{base}/processes/edit/{draft_id}/save"
    body = {"revision": 1, "files": {"forms/vote.json": "{}"}}
    assert page.request.post(url, data=body).status == 400  # no token
    ok = page.request.post(url, data=body, headers={"X-CSRFToken": data["csrf"]})
    assert ok.status == 200 and ok.json() == {"revision": 2}
    stale = page.request.post(url, data=body | {"files": {"forms/vote.json": "[]"}},
                              headers={"X-CSRFToken": data["csrf"]})
    assert stale.status == 409 and "重新载入" in stale.json()["message"]
    bad = page.request.post(url, data={"revision": 2, "files": {"../x.py": "x"}}, headers={"X-CSRFToken": data["csrf"]})
    assert bad.status == 422


def test_the_modeler_runs_under_the_pages_content_security_policy(site, browser):
    """The other tests bypass CSP (as the suite's page fixture does); here the policy is enforced while an owner
    opens and edits each kind of file: no violation, no script error."""
    base, _ = site
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        login(page, base, "admin")
        new_draft(page, base, check_axe=False)
        set_timer(page, "P9D")
        open_file(page, "processes/sanction.dmn")
        edit_cell(page, "Rule_sanction_minor", "Output_citation", '"第十二条第（一）项"')
        open_file(page, "forms/vote.json")
        page.locator(".cm-content").click()
        page.keyboard.type(" ")
        page.get_by_role("button", name="保存草稿").click()
        expect(page.locator("#modeler-status")).to_contain_text("已保存")
    finally:
        context.close()
    assert problems == []
