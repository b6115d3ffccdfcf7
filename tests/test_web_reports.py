"""The registers and statistics page (/reports) in a real browser (Debian's Chromium driven by Playwright).

Reached from the navigation; charts drawn by Chart.js from node_modules under the strict Content-Security-Policy,
beside tables with the same numbers; filters; the Excel download opens with the right rows; the printed page
leaves out the navigation and the filters; reviewers see the watch list as a number; axe-core finds no serious or
critical violation."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from service.auth import Principal
from tests.test_persons_service import MEMBERS, OFFICE, REPORTER
from tests.test_web import axe, login, site  # noqa: F401 - fixture

YEAR = 2026


def _step(svc, who: Principal, case_id: int, name: str, data: dict) -> None:
    task = svc.list_tasks(who, filters={"case_id": case_id, "name": name}).items[0]
    svc.complete(who, task["id"], data)


def _decided(services, person: str, unit: str, act_date: str, channel: str = "inspection") -> int:
    """A case of one handler decided by the leading group (an established error of ``person``)."""
    svc = services.cases
    case_id = svc.start_case(OFFICE, {"channel": channel, "subject": person, "unit": unit, "grounds": [7, 14],
                                      "summary": "程序违法", "act_date": act_date})["id"]
    _step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7, 14], "respondents": [
        {"person": person, "role": "handler", "unit": unit}]})
    _step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "f", "evidence": ["e"], "act_date": act_date,
                                                     "investigators": ["office_li", "office_sun"]})
    _step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "c", "findings": [
        {"person": person, "handler_fault": 5, "severity": "light"}]})
    _step(svc, Principal(person), case_id, "Task_statement", {"statement_waived": True})
    for m in MEMBERS:
        _step(svc, m, case_id, "Task_vote", {"vote": "approve", "measure_choices": []})
    return case_id


def _cases(services) -> None:
    svc = services.cases
    _decided(services, "wang_fang", "法制科", f"{YEAR}-02-03")
    _decided(services, "wang_fang", "法制科", f"{YEAR}-04-08", channel="self_report")
    closed = _decided(services, "zhang_wei", "执法一科", f"{YEAR}-05-12", channel="superior_referral")
    _step(svc, OFFICE, closed, "Task_serve", {"decision_number": "明执追〔2026〕3号", "served_on": f"{YEAR}-06-20",
                                              "service_method": "direct"})
    _step(svc, Principal("zhang_wei"), closed, "Task_appeal", {"appeal": False})
    _step(svc, OFFICE, closed, "Task_recovery", {"compensation_paid": 0, "recovery": []})
    svc.start_case(None, {"officer": "执法人员", "summary": "处罚程序违法", "act_date": f"{YEAR}-06-01",
                          "reporter": REPORTER})
    for channel in ("inspection", "inspection", "self_report"):
        svc.start_case(OFFICE, {"channel": channel, "subject": "liu_yang", "unit": "执法一科", "grounds": [5],
                                "summary": "检查发现", "act_date": f"{YEAR}-07-01"})


def _charts(page: Page) -> int:
    expect(page.locator("body[data-charts]")).to_have_count(1)
    return int(page.locator("body").get_attribute("data-charts"))


def test_the_office_reads_charts_filters_exports_and_prints_the_reports(site, browser, artifacts):
    base, services = site
    _cases(services)
    # the strict CSP as served (no bypass): the charts are drawn from the local Chart.js and our own script
    strict = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = strict.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    login(page, base, "office_li")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="统计报表").click()
    expect(page.get_by_role("heading", name="统计报表", level=1)).to_be_visible()
    page.goto(f"{base}/reports?year={YEAR}")  # the cases' year, whatever this year is
    assert _charts(page) >= 7
    assert page.locator(".chart-box canvas[role=img]").count() == _charts(page)
    # the channel table beside its chart: 7 cases, of which 3 inspections
    channel = page.locator("#t-channel")
    expect(channel.get_by_role("row", name=re.compile("检查发现"))).to_contain_text("3")
    expect(page.locator("section[aria-labelledby=h-channel] .chart-box canvas")).to_have_count(1)
    expect(page.locator(".tiles")).to_contain_text("7")
    # the watch list: wang_fang has two established errors this year, one short of Art. 11(3)
    watch = page.locator("#t-watch")
    expect(watch.get_by_role("row", name=re.compile("王芳"))).to_contain_text("再有一次即从重")
    expect(watch).not_to_contain_text("张伟")
    expect(page.locator(".quote")).to_contain_text("全年累计发生三次（含三次）以上行政执法过错的")
    expect(page.locator("body")).not_to_contain_text(REPORTER["name"])
    # the Art. 15 register of the year: zhang_wei and his own unit
    register = page.locator("section[aria-labelledby=h-register] table")
    expect(register.get_by_role("row", name=re.compile("张伟"))).to_contain_text("执法一科")
    expect(register.locator("tbody tr")).to_have_count(2)
    assert problems == [], problems
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "web-reports.png"), full_page=True)

    # Excel download from the page, opened with openpyxl
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 Excel").click()
    from openpyxl import load_workbook
    assert download.value.suggested_filename == f"reports-{YEAR}.xlsx"
    with open(download.value.path(), "rb") as f:
        book = load_workbook(f)
    rows = [list(r) for r in book["来源渠道"].iter_rows(values_only=True)]
    assert ["检查发现（第二十条）", 3] in rows and ["自行报告（第十九条）", 2] in rows
    assert [r[1] for r in book["第十一条关注名单"].iter_rows(values_only=True)][1:] == ["王芳"]

    # a filter: self-reports only
    page.get_by_label("来源", exact=True).select_option(label="自行报告（第十九条）")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator(".tiles div").first).to_contain_text("2")
    expect(page.locator("#t-channel").get_by_role("row", name=re.compile("检查发现"))).to_contain_text("0")
    assert "channel=self_report" in page.url
    # a bad date range: named at its field, the input kept, focus on the summary
    page.goto(f"{base}/reports?year={YEAR}&from=2026-06-01&to=2026-05-01")
    expect(page.locator("#r-to-error")).to_contain_text("结束日期不能早于开始日期")
    expect(page.get_by_label("受理日期自", exact=True)).to_have_value("2026-06-01")
    expect(page.locator("#error-summary")).to_be_focused()
    assert [p for p in problems if "status of 422" not in p] == [], problems  # the page itself answers 422
    problems.clear()

    # the printed page: no navigation, no filters, the charts and tables
    page.goto(f"{base}/reports?year={YEAR}")
    _charts(page)
    expect(page.get_by_role("button", name="打印")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.locator(".filters-note")).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "web-reports-print.png"), full_page=True)
    page.pdf(path=str(artifacts / "web-reports.pdf"), format="A4", print_background=True)
    assert problems == [], problems
    strict.close()

    # accessibility (axe is injected, so this context bypasses the CSP)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN", bypass_csp=True)
    checked = context.new_page()
    login(checked, base, "lg_chen")
    checked.goto(f"{base}/reports?year={YEAR}")
    _charts(checked)
    axe(checked)
    checked.goto(f"{base}/reports?year=12345")
    axe(checked)
    context.close()


def test_a_reviewer_reads_the_reports_without_the_watch_list_names(site, page, artifacts):
    base, services = site
    if not services.reports.watch_list(OFFICE, YEAR)["count"]:
        _cases(services)
    login(page, base, "reviewer")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="统计报表").click()
    expect(page.get_by_role("heading", name="统计报表", level=1)).to_be_visible()
    page.goto(f"{base}/reports?year={YEAR}")
    assert _charts(page) >= 7
    expect(page.locator("section[aria-labelledby=h-watch] .notice")).to_contain_text("关注名单共 1 人")
    expect(page.locator("#t-watch")).to_have_count(0)
    axe(page)
    page.screenshot(path=str(artifacts / "web-reports-reviewer.png"), full_page=True)


def test_the_reports_are_not_offered_to_an_administrator(site, page):
    base, _ = site
    login(page, base, "admin")
    expect(page.get_by_role("navigation", name="主导航").get_by_role("link", name="统计报表")).to_have_count(0)
    response = page.goto(f"{base}/reports")
    assert response.status == 403
    axe(page)


def test_without_scripts_the_tables_carry_everything(site, browser):
    base, services = site
    if not services.reports.watch_list(OFFICE, YEAR)["count"]:
        _cases(services)
    context = browser.new_context(java_script_enabled=False, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    login(page, base, "office_li")
    page.goto(f"{base}/reports?year={YEAR}")
    expect(page.locator("canvas")).to_have_count(0)
    expect(page.locator("#t-channel").get_by_role("row", name=re.compile("检查发现"))).to_contain_text("3")
    expect(page.get_by_role("button", name="打印")).to_be_hidden()  # the browser's own print still works
    expect(page.get_by_role("link", name="导出 Excel")).to_be_visible()
    context.close()
