"""The public pages and the rough edges a newcomer met (issue 11): the complaint page and its receipt, the status
enquiry by receipt code, the login's 429, and trying a decision table. In Debian's Chromium, each page checked
with axe-core; the site is the one of tests/test_web.py, with its app at hand to lower the rate limit."""
from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from service.cases.public import LOCAL_TIME
from service.errors import Unauthenticated
from service.web import build_services, create_app
from tests.test_web import OFFICE, axe, login

OFFICER_TEXT, SUMMARY, REPORTER_NAME, PHONE = "执法二科 李某某 执法证 0420", "在菜市场当场罚款未开票据", "孙匿名", "13900001111"


@pytest.fixture(scope="module")
def site(sqlite_template):
    """(base URL, services, app): like tests/test_web.py's site, and the app to change the rate limit."""
    url = sqlite_template.new()
    services = build_services(url)
    app = create_app(services=services, config={"SECRET_KEY": "test-secret", "COMPLAINT_RATE_LIMIT": "500/minute"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", services, app
    server.shutdown()
    services.db.dispose()
    sqlite_template.drop(url)


def today() -> dt.date:
    return dt.datetime.now(LOCAL_TIME).date()


def fill_report(page: Page, *, officer=OFFICER_TEXT, day: str | None = None, summary=SUMMARY, name="", contact=""):
    page.get_by_label("被举报的执法人员").fill(officer)
    page.get_by_label("发生日期").fill(day or (today() - dt.timedelta(days=3)).isoformat())
    page.get_by_label("发生了什么").fill(summary)
    page.get_by_label("您的姓名（选填）").fill(name)
    page.get_by_label("联系方式（选填）").fill(contact)


def public_cases(services) -> int:
    from service.store.models import Case
    from sqlalchemy import func, select
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Case).where(Case.receipt_code.is_not(None)))


# ---------------------------------------------------------------------------------------------- 1. /report

def test_report_errors_name_each_field_and_a_future_date_is_refused(site, page, artifacts):
    base, services, _app = site
    before = public_cases(services)
    page.goto(f"{base}/report")
    page.get_by_role("button", name="提交举报").click()
    summary = page.get_by_role("alert")
    for label in ("被举报的执法人员", "发生日期", "发生了什么"):
        expect(summary).to_contain_text(f"{label}：")
    expect(summary.get_by_role("link")).to_have_count(3)
    expect(page.locator("#error-summary")).to_be_focused()
    axe(page)
    page.screenshot(path=str(artifacts / "web-report-required.png"), full_page=True)
    summary.get_by_role("link", name=re.compile("^发生了什么")).click()
    expect(page.get_by_label("发生了什么")).to_be_focused()
    # a future act date: refused at its field, everything typed kept
    fill_report(page, day="2030-01-01", name=REPORTER_NAME)
    page.get_by_role("button", name="提交举报").click()
    expect(page.get_by_role("alert")).to_contain_text(f"发生日期：不能晚于今天（{today().isoformat()}）")
    expect(page.get_by_label("发生日期")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("发生了什么")).to_have_value(SUMMARY)
    expect(page.get_by_label("您的姓名（选填）")).to_have_value(REPORTER_NAME)
    axe(page)
    page.screenshot(path=str(artifacts / "web-report-errors.png"), full_page=True)
    assert public_cases(services) == before
    # today is not the future
    page.get_by_label("发生日期").fill(today().isoformat())
    page.get_by_role("button", name="提交举报").click()
    expect(page.get_by_role("heading", name="举报已收到")).to_be_visible()
    assert public_cases(services) == before + 1


def test_a_contact_without_a_name_is_accepted(site, page):
    base, services, _app = site
    page.goto(f"{base}/report")
    fill_report(page, contact=PHONE)
    page.get_by_role("button", name="提交举报").click()
    expect(page.get_by_role("heading", name="举报已收到")).to_be_visible()
    code = page.locator("#receipt-code").inner_text()
    from service.store.repository import Store
    with services.db.session() as s:
        assert Store(s).case_by_receipt(code).reporter == {"contact": PHONE}


