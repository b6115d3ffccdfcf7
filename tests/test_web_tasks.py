"""Task pages in the browser: evidence uploads with refused steps, one upload limit, finished and stale tasks, the
next step of a case offered to whoever may take it, and the registration form's required marks."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from service.auth import Principal
from tests.steps import case_at_statement
from tests.test_web import OFFICE, FINDING, axe, choose, login, row_input, site  # noqa: F401

LIMIT = "每个文件不超过 20 MB，一次提交合计不超过 60 MB"


def _new_case(services, summary: str) -> int:
    return services.cases.start_case(OFFICE, {"channel": "inspection", "subject": "wang_fang", "unit": "法制科",
                                              "grounds": [7], "summary": summary, "act_date": "2026-05-06"})["id"]


def _task_id(services, case_id: int, name: str, who: Principal = OFFICE) -> str:
    return services.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items[0]["id"]


def _registered_case(services, summary: str) -> int:
    case_id = _new_case(services, summary)
    services.cases.complete(OFFICE, _task_id(services, case_id, "Task_register"), {
        "register": True, "grounds": [7], "respondents": [{"person": "wang_fang", "role": "handler", "unit": "法制科"}]})
    return case_id


def _evidence_names(services, case_id: int) -> list[str]:
    return [a["filename"] for a in services.cases.attachments(OFFICE, case_id)]


def test_a_file_sent_with_a_refused_step_is_kept_for_the_next_try_and_attached_once(site, page: Page):
    base, services = site
    case_id = _registered_case(services, "上传测试：被退回的提交")
    task_id = _task_id(services, case_id, "Task_investigate")
    login(page, base, "office_li")
    page.goto(f"{base}/tasks/{task_id}")
    expect(page.get_by_label("上传证据文件")).to_be_visible()
    expect(page.locator("#help-evidence_files")).to_contain_text(LIMIT)
    page.get_by_role("textbox", name=re.compile("^证据")).fill("询问笔录")
    page.get_by_label("上传证据文件").set_input_files(files=[{"name": "笔录.txt", "mimeType": "text/plain",
                                                           "buffer": "笔录内容".encode()}])
    page.get_by_role("button", name="提交办结").click()  # 查明的事实 is missing: refused
    expect(page.get_by_role("alert")).to_contain_text("提交未成功")
    assert _evidence_names(services, case_id) == []  # not evidence of a step that did not happen
    kept = page.locator(".draft-files")
    expect(kept).to_contain_text("笔录.txt")
    expect(page.get_by_role("textbox", name=re.compile("^证据"))).to_have_value("询问笔录")
    axe(page)
    # the person sends the same file again with the corrected form: it is stored once, as evidence of this step
    page.get_by_label("查明的事实").fill("经调查属实。")
    page.get_by_label("调查人员").fill("office_li\noffice_sun")
    page.get_by_label("过错行为发生日期").fill("2026-05-06")
    page.get_by_label("上传证据文件").set_input_files(files=[{"name": "笔录.txt", "mimeType": "text/plain",
                                                           "buffer": "笔录内容".encode()}])
    page.get_by_role("button", name="提交办结").click()
    expect(page.locator(".flash-success")).to_contain_text("已办结")
    assert _evidence_names(services, case_id) == ["笔录.txt"]
    evidence = services.cases.get_case(OFFICE, case_id)
    task = services.cases.get_task(OFFICE, task_id)
    assert task["data"]["evidence"] == ["询问笔录", "附件：笔录.txt"], (task["data"], evidence.get("id"))


def test_one_upload_limit_stated_by_the_form_the_field_message_and_the_413_page(site, page: Page, browser):
    base, services = site
    case_id = _registered_case(services, "上传测试：文件过大")
    task_id = _task_id(services, case_id, "Task_investigate")
    big = {"name": "录像.bin", "mimeType": "application/octet-stream", "buffer": b"\0" * (21 * 1024 * 1024)}
    # in the browser the size is checked before sending: nothing typed is lost, nothing is sent
    login(page, base, "office_li")
    page.goto(f"{base}/tasks/{task_id}")
    page.get_by_label("查明的事实").fill("我写的事实要保留")
    page.get_by_label("上传证据文件").set_input_files(files=[big])
    page.get_by_role("button", name="提交办结").click()
    message = page.locator("#err-evidence_files")
    expect(message).to_have_text(f"文件“录像.bin”过大，未保存：{LIMIT}。")
    expect(page.get_by_label("上传证据文件")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("查明的事实")).to_have_value("我写的事实要保留")
    assert page.url.endswith(f"/tasks/{task_id}")
    axe(page)
    # without the script the server says the same, under the field's label, with everything typed kept
    context = browser.new_context(java_script_enabled=False, locale="zh-CN", bypass_csp=True)
    plain = context.new_page()
    login(plain, base, "office_li")
    plain.goto(f"{base}/tasks/{task_id}")
    plain.get_by_label("查明的事实").fill("没有脚本也保留")
    plain.get_by_label("上传证据文件").set_input_files(files=[big])
    plain.get_by_role("button", name="提交办结").click()
    summary = plain.locator("#error-summary")
    expect(summary).to_contain_text(f"上传证据文件：文件“录像.bin”过大，未保存：{LIMIT}。")
    expect(summary).not_to_contain_text("evidence_files")
    expect(plain.get_by_label("查明的事实")).to_have_value("没有脚本也保留")
    assert _evidence_names(services, case_id) == []
    context.close()
    # a request over the server's limit: the 413 page states the same limit and offers Back
    app_client = _client(services)
    response = app_client.post(f"/tasks/{task_id}", data=b"statement=" + b"0" * (62 * 1024 * 1024),
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert LIMIT in text and "返回上一页" in text and "25 MB" not in text


def _client(services):
    from service.web import create_app
    from tests.databases import PASSWORD
    app = create_app(services=services, config={"SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"username": "office_li", "password": PASSWORD}).status_code == 302
    return client


def test_a_finished_task_shows_what_was_submitted_by_whom_and_when(site, page: Page, browser, artifacts):
    base, services = site
    case_id = case_at_statement(services, FINDING)
    accused = Principal("wang_fang")
    task_id = _task_id(services, case_id, "Task_statement", accused)
    login(page, base, "wang_fang")
    page.goto(f"{base}/tasks/{task_id}")
    choose(page, "放弃陈述和辩解", "否")
    page.get_by_label("陈述和辩解", exact=True).fill("我对认定的事实有补充说明。")
    page.get_by_role("button", name="提交办结").click()
    expect(page.locator(".flash-success")).to_contain_text("已办结")
    # the accused opens their own statement later (and after Back): read-only, with who and when
    page.goto(f"{base}/tasks/{task_id}")
    submitted = page.locator(".submitted")
    expect(submitted).to_contain_text("我对认定的事实有补充说明。")
    expect(submitted).to_contain_text("否")
    expect(page.locator(".done-by")).to_contain_text(re.compile(r"此任务已由 王芳 于 \d{4}-\d\d-\d\d \d\d:\d\d 办结"))
    expect(page.locator("aside")).not_to_contain_text("None")
    expect(page.locator("#task-form")).to_have_count(0)
    axe(page)
    page.screenshot(path=str(artifacts / "web-finished-task.png"), full_page=True)
    page.go_back()
    expect(page.locator("body")).not_to_contain_text("None")
    # a task someone else completed, opened by the office
    office = browser.new_context(locale="zh-CN", bypass_csp=True).new_page()
    login(office, base, "office_sun")
    office.goto(f"{base}/tasks/{_done_task(services, case_id, 'Task_register')}")
    expect(office.locator(".done-by")).to_contain_text("此任务已由 office_li 于")
    expect(office.locator(".submitted")).to_contain_text("第五条第（七）项")
    expect(office.locator(".submitted")).to_contain_text("执法二科")
    expect(office.locator("aside")).to_contain_text("来源")
    expect(office.locator("aside")).not_to_contain_text("None")
    axe(office)
    office.context.close()


def _done_task(services, case_id: int, name: str) -> str:
    from service.store.repository import Store
    with services.db.session() as s:
        return next(t.id for t in Store(s).case_tasks(case_id) if t.name == name)


def test_submitting_a_task_someone_else_completed_says_nothing_was_saved(site, page: Page, browser):
    base, services = site
    case_id = _new_case(services, "两人同时办理")
    task_id = _task_id(services, case_id, "Task_register")
    login(page, base, "office_li")
    page.goto(f"{base}/tasks/{task_id}")
    choose(page, "是否立案", "否")
    page.get_by_label("不予立案理由").fill("我这边的理由")
    other = browser.new_context(locale="zh-CN", bypass_csp=True).new_page()
    login(other, base, "office_sun")
    other.goto(f"{base}/tasks/{task_id}")
    choose(other, "是否立案", "否")
    other.get_by_label("不予立案理由").fill("孙先办结")
    other.get_by_role("button", name="提交办结").click()
    expect(other.locator(".flash-success")).to_contain_text("已办结")
    other.context.close()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="提交办结").click()
    assert answer.value.status == 409
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("您提交的内容没有保存")
    expect(alert).to_contain_text(re.compile(r"此任务已由 office_sun 于 \d{4}-\d\d-\d\d \d\d:\d\d 办结"))
    expect(page.locator(".submitted")).to_contain_text("孙先办结")
    axe(page)
    alert.get_by_role("link", name=re.compile("查看案件")).click()
    expect(page).to_have_url(re.compile(f"/cases/{case_id}$"))


def test_after_a_step_the_next_step_of_the_case_is_offered_and_claimed(site, page: Page):
    base, services = site
    case_id = _new_case(services, "继续办理下一步")
    login(page, base, "office_li")
    page.goto(f"{base}/tasks/{_task_id(services, case_id, 'Task_register')}")
    # the registration form: unit carries the required mark; grounds and respondents say when they are required
    unit_header = page.locator("table.subgrid th", has_text="本人所在科室或单位")
    expect(unit_header.locator(".req")).to_have_count(1)
    expect(page.locator("#when-grounds")).to_contain_text("“是否立案”选“是”时必填")
    choose(page, "是否立案", "是")
    page.get_by_label(re.compile("第五条第（七）项")).check()
    row_input(page, "当事人（账号）", 1).fill("wang_fang")
    row_input(page, "在该执法行为中的角色", 1).select_option(label="承办人（第八条）")
    page.get_by_role("button", name="提交办结").click()
    expect(page.locator(".flash-success")).to_contain_text("已办结")
    offer = page.get_by_role("button", name="继续办理本案下一步：调查取证")
    expect(offer).to_be_visible()
    axe(page)
    offer.click()
    expect(page.get_by_role("heading", name="调查取证", level=1)).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("已领取")
    task = services.cases.get_task(OFFICE, _task_id(services, case_id, "Task_investigate"))
    assert task["claimed_by"] == "office_li"


def test_not_registering_needs_no_grounds_nor_respondents(site, page: Page):
    base, services = site
    case_id = _new_case(services, "不予立案")
    login(page, base, "office_li")
    page.goto(f"{base}/tasks/{_task_id(services, case_id, 'Task_register')}")
    expect(page.locator("#f-grounds input:required, #f-respondents input:required")).to_have_count(0)
    choose(page, "是否立案", "否")
    page.get_by_label("不予立案理由").fill("线索不属实")
    page.get_by_role("button", name="提交办结").click()
    expect(page.locator(".flash-success")).to_contain_text("已办结")
    assert services.cases.get_case(OFFICE, case_id)["status"] in ("open", "closed")
    assert services.cases.get_case(OFFICE, case_id)["grounds"] in ([7], [])
