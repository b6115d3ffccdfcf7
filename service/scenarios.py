"""Scenario tests a procedure owner writes and runs: named cases with the data each task is completed
with and the expected outcome of each respondent, run against a deployment in memory (the engine only:
what the case service checks against its database, e.g. that a respondent is an existing account, is
not exercised here).

A scenario file (YAML) holds a list of scenarios::

    - name: 第九条：审核人与承办人一并追究
      intake: {channel: inspection, subject: zhang_wei, unit: 执法一科, grounds: [7], summary: …, act_date: "2026-03-02"}
      facts:                                   # optional: what the case service would compute
        errors_by_person: {wang_fang: 3}       # Art. 11(3): each person's errors of the year, this case included
        # errors_this_year: 3                  # shorthand: the same count for every respondent
        leading_group_members: [lg_chen, lg_wu, lg_zhou]   # the default
      steps:
        - {task: Task_register, data: {register: true, grounds: [7], respondents: [{person: zhang_wei, …}, …]}}
        - {task: Task_statement, person: wang_fang, data: {statement_waived: true}}   # that person's task
        - {task: Task_serve, persons: [zhang_wei, wang_fang], data: {…}}              # the same data for each
        - {votes: [approve, revise, {vote: approve, measure_choices: [{person: zhang_wei, measure: 警告处分}]}]}
        - {votes: [approve, approve, approve], measures: {zhang_wei: 警告处分}}       # choices for every approve
        - {reviews: [upheld, {review_vote: lowered, lowered_measure: 警告处分}, recuse], person: wang_fang}
        - {wait: P8D}                          # let the timers due within this time fire
        - {task: Task_recovery, data: {…}, refused: {recovery: 不能超过}}  # this step must be refused
        - {expect: {open: [Task_vote]}}        # a check in the middle (any key of expect below)
      expect:
        end: 结案                              # or: open: [Task_conclude, {task: Task_statement, person: zhang_wei}]
        outcomes:                              # per person, these keys must have these values
          wang_fang: {liable: true, aggravated: true, tier: 3, measure: 严重警告处分, established: true}
        citations: {wang_fang: [第九条, 第十一条第（三）项]}   # or a list: each among someone's citations
        data: {resolution: approve}            # facts of the case

Steps:

* ``task``: completes the open user task with that diagram id. When it is open for several persons (a
  statement, a service, an appeal), ``person`` picks the one whose assignee or person is that user;
  ``persons`` completes it for each in turn with the same data.
* ``votes``: one entry per leading-group member who may vote (respondents have no ballot), in the order of
  ``leading_group_members``. An entry is a vote (``approve``, ``revise``, ``recuse``) or the vote form's
  data. ``measures: {person: measure}`` adds those measure choices to every ``approve``.
* ``reviews``: the appeal review ballots for ``person``, one entry per eligible member in the same order; an
  entry is a review vote (``upheld``, ``lowered``, ``revoked``, ``dismissed``, ``recuse``) or the review
  form's data (``{review_vote: lowered, lowered_measure: 警告处分}``).
* ``wait``: an ISO-8601 duration; the timers due by then fire. Time limits count working days as the diagram
  says, so a scenario about a limit fixes its clock with ``start: "2026-09-25T17:30:00+08:00"`` (next to
  ``intake``; default: now) and the system fact ``today`` follows that clock.
* ``refused: {field: part of the message}`` on a step: the step must be refused with that message on that
  field (a form error or a diagram script's refusal); the case stays as it was and the scenario goes on.
  ``expect: {refused: …}`` on a step says the same.
* ``expect`` on a step: checked after that step, like the scenario's ``expect``.

``open`` lists every open task: a diagram id, or ``{task: id, person: p}`` / ``{task: id, persons: [p, q]}``
when it matters whose it is (then exactly those persons have it open). YAML anchors (``&conclusion`` …
``<<: *conclusion``) keep repeated data short.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .engine import EngineError, ProcessEngine, _duration
from .workdays import local_date
from .forms import FormErrors

MEMBERS = ["lg_chen", "lg_wu", "lg_zhou"]
EXPECT_KEYS = {"end", "open", "outcomes", "citations", "data", "refused"}
STEP_KEYS = {"task", "person", "persons", "data", "votes", "measures", "reviews", "wait", "refused", "expect"}
FACT_KEYS = {"errors_by_person", "errors_this_year", "leading_group_members", "today", "case_id"}


class ScenarioFileError(ValueError):
    """A scenario file that cannot be read."""


@dataclass
class Scenario:
    name: str
    file: str
    intake: dict[str, Any]
    steps: list[dict[str, Any]]
    expect: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    start: str | None = None  # the clock the scenario starts at (ISO date and time); default: now


@dataclass
class ScenarioResult:
    name: str
    file: str
    passed: bool
    failures: list[str]
    steps_done: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "passed": self.passed, "failures": self.failures,
                "steps_done": self.steps_done}


def _plain(value: Any) -> Any:
    """YAML dates become ISO strings, as the forms expect."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_scenarios(paths: list[Path]) -> list[Scenario]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p]
    scenarios = []
    for f in files:
        try:
            items = yaml.safe_load(f.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ScenarioFileError(f"{f}: cannot be read: {exc}") from None
        if not isinstance(items, list):
            raise ScenarioFileError(f"{f}: a scenario file is a list of scenarios")
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict) or "name" not in item or "intake" not in item:
                raise ScenarioFileError(f"{f}: scenario {i} needs at least a name and an intake")
            item = _plain(item)
            scenarios.append(Scenario(item["name"], str(f), item["intake"], item.get("steps") or [],
                                      item.get("expect") or {}, item.get("facts") or {},
                                      None if item.get("start") is None else str(item["start"])))
    return scenarios


