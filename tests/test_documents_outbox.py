"""Documents as an outbox (SQLite and PostgreSQL): a step issues its documents pending — number, content and log
entries in the step, no PDF rendered — and the timer worker renders them after the commit; a download of a pending
document renders it (once, however many download it at once); two workers never render one document twice; a
template whose Jinja cannot take the content (HTML or Word) still fails the step with 422 and writes nothing; a
render that fails later is recorded with its reason, tried a bounded number of times and then shown as failed."""
from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

import pytest
from docx import Document as Docx
from sqlalchemy import func, select

from service.cases.documents import MAX_RENDER_ATTEMPTS, RETRY_AFTER
from service.errors import Invalid
from service.store.models import Document, DocumentNumber, Event
from service.timer_worker import TimerWorker
from tests.concurrency import all_at_once
from tests.steps import drain_documents
from tests.test_documents import OFFICE, REPORTER, ZHANG, named, pdf_text, public_case, step

ROOT = Path(__file__).resolve().parent.parent
RESPONDENTS = [{"person": "zhang_wei", "role": "handler", "unit": "执法一科"},
               {"person": "wang_fang", "role": "reviewer", "unit": "法制科"}]
# the registration step's findings are not printed on the notice; the complaint names the reporter
REGISTER = {"register": True, "grounds": [7], "respondents": RESPONDENTS}


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """Every PDF WeasyPrint makes, counted (the real renderer runs; this only records that it did)."""
    from weasyprint import HTML
    made: list[str] = []
    lock = threading.Lock()
    real = HTML.write_pdf

    def write_pdf(self, *args, **kwargs):
        with lock:
            made.append(threading.current_thread().name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(HTML, "write_pdf", write_pdf)
    return made


def rows(services, case_id: int) -> list[Document]:
    with services.db.session() as s:
        found = list(s.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.id)))
        for d in found:  # the files are deferred: load them while the session is open
            _ = d.pdf, d.docx
        return found


def test_the_step_issues_pending_documents_and_the_worker_renders_them(services, renders, tmp_path):
    named(services)
    svc = services.cases
    case_id = public_case(svc)
    step(svc, OFFICE, case_id, "Task_register", REGISTER)
    assert renders == []  # the step rendered no PDF …
    issued = rows(services, case_id)
    assert [(d.kind, d.state, d.pdf, d.docx) for d in issued] == [("registration_notice", "pending", None, None)] * 2
    # … but decided everything: numbers, content (checked against the templates), the log
    assert sorted(d.number for d in issued) == sorted({d.number for d in issued})
    assert all(d.content and d.template_hash for d in issued)
    with services.db.session() as s:
        logged = [e.detail["number"] for e in s.scalars(select(Event).where(Event.case_id == case_id,
                                                                             Event.kind == "document_issued"))]
    assert sorted(logged) == sorted(d.number for d in issued)
    assert {d["state"] for d in svc.documents(OFFICE, case_id)} == {"pending"}

    worker = TimerWorker(services)
    assert worker.seconds_to_next() == 0  # documents wait: the worker does not sleep
    worker.run_once()
    assert len(renders) == 2
    for d in rows(services, case_id):
        assert d.state == "ready" and d.pdf.startswith(b"%PDF") and d.docx[:2] == b"PK" and d.attempts == 1
        text = pdf_text(d.pdf, tmp_path)
        assert d.number in text and {"zhang_wei": "张伟", "wang_fang": "王芳"}[d.person] in text
        assert REPORTER["name"] not in text and REPORTER["contact"] not in text
    worker.run_once()
    assert len(renders) == 2  # nothing left to render
    assert worker.seconds_to_next() > 0


def test_a_download_of_a_pending_document_renders_it_once(services, renders):
    svc = services.cases
    case_id = public_case(svc)
    step(svc, OFFICE, case_id, "Task_register", REGISTER)
    first, second = [d["id"] for d in svc.documents(OFFICE, case_id)]
    # two downloads of one pending document at the same moment: one render, the same file for both
    results = all_at_once([lambda: svc.document_file(OFFICE, case_id, first, "pdf") for _ in range(3)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r[2] for r in results}) == 1 and results[0][2].startswith(b"%PDF")
    assert len(renders) == 1
    stored = {d.id: d for d in rows(services, case_id)}
    assert stored[first].state == "ready" and stored[first].pdf == results[0][2]
    assert stored[second].state == "pending"  # the other one waits for the worker
    # read again: the stored file, no new render; the Word file came with it
    assert svc.document_file(OFFICE, case_id, first, "pdf")[2] == results[0][2]
    _, kind, docx = svc.document_file(OFFICE, case_id, first, "docx")
    assert kind.endswith("wordprocessingml.document") and docx == stored[first].docx
    assert len(renders) == 1
    assert drain_documents(services) == 1 and len(renders) == 2