def test_reload_and_back_and_resubmit_never_file_twice(site, page, artifacts):
    base, services, _app = site
    page.goto(f"{base}/report")
    fill_report(page, name=REPORTER_NAME, contact=PHONE)
    page.get_by_role("button", name="提交举报").click()
    expect(page.get_by_role("heading", name="举报已收到")).to_be_visible()
    assert page.url == f"{base}/report/receipt"  # Post/Redirect/Get: the receipt has an address of its own
    code = page.locator("#receipt-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{10}", code)
    filed = public_cases(services)
    axe(page)
    page.reload()
    expect(page.locator("#receipt-code")).to_have_text(code)
    assert public_cases(services) == filed
    # Back to the form: it says a report was just filed, and sending it again files nothing
    page.go_back()
    expect(page.locator("#last-receipt")).to_contain_text(code)
    expect(page.get_by_label("发生了什么")).to_have_value(SUMMARY)  # the browser keeps what was typed
    page.get_by_role("button", name="提交举报").click()
    expect(page.locator("#receipt-code")).to_have_text(code)
    assert public_cases(services) == filed
    # the same form, sent twice (a second tab, or a double click): one complaint, the same receipt
    page.goto(f"{base}/report")
    fill_report(page, summary="双击提交按钮", contact=PHONE)
    form = page.locator("form[action='/report']")
    token = form.locator("input[name=submission]").input_value()
    page.get_by_role("button", name="提交举报").click()
    expect(page.get_by_role("heading", name="举报已收到")).to_be_visible()
    first = page.locator("#receipt-code").inner_text()
    assert first != code and public_cases(services) == filed + 1
    page.go_back()
    page.goto(f"{base}/report")
    fill_report(page, summary="双击提交按钮", contact=PHONE)
    page.locator("input[name=submission]").evaluate("(el, t) => el.value = t", token)
    page.get_by_role("button", name="提交举报").click()
    expect(page.locator("#receipt-code")).to_have_text(first)
    assert public_cases(services) == filed + 1
    # the receipt tells the code and leads to the status page
    page.get_by_role("link", name="用回执号查询办理情况").click()
    expect(page.get_by_role("heading", name="查询举报办理情况")).to_be_visible()


def test_two_simultaneous_posts_of_one_form_file_one_complaint(site, page):
    """A double click sends the same form twice before the first answer: the server files it once."""
    base, services, _app = site
    page.goto(f"{base}/report")
    fill_report(page, summary="同时到达的两次提交")
    before = public_cases(services)
    statuses = page.evaluate("""async () => {
        const form = document.querySelector("form[action='/report']");
        const send = () => fetch('/report', {method: 'POST', body: new FormData(form), redirect: 'manual'});
        const answers = await Promise.all([send(), send()]);
        return answers.map(a => a.type);
    }""")
    assert statuses == ["opaqueredirect", "opaqueredirect"]  # both went on to the receipt
    assert public_cases(services) == before + 1


# ---------------------------------------------------------------------------------------------- 2. status page

def _status(page: Page, base: str, code: str) -> None:
    page.goto(f"{base}/report/status")
    page.get_by_label("回执号").fill(code)
    page.get_by_role("button", name="查询").click()


def test_the_status_page_answers_a_receipt_code_and_nothing_more(site, page, artifacts):
    base, services, _app = site
    svc = services.cases
    pending = svc.file_complaint({"officer": OFFICER_TEXT, "act_date": "2026-03-01", "summary": SUMMARY,
                                  "reporter": {"name": REPORTER_NAME, "contact": PHONE}})
    refused = svc.file_complaint({"officer": OFFICER_TEXT, "act_date": "2026-03-02", "summary": SUMMARY,
                                  "reporter": {"contact": PHONE}})
    registered = svc.file_complaint({"officer": OFFICER_TEXT, "act_date": "2026-03-03", "summary": SUMMARY})
    reason = "经核查，所举报的罚款已依法开具票据，不构成执法过错。"
    for case, data in [(refused, {"register": False, "not_registered_reason": reason}),
                       (registered, {"register": True, "grounds": [8], "registration_note": "立案意见：内部",
                                     "respondents": [{"person": "zhang_wei", "role": "handler",
                                                      "unit": "执法一科"}]})]:
        task = svc.list_tasks(OFFICE, filters={"case_id": case["id"], "name": "Task_register"}).items[0]
        svc.complete(OFFICE, task["id"], data)
    secrets = [OFFICER_TEXT, SUMMARY, REPORTER_NAME, PHONE, "zhang_wei", "执法一科", "张伟", "立案意见", "承办人"]

    _status(page, base, pending["receipt_code"].lower())  # typed in lower case: the same code
    result = page.locator("#status-result")
    expect(result).to_contain_text("尚未决定")
    expect(result).to_contain_text(dt.datetime.now(LOCAL_TIME).date().isoformat())
    axe(page)

    _status(page, base, refused["receipt_code"])
    expect(page.locator("#status-registered")).to_have_text("不予立案")
    expect(page.locator("#status-reason")).to_have_text(reason)
    axe(page)
    page.screenshot(path=str(artifacts / "web-receipt-status.png"), full_page=True)
    for text in secrets:
        expect(page.locator("main")).not_to_contain_text(text)

    _status(page, base, registered["receipt_code"])
    expect(page.locator("#status-registered")).to_have_text("已立案")
    expect(page.locator("#status-reason")).to_have_count(0)
    for text in secrets:
        expect(page.locator("main")).not_to_contain_text(text)

    # unknown and malformed codes get one neutral answer; an empty one asks for the code
    answers = []
    for code in ("ABCDEFGHJK", "x' OR 1=1 --", "Z" * 40):
        _status(page, base, code)
        answers.append(page.locator("#status-result").inner_text())
    assert answers[0] == answers[1] == answers[2] and "没有找到与此回执号对应的举报" in answers[0]
    axe(page)
    page.get_by_label("回执号").fill("")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("alert")).to_contain_text("回执号：请填写回执号")
    expect(page.locator("#error-summary")).to_be_focused()
    axe(page)


