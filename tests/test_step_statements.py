"""The SQL statements one task completion issues, pinned so they do not creep back (SQLite and PostgreSQL).

A case goes through the ten steps of the procedure (one respondent, a sanction) through the case service; each
completion's statements are counted with SQLAlchemy's ``before_cursor_execute``. bench/bench_steps.py measures the
same through the API, with times, and lists each statement with the code that issues it (``--list``)."""
from __future__ import annotations

from sqlalchemy import event

from bench.seed import INTAKE, MEMBERS, STEPS
from service.auth import Principal

# the ten user steps of a case with one respondent and a sanction: the same as the benchmarks take
ROLES = {"office_li": {"office"}, **{m: {"leading_group"} for m in MEMBERS}}

# The statements of a step that opens no task and issues no document (a member's vote), on SQLite: 14 —
#   BEGIN IMMEDIATE; the case locked and read with its serialized workflow, found by the task's id (one SELECT);
#   the case's tasks (read with the lock, used for the rest of the step); its respondents (read once); the task's
#   files waiting from refused tries; Art. 11(3) counts for all respondents (one grouped SELECT); the leading
#   group's members; DELETE the task's drafts; the INSERT of each event (SQLite: one a row; PostgreSQL batches
#   them); one UPDATE of the task; the timers (SELECT; DELETE and INSERT when they changed); UPDATE the state;
#   UPDATE the case (its version: the conflict check, once); the documents the case has been issued (SELECT).
# PostgreSQL has no BEGIN statement and reads the state after the lock (a statement of its own).
# A step that opens tasks adds their INSERT; one that decides adds the decision records (one a row on SQLite);
# one that issues a document adds its number, its person and the document (tests/test_documents.py); on
# PostgreSQL also one NOTIFY that wakes the timer worker to render it (the documents' outbox).
# Before these were pinned the ten steps took 290 statements on SQLite (34, 25, 45, 26, 23, 23, 33, 28, 26, 27)
# and 271 on PostgreSQL: the task and its case read twice, the respondents once per check, one Art. 11(3) count
# per person, the state in a SELECT of its own, the task and the case each updated twice, a user read per person.
MOST = {"sqlite": [23, 16, 35, 19, 14, 14, 23, 19, 19, 18],  # 200 in all
        "postgresql": [23, 15, 27, 16, 14, 14, 23, 19, 18, 17]}  # 186 in all (three steps issue documents: +1 NOTIFY)


def counted(services) -> list[str]:
    seen: list[str] = []
    event.listen(services.db.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: seen.append(statement))
    return seen


def test_a_completion_issues_no_more_statements_than_pinned(services):
    dialect = services.db.dialect
    li = Principal("office_li", frozenset({"office"}))
    case_id = services.cases.start_case(li, INTAKE)["id"]
    seen = counted(services)
    per_step = []
    for user, name, data in STEPS:
        who = Principal(user, frozenset(ROLES.get(user, set())))
        (task,) = [t for t in services.cases.list_tasks(who, filters={"case_id": case_id}).items if t["name"] == name]
        seen.clear()
        services.cases.complete(who, task["id"], data)
        per_step.append((name, len(seen)))
    over = [(name, n, most) for (name, n), most in zip(per_step, MOST[dialect]) if n > most]
    assert not over, f"steps over their pinned count (step, now, pinned): {over}"
    assert services.cases.get_case(li, case_id)["status"] == "closed"
