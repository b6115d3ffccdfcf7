"""Tables and diagrams open and render in dmn-js and bpmn-js, the viewers inside Camunda Modeler and bpmn.io."""
from __future__ import annotations

from pathlib import Path

import pytest

from service.decisions import load_file

PROCESSES = Path(__file__).resolve().parent.parent / "processes"
HIT_POLICY_SHOWN = {"UNIQUE": "Unique", "COLLECT": "Collect", "FIRST": "First", "ANY": "Any"}


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.dmn")), ids=lambda p: p.stem)
def test_table_renders_in_dmn_js_like_in_the_modeler(page, static_server, artifacts, path):
    decision = next(iter(load_file(path).decisions.values()))
    table = decision.table
    page.goto(f"{static_server}/tests/browser/dmn-viewer.html")
    result = page.evaluate("xml => window.renderDmn(xml)", path.read_text(encoding="utf-8"))
    assert result["warnings"] == []
    assert {"type": "drd", "id": f"Definitions_{decision.id}", "name": decision.name} in result["views"]
    assert {"type": "decisionTable", "id": decision.id, "name": decision.name} in result["views"]

    page.screenshot(path=str(artifacts / f"dmn-drd-{path.stem}.png"))
    page.evaluate("id => window.openView('decisionTable', id)", decision.id)
    rows = page.locator(".tjs-table tbody tr")
    assert rows.count() == len(table.rules)
    assert HIT_POLICY_SHOWN[table.hit_policy] in page.locator(".hit-policy").inner_text()
    header = page.locator(".tjs-table thead").inner_text()
    for clause in table.inputs:
        assert clause.label in header
    for out in table.outputs:
        assert out.label in header
    first_row = rows.nth(0).inner_text()
    assert table.rules[0].annotation.split(" ")[0] in first_row  # the citation shows in the annotation column
    page.screenshot(path=str(artifacts / f"dmn-table-{path.stem}.png"), full_page=True)
    assert page.errors == []


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.stem)
def test_diagram_renders_in_bpmn_js_with_every_element_drawn(page, static_server, artifacts, path):
    from lxml import etree
    root = etree.parse(str(path)).getroot()
    ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")
           and etree.QName(el).localname in ("startEvent", "endEvent", "userTask", "scriptTask", "businessRuleTask",
                                             "task", "exclusiveGateway", "boundaryEvent", "callActivity", "subProcess",
                                             "sequenceFlow", "lane", "participant")}
    page.goto(f"{static_server}/tests/browser/bpmn-viewer.html")
    result = page.evaluate("xml => window.renderBpmn(xml)", path.read_text(encoding="utf-8"))
    assert result["warnings"] == []
    assert ids <= set(result["elements"]), sorted(ids - set(result["elements"]))
    for name in ("立案审查", "告知并听取陈述和辩解（逐人）", "集体讨论决定（第七条）"):
        if name in path.read_text(encoding="utf-8"):
            assert page.get_by_text(name, exact=True).count() >= 1
    page.screenshot(path=str(artifacts / f"bpmn-{path.stem}.png"))
    assert page.errors == []
