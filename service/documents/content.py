"""What each document says, as data for its templates: built from the facts the case service gathers, never from
the intake's own words (a reporter may have written them) and never with the reporter.

Where each document is due (the service issues it once, when the case first reaches that point):

* ``registration_notice`` 立案通知书 — each respondent, once the office registers the case (and each respondent added
  during the investigation, when the investigation is done);
* ``hearing_notice`` 陈述申辩告知书 — each respondent, when their statement task opens (again in a later hearing round,
  when a revised proposal became heavier for them);
* ``decision`` 处理决定书 — each respondent, when the leading group has decided and their decision is to be served;
* ``review_decision`` 申诉复查决定书 — each appellant, when the collective review of their appeal has decided.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

KINDS = ("registration_notice", "hearing_notice", "decision", "review_decision")
DUE_POINTS = {
    "registration_notice": "立案后，逐人（调查中增列的当事人在调查结束时）",
    "hearing_notice": "当事人的陈述和辩解任务开始时，逐人逐轮",
    "decision": "领导小组集体决定后、送达前，逐人",
    "review_decision": "复查申诉集体表决有结果时，逐人",
}
ROLE_LABELS = {"handler": "承办人", "reviewer": "审核人", "approver": "批准人"}
APPEAL_RESULTS = {"upheld": "维持原处理决定", "lowered": "降低处理措施", "revoked": "撤销原处理决定",
                  "dismissed": "不属于申诉范围，驳回申诉"}


@dataclass
class Facts:
    """What the case service gathered for one document (all of it office-written or computed)."""

    kind: str
    title: str
    number: str
    issued_on: dt.date
    issuer: str
    leading_group: str
    office: str
    case_id: int
    channel: str
    channel_label: str
    act_date: str
    grounds: list[dict[str, str]]  # {citation, text} of each Art. 5 item of the case
    person: dict[str, Any]  # {username, name, unit, post, role}
    articles: dict[str, str]  # quoted articles, word for word
    citation_texts: dict[str, str]  # citation -> the rule's text, from the decision tables' annotations
    facts_found: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def cn_date(value: dt.date | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value.year}年{value.month}月{value.day}日"


def paragraphs(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def period_text(duration: str | None, counting: str | None = None) -> str:
    """An ISO duration of whole days or weeks as the documents say it ("P7D" → "7日", counted in working days
    "7个工作日"); other text as it stands."""
    m = re.fullmatch(r"P(?:(\d+)W)?(?:(\d+)D)?", (duration or "").strip())
    if not m or not any(m.groups()):
        return duration or ""
    days = int(m.group(1) or 0) * 7 + int(m.group(2) or 0)
    return f"{days}个工作日" if counting == "working" else f"{days}日"


def annotation_text(citation: str, annotation: str | None) -> str:
    """A decision rule's annotation without its leading citation: the regulation's words (and any 政策 note)."""
    text = (annotation or "").strip()
    if text.startswith(citation):
        text = text[len(citation):].strip()
    return text.replace("，见表说明", "")


def basis(citations: list[str], facts: Facts) -> list[dict[str, str]]:
    """Each cited article and item once, in order, with its text."""
    out, seen = [], set()
    for c in citations or []:
        if not c or c in seen:
            continue
        seen.add(c)
        out.append({"citation": c, "text": facts.citation_texts.get(c) or facts.articles.get(c, "")})
    return out


def finding(outcome: dict[str, Any]) -> str:
    if outcome.get("revoked"):
        return "revoked"
    if outcome.get("exempt"):
        return "exempt"
    return "liable" if outcome.get("liable") else "not_liable"


def measure_text(outcome: dict[str, Any]) -> str:
    """The measure fixed for the person, or the tier's measures the group will choose from."""
    if outcome.get("measure"):
        return outcome["measure"]
    return "、".join(outcome.get("measures") or [])


def _quote(facts: Facts, article: str) -> dict[str, str]:
    return {"citation": article, "text": facts.articles.get(article, "")}