def test_the_status_page_is_rate_limited_like_the_report_page(site, page):
    base, _services, app = site
    app.config["COMPLAINT_RATE_LIMIT"] = "3/minute"
    try:
        for _ in range(3):
            _status(page, base, "ABCDEFGHJK")
            expect(page.locator("#status-result")).to_contain_text("未找到")
        _status(page, base, "ABCDEFGHJK")
        expect(page.get_by_role("heading", name="提交过于频繁")).to_be_visible()
        expect(page.get_by_role("link", name="回到我的待办")).to_have_count(0)
        expect(page.get_by_role("link", name="回到举报页面")).to_be_visible()
        axe(page)
    finally:
        app.config["COMPLAINT_RATE_LIMIT"] = "500/minute"


# ---------------------------------------------------------------------------------------------- 3. login 429

def test_a_throttled_login_offers_the_login_page_not_the_inbox(site, page):
    base, services, app = site
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            services.logins.check("lg_zhou", "wrong", "127.0.0.1")
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill("lg_zhou")
    page.get_by_label("密码").fill("wrong again")
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="登录").click()
    assert answer.value.status == 429
    expect(page.get_by_role("alert")).to_contain_text("登录失败次数过多")
    expect(page.get_by_role("link", name="回到我的待办")).to_have_count(0)
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    axe(page)
    # the 429 page of the rate limit, to someone logged out: the login page, never the inbox
    app.config["COMPLAINT_RATE_LIMIT"] = "1/minute"
    try:
        page.goto(f"{base}/report")
        fill_report(page)
        page.get_by_role("button", name="提交举报").click()
        page.goto(f"{base}/report")
        fill_report(page)
        page.get_by_role("button", name="提交举报").click()
        expect(page.get_by_role("heading", name="提交过于频繁")).to_be_visible()
        expect(page.get_by_role("link", name="回到我的待办")).to_have_count(0)
        page.get_by_role("link", name="前往登录页").click()
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
    finally:
        app.config["COMPLAINT_RATE_LIMIT"] = "500/minute"


# ---------------------------------------------------------------------------------------------- 4. try-it

def test_trying_a_table_shows_the_result_in_view_and_asks_for_missing_inputs(site, page):
    base, _services, _app = site
    login(page, base, "reviewer")
    page.goto(f"{base}/decisions/sanction")
    expect(page.get_by_role("heading", name=re.compile("责任形式"))).to_be_visible()
    page.get_by_role("button", name="试算").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("请填写以下输入后再试算")
    expect(summary).to_contain_text("性质与影响")
    expect(page.locator(".field-error")).to_have_count(2)
    expect(page.locator("#try-result")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("null")
    expect(page.locator("#result")).to_be_focused()  # the outcome, with the summary in it, has the focus
    expect(page.locator("#error-summary")).to_be_in_viewport()
    axe(page)
    page.get_by_label(re.compile("^性质与影响")).select_option("grave")
    page.get_by_label(re.compile("^从重追究")).select_option("true")
    page.get_by_role("button", name="试算").click()
    result = page.locator("#try-result")
    expect(result).to_contain_text("开除公职")
    expect(page.locator("#result")).to_be_focused()
    expect(result).to_be_in_viewport()
    assert page.evaluate("() => document.getElementById('try-result').getBoundingClientRect().bottom") <= 900
    expect(page.get_by_label(re.compile("^性质与影响"))).to_have_value("grave")
    axe(page)
