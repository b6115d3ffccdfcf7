"""The case page and the looks of the staff pages in a real browser (issue 11, items 4 and 9).

The diagram fits its box with zoom and fit buttons and shows the done path, the decision traces' citations open the
table rows on /decisions, repeated reads of the reporter are one timeline entry, short cells stay on one line,
the /processes pages keep the console clean, and the demo speaks Chinese."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from service.store.models import Event
from tests.steps import case_at_statement
from tests.test_commands import run, workdir  # noqa: F401 - fixture
from tests.test_web import (OFFICE, REPORTER_NAME, FINDING, _decided_case, axe, login,  # noqa: F401
                            site)


def _ready(page: Page) -> None:
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true", timeout=15000)


def _inside(page: Page, selector: str) -> bool:
    """Whether the element is drawn wholly inside the diagram's box."""
    return page.evaluate("""sel => {
        const box = document.getElementById('diagram').getBoundingClientRect();
        const r = document.querySelector(sel).getBoundingClientRect();
        return r.width > 0 && r.left >= box.left - 1 && r.right <= box.right + 1
            && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
    }""", selector)


def _zoom(page: Page) -> float:
    return float(page.locator("#diagram").get_attribute("data-zoom"))


def test_the_diagram_fits_its_box_with_zoom_controls_and_the_done_path(site, page, artifacts):
    base, services = site
    case_id = case_at_statement(services, FINDING)
    login(page, base, "office_li")
    page.goto(f"{base}/cases/{case_id}")
    _ready(page)
    # the whole procedure is in view when the page opens, the current step among it
    assert _inside(page, "#diagram g.viewport"), "the diagram does not fit its box"
    active = "#diagram g.djs-element.step-active[data-element-id='Sub_hearing']"
    assert _inside(page, active)
    # the done path: completed steps and the flows taken between them, not the flows ahead
    expect(page.locator("g.djs-element.step-done[data-element-id='Task_register']")).to_have_count(1)
    expect(page.locator("g.djs-element.step-done[data-element-id='Task_investigate']")).to_have_count(1)
    expect(page.locator("g.djs-element.flow-done[data-element-id='Flow_investigated']")).to_have_count(1)
    expect(page.locator("g.djs-element.flow-done[data-element-id='Flow_hear']")).to_have_count(1)  # into the step now
    expect(page.locator("g.djs-element.flow-done[data-element-id='Flow_v_start']")).to_have_count(0)
    assert page.locator("g.djs-element.flow-done").count() >= 3
    # a hint that it can be dragged, and zoom buttons with Chinese names that work from the keyboard
    expect(page.locator("#diagram-hint")).to_contain_text("拖动")
    tools = page.get_by_role("group", name="流程图缩放")
    fitted = _zoom(page)
    tools.get_by_role("button", name="放大").focus()
    page.keyboard.press("Enter")
    assert _zoom(page) > fitted
    page.keyboard.press("Tab")
    expect(tools.get_by_role("button", name="缩小")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert _zoom(page) < fitted
    tools.get_by_role("button", name="适应窗口").click()
    assert abs(_zoom(page) - fitted) < 0.01
    assert _inside(page, "#diagram g.viewport")
    # it can be dragged: the view moves with the mouse
    before = page.locator("#diagram g.viewport").get_attribute("transform")
    box = page.locator("#diagram").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 240, box["y"] + 140, steps=8)
    page.mouse.up()
    assert page.locator("#diagram g.viewport").get_attribute("transform") != before
    tools.get_by_role("button", name="适应窗口").click()
    assert page.errors == []
    axe(page)
    page.locator("#diagram-h").scroll_into_view_if_needed()
    page.locator("#diagram-h").locator("xpath=..").screenshot(path=str(artifacts / "web-case-diagram-fit.png"))
    for _ in range(3):
        tools.get_by_role("button", name="放大").click()
    page.locator("#diagram").screenshot(path=str(artifacts / "web-case-diagram-zoomed.png"))


def test_the_decision_traces_cite_the_rows_on_the_decisions_page(site, page):
    base, services = site
    case_id = _decided_case(services)
    version = services.cases.get_case(OFFICE, case_id)["deployment"]
    login(page, base, "office_li")
    page.goto(f"{base}/cases/{case_id}")
    traces = page.locator("#decisions-h").locator("xpath=..")
    citations = traces.locator("tr.matched td.annotation a")
    assert citations.count() >= 1
    for link in citations.all():
        assert re.fullmatch(rf"/decisions/\w+\?version={version}#rule-\d+", link.get_attribute("href"))
    axe(page)
    # the Art. 12 trace's hit row opens the same row of that table
    cite = traces.locator("tr.matched td.annotation a[href*='/decisions/responsibility?']").first
    text = cite.inner_text()
    row = re.search(r"#rule-(\d+)$", cite.get_attribute("href")).group(1)
    cite.click()
    expect(page).to_have_url(re.compile(rf"/decisions/responsibility\?version={version}#rule-{row}$"))
    target = page.locator(f"#rule-{row}")
    expect(target).to_be_visible()
    expect(target.locator("td.annotation")).to_have_text(text)
    assert page.evaluate("() => document.querySelector(':target').id") == f"rule-{row}"
    expect(target).to_contain_text(f"#{case_id}")  # the row lists the case it decided
    axe(page)


