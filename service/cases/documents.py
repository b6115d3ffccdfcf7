"""Documents per person: issued by the service when a case reaches the point where each is due (after a step, in
the step's own transaction), listed on the case page and downloaded as PDF or DOCX by those entitled.

Who sees which: staff who see the whole case (the office, the leading group, reviewers, administrators) see all
of its documents; a respondent sees only the documents addressed to them, and their 处理决定书 only once it has been
served on them. A respondent with staff roles is a respondent in their own case. No document ever names the
reporter: documents are made from the office's findings (never the complaint's own words), and any occurrence of
the reporter's name or contact in those is blotted out before rendering (and the case log says so).

An outbox: the step decides everything about a document — that it is due, its number, what it says — and checks
that the templates take that content (their Jinja, milliseconds), then stores it ``pending``. The PDF and Word
files (about a second each, WeasyPrint) are rendered after the step's commit, outside any transaction and any case
lock: by the timer worker (:meth:`DocumentService.render_pending_documents`) or by the first download. A render is
claimed first (SKIP LOCKED for workers, a conditional UPDATE for a download), so two never render one document at
once, and stored with a conditional UPDATE, so the first files stored stand. A render that fails is recorded with
its reason and tried again after :data:`RETRY_AFTER`, at most :data:`MAX_RENDER_ATTEMPTS` times (then ``failed``,
shown to the office on the case page; a download tries once more, as after a fixed template)."""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Callable

from ..auth import Principal
from ..documents import DocumentError, DocumentTemplates, Facts, build
from ..documents.content import annotation_text, redact
from ..documents.templates import number_text
from ..engine import Case as WorkflowCase, ProcessEngine
from ..errors import Invalid, NotFound
from ..store.models import Case, Document, utcnow
from ..store.repository import Store
from .base import CaseServiceBase, iso

