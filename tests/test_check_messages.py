"""The draft check page's validation speaks Chinese: every problem over a set of broken files says in Chinese what
is wrong and what to fix, and names its file and its element (or, for a file that cannot be read at all, its line).
English-only technical detail (a parser's own words) may follow, quoted."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.bundle import Bundle
from service.deployments import check_bundle
from service.drafts import problem_target

ROOT = Path(__file__).resolve().parents[1]
MAIN = "processes/accountability_case.bpmn"
SANCTION = "processes/sanction.dmn"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _shipped() -> dict[str, bytes]:
    return dict(Bundle.from_folders(ROOT / "processes", ROOT / "forms").files)


def _changed(name: str, old: str, new: str) -> dict[str, bytes]:
    files = _shipped()
    text = files[name].decode("utf-8")
    assert old in text, old
    files[name] = text.replace(old, new, 1).encode("utf-8")
    return files


def _added(name: str, data: bytes) -> dict[str, bytes]:
    files = _shipped()
    files[name] = data
    return files


BROKEN = {
    "bad timer": (_changed(MAIN, ">P7D</bpmn:timeDuration>", ">P7 days</bpmn:timeDuration>"),
                  MAIN, "Timer_statement", "ISO-8601"),
    "unknown decision ref": (_changed(MAIN, 'camunda:decisionRef="grounds"', 'camunda:decisionRef="ground"'),
                             MAIN, "Decision_grounds", "决策“ground”不存在"),
    "duplicate decision id": (_added("processes/sanction-draft.dmn", _shipped()[SANCTION]),
                              SANCTION, "decision 'sanction'", "只能出现一次"),
    "duplicate element id": (_changed(MAIN, 'id="Script_statement_given"', 'id="Task_register"'),
                             MAIN, "Task_register", ""),
    "malformed XML": (_changed(MAIN, "</bpmn:process>", "</bpmn:proces>"), MAIN, None, "无法读取"),
    "malformed DMN": (_changed(SANCTION, "</definitions>", "</definition>"), SANCTION, None, "不是格式正确的 XML"),
    "bad FEEL in a rule": (_changed(SANCTION, '<text>"minor"</text>', "<text>[1..</text>"),
                           SANCTION, "rule 1 (Rule_sanction_minor)", "FEEL"),
    "unknown name in a rule": (_changed(SANCTION, '<text>"minor"</text>', "<text>minor</text>"),
                               SANCTION, "rule 1 (Rule_sanction_minor)", "未知的名称 minor"),
    "bad form JSON": (_added("forms/statement.json", b'{"title": "x",\n  "type": object}'),
                      "forms/statement.json", None, "不是有效的 JSON"),
    "form without titles": (_changed("forms/statement.json", '"title"', '"titel"'),
                            "forms/statement.json", "form 'statement'", "需要标题"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_every_check_message_is_chinese_and_names_file_and_element(case):
    files, file, element, needle = BROKEN[case]
    problems = check_bundle(Bundle(files))
    assert problems, f"{case}: the broken files passed the check"
    for p in problems:
        assert CHINESE.search(p.message), f"{case}: not Chinese: {p}"
        assert p.file, f"{case}: no file named: {p}"
        assert p.where or p.line, f"{case}: neither element nor line: {p}"
    mine = [p for p in problems if p.file == file]
    assert mine, f"{case}: no problem in {file}: {[str(p) for p in problems]}"
    if element is None:  # the file cannot be read: its line says where
        assert any(p.line for p in mine), [str(p) for p in mine]
    elif element:
        assert any(element in p.where for p in mine), [str(p) for p in mine]
    assert any(needle in p.message for p in mine), [str(p) for p in mine]
    if element and file.endswith(".bpmn"):  # the modeler marks the element the problem names
        assert any(problem_target(p.file, p.where) == element for p in mine)


def test_the_shipped_files_pass():
    assert check_bundle(Bundle(_shipped())) == []