def test_repeated_reads_of_the_reporter_are_one_timeline_entry_and_all_stay_logged(site, page):
    base, services = site
    case_id = services.cases.start_case(None, {"officer": "执法一科 张伟", "summary": "多次查看", "act_date": "2026-03-02",
                                               "reporter": {"name": REPORTER_NAME, "contact": "13700001111"}})["id"]
    login(page, base, "office_li")
    for _ in range(4):
        page.goto(f"{base}/cases/{case_id}")
    entries = page.locator("ol.timeline li", has_text="查看举报人信息")
    expect(entries).to_have_count(1)
    expect(entries).to_contain_text("×3")  # the earlier reads; this one is logged as the page is made
    expect(entries).to_contain_text(re.compile(r"首次 \d{4}-\d\d-\d\d \d\d:\d\d，最近 \d{4}-\d\d-\d\d \d\d:\d\d"))
    expect(entries).to_contain_text("office_li")
    axe(page)
    with services.db.session() as s:
        reads = s.scalar(select(func.count()).select_from(Event).where(Event.case_id == case_id,
                                                                       Event.kind == "viewed_confidential"))
    assert reads == 4  # every read stays recorded


# the short cells that must not break one character per line when a page is narrow
SHORT = {
    "/decisions": ["table.grid thead th"],
    "/decisions/responsibility": ["table.decision th[scope=row]", "table.decision td:last-child summary",
                                  "table.decision thead th:first-child", "table.decision thead th:last-child"],
    "/cases": ["table.grid thead th", "table.grid td:nth-child(5)", "table.grid .status"],
    "/": ["table.grid thead th", "table.grid time", "nav.mainnav a", ".account a, .account button"],
}
# the case page: the tasks' states and times, and the hit rows of the traces (命中)
CASE_SHORT = ["#tasks-h ~ table td.nowrap", "#tasks-h ~ table thead th", "table.decision tr.matched th[scope=row]"]


def _lines(page: Page, selector: str) -> list[tuple[str, int]]:
    """Text and number of lines of each element the selector finds."""
    return page.evaluate("""sel => [...document.querySelectorAll(sel)].filter(el => el.textContent.trim()
        && el.textContent.trim() !== (el.querySelector('.visually-hidden')?.textContent || '').trim()).map(el => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const rects = [...range.getClientRects()].filter(r => r.width > 0).sort((a, b) => a.top - b.top);
        let lines = 0, bottom = -Infinity;  // a rect below everything seen so far starts a new line
        for (const r of rects) {
            if (r.top >= bottom - 1) { lines += 1; bottom = r.bottom; } else { bottom = Math.max(bottom, r.bottom); }
        }
        return [el.textContent.trim(), lines];
    })""", selector)


def test_short_cells_stay_on_one_line_on_a_narrow_window(site, browser, artifacts):
    base, services = site
    case_id = _decided_case(services)
    services.cases.start_case(OFFICE, {"channel": "inspection", "subject": "liu_yang", "unit": "局办公室", "grounds": [2],
                                       "summary": "检查发现", "act_date": "2026-05-06"})  # a task in the inbox
    context = browser.new_context(viewport={"width": 760, "height": 900}, locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    login(page, base, "office_li")
    checked = 0
    for path, selectors in {**SHORT, f"/cases/{case_id}": CASE_SHORT}.items():
        page.goto(base + path)
        for selector in selectors:
            found = _lines(page, selector)
            assert found, (path, selector)
            wrapped = [text for text, lines in found if lines > 1]
            assert wrapped == [], (path, selector, wrapped)
            checked += len(found)
        axe(page)
    assert checked > 20
    page.goto(f"{base}/decisions")
    page.screenshot(path=str(artifacts / "web-narrow-decisions.png"), full_page=True)
    context.close()


def test_the_processes_pages_log_nothing_in_the_console(site, page):
    base, _ = site
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    login(page, base, "admin")
    page.goto(f"{base}/processes")
    axe(page)
    page.locator("table.grid a[href^='/processes/']").first.click()
    views = page.locator(".model-view")
    assert views.count() >= 2
    for view in views.all():
        expect(view).to_have_attribute("data-ready", "true", timeout=15000)
    expect(page.locator(".dmn-view .tjs-table").first).to_be_visible()
    axe(page)
    assert not [m for m in messages if "development" in m.lower() or m.startswith(("error", "warning"))], messages
    assert page.errors == []


def test_the_case_page_logs_nothing_in_the_console(site, page):
    base, services = site
    case_id = case_at_statement(services, FINDING)
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    login(page, base, "office_li")
    page.goto(f"{base}/cases/{case_id}")
    _ready(page)
    assert messages == [] and page.errors == []


def test_the_demo_prints_its_accounts_in_chinese(workdir):  # noqa: F811
    out = run(workdir, "demo").stdout
    assert "演示账号（密码均为 demo1234）" in out
    assert re.search(r"office_li\s+领导小组办公室", out) and re.search(r"zhang_wei\s+执法人员", out)
    assert "demo accounts" not in out and "leading_group" not in out and "officer " not in out