class _StepFailed(Exception):
    pass


def _persons_named(scenario: Scenario) -> list[str]:
    """Every respondent the scenario names (intake subject, registration, added during investigation)."""
    names = [scenario.intake["subject"]] if scenario.intake.get("subject") else []
    for step in scenario.steps:
        data = step.get("data") if isinstance(step, dict) else None
        for key in ("respondents", "added_respondents"):
            for r in (data or {}).get(key) or []:
                if isinstance(r, dict) and r.get("person") and r["person"] not in names:
                    names.append(r["person"])
    return names


def _facts(scenario: Scenario) -> dict[str, Any]:
    given = dict(scenario.facts)
    unknown = set(given) - FACT_KEYS
    if unknown:
        raise _StepFailed(f"facts: unknown {', '.join(sorted(unknown))} (known: {', '.join(sorted(FACT_KEYS))})")
    errors: dict[str, Any] = {}
    if "errors_this_year" in given:
        count = given.pop("errors_this_year")
        errors = {p: count for p in _persons_named(scenario)}
    errors.update(given.pop("errors_by_person", None) or {})
    return {"errors_by_person": errors, "leading_group_members": list(MEMBERS), **given}


def run_scenario(engine: ProcessEngine, scenario: Scenario) -> ScenarioResult:
    done = 0
    now = dt.datetime.now(dt.timezone.utc)
    failures: list[str] = []
    try:
        if scenario.start is not None:
            try:
                now = dt.datetime.fromisoformat(scenario.start)
            except ValueError:
                now = None
            if now is None or now.tzinfo is None:
                raise _StepFailed(f"start: {scenario.start!r} must be a date and time with its zone, "
                                  f"e.g. \"2026-09-25T17:30:00+08:00\"")
        bad = set(scenario.expect) - (EXPECT_KEYS - {"refused"})
        if bad:
            raise _StepFailed(f"expect: unknown {', '.join(sorted(bad))} (known: "
                              f"{', '.join(sorted(EXPECT_KEYS - {'refused'}))})")
        facts = _facts(scenario)
        clock_today = "today" not in facts  # a scenario's own facts: {today: …} stands; else the clock's day
        try:
            case = engine.start(scenario.intake, facts, now=now)
        except FormErrors as exc:
            raise _StepFailed(f"intake: form errors: {_errors(exc)}") from None
        except EngineError as exc:
            raise _StepFailed(f"intake: {exc}") from None
        for n, step in enumerate(scenario.steps, 1):
            where = f"step {n}" + (f" ({_describe(step)})" if isinstance(step, dict) and _describe(step) else "")
            if not isinstance(step, dict):
                raise _StepFailed(f"{where}: a step is a mapping such as {{task: Task_register, data: {{…}}}}")
            unknown = set(step) - STEP_KEYS
            if unknown:
                raise _StepFailed(f"{where}: unknown {', '.join(sorted(unknown))} (a step has "
                                  f"{', '.join(sorted(STEP_KEYS))})")
            step_expect = dict(step.get("expect") or {})
            if set(step_expect) - EXPECT_KEYS:
                raise _StepFailed(f"{where}: expect: unknown {', '.join(sorted(set(step_expect) - EXPECT_KEYS))}")
            refused = step.get("refused") or step_expect.pop("refused", None)
            if clock_today:
                facts["today"] = local_date(now).isoformat()  # as the case service supplies it: the step's day
            try:
                now = _run_step(engine, case, step, facts, now, where)
            except FormErrors as exc:
                if not refused:
                    raise _StepFailed(f"{where}: form errors: {_errors(exc)}") from None
                problem = _refusal_mismatch(refused, exc)
                if problem:
                    raise _StepFailed(f"{where}: {problem}") from None
            except EngineError as exc:
                raise _StepFailed(f"{where}: {exc}") from None
            else:
                if refused:
                    raise _StepFailed(f"{where}: expected the step to be refused ({_refusal_text(refused)}), "
                                      f"but it was accepted; open now: {_open_text(engine, case)}")
            case = engine.restore(engine.serialize(case))
            done = n
            if step_expect:
                found = _check(engine, case, step_expect)
                if found:
                    raise _StepFailed("; ".join(f"after {where}: {f}" for f in found))
    except _StepFailed as exc:
        return ScenarioResult(scenario.name, scenario.file, False, [str(exc)], done)
    failures += _check(engine, case, scenario.expect)
    return ScenarioResult(scenario.name, scenario.file, not failures, failures, done)


