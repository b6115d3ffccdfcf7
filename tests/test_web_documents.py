"""Documents on the case page in a real browser (issue 13, part 4): a respondent sees only her own notices and her
decision once served and downloads it; the office sees every document and downloads the Word file; a document whose
files are not made yet says 生成中 and still downloads, one that could not be made tells the office why. Screenshots
of the page and of the PDF's pages (pdftoppm) land in the artifacts folder; axe-core finds nothing serious."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

from docx import Document as Docx
from playwright.sync_api import expect

from service.auth import Principal
from service.cases.documents import MAX_RENDER_ATTEMPTS, RETRY_AFTER

from tests.steps import drain_documents
from tests.test_documents import OFFICE, REPORTER, named, public_case, serve, step, to_decision
from tests.test_web import axe, login, site  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent


def _texts(path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True).stdout.decode("utf-8")


def test_a_respondent_and_the_office_download_a_decision_from_the_case_page(site, page, artifacts):
    base, services = site
    named(services)
    svc = services.cases
    case_id = public_case(svc)
    to_decision(svc, case_id)
    serve(svc, case_id, "wang_fang")
    drain_documents(services)  # the files follow the steps: made as the timer worker makes them
    mine = {d["kind"]: d for d in svc.documents(Principal("wang_fang"), case_id)}
    decision = mine["decision"]

    login(page, base, "wang_fang")
    page.goto(f"{base}/cases/{case_id}")
    card = page.locator("#documents-h").locator("xpath=..")
    expect(card.locator("tbody tr")).to_have_count(3)  # her 立案通知书, 告知书 and, served, her 处理决定书
    expect(card.locator("tr[data-person='zhang_wei']")).to_have_count(0)
    row = card.locator("tr[data-document='decision']")
    expect(row).to_contain_text(decision["number"])
    expect(row).to_contain_text("王芳")
    axe(page)
    card.screenshot(path=str(artifacts / "web-documents-respondent.png"))
    with page.expect_download() as info:
        row.get_by_role("link", name=f"PDF 处理决定书 {decision['number']}").click()
    download = info.value
    assert download.suggested_filename == f"{decision['number']}处理决定书（王芳）.pdf"
    pdf = artifacts / "web-documents-decision.pdf"
    download.save_as(pdf)
    text = _texts(pdf).replace("\n", "")
    for must in (decision["number"], "处理决定书", "王芳", "法制科", "警告处分", "第十二条第（三）项", "申诉"):
        assert must in text, must
    assert REPORTER["name"] not in text and REPORTER["contact"] not in text
    # the rendered pages, to look at
    subprocess.run(["pdftoppm", "-png", "-r", "70", str(pdf), str(artifacts / "web-documents-decision")], check=True)
    assert (artifacts / "web-documents-decision-1.png").exists()

    page.get_by_role("button", name="退出").click()
    login(page, base, "office_li")
    page.goto(f"{base}/cases/{case_id}")
    card = page.locator("#documents-h").locator("xpath=..")
    expect(card.locator("tbody tr")).to_have_count(6)  # both respondents: notices and decisions, served or not
    expect(card.locator("tr[data-person='zhang_wei'][data-document='decision']")).to_have_count(1)
    expect(page.locator("ol.timeline")).to_contain_text("制发文书")
    axe(page)
    card.screenshot(path=str(artifacts / "web-documents-office.png"))
    with page.expect_download() as info:
        card.get_by_role("link", name=f"Word 处理决定书 {decision['number']}").click()
    word = artifacts / "web-documents-decision.docx"
    info.value.save_as(word)
    text = "".join(p.text for p in Docx(str(word)).paragraphs)
    assert decision["number"] in text and "王芳" in text and "警告处分" in text
    assert REPORTER["name"] not in text and REPORTER["contact"] not in text
    # the office's serve task for zhang_wei offers his decision and fills in its number
    (serve_task,) = [t for t in svc.list_tasks(OFFICE, filters={"case_id": case_id, "name": "Task_serve"}).items]
    his = next(d for d in svc.documents(OFFICE, case_id) if d["kind"] == "decision" and d["person"] == "zhang_wei")
    page.goto(f"{base}/tasks/{serve_task['id']}")
    expect(page.get_by_label("处理决定文号")).to_have_value(his["number"])
    side = page.locator("aside")
    expect(side.get_by_role("heading", name="张伟 的文书")).to_be_visible()
    expect(side.get_by_role("link", name=f"PDF 处理决定书 {his['number']}")).to_be_visible()
    expect(side.locator("li[data-document]")).to_have_count(3)  # his notices and decision, none of wang_fang's
    axe(page)
    side.screenshot(path=str(artifacts / "web-documents-serve-task.png"))
    assert page.errors == []


def test_a_pending_document_says_so_downloads_and_a_failed_one_tells_the_office_why(site, page, tmp_path,
                                                                                      monkeypatch):
    base, services = site
    svc = services.cases
    folder = tmp_path / "documents"
    shutil.copytree(ROOT / "documents", folder)
    monkeypatch.setenv("ACCOUNTABILITY_DOCUMENTS", str(folder))
    case_id = public_case(svc)
    step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"},
        {"person": "wang_fang", "role": "reviewer", "unit": "法制科"}]})
    login(page, base, "office_li")
    page.goto(f"{base}/cases/{case_id}")
    card = page.locator("#documents-h").locator("xpath=..")
    expect(card.locator("tbody tr")).to_have_count(2)
    expect(card.locator("[data-state='pending']")).to_have_count(2)  # 生成中: the worker has not made them yet
    expect(card.locator("tr[data-person='zhang_wei']")).to_contain_text("生成中")
    axe(page)
    # a pending one still downloads: made on the spot
    his = next(d for d in svc.documents(OFFICE, case_id) if d["person"] == "zhang_wei")
    with page.expect_download() as info:
        card.locator("tr[data-person='zhang_wei']").get_by_role("link", name=f"PDF 立案通知书 {his['number']}").click()
    pdf = tmp_path / "notice.pdf"
    info.value.save_as(pdf)
    assert his["number"] in _texts(pdf).replace("\n", "")
    # the other one cannot be made (the owner broke its template after the step): the office is told why
    (folder / "registration_notice.html").write_text("{{ no_such_fact.x }}", encoding="utf-8")
    now = dt.datetime.now(dt.timezone.utc)
    for attempt in range(MAX_RENDER_ATTEMPTS):  # the worker's tries, each after the pause between them
        svc.clock = lambda at=now + attempt * RETRY_AFTER: at
        drain_documents(services)
    page.reload()
    expect(card.locator("tr[data-person='zhang_wei'] [data-state]")).to_have_count(0)  # made: nothing to say
    failed = card.locator("tr[data-person='wang_fang'] [data-state='failed']")
    expect(failed).to_contain_text("生成失败")
    expect(failed).to_contain_text("no_such_fact")
    axe(page)
    assert page.errors == []
