"""The bell in Chromium: an overdue task's reminder shows as an unread count in the page header, the list names the
case, the task and its limit (never the reporter), and marking it read clears the count; axe-core finds nothing
serious."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from service.auth import Principal
from service.web import build_services, create_app
from service.workdays import end_of_day
from tests.test_web import REPORTER_NAME, REPORTER_PHONE, axe, login

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
    page.get_by_role("link", name="未读").click()
    expect(page.get_by_text("没有未读通知。")).to_be_visible()
    axe(page)
    # the reminder's link opens the task
    page.get_by_role("link", name="全部").click()
    page.get_by_role("link", name="立案审查").click()
    expect(page.get_by_role("heading", name="立案审查")).to_be_visible()
    assert page.errors == []
