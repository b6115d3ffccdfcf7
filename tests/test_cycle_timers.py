"""Cycle timers: `validate` refuses any that could fire in a tight loop, and the engine fires the ones it accepts,
each repetition once, at its time."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.bundle import Bundle
from service.cli import main
from service.engine import ProcessEngine

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path(__file__).resolve().parent / "data" / "cycle_timer.bpmn"  # a task with a non-interrupting cycle


def with_cycle(tmp_path: Path, expression: str) -> Path:
    """The sample with its cycle set; ``python:`` before the expression declares it as Python."""
    path = tmp_path / "cycle.bpmn"
    text = SAMPLE.read_text(encoding="utf-8")
    if expression.startswith("python:"):
        text = text.replace('">CYCLE<', '" language="python">CYCLE<')
        expression = expression.removeprefix("python:")
    path.write_text(text.replace("CYCLE", expression), encoding="utf-8")
    return path


@pytest.mark.parametrize("expression,problem", [
    ('"R/PT0S"', "间隔至少为 60 秒"),
    ('"R5/PT0.5S"', "间隔至少为 60 秒"),
    ('"R/PT30S"', "间隔至少为 60 秒"),
    ("R/PT30S", "间隔至少为 60 秒"),
    ("reminder_cycle", "不是 ISO-8601 时长、日期或重复周期"),
    ("python:reminder_cycle", "必须是 ISO-8601 重复周期的字面值"),
    ('"every day"', "不是 ISO-8601 重复周期"),
])
def test_validate_refuses_a_cycle_that_could_fire_in_a_tight_loop(tmp_path, expression, problem):
    result = CliRunner().invoke(main, ["validate", str(with_cycle(tmp_path, expression))])
    assert result.exit_code == 1 and "Timer_remind" in result.output and problem in result.output, result.output


@pytest.mark.parametrize("expression", ["R3/PT1H", '"R3/PT1H"'])  # the literal, and the quoted form of old versions
def test_validate_accepts_a_cycle_of_a_minute_or_more(tmp_path, expression):
    result = CliRunner().invoke(main, ["validate", str(with_cycle(tmp_path, expression))])
    assert result.exit_code == 0, result.output


def test_each_repetition_fires_once_at_its_time_and_then_the_cycle_ends(tmp_path):
    files = {k: v for k, v in Bundle.from_folders(ROOT / "processes", ROOT / "forms").files.items()
             if not k.endswith(".bpmn")}
    files["processes/cycle.bpmn"] = with_cycle(tmp_path, "R3/PT1H").read_bytes()
    engine = ProcessEngine(Bundle(files))
    case = engine.start({"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科", "grounds": [7],
                         "summary": "s", "act_date": "2026-01-01"})
    start = dt.datetime.now(dt.timezone.utc)
    (timer,) = engine.pending_timers(case)
    assert dt.timedelta(minutes=59) < timer.due - start <= dt.timedelta(hours=1)

    def reminders() -> int:
        return sum(1 for h in case.history() if h["name"] == "remind")

    assert engine.fire_due_timers(case, start + dt.timedelta(minutes=30)).fired == []  # not yet due
    for hour in (1, 2, 3):
        fired = engine.fire_due_timers(case, start + dt.timedelta(hours=hour, minutes=1)).fired
        case = engine.restore(engine.serialize(case))
        assert (fired, reminders()) == (["Timer_remind"], hour)
        assert engine.fire_due_timers(case, start + dt.timedelta(hours=hour, minutes=2)).fired == []  # once each
    assert engine.pending_timers(case) == []
    assert engine.fire_due_timers(case, start + dt.timedelta(days=2)).fired == []
    assert reminders() == 3
    assert [t.name for t in engine.open_tasks(case)] == ["Task_wait"]  # the task itself stays open
