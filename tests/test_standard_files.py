"""The diagrams are standard BPMN that says what runs it: a standard multi-instance loop for the per-ground
table, an explicit language on every condition and script, literal ISO-8601 timers, and an execution platform
that no modeler mistakes for an engine it could deploy to. The engine reads the standard forms exactly as it
read the older ones (same results, same decision traces, same due dates)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from service.bundle import Bundle
from service.engine import ProcessEngine, check_bpmn
from service.engine.timers import is_iso_literal
from tests.test_procedure import Run, start

ROOT = Path(__file__).resolve().parent.parent
MAIN = "processes/accountability_case.bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn",
      "modeler": "http://camunda.org/schema/modeler/1.0"}
STANDARD_LOOP = ('      <bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="grounds" '
                 'camunda:elementVariable="ground"/>\n')
LEGACY_LOOP = ('      <bpmn:extensionElements>\n        <camunda:properties>\n'
               '          <camunda:property name="collection" value="grounds"/>\n'
               '          <camunda:property name="elementVariable" value="ground"/>\n'
               '        </camunda:properties>\n      </bpmn:extensionElements>\n')
GROUNDS_TASK_HEAD = ('camunda:decisionRef="grounds" camunda:resultVariable="grounds_result">\n')


def shipped() -> dict[str, bytes]:
    return dict(Bundle.from_folders(ROOT / "processes", ROOT / "forms").files)


def engine_with(main_bpmn: str) -> ProcessEngine:
    files = shipped()
    files[MAIN] = main_bpmn.encode()
    return ProcessEngine(Bundle(files))


def main_text() -> str:
    return (ROOT / MAIN).read_text(encoding="utf-8")


def legacy_grounds_loop(text: str) -> str:
    """The main diagram as older versions wrote the per-ground loop: hidden in Camunda properties."""
    assert STANDARD_LOOP in text and GROUNDS_TASK_HEAD in text
    return text.replace(STANDARD_LOOP, "").replace(GROUNDS_TASK_HEAD, GROUNDS_TASK_HEAD + LEGACY_LOOP)


def run_to_the_tables(engine: ProcessEngine) -> Run:
    run = start(engine, grounds=[7, 8, 10])
    run.register()
    run.investigate()
    run.conclude(severity="serious")
    run.roundtrip()
    return run


# --------------------------------------------------------------------------- the per-ground loop

def test_the_grounds_table_runs_in_a_standard_multi_instance_loop():
    root = etree.parse(str(ROOT / MAIN)).getroot()
    [task] = root.findall(".//bpmn:businessRuleTask[@id='Decision_grounds']", NS)
    loop = task.find("bpmn:multiInstanceLoopCharacteristics", NS)
    assert loop is not None and loop.get("isSequential") == "true"
    assert (loop.get(f"{{{NS['camunda']}}}collection"), loop.get(f"{{{NS['camunda']}}}elementVariable")) == \
        ("grounds", "ground")
    hidden = [p for p in root.findall(".//camunda:property", NS) if p.get("name") in ("collection", "elementVariable")]
    assert hidden == []  # no loop hidden in Camunda properties any more


def test_the_standard_loop_gives_the_same_results_and_traces_as_the_old_properties():
    standard = run_to_the_tables(engine_with(main_text()))
    legacy = run_to_the_tables(engine_with(legacy_grounds_loop(main_text())))
    assert standard.data["grounds_result"] == legacy.data["grounds_result"]
    assert len(standard.data["grounds_result"]) == 3  # one result per ground, in order
    traces = standard.case.decision_traces()
    assert traces == legacy.case.decision_traces()
    grounds = [t for t in traces if t["decision"] == "grounds"]
    assert [t["task"] for t in grounds] == ["Decision_grounds"] * 3
    assert [t["inputs"] for t in grounds] == [{"ground": g} for g in (7, 8, 10)]
    assert standard.open() == legacy.open()


@pytest.mark.parametrize("inner,needle", [
    ("<bpmn:loopCardinality>3</bpmn:loopCardinality>", "takes only camunda:collection"),
    ("<bpmn:completionCondition>True</bpmn:completionCondition>", "takes only camunda:collection"),
])
def test_a_decision_loop_the_engine_would_run_differently_is_refused(tmp_path, inner, needle):
    text = main_text().replace(STANDARD_LOOP, STANDARD_LOOP.replace("/>\n", f">{inner}"
                                                                     "</bpmn:multiInstanceLoopCharacteristics>\n"))
    path = tmp_path / "main.bpmn"
    path.write_text(text, encoding="utf-8")
    problems = check_bpmn([path])
    assert any(element == "Decision_grounds" and needle in message for _, element, message, _ in problems), problems


def test_a_decision_loop_without_its_element_variable_is_refused(tmp_path):
    path = tmp_path / "main.bpmn"
    path.write_text(main_text().replace(' camunda:elementVariable="ground"', ""), encoding="utf-8")
    problems = check_bpmn([path])
    assert any(e == "Decision_grounds" and "camunda:elementVariable" in m for _, e, m, _ in problems), problems


# --------------------------------------------------------------------------- languages, timers, platform

def test_every_condition_and_script_says_it_is_python():
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        conditions = root.findall(".//bpmn:conditionExpression", NS) + root.findall(".//bpmn:completionCondition", NS)
        assert conditions and all(c.get("language") == "python" for c in conditions), path.name
        scripts = root.findall(".//bpmn:scriptTask", NS)
        assert scripts and all(s.get("scriptFormat") == "python" for s in scripts), path.name


def test_timers_are_literal_iso_durations():
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        for kind in ("timeDuration", "timeDate", "timeCycle"):
            for el in root.findall(f".//bpmn:{kind}", NS):
                assert el.get("language") is None and is_iso_literal(el.text), (path.name, el.text)


def test_a_literal_timer_is_due_when_the_quoted_one_of_older_versions_was():
    from service.workdays import work_calendar

    def statement_due(text: str) -> tuple[dt.datetime, dt.datetime]:
        engine = engine_with(text)
        run = start(engine)
        run.register()
        run.investigate()
        before = dt.datetime.now(dt.timezone.utc)
        run.conclude()
        [timer] = [t for t in engine.pending_timers(run.case) if t.name == "Timer_statement"]
        return timer.due, before

    literal, before = statement_due(main_text())
    quoted, _ = statement_due(main_text().replace(">P7D</bpmn:timeDuration>", '>"P7D"</bpmn:timeDuration>'))
    # 7 working days (the timer's property days = working), to the end of the last one
    assert literal == work_calendar().limit_end(before, "P7D", "working")
    assert abs(literal - quoted) < dt.timedelta(seconds=30)


def test_the_diagrams_name_the_engine_that_runs_them_not_camunda():
    """Camunda Modeler opens a file declaring "Camunda Platform" (or nothing) as a Camunda 7 diagram and offers
    to deploy it to a Camunda 7 engine, which cannot run Python conditions and scripts. A declared platform
    it does not know makes it refuse the file instead of deploying it; bpmn-js (the project's own modeler and
    viewers) keeps the declaration on save."""
    for path in sorted((ROOT / "processes").glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        assert root.get(f"{{{NS['modeler']}}}executionPlatform") == "SpiffWorkflow", path.name
        assert root.get(f"{{{NS['modeler']}}}executionPlatformVersion") == "3.2.0", path.name
        assert "Camunda" not in (root.get(f"{{{NS['modeler']}}}executionPlatform") or "")
