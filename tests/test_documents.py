"""Documents per person (issue 13, part 4): each notice and decision renders to PDF (read back with pdftotext) and
Word (read back with python-docx) with the right person, citations and number, never the reporter; numbers run per
kind and year and are unique under concurrency; who may read which document; a template that cannot render stops
the step and writes nothing (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from docx import Document as Docx
from sqlalchemy import func, select

from service.auth import Principal
from service.documents import DocumentTemplates
from service.documents.content import ROLE_LABELS
from service.errors import Invalid, NotFound
from service.store.models import Document, Event
from service.store.repository import Store
from tests.concurrency import all_at_once
from tests.steps import drain_documents

ROOT = Path(__file__).resolve().parent.parent
OFFICE = Principal("office_li", frozenset({"office"}))
MEMBERS = [Principal(m, frozenset({"leading_group"})) for m in ("lg_chen", "lg_wu", "lg_zhou")]
ZHANG, WANG = Principal("zhang_wei"), Principal("wang_fang")
REPORTER = {"name": "钱举报", "contact": "13800009999"}
NAMES = {"zhang_wei": ("张伟", "执法员"), "wang_fang": ("王芳", "法制员")}
CHINA = dt.timezone(dt.timedelta(hours=8))
# the office's findings mention the reporter: the documents must blot them out
FACTS = (f"经举报人{REPORTER['name']}（电话{REPORTER['contact']}）反映并查实：\n"
         "张伟于2026年3月2日作出行政处罚决定时未告知当事人陈述、申辩的权利。\n王芳审核该决定时未发现上述问题。")


def _tasks(svc, who: Principal, case_id: int, name: str, person: str | None = None) -> list[dict[str, Any]]:
    return [t for t in svc.list_tasks(who, filters={"case_id": case_id, "name": name}).items
            if person is None or t["person"] == person]


def step(svc, who: Principal, case_id: int, name: str, data: dict[str, Any], person: str | None = None):
    found = _tasks(svc, who, case_id, name, person)
    assert found, f"{who.username} has no {name} ({person}) in case {case_id}"
    return svc.complete(who, found[0]["id"], data)


def named(services) -> None:
    with services.db.session() as s, s.begin():
        for username, (name, post) in NAMES.items():
            user = Store(s).user(username)
            user.display_name, user.post = name, post


def public_case(svc) -> int:
    return svc.start_case(None, {"officer": "执法一科 张伟", "summary": f"我是{REPORTER['name']}，电话{REPORTER['contact']}",
                                 "act_date": "2026-03-02", "reporter": REPORTER})["id"]


def to_hearing(svc, case_id: int) -> None:
    step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"},
        {"person": "wang_fang", "role": "reviewer", "unit": "法制科"}]})
    step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": FACTS, "evidence": ["案卷"],
                                                    "investigators": ["office_li", "office_sun"],
                                                    "act_date": "2026-03-02"})
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [
        {"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
        {"person": "wang_fang", "reviewer_missed": True, "severity": "serious"}]})


def to_decision(svc, case_id: int) -> None:
    to_hearing(svc, case_id)
    step(svc, ZHANG, case_id, "Task_statement", {"statement_waived": False, "statement": "已口头告知，只是没有记录"})
    step(svc, WANG, case_id, "Task_statement", {"statement_waived": True})
    for m in MEMBERS:
        step(svc, m, case_id, "Task_vote", {"vote": "approve",
                                            "measure_choices": [{"person": "wang_fang", "measure": "警告处分"}]})


def serve(svc, case_id: int, person: str) -> None:
    (task,) = _tasks(svc, OFFICE, case_id, "Task_serve", person)
    number = svc.get_task(OFFICE, task["id"])["data"]["decision_number"]  # the form shows the issued number
    svc.complete(OFFICE, task["id"], {"decision_number": number, "served_on": "2026-11-20", "service_method": "direct"})


def full_case(svc) -> int:
    """A public complaint with a named reporter through every document: two respondents registered, told and
    heard, decided and served; wang_fang appeals and the group lowers her measure."""
    case_id = public_case(svc)
    to_decision(svc, case_id)
    serve(svc, case_id, "zhang_wei")
    serve(svc, case_id, "wang_fang")
    step(svc, ZHANG, case_id, "Task_appeal", {"appeal": False})
    step(svc, WANG, case_id, "Task_appeal", {"appeal": True, "appeal_reason": "审核时已尽到注意义务"})
    for m in MEMBERS:
        step(svc, m, case_id, "Task_review", {"review_vote": "lowered", "lowered_measure": "责令停职检查",
                                              "review_reason": "情节较轻"})
    return case_id


def pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(content)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True).stdout
    return re.sub(r"\s+", "", out.decode("utf-8"))  # lines break anywhere in Chinese text


def docx_text(content: bytes) -> str:
    doc = Docx(io.BytesIO(content))
    return re.sub(r"\s+", "", "".join(p.text for p in doc.paragraphs))


def texts(svc, who: Principal, case_id: int, document_id: int, tmp_path: Path) -> tuple[str, str]:
    _, kind, pdf = svc.document_file(who, case_id, document_id, "pdf")
    assert kind == "application/pdf" and pdf.startswith(b"%PDF")
    _, _, docx = svc.document_file(who, case_id, document_id, "docx")
    return pdf_text(pdf, tmp_path), docx_text(docx)


def test_every_document_of_a_full_case_names_its_person_numbers_and_citations_and_never_the_reporter(
        services, tmp_path):
    named(services)
    svc = services.cases
    case_id = full_case(svc)
    assert drain_documents(services) == 7  # the files follow the steps (the outbox): made by the worker's call
    docs = svc.documents(OFFICE, case_id)
    assert {d["state"] for d in docs} == {"ready"}
    year = dt.datetime.now(CHINA).year
    assert sorted((d["kind"], d["person"], d["number"]) for d in docs) == sorted([
        ("registration_notice", "zhang_wei", f"明执追立〔{year}〕2号"),
        ("registration_notice", "wang_fang", f"明执追立〔{year}〕1号"),
        ("hearing_notice", "zhang_wei", f"明执追告〔{year}〕2号"),
        ("hearing_notice", "wang_fang", f"明执追告〔{year}〕1号"),
        ("decision", "zhang_wei", f"明执追决〔{year}〕2号"),
        ("decision", "wang_fang", f"明执追决〔{year}〕1号"),
        ("review_decision", "wang_fang", f"明执追复〔{year}〕1号")])
    wanted = {  # what each document must say, besides its person, number and title
        ("registration_notice", "zhang_wei"): ["第五条第（七）项", "违反法定的执法程序的", "承办人", "群众举报",
                                               "第二十条规定：“对群众举报、上级转来或在检查中发现的问题，接报单位（人）或被检查单位（人）应及时将情况报告局领导小组办公室。”",
                                               "第十八条规定：“过错责任的追究程序：立案、调查、听取陈述和辩解，作出处理决定。”"],
        ("hearing_notice", "wang_fang"): ["审核人", "王芳审核该决定时未发现上述问题", "第九条", "第十二条第（三）项",
                                          "责令停职检查、暂停执法活动、警告处分、严重警告处分", "7个工作日",
                                          "第十八条规定：“过错责任的追究程序：立案、调查、听取陈述和辩解，作出处理决定。”",
                                          "陈述和辩解的权利", "政策"],
        ("hearing_notice", "zhang_wei"): ["第八条第（五）项", "第十二条第（二）项", "责令书面检查，给予通报批评"],
        ("decision", "wang_fang"): ["法制员", "法制科", "审核人", "决定给予：警告处分", "第九条", "第十二条第（三）项",
                                    "放弃陈述和辩解", "自收到本决定书之日起30日内", "明山区行政执法过错责任追究领导小组",
                                    "第十三条规定：“给予责任人政纪处分，当事人不服政纪处分可以提出申诉。”",
                                    "第七条“对行政执法过错的认定，由执法过错责任追究领导小组以法律为准绳，以事实为依据，集体决定，准确确定过错的性质、责任的承担形式。”"],
        ("decision", "zhang_wei"): ["执法员", "执法一科", "承办人", "决定给予：责令书面检查，给予通报批评",
                                    "第八条第（五）项", "提出了陈述和辩解"],
        ("review_decision", "wang_fang"): [f"明执追决〔{year}〕1号处理决定书", "警告处分", "降低为责令停职检查",
                                           "审核时已尽到注意义务", "降低3票"],
    }
    for d in docs:
        pdf, word = texts(svc, OFFICE, case_id, d["id"], tmp_path)
        name, post = NAMES[d["person"]]
        for text, fmt in ((pdf, "PDF"), (word, "Word")):
            where = f"{d['title']} {d['number']} ({fmt})"
            for must in [d["number"], d["title"], name, re.sub(r"\s", "", d["issued_on"][:4]) + "年",
                         *wanted.get((d["kind"], d["person"]), [])]:
                assert must in text, f"{where} lacks {must!r}"
            assert REPORTER["name"] not in text and REPORTER["contact"] not in text, f"{where} names the reporter"
            if d["kind"] in ("hearing_notice", "decision"):  # the findings, with the reporter blotted out
                assert "＊＊＊" in text, f"{where}: the findings were not shown"
    # the hearing notice states the statement task's own due date
    (statement,) = [t for t in svc.get_case(OFFICE, case_id)["tasks"] if t["name"] == "Task_statement"
                    and t["assignee"] == "wang_fang"]
    due = dt.datetime.fromisoformat(statement["due"]).astimezone(CHINA).date()
    notice = next(d for d in docs if d["kind"] == "hearing_notice" and d["person"] == "wang_fang")
    assert f"请于{due.year}年{due.month}月{due.day}日前" in texts(svc, OFFICE, case_id, notice["id"], tmp_path)[0]
    # the case log says what was issued and that the reporter was blotted out, without naming them
    with services.db.session() as s:
        events = list(s.scalars(select(Event).where(Event.case_id == case_id)))
        issued = [e.detail["number"] for e in events if e.kind == "document_issued"]
        assert sorted(issued) == sorted(d["number"] for d in docs)
        assert any(e.kind == "document_redacted" for e in events)
        assert not [e for e in events if REPORTER["name"] in str(e.detail) or REPORTER["contact"] in str(e.detail)]
        hashes = {d.kind: d.template_hash for d in s.scalars(select(Document).where(Document.case_id == case_id))}
    assert hashes["decision"] == DocumentTemplates().template_hash("decision")


def test_a_proposal_revised_heavier_brings_that_person_a_second_notice(services, tmp_path):
    svc = services.cases
    case_id = public_case(svc)
    to_hearing(svc, case_id)
    step(svc, ZHANG, case_id, "Task_statement", {"statement_waived": True})
    step(svc, WANG, case_id, "Task_statement", {"statement_waived": True})
    for m in MEMBERS:
        step(svc, m, case_id, "Task_vote", {"vote": "revise", "opinion": "张伟的情节认定过轻"})
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [
        {"person": "zhang_wei", "handler_fault": 5, "severity": "serious"},
        {"person": "wang_fang", "reviewer_missed": True, "severity": "serious"}]})
    notices = sorted((d["person"], d["ref"], d["number"]) for d in svc.documents(OFFICE, case_id)
                     if d["kind"] == "hearing_notice")
    year = dt.datetime.now(CHINA).year
    assert notices == [("wang_fang", "1", f"明执追告〔{year}〕1号"), ("zhang_wei", "1", f"明执追告〔{year}〕2号"),
                       ("zhang_wei", "2", f"明执追告〔{year}〕3号")]  # only the person it became heavier for
    drain_documents(services)
    second = next(d for d in svc.documents(ZHANG, case_id) if d["ref"] == "2")
    for text in texts(svc, ZHANG, case_id, second["id"], tmp_path):
        assert "现重新告知（第2次告知）" in text and "第十二条第（三）项" in text and "严重警告处分" in text


def test_numbers_run_per_kind_and_year(services):
    svc = services.cases
    first = public_case(svc)
    svc.clock = lambda: dt.datetime(2026, 12, 31, 15, 59, tzinfo=dt.timezone.utc)  # 23:59 in Beijing
    to_hearing(svc, first)
    second = public_case(svc)
    svc.clock = lambda: dt.datetime(2026, 12, 31, 16, 1, tzinfo=dt.timezone.utc)  # 00:01 on 1 January in Beijing
    to_hearing(svc, second)
    numbers = {(d["kind"], d["person"]): d["number"] for d in svc.documents(OFFICE, first)}
    assert numbers == {("registration_notice", "wang_fang"): "明执追立〔2026〕1号",
                       ("registration_notice", "zhang_wei"): "明执追立〔2026〕2号",
                       ("hearing_notice", "wang_fang"): "明执追告〔2026〕1号",
                       ("hearing_notice", "zhang_wei"): "明执追告〔2026〕2号"}
    numbers = {(d["kind"], d["person"]): (d["number"], d["issued_on"]) for d in svc.documents(OFFICE, second)}
    assert numbers[("registration_notice", "wang_fang")] == ("明执追立〔2027〕1号", "2027-01-01")
    assert numbers[("hearing_notice", "zhang_wei")] == ("明执追告〔2027〕2号", "2027-01-01")


def test_numbers_are_unique_when_many_take_one_at_the_same_moment(services):
    def take() -> int:
        with services.cases._write() as store:
            return store.next_document_number("decision", 2031)

    results = all_at_once([take] * 8)
    assert sorted(results) == list(range(1, 9)), results
    with services.cases._write() as store:
        assert store.next_document_number("decision", 2031) == 9
        assert store.next_document_number("decision", 2032) == 1
        assert store.next_document_number("hearing_notice", 2031) == 1


def test_who_reads_which_document(services, tmp_path):
    named(services)
    svc = services.cases
    case_id = public_case(svc)
    to_decision(svc, case_id)
    docs = svc.documents(OFFICE, case_id)
    by = {(d["kind"], d["person"]): d["id"] for d in docs}
    assert len(docs) == 6
    # the office, the leading group and reviewers see all of them
    for who in (OFFICE, MEMBERS[0], Principal("reviewer", frozenset({"reviewer"}))):
        assert {d["id"] for d in svc.documents(who, case_id)} == set(by.values())
        svc.document_file(who, case_id, by[("decision", "wang_fang")], "docx")
    # a respondent sees only their own notices, and their decision once it has been served on them
    assert {d["kind"] for d in svc.documents(WANG, case_id)} == {"registration_notice", "hearing_notice"}
    with pytest.raises(NotFound):
        svc.document_file(WANG, case_id, by[("decision", "wang_fang")], "pdf")
    serve(svc, case_id, "wang_fang")
    assert {d["kind"] for d in svc.documents(WANG, case_id)} == {"registration_notice", "hearing_notice", "decision"}
    name, _, _ = svc.document_file(WANG, case_id, by[("decision", "wang_fang")], "pdf")
    assert name == f"{dict((d['id'], d['number']) for d in docs)[by[('decision', 'wang_fang')]]}处理决定书（王芳）.pdf"
    assert all(d["person"] == "wang_fang" for d in svc.documents(WANG, case_id))
    for other in by.values():
        if other not in {d["id"] for d in svc.documents(WANG, case_id)}:
            for fmt in ("pdf", "docx"):
                with pytest.raises(NotFound):
                    svc.document_file(WANG, case_id, other, fmt)
    # zhang_wei's decision is not served yet: his notices only; an officer with no part in the case: nothing
    assert {d["kind"] for d in svc.documents(ZHANG, case_id)} == {"registration_notice", "hearing_notice"}
    with pytest.raises(NotFound):
        svc.documents(Principal("liu_yang"), case_id)
    with pytest.raises(NotFound):
        svc.document_file(Principal("liu_yang"), case_id, by[("registration_notice", "zhang_wei")], "pdf")
    # a document is only found under its own case, and only as PDF or Word
    other_case = public_case(svc)
    with pytest.raises(NotFound):
        svc.document_file(OFFICE, other_case, by[("decision", "wang_fang")], "pdf")
    with pytest.raises(NotFound):
        svc.document_file(OFFICE, case_id, by[("decision", "wang_fang")], "html")


def test_a_template_that_cannot_render_stops_the_step_and_writes_nothing(services, tmp_path, monkeypatch):
    svc = services.cases
    case_id = public_case(svc)
    step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"}]})
    step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明", "evidence": ["案卷"],
                                                    "investigators": ["office_li", "office_sun"],
                                                    "act_date": "2026-03-02"})
    folder = tmp_path / "documents"
    shutil.copytree(ROOT / "documents", folder)
    (folder / "hearing_notice.html").write_text("{% extends '_base.html' %}{% block body %}{{ no_such_fact.x }}"
                                                "{% endblock %}", encoding="utf-8")
    monkeypatch.setenv("ACCOUNTABILITY_DOCUMENTS", str(folder))
    def counts() -> tuple[int, int]:
        with services.db.session() as s:
            return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Document, Event))

    before = counts()
    with pytest.raises(Invalid) as refused:
        step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [
            {"person": "zhang_wei", "handler_fault": 5, "severity": "light"}]})
    assert "hearing_notice.html" in refused.value.fields[""] and "no_such_fact" in refused.value.fields[""]
    assert counts() == before
    assert _tasks(svc, OFFICE, case_id, "Task_conclude")  # the step is still there to be done
    # fixed by the owner: the same step goes through and the notice is issued
    shutil.copy(ROOT / "documents" / "hearing_notice.html", folder / "hearing_notice.html")
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [
        {"person": "zhang_wei", "handler_fault": 5, "severity": "light"}]})
    assert "hearing_notice" in {d["kind"] for d in svc.documents(OFFICE, case_id)}


def test_templates_run_in_a_sandbox(tmp_path):
    from service.documents import DocumentError
    folder = tmp_path / "documents"
    shutil.copytree(ROOT / "documents", folder)
    (folder / "decision.html").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    with pytest.raises(DocumentError, match="decision.html"):
        DocumentTemplates(folder).pdf("decision.html", {})
    # a style sheet or image outside the templates' folder is never read
    (folder / "decision.html").write_text('<link rel="stylesheet" href="file:///etc/hostname"><p>文</p>',
                                          encoding="utf-8")
    assert DocumentTemplates(folder).pdf("decision.html", {}).startswith(b"%PDF")


def test_the_quoted_articles_are_the_regulations_own_words():
    import yaml
    text = (ROOT / "tests" / "data" / "regulation" / "regulation.zh.txt").read_text(encoding="utf-8")
    source = ROOT.parent / "shared" / "regulation" / "regulation.zh.txt"
    if source.exists():  # the project's source beside the repository: the vendored copy must be the same text
        assert source.read_text(encoding="utf-8") == text
    articles = yaml.safe_load((ROOT / "documents" / "documents.yaml").read_text(encoding="utf-8"))["articles"]
    assert set(articles) >= {"第七条", "第十三条", "第十八条", "第十九条", "第二十条"}
    for number, words in articles.items():
        assert re.search(rf"{number}\s+{re.escape(words)}\s*$", text, re.M), number
    assert set(ROLE_LABELS.values()) == {"承办人", "审核人", "批准人"}