def build(facts: Facts) -> dict[str, Any]:
    """The template data of one document."""
    person = dict(facts.person, role_label=ROLE_LABELS.get(facts.person.get("role"), facts.person.get("role") or ""))
    common = {"kind": facts.kind, "title": facts.title, "number": facts.number,
              "issued_on": facts.issued_on.isoformat(),
              "date": cn_date(facts.issued_on), "issuer": facts.issuer, "leading_group": facts.leading_group,
              "office": facts.office, "case_id": facts.case_id, "channel": facts.channel,
              "channel_label": facts.channel_label, "act_date": cn_date(facts.act_date), "grounds": facts.grounds,
              "person": person, "facts_found": paragraphs(facts.facts_found)}
    return {**common, **_BUILDERS[facts.kind](facts)}


def _registration_notice(facts: Facts) -> dict[str, Any]:
    article = "第十九条" if facts.channel == "self_report" else "第二十条"
    return {"source_article": _quote(facts, article), "procedure_article": _quote(facts, "第十八条")}


def _hearing_notice(facts: Facts) -> dict[str, Any]:
    notice = facts.extra.get("notice") or {}
    proposal = notice.get("proposal") or {}
    due = facts.extra.get("due")
    rnd = int(notice.get("round") or 1)
    return {"facts_found": paragraphs(notice.get("facts_found") or facts.facts_found),
            "finding": finding(proposal), "aggravated": bool(proposal.get("aggravated")),
            "measure": measure_text(proposal), "measure_fixed": bool(proposal.get("measure")),
            "several_measures": not proposal.get("measure") and len(proposal.get("measures") or []) > 1,
            "basis": basis(proposal.get("citations") or [], facts), "round": rnd, "reheard": rnd > 1,
            "due_date": cn_date(due), "period": period_text(facts.extra.get("period"), facts.extra.get("period_days")),
            "right_article": _quote(facts, "第十八条")}


def _decision(facts: Facts) -> dict[str, Any]:
    outcome = facts.extra.get("outcome") or {}
    heard = facts.extra.get("statement") or {}
    hearing = "expired" if heard.get("expired") else "waived" if heard.get("statement_waived") else \
        "stated" if heard else "none"
    liable = finding(outcome) == "liable"
    return {"finding": finding(outcome), "aggravated": bool(outcome.get("aggravated")),
            "measure": measure_text(outcome),
            "basis": basis(outcome.get("citations") or [], facts), "hearing": hearing,
            "collective_article": _quote(facts, "第七条"), "appeal": liable,
            "appeal_period": period_text(facts.extra.get("appeal_period"), facts.extra.get("appeal_days")) if liable else "",
            "appeal_article": _quote(facts, "第十三条")}


def _review_decision(facts: Facts) -> dict[str, Any]:
    outcome = facts.extra.get("outcome") or {}
    original = facts.extra.get("original") or {}
    result = outcome.get("appeal_result") or ""
    votes = outcome.get("review_votes") or {}
    return {"result": result, "result_label": APPEAL_RESULTS.get(result, result),
            "measure": outcome.get("measure") or "", "original_number": original.get("number", ""),
            "original_date": cn_date(original.get("issued_on")), "original_measure": original.get("measure", ""),
            "appeal_reason": paragraphs(outcome.get("appeal_reason")),
            "votes": {k: int(votes.get(k) or 0) for k in ("eligible", "recused", *APPEAL_RESULTS)},
            "appeal_article": _quote(facts, "第十三条")}


_BUILDERS = {"registration_notice": _registration_notice, "hearing_notice": _hearing_notice, "decision": _decision,
             "review_decision": _review_decision}


def redact(value: Any, secrets: list[str]) -> tuple[Any, bool]:
    """Every text in ``value`` with each secret (the reporter's name and contact) blotted out; whether any was."""
    secrets = [s for s in secrets if isinstance(s, str) and len(s.strip()) >= 2]
    if not secrets:
        return value, False
    changed = False

    def walk(v: Any) -> Any:
        nonlocal changed
        if isinstance(v, str):
            for s in secrets:
                if s.strip() in v:
                    v, changed = v.replace(s.strip(), "＊＊＊"), True
            return v
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value), changed