def test_two_workers_drain_without_rendering_any_document_twice(services, renders):
    svc = services.cases
    cases = [public_case(svc) for _ in range(3)]
    for case_id in cases:
        step(svc, OFFICE, case_id, "Task_register", REGISTER)
    rendered: list[tuple[str, int]] = []
    lock = threading.Lock()
    real = type(svc)._render

    def spy(self, job):  # which worker thread rendered which document
        with lock:
            rendered.append((threading.current_thread().name, job.id))
        return real(self, job)

    type(svc)._render = spy
    try:
        stored = all_at_once([lambda: TimerWorker(services).run_once() or drain_documents(services)] * 2)
    finally:
        type(svc)._render = real
    assert not [r for r in stored if isinstance(r, Exception)], stored
    ids = [i for _, i in rendered]
    assert len(ids) == len(set(ids)) == 6 and len(renders) == 6, rendered
    if services.db.dialect == "postgresql":  # SKIP LOCKED: both workers took a share
        assert len({who for who, _ in rendered}) == 2, rendered
    assert {d.state for c in cases for d in rows(services, c)} == {"ready"}


def _counts(services) -> tuple[int, ...]:
    with services.db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Document, Event)) + (
            s.scalar(select(func.coalesce(func.sum(DocumentNumber.last), 0))),)


def test_a_word_template_whose_jinja_cannot_take_the_content_fails_the_step(services, renders, tmp_path,
                                                                             monkeypatch):
    svc = services.cases
    case_id = public_case(svc)
    folder = tmp_path / "documents"
    shutil.copytree(ROOT / "documents", folder)
    broken = Docx()
    broken.add_paragraph("{{ no_such_fact.x }}")
    broken.save(str(folder / "registration_notice.docx"))
    monkeypatch.setenv("ACCOUNTABILITY_DOCUMENTS", str(folder))
    before = _counts(services)
    with pytest.raises(Invalid) as refused:
        step(svc, OFFICE, case_id, "Task_register", REGISTER)
    assert "registration_notice.docx" in refused.value.fields[""] and "no_such_fact" in refused.value.fields[""]
    assert _counts(services) == before  # no document, no log entry, no number taken
    assert renders == []
    shutil.copy(ROOT / "documents" / "registration_notice.docx", folder / "registration_notice.docx")
    step(svc, OFFICE, case_id, "Task_register", REGISTER)
    assert len(svc.documents(OFFICE, case_id)) == 2


def test_a_render_that_fails_is_recorded_retried_and_then_shown_failed(services, tmp_path, monkeypatch):
    svc = services.cases
    case_id = public_case(svc)
    folder = tmp_path / "documents"
    shutil.copytree(ROOT / "documents", folder)
    monkeypatch.setenv("ACCOUNTABILITY_DOCUMENTS", str(folder))
    step(svc, OFFICE, case_id, "Task_register", REGISTER)
    # the owner breaks the style sheet's neighbour between the step and the worker: the HTML no longer renders
    (folder / "registration_notice.html").write_text("{{ no_such_fact.x }}", encoding="utf-8")
    now = dt.datetime.now(dt.timezone.utc)
    svc.clock = lambda: now
    assert drain_documents(services) == 2  # tried, and failed
    first = rows(services, case_id)
    assert [(d.state, d.attempts) for d in first] == [("pending", 1)] * 2
    assert all("registration_notice.html" in d.error and "no_such_fact" in d.error for d in first)
    assert drain_documents(services) == 0 and {d.attempts for d in rows(services, case_id)} == {1}  # not yet again
    for attempt in range(2, MAX_RENDER_ATTEMPTS + 1):
        now += RETRY_AFTER
        drain_documents(services)
        assert {d.attempts for d in rows(services, case_id)} == {attempt}
    assert {d.state for d in rows(services, case_id)} == {"failed"}
    now += RETRY_AFTER
    assert drain_documents(services) == 0 and {d.attempts for d in rows(services, case_id)} == {MAX_RENDER_ATTEMPTS}
    # the office sees why (on the document and in the case log)
    shown = svc.documents(OFFICE, case_id)
    assert {d["state"] for d in shown} == {"failed"} and all("no_such_fact" in d["error"] for d in shown)
    with services.db.session() as s:
        failed = list(s.scalars(select(Event).where(Event.case_id == case_id, Event.kind == "document_failed")))
    assert len(failed) == 2 and all("no_such_fact" in e.detail["error"] for e in failed)
    # the case goes on (its next documents are made); the respondent sees only that his notice failed
    step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明", "evidence": ["案卷"],
                                                    "investigators": ["office_li", "office_sun"],
                                                    "act_date": "2026-03-02"})
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [
        {"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
        {"person": "wang_fang", "reviewer_missed": True, "severity": "serious"}]})
    assert drain_documents(services) == 2
    assert sorted((d["kind"], d["state"], d["error"]) for d in svc.documents(ZHANG, case_id)) == [
        ("hearing_notice", "ready", None), ("registration_notice", "failed", None)]
    mine = next(d["id"] for d in svc.documents(ZHANG, case_id) if d["kind"] == "registration_notice")
    with pytest.raises(Invalid) as refused:
        svc.document_file(OFFICE, case_id, mine, "pdf")
    assert "no_such_fact" in refused.value.fields[""]
    with pytest.raises(Invalid) as refused:
        svc.document_file(ZHANG, case_id, mine, "pdf")
    assert "no_such_fact" not in str(refused.value.fields) and "办公室" in refused.value.fields[""]
    # the owner fixes the template: a download makes the file now
    shutil.copy(ROOT / "documents" / "registration_notice.html", folder / "registration_notice.html")
    assert svc.document_file(ZHANG, case_id, mine, "pdf")[2].startswith(b"%PDF")
    assert {d["id"]: d["state"] for d in svc.documents(OFFICE, case_id)}[mine] == "ready"