def _describe(step: dict[str, Any]) -> str:
    if "task" in step:
        who = step.get("person") or ", ".join(step.get("persons") or [])
        return f"{step['task']}" + (f" for {who}" if who else "")
    if "votes" in step:
        return "votes"
    if "reviews" in step:
        return "reviews" + (f" for {step['person']}" if step.get("person") else "")
    if "wait" in step:
        return f"wait {step['wait']}"
    return "check" if "expect" in step else ""


def _errors(exc: FormErrors) -> str:
    return "; ".join(f"{k}: {v}" for k, v in exc.errors.items())


def _refusal_text(refused: Any) -> str:
    if isinstance(refused, dict):
        return "; ".join(f"{k}: …{v}…" for k, v in refused.items())
    return str(refused)


def _refusal_mismatch(refused: Any, exc: FormErrors) -> str | None:
    if not isinstance(refused, dict):
        return "refused must be a mapping {field: part of the message}"
    for key, part in refused.items():
        message = exc.errors.get(key)
        if message is None or str(part) not in str(message):
            return f"expected a refusal on {key} saying …{part}…, got: {_errors(exc)}"
    return None


def _run_step(engine: ProcessEngine, case, step: dict[str, Any], facts: dict[str, Any], now: dt.datetime,
              where: str) -> dt.datetime:
    if "votes" in step:
        _ballots(engine, case, step["votes"], "Task_vote", None, facts, where,
                 lambda e: _vote_data(e, step.get("measures")), now)
    elif "reviews" in step:
        _ballots(engine, case, step["reviews"], "Task_review", step.get("person"), facts, where, _review_data, now)
    elif "wait" in step:
        delta = _duration(str(step["wait"]))
        if delta is None:
            raise _StepFailed(f"{where}: wait must be an ISO-8601 duration such as P8D")
        now = now + delta
        engine.fire_due_timers(case, now)
    elif "task" in step:
        persons = step.get("persons") or [step.get("person")]
        for person in persons:
            task = _pick(engine, case, step["task"], person, where)
            engine.complete(case, task.id, step.get("data") or {}, facts, now=now)
    elif "expect" not in step:
        raise _StepFailed(f"{where}: a step needs task, votes, reviews, wait or expect")
    return now


def _who(task) -> str | None:
    return task.person or task.assignee


def _pick(engine: ProcessEngine, case, name: str, person: str | None, where: str):
    tasks = [t for t in engine.open_tasks(case) if t.name == name]
    if not tasks:
        raise _StepFailed(f"{where}: {name} is not open; open: {_open_text(engine, case)}")
    if person:
        match = [t for t in tasks if person in (t.assignee, t.person)]
        if not match:
            raise _StepFailed(f"{where}: {name} is not open for {person}; it is open for "
                              f"{', '.join(sorted(str(_who(t)) for t in tasks))}")
        return match[0]
    whos = sorted({_who(t) for t in tasks if _who(t)})
    if len(whos) > 1:
        raise _StepFailed(f"{where}: {name} is open for {', '.join(whos)}: say whose with person:")
    return tasks[0]


def _ballots(engine: ProcessEngine, case, entries: list[Any], name: str, person: str | None,
             facts: dict[str, Any], where: str, to_data, now: dt.datetime | None = None) -> None:
    tasks = [t for t in engine.open_tasks(case) if t.name == name and (person is None or t.person == person)]
    if not tasks:
        raise _StepFailed(f"{where}: no {name} is open" + (f" for {person}" if person else "")
                          + f"; open: {_open_text(engine, case)}")
    if person is None and len({t.person for t in tasks}) > 1:
        raise _StepFailed(f"{where}: {name} is open for the appeals of "
                          f"{', '.join(sorted(str(t.person) for t in tasks))}: say whose with person:")
    order = list(facts.get("leading_group_members") or [])
    members = sorted({t.assignee for t in tasks}, key=lambda m: (order.index(m) if m in order else len(order), m))
    if not isinstance(entries, list) or len(entries) != len(members):
        raise _StepFailed(f"{where}: {len(entries) if isinstance(entries, list) else 0} ballots given, but "
                          f"{len(members)} members may vote: {', '.join(members)}")
    for member, entry in zip(members, entries):
        task = next(t for t in engine.open_tasks(case)
                    if t.name == name and t.assignee == member and (person is None or t.person == person))
        engine.complete(case, task.id, to_data(entry), facts, now=now)


