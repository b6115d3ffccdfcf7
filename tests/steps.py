"""Steps several tests take to bring a case to a point of the procedure, through the real service."""
from __future__ import annotations

from service.auth import Principal

OFFICE = Principal("office_li", frozenset({"office"}))


def case_at_statement(services, finding: dict, summary: str = "检查发现程序违法") -> int:
    """A case of one respondent (wang_fang, handler) waiting for her statement on the proposal."""
    svc = services.cases
    case_id = svc.start_case(OFFICE, {"channel": "inspection", "subject": "wang_fang", "unit": "执法二科",
                                      "grounds": [7], "summary": summary, "act_date": "2026-05-06"})["id"]
    for name, data in [("Task_register", {"register": True, "grounds": [7],
                                          "respondents": [{"person": "wang_fang", "role": "handler", "unit": "执法二科"}]}),
                       ("Task_investigate", {"facts_found": "f", "evidence": ["e"], "investigators": ["a", "b"],
                                             "act_date": "2026-05-06"}),
                       ("Task_conclude", {"conclusion": "c", "findings": [finding]})]:
        task = svc.list_tasks(OFFICE, filters={"case_id": case_id, "name": name}).items[0]
        svc.complete(OFFICE, task["id"], data)
    return case_id


def drain_documents(services) -> int:
    """The documents' outbox emptied as the timer worker empties it (its own call, no sleeping): every pending
    document rendered now (one that fails is recorded and waits for its next try); how many were tried."""
    total = 0
    while True:
        tried = services.cases.render_pending_documents()
        total += tried
        if not tried:
            return total
