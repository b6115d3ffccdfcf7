"""Scenario tests a procedure owner writes and runs: named cases with the data each task is completed
with and the expected outcome and citations, run against a deployment in memory.

A scenario file (YAML) holds a list of scenarios::

    - name: 第六条第（二）项 法律修改，免予追究
      intake: {channel: inspection, subject: zhang_wei, unit: 执法一科, grounds: [7], summary: …, act_date: "2026-03-02"}
      facts: {errors_this_year: 1}          # optional: what the case service would compute
      steps:
        - {task: Task_register, data: {register: true, …}}
        - {votes: [approve, approve, approve]}   # each leading-group member votes in turn
        - {wait: P8D}                            # let timers due within this time fire
      expect:
        end: 结案                               # or: open: [Task_conclude]
        outcome: {exempt: true}                  # these keys must have these values
        citations: [第六条第（二）项]            # each must be among outcome.citations
        data: {statement_waived: true}           # facts of the case

YAML anchors (``&conclusion`` … ``<<: *conclusion``) keep repeated data short.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .engine import EngineError, ProcessEngine
from .forms import FormErrors

MEMBERS = ["lg_member_1", "lg_member_2", "lg_member_3"]


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
                                      item.get("expect") or {}, item.get("facts") or {}))
    return scenarios


def run_scenario(engine: ProcessEngine, scenario: Scenario) -> ScenarioResult:
    facts = {"errors_this_year": 1, "leading_group_members": MEMBERS, **scenario.facts}
    failures: list[str] = []
    done = 0
    now = dt.datetime.now(dt.timezone.utc)
    try:
        case = engine.start(scenario.intake, facts)
        for n, step in enumerate(scenario.steps, 1):
            where = f"step {n}"
            if "votes" in step:
                for member, vote in zip(MEMBERS, step["votes"]):
                    task = next((t for t in engine.open_tasks(case) if t.name == "Task_vote" and t.assignee == member),
                                None)
                    if task is None:
                        raise _StepFailed(f"{where}: no vote is open for {member}; open: {_open(engine, case)}")
                    data = {"vote": vote} if vote == "approve" else {"vote": vote, "opinion": "场景测试：退回修改"}
                    engine.complete(case, task.id, data, facts)
                    case = engine.restore(engine.serialize(case))
            elif "wait" in step:
                from .engine import _duration
                delta = _duration(str(step["wait"]))
                if delta is None:
                    raise _StepFailed(f"{where}: wait must be an ISO-8601 duration such as P8D")
                now = now + delta
                engine.fire_due_timers(case, now)
            elif "task" in step:
                task = next((t for t in engine.open_tasks(case) if t.name == step["task"]), None)
                if task is None:
                    raise _StepFailed(f"{where}: {step['task']} is not open; open: {_open(engine, case)}")
                engine.complete(case, task.id, step.get("data") or {}, facts)
            else:
                raise _StepFailed(f"{where}: a step needs task, votes or wait")
            case = engine.restore(engine.serialize(case))
            done = n
    except _StepFailed as exc:
        return ScenarioResult(scenario.name, scenario.file, False, [str(exc)], done)
    except FormErrors as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
        return ScenarioResult(scenario.name, scenario.file, False, [f"step {done + 1}: form errors: {detail}"], done)
    except EngineError as exc:
        return ScenarioResult(scenario.name, scenario.file, False, [f"step {done + 1}: {exc}"], done)
    failures += _check(engine, case, scenario.expect)
    return ScenarioResult(scenario.name, scenario.file, not failures, failures, done)


class _StepFailed(Exception):
    pass


def _open(engine: ProcessEngine, case) -> list[str]:
    return sorted({t.name for t in engine.open_tasks(case)})


def _check(engine: ProcessEngine, case, expect: dict[str, Any]) -> list[str]:
    failures = []
    data = case.data
    if "end" in expect:
        end = case.end_event[1] if case.end_event else None
        if end != expect["end"]:
            failures.append(f"expected the case to end at 「{expect['end']}」, but it "
                            + (f"ended at 「{end}」" if end else f"is still open at {_open(engine, case)}"))
    if "open" in expect and _open(engine, case) != sorted(expect["open"]):
        failures.append(f"expected open tasks {sorted(expect['open'])}, got {_open(engine, case)}")
    outcome = data.get("outcome") or {}
    for key, value in (expect.get("outcome") or {}).items():
        if outcome.get(key) != value:
            failures.append(f"outcome.{key}: expected {value!r}, got {outcome.get(key)!r}")
    for citation in expect.get("citations") or []:
        if citation not in outcome.get("citations", []):
            failures.append(f"citation {citation} missing; the outcome cites {outcome.get('citations', [])}")
    for key, value in (expect.get("data") or {}).items():
        if data.get(key) != value:
            failures.append(f"{key}: expected {value!r}, got {data.get(key)!r}")
    return failures


def run_all(engine: ProcessEngine, scenarios: list[Scenario]) -> list[ScenarioResult]:
    return [run_scenario(engine, s) for s in scenarios]