def _vote_data(entry: Any, measures: dict[str, str] | None) -> dict[str, Any]:
    data = dict(entry) if isinstance(entry, dict) else {"vote": entry}
    if isinstance(data.get("measure_choices"), dict):
        data["measure_choices"] = [{"person": p, "measure": m} for p, m in data["measure_choices"].items()]
    if data.get("vote") == "approve" and measures and "measure_choices" not in data:
        data["measure_choices"] = [{"person": p, "measure": m} for p, m in measures.items()]
    if data.get("vote") == "revise" and "opinion" not in data:
        data["opinion"] = "场景测试：退回修改"
    return data


def _review_data(entry: Any) -> dict[str, Any]:
    data = dict(entry) if isinstance(entry, dict) else {"review_vote": entry}
    data.setdefault("review_reason", "场景测试：复查理由")
    return data


def _open(engine: ProcessEngine, case) -> list[tuple[str, str | None]]:
    return sorted(((t.name, _who(t)) for t in engine.open_tasks(case)), key=lambda x: (x[0], x[1] or ""))


def _open_text(engine: ProcessEngine, case) -> str:
    items = [name + (f" for {who}" if who else "") for name, who in _open(engine, case)]
    return ", ".join(items) if items else "nothing"


def outcomes_of(case) -> dict[str, dict[str, Any]]:
    """Each respondent's outcome as the case knows it now: the proposal or decision, and once they are being
    served, what their own branch (service, appeal, review) has recorded."""
    out = {o["person"]: dict(o) for o in case.data.get("outcomes") or [] if isinstance(o, dict) and o.get("person")}
    for service in case.instance_values("service"):
        if isinstance(service, dict) and isinstance(service.get("outcome"), dict) and service.get("person"):
            out[service["person"]] = {**out.get(service["person"], {}), **service["outcome"]}
    return out


def _check(engine: ProcessEngine, case, expect: dict[str, Any]) -> list[str]:
    failures = []
    data = case.data
    if "end" in expect:
        end = case.end_event[1] if case.end_event else None
        if end != expect["end"]:
            failures.append(f"expected the case to end at 「{expect['end']}」, but it "
                            + (f"ended at 「{end}」" if end else f"is still open at {_open_text(engine, case)}"))
    if "open" in expect:
        failures += _check_open(engine, case, expect["open"] or [])
    outcomes = outcomes_of(case)
    for person, wanted in (expect.get("outcomes") or {}).items():
        got = outcomes.get(person)
        if got is None:
            failures.append(f"no outcome for {person}; the case has outcomes for "
                            f"{', '.join(outcomes) or 'nobody yet'}")
            continue
        for key, value in (wanted or {}).items():
            if got.get(key) != value:
                failures.append(f"outcome of {person}: {key} expected {value!r}, got {got.get(key)!r}")
    citations = expect.get("citations")
    if isinstance(citations, dict):
        for person, wanted in citations.items():
            cited = (outcomes.get(person) or {}).get("citations") or []
            for citation in wanted or []:
                if citation not in cited:
                    failures.append(f"citation {citation} missing for {person}; their outcome cites {cited}")
    elif citations:
        cited = []
        for o in outcomes.values():
            cited += [c for c in o.get("citations") or [] if c not in cited]
        for citation in citations:
            if citation not in cited:
                failures.append(f"citation {citation} missing; the outcomes cite {cited}")
    for key, value in (expect.get("data") or {}).items():
        if data.get(key) != value:
            failures.append(f"{key}: expected {value!r}, got {data.get(key)!r}")
    return failures


def _check_open(engine: ProcessEngine, case, wanted: list[Any]) -> list[str]:
    actual = _open(engine, case)
    names: set[str] = set()
    persons: dict[str, set[str]] = {}
    for entry in wanted:
        if isinstance(entry, dict):
            names.add(entry.get("task"))
            who = ([entry["person"]] if entry.get("person") else []) + list(entry.get("persons") or [])
            if who:
                persons.setdefault(entry.get("task"), set()).update(who)
        else:
            names.add(str(entry))
    failures = []
    if names != {n for n, _ in actual}:
        failures.append(f"expected open tasks {sorted(names)}, got {_open_text(engine, case)}")
    for name, who in persons.items():
        got = {w for n, w in actual if n == name}
        if got != who:
            failures.append(f"expected {name} open for {', '.join(sorted(who))}, it is open for "
                            f"{', '.join(sorted(str(w) for w in got)) or 'nobody'}")
    return failures


def run_all(engine: ProcessEngine, scenarios: list[Scenario]) -> list[ScenarioResult]:
    return [run_scenario(engine, s) for s in scenarios]