log = logging.getLogger("accountability.documents")
LEASE = dt.timedelta(minutes=2)  # a claim to render older than this died with its renderer: another may take it
RETRY_AFTER = dt.timedelta(seconds=30)  # a failed render is tried again after this …
MAX_RENDER_ATTEMPTS = 3  # … at most this many times in all (政策)
CHINA = dt.timezone(dt.timedelta(hours=8))  # documents are dated in China Standard Time
FORMATS = {"pdf": "application/pdf",
           "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
ORDER = ("registration_notice", "hearing_notice", "decision", "review_decision")
# a form field filled in with the number of the person's document of that kind (the office serves that decision)
NUMBER_FIELDS = {"decision_number": "decision"}


def issue_due_documents(store: Store, row: Case, engine: ProcessEngine, wf: WorkflowCase,
                        now: dt.datetime | None = None, templates: DocumentTemplates | None = None) -> list[Document]:
    """Issue every document the case has become due for and not yet received, in the caller's transaction: number,
    content and log entries now, the files after the commit (pending; see the module's docstring).

    Raises :class:`DocumentError` when a template cannot take the content (the step then fails as a whole)."""
    if not engine.per_person:  # a case on a version before the person model finishes without documents
        return []
    templates = templates or DocumentTemplates()
    issued = store.document_keys(row.id)
    due = [d for d in _due(store, row, engine, wf) if (d[0], d[1], d[2]) not in issued]
    if not due:
        return []
    settings = templates.settings()
    issued_on = (now or utcnow()).astimezone(CHINA).date()
    gathered = _CaseFacts(store, row, engine, wf, settings)
    out = []
    # numbers are taken kind by kind in one order, so two steps never wait for each other's counters
    for kind, person, ref, extra in sorted(due, key=lambda d: (ORDER.index(d[0]), d[1], d[2])):
        spec = settings["kinds"].get(kind)
        if spec is None:
            raise DocumentError(f"documents.yaml: no entry kinds.{kind}")
        seq = store.next_document_number(kind, issued_on.year)
        number = number_text(spec["number"], issued_on.year, seq)
        facts = gathered.facts(kind, spec, number, issued_on, person, extra)
        content, redacted = redact(build(facts), gathered.secrets)
        template_hash = templates.check(kind, content)
        doc = store.add_document(Document(case_id=row.id, person=person, kind=kind, ref=ref, title=spec["title"],
                                          number=number, year=issued_on.year, seq=seq, issued_on=issued_on.isoformat(),
                                          created_at=utcnow(), template_hash=template_hash, content=content,
                                          state="pending", attempts=0))
        store.log(row.id, None, "document_issued", document=kind, title=spec["title"], number=number, person=person)
        if redacted:
            store.log(row.id, None, "document_redacted", document=kind, number=number, person=person)
        out.append(doc)
    store.wake_timer_workers()  # PostgreSQL: the workers render them as soon as this step commits
    return out


def _due(store: Store, row: Case, engine: ProcessEngine, wf: WorkflowCase) -> list[tuple[str, str, str, dict]]:
    """(kind, person, ref, what the document needs) of each document the case's state calls for now."""
    data = wf.data
    due: list[tuple[str, str, str, dict]] = []
    if data.get("register") is True:
        for r in data.get("respondents") or []:
            if isinstance(r, dict) and r.get("person"):
                due.append(("registration_notice", r["person"], "", {}))
    for task in store.case_tasks(row.id):
        if task.state != "open":
            continue
        if task.form_key == "statement" and task.assignee:
            notice = (engine.task_data(wf, task.id).get("hearing") or {}).get("notice") or {}
            due.append(("hearing_notice", task.assignee, str(notice.get("round") or 1),
                        {"notice": notice, "due": task.due.astimezone(CHINA).date() if task.due else None}))
        elif task.form_key == "decision_service" and task.person:
            outcome = (engine.task_data(wf, task.id).get("service") or {}).get("outcome")
            if isinstance(outcome, dict):
                due.append(("decision", task.person, "", {"outcome": outcome}))
    for service in wf.instance_values("service"):
        outcome = service.get("outcome") if isinstance(service, dict) else None
        if isinstance(outcome, dict) and outcome.get("appeal") and outcome.get("appeal_result"):
            due.append(("review_decision", service["person"], "", {"outcome": outcome}))
    return due


class _CaseFacts:
    """What every document of one case draws on, gathered once per step."""

    def __init__(self, store: Store, row: Case, engine: ProcessEngine, wf: WorkflowCase, settings: dict[str, Any]):
        self.store, self.row, self.engine, self.settings = store, row, engine, settings
        self.data = wf.data
        reporter = row.reporter or {}
        self.secrets = [reporter.get("name"), reporter.get("contact")]
        self.periods = engine.due_periods()
        self.countings = engine.due_countings()  # working or calendar days (政策, the diagram's days property)
        channels = engine.forms.schema("intake")["properties"]["channel"].get("oneOf", [])
        self.channels = {c["const"]: c.get("title", c["const"]) for c in channels}
        self.texts: dict[str, str] = {}
        for record in store.decision_records(row.id):
            self._learn(record.trace)
        self.grounds = [self._ground(g) for g in self.data.get("grounds") or row.grounds or []]

    def _learn(self, trace: dict[str, Any]) -> None:
        """The text of each citation a decision table gave, from its rule's annotation."""
        for m in trace.get("matched") or []:
            citation = (m.get("outputs") or {}).get("citation")
            if citation and m.get("id") in (trace.get("selected") or [m.get("id")]):
                self.texts[citation] = annotation_text(citation, m.get("annotation"))

    def _ground(self, ground: int) -> dict[str, str]:
        """An Art. 5 item with its words, from the case's own version of the grounds table."""
        result = self.engine.catalog.evaluate("grounds", {"ground": ground}).to_json()
        self._learn(result["trace"])
        citation = result["outputs"].get("citation") if isinstance(result["outputs"], dict) else None
        citation = citation or f"第五条第{ground}项"
        return {"citation": citation, "text": self.texts.get(citation, "")}

    def facts(self, kind: str, spec: dict[str, Any], number: str, issued_on: dt.date, person: str,
              extra: dict[str, Any]) -> Facts:
        respondent = next((r for r in self.data.get("respondents") or [] if r.get("person") == person), {})
        user = self.store.user(person)
        who = {"username": person, "name": (user.display_name if user else None) or person,
               "unit": respondent.get("unit") or (user.unit if user else "") or "",
               "post": (user.post if user else None) or "", "role": respondent.get("role") or ""}
        extra = dict(extra)
        if kind == "hearing_notice":
            extra["period"] = self.periods.get("statement")
            extra["period_days"] = self.countings.get("statement")
        elif kind == "decision":
            said = [s for s in self.data.get("statements") or [] if isinstance(s, dict) and s.get("person") == person]
            extra["statement"] = said[-1] if said else None
            extra["appeal_period"] = self.periods.get("appeal")
            extra["appeal_days"] = self.countings.get("appeal")
        elif kind == "review_decision":
            original = self.store.document_of(self.row.id, "decision", person)
            extra["original"] = {"number": original.number, "issued_on": original.issued_on,
                                 "measure": original.content.get("measure", "")} if original else {}
        issuer = self.settings.get(spec["issuer"]) or spec["issuer"]
        return Facts(kind=kind, title=spec["title"], number=number, issued_on=issued_on, issuer=issuer,
                     leading_group=self.settings.get("leading_group", ""), office=self.settings.get("office", ""),
                     case_id=self.row.id, channel=self.row.channel, channel_label=self.channels.get(self.row.channel,
                                                                                                   self.row.channel),
                     act_date=str(self.data.get("act_date") or self.row.act_date), grounds=self.grounds, person=who,
                     articles=dict(self.settings.get("articles") or {}), citation_texts=self.texts,
                     facts_found=self.data.get("facts_found"), extra=extra)


class DocumentService(CaseServiceBase):
    def documents(self, principal: Principal, case_id: int) -> list[dict[str, Any]]:
        """The case's documents the caller may read (without their files)."""
        with self.db.session() as s:
            store = Store(s)
            row = store.case(case_id)
            if row is None or not self._can_see(store, principal, row):
                raise NotFound(f"case {case_id} does not exist")
            served = {p.person: p.served_on for p in store.case_persons(case_id)}
            office = principal.has("office") and self._acts_as_staff(store, principal, row)
            return [dict(self._document_view(d), served_on=served.get(d.person) if d.kind == "decision" else None,
                         error=d.error if office and d.state != "ready" else None)
                    for d in store.documents(case_id) if self._may_read(store, principal, row, d)]

    def document_file(self, principal: Principal, case_id: int, document_id: int, fmt: str) -> tuple[str, str, bytes]:
        """(file name, content type, bytes) of a document as PDF or DOCX; 404 for anyone who may not read it. A
        document not rendered yet is rendered now (and stored); 422 with the reason if it cannot be."""
        if fmt not in FORMATS:
            raise NotFound(f"no document format {fmt}")
        with self.db.session() as s:
            store = Store(s)
            row = store.case(case_id)
            doc = store.document(document_id)
            if row is None or doc is None or doc.case_id != case_id or not self._can_see(store, principal, row) \
                    or not self._may_read(store, principal, row, doc):
                raise NotFound(f"document {document_id} does not exist")
            user = store.user(doc.person)
            name = f"{doc.number}{doc.title}（{(user.display_name if user else None) or doc.person}）.{fmt}"
            if doc.state == "ready":
                return name, FORMATS[fmt], bytes(getattr(doc, fmt))
            office = principal.has("office") and self._acts_as_staff(store, principal, row)
        try:
            return name, FORMATS[fmt], self._render_on_demand(document_id)[fmt]
        except Invalid as exc:
            if office:
                raise
            raise Invalid(exc.message.split(":")[0], {"": "文书暂时无法生成，请联系领导小组办公室"}) from None

    # ---------------------------------------------------------------- rendering (the outbox)

    def render_pending_documents(self, limit: int = 50, stop: Callable[[], bool] | None = None) -> int:
        """Render documents waiting for their files, one at a time: each is claimed in a short transaction (FOR
        UPDATE SKIP LOCKED: several workers share the work and never render one twice), rendered outside any
        transaction and stored, or its failure recorded; how many were tried. ``stop`` is asked before each (the
        timer worker stops when a timer has come due). For the timer worker."""
        tried = 0
        for _ in range(limit):
            if stop is not None and stop():
                break
            now = self.clock()
            with self._write() as store:
                batch = store.documents_to_render(now, LEASE, RETRY_AFTER, limit=1)
                if not batch:
                    break
                store.claim_documents(batch, now)
                job = _Job(batch[0])
            self._render(job)
            tried += 1
        return tried

    def next_document_render(self) -> dt.datetime | None:
        """When a pending document may next be rendered (for the timer worker's sleep)."""
        with self.db.session() as s:
            return Store(s).next_document_render(LEASE, RETRY_AFTER)

    def _render_on_demand(self, document_id: int) -> dict[str, bytes]:
        """Both files of a document someone is downloading: rendered now unless another renderer holds it (then
        waited for); the files stored first are the ones served."""
        deadline = time.monotonic() + LEASE.total_seconds() + 5
        while True:
            job = None
            with self._write() as store:
                if store.claim_document(document_id, self.clock(), LEASE):
                    doc = store.document(document_id)
                    store.s.refresh(doc)  # with the claim's count of tries
                    job = _Job(doc)
            if job is not None:
                self._render(job)
            with self.db.session() as s:
                state, pdf, docx, error = Store(s).document_files(document_id)
            if state == "ready" and pdf is not None and docx is not None:
                return {"pdf": bytes(pdf), "docx": bytes(docx)}
            if job is not None or time.monotonic() > deadline:
                raise Invalid(f"document {document_id} could not be made: {error}",
                              {"": f"文书生成失败：{error}。请程序负责人修改文书模板后重试"})
            time.sleep(0.05)  # another renderer holds it: its files follow in about a second

    def _render(self, job: "_Job") -> int:
        """Render one claimed document and store its files, or record why not; 1 if stored."""
        try:
            rendered = DocumentTemplates().render(job.kind, job.content)
        except Exception as exc:  # noqa: BLE001 - any renderer failure is recorded on the document, never lost
            error = (str(exc) if isinstance(exc, DocumentError) else f"{type(exc).__name__}: {exc}")[:1000]
            final = job.attempts >= MAX_RENDER_ATTEMPTS
            log.warning("document %s (%s) could not be rendered (try %d): %s", job.id, job.number, job.attempts,
                        error)
            with self._write() as store:
                if store.document_render_failed(job.id, error, self.clock(), final) and final:
                    store.log(job.case_id, None, "document_failed", document=job.kind, title=job.title,
                              number=job.number, person=job.person, error=error)
            return 0
        with self._write() as store:
            return int(store.document_rendered(job.id, rendered.pdf, rendered.docx, rendered.template_hash))

    def _may_read(self, store: Store, principal: Principal, row: Case, doc: Document) -> bool:
        if self._acts_as_staff(store, principal, row):
            return True
        if doc.person != principal.username:
            return False
        if doc.kind == "decision":  # a respondent's decision is theirs once it has been served on them
            person = store.case_person(row.id, principal.username)
            return bool(person and person.served_on)
        return True

    @staticmethod
    def _document_view(d: Document) -> dict[str, Any]:
        return {"id": d.id, "case_id": d.case_id, "person": d.person, "kind": d.kind, "ref": d.ref, "title": d.title,
                "number": d.number, "issued_on": d.issued_on, "created_at": iso(d.created_at),
                "template_hash": d.template_hash, "state": d.state}


class _Job:
    """What rendering one claimed document needs, taken out of its transaction."""

    __slots__ = ("id", "case_id", "kind", "title", "number", "person", "content", "attempts")

    def __init__(self, doc: Document):
        self.id, self.case_id, self.kind, self.title = doc.id, doc.case_id, doc.kind, doc.title
        self.number, self.person, self.content, self.attempts = doc.number, doc.person, dict(doc.content), doc.attempts


def prefill_numbers(store: Store, case_id: int, person: str | None, fields: dict[str, Any],
                    data: dict[str, Any]) -> None:
    """A form field for a document's number shows the number the person's document was issued with."""
    for name, kind in NUMBER_FIELDS.items():
        if name in fields and person and not data.get(name):
            doc = store.document_of(case_id, kind, person)
            if doc is not None:
                data[name] = doc.number


def step_failed(exc: DocumentError) -> Invalid:
    """A document that cannot be made stops the step: nothing is written, and the message names the template."""
    return Invalid(f"the step could not be completed: a document could not be made: {exc}",
                   {"": f"文书无法生成，本步骤未保存：{exc}。请程序负责人修改文书模板后重试"})
