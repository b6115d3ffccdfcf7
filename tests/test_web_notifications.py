"""Time limits in Chromium. The bell: an overdue task's reminder shows as an unread count in the page header, the
list names the case, the task and its limit (never the reporter), and marking it read clears the count. An extension:
the office asks on the investigation page, a member of the leading group approves it, and the new limit is in the
inbox. axe-core finds nothing serious."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from service.auth import Principal
from service.web import build_services, create_app
from service.workdays import end_of_day
from tests.test_web import REPORTER_NAME, REPORTER_PHONE, axe, choose, login, logout, open_task, submit

CST = dt.timezone(dt.timedelta(hours=8))


class Clock:
    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def site(sqlite_template):
    url = sqlite_template.new()
    clock = Clock(dt.datetime(2026, 9, 16, 9, 0, tzinfo=CST))
    services = build_services(url, clock=clock)
    app = create_app(services=services, config={"SECRET_KEY": "test-secret"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", services, clock
    server.shutdown()
    services.db.dispose()
    sqlite_template.drop(url)


def test_the_bell_counts_unread_reminders_and_the_list_marks_them_read(site, page, artifacts):
    base, services, clock = site
    office = Principal("office_li", frozenset({"office"}))
    case_id = services.cases.start_case(office, {
        "channel": "public_complaint", "officer": "执法一科 张伟", "summary": "举报执法不当", "act_date": "2026-09-01",
        "reporter": {"name": REPORTER_NAME, "contact": REPORTER_PHONE}})["id"]
    login(page, base, "office_li")
    bell = page.get_by_role("link", name="通知：没有未读")
    expect(bell).to_be_visible()
    clock.at = end_of_day(dt.date(2026, 10, 13)) + dt.timedelta(minutes=1)  # past the registration limit
    assert services.reminders.run().reminded == 1
    page.reload()
    bell = page.get_by_role("link", name="通知：1 条未读")
    expect(bell).to_be_visible()
    expect(bell.locator(".bell-count")).to_have_text("1")
    axe(page)
    bell.click()
    expect(page.get_by_role("heading", name="通知", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text="立案审查")
    expect(row).to_contain_text(f"案件 {case_id}")
    expect(row).to_contain_text("逾期提醒")
    expect(row).to_contain_text("2026-10-13 23:59")
    content = page.content()
    assert REPORTER_NAME not in content and REPORTER_PHONE not in content
    axe(page)
    page.screenshot(path=str(artifacts / "notifications.png"), full_page=True)
    row.get_by_role("button", name="标为已读").click()
    expect(page.get_by_role("link", name="通知：没有未读")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="立案审查")).to_contain_text("已读")
    page.get_by_role("link", name="未读", exact=True).click()
    expect(page.get_by_text("没有未读通知。")).to_be_visible()
    axe(page)
    # the reminder's link opens the task
    page.get_by_role("link", name="全部", exact=True).click()
    page.get_by_role("link", name="立案审查").click()
    expect(page.get_by_role("heading", name="立案审查")).to_be_visible()
    assert page.errors == []


def test_the_office_asks_for_more_time_and_the_new_limit_is_in_the_inbox(site, page, artifacts):
    base, services, clock = site
    office = Principal("office_li", frozenset({"office"}))
    case_id = services.cases.start_case(office, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                                 "grounds": [7], "summary": "未按程序送达", "act_date": "2026-09-01"})["id"]
    [reg] = services.cases.list_tasks(office, filters={"case_id": case_id, "name": "Task_register"}).items
    services.cases.complete(office, reg["id"], {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"}]})
    login(page, base, "office_li")
    row = page.get_by_role("row").filter(has_text="调查取证")
    expect(row).to_contain_text("2026-10-16")  # 30 days from registration on 16 Sep
    open_task(page, base, "调查取证")
    choose(page, "是否申请延长调查期限", "是")
    page.get_by_label("申请延长的理由").fill("需调取外单位档案")
    axe(page)
    submit(page)
    logout(page)
    login(page, base, "lg_chen")
    open_task(page, base, "审批延长调查期限")
    expect(page.locator("aside")).to_contain_text("需调取外单位档案")
    expect(page.locator("aside")).to_contain_text("2026-10-16")
    choose(page, "是否批准延长", "是")
    axe(page)
    page.screenshot(path=str(artifacts / "extension-approval.png"), full_page=True)
    submit(page)
    logout(page)
    login(page, base, "office_li")
    # 15 days more end on Saturday 31 Oct, a rest day: the new limit is Monday 2 Nov
    expect(page.get_by_role("row").filter(has_text="调查取证")).to_contain_text("2026-11-02")
    assert page.errors == []
