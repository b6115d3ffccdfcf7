"""Documents per person: issued by the service when a case reaches the point where each is due (after a step, in
the step's own transaction), listed on the case page and downloaded as PDF or DOCX by those entitled.

Who sees which: staff who see the whole case (the office, the leading group, reviewers, administrators) see all
of its documents; a respondent sees only the documents addressed to them, and their 处理决定书 only once it has been
served on them. A respondent with staff roles is a respondent in their own case. No document ever names the
reporter: documents are made from the office's findings (never the complaint's own words), and any occurrence of
the reporter's name or contact in those is blotted out before rendering (and the case log says so)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from ..auth import Principal
from ..documents import DocumentError, DocumentTemplates, Facts, build
from ..documents.content import annotation_text, redact
from ..documents.templates import number_text
from ..engine import Case as WorkflowCase, ProcessEngine
from ..errors import Invalid, NotFound
from ..store.models import Case, Document, utcnow
from ..store.repository import Store
from .base import CaseServiceBase, iso

CHINA = dt.timezone(dt.timedelta(hours=8))  # documents are dated in China Standard Time
FORMATS = {"pdf": "application/pdf",
           "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
ORDER = ("registration_notice", "hearing_notice", "decision", "review_decision")
# a form field filled in with the number of the person's document of that kind (the office serves that decision)
NUMBER_FIELDS = {"decision_number": "decision"}


def issue_due_documents(store: Store, row: Case, engine: ProcessEngine, wf: WorkflowCase,
                        now: dt.datetime | None = None, templates: DocumentTemplates | None = None) -> list[Document]:
    """Issue every document the case has become due for and not yet received, in the caller's transaction.

    Raises :class:`DocumentError` when a template cannot produce one (the step then fails as a whole)."""
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
        rendered = templates.render(kind, content)
        doc = store.add_document(Document(case_id=row.id, person=person, kind=kind, ref=ref, title=spec["title"],
                                          number=number, year=issued_on.year, seq=seq, issued_on=issued_on.isoformat(),
                                          created_at=utcnow(), template_hash=rendered.template_hash, content=content,
                                          pdf=rendered.pdf, docx=rendered.docx))
        store.log(row.id, None, "document_issued", document=kind, title=spec["title"], number=number, person=person)
        if redacted:
            store.log(row.id, None, "document_redacted", document=kind, number=number, person=person)
        out.append(doc)
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
            return [dict(self._document_view(d), served_on=served.get(d.person) if d.kind == "decision" else None)
                    for d in store.documents(case_id) if self._may_read(store, principal, row, d)]

    def document_file(self, principal: Principal, case_id: int, document_id: int, fmt: str) -> tuple[str, str, bytes]:
        """(file name, content type, bytes) of a document as PDF or DOCX; 404 for anyone who may not read it."""
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
            return name, FORMATS[fmt], bytes(getattr(doc, fmt))

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
                "template_hash": d.template_hash}


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
