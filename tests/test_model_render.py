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


RENDERED_GEOMETRY = """async (xml) => {
  document.querySelector('#canvas').innerHTML = '';
  const viewer = new BpmnJS({ container: '#canvas' });
  await viewer.importXML(xml);
  const canvas = viewer.get('canvas'), registry = viewer.get('elementRegistry');
  const box = (b, dx, dy) => [b.x + dx, b.y + dy, b.width, b.height];
  const out = { icons: [], labels: [], flows: [] };
  for (const root of canvas.getRootElements()) {
    canvas.setRootElement(root);  // only the shown plane is laid out by the browser
    for (const e of registry.getAll()) {
      const gfx = registry.getGraphics(e);
      if (!gfx || !gfx.getBBox().width || e.type === 'label' && !e.labelTarget) continue;
      const visual = gfx.querySelector('.djs-visual'), text = visual && visual.querySelector('text');
      if (e.waypoints) out.flows.push({ root: root.id, id: e.id, points: e.waypoints.map(p => [p.x, p.y]) });
      else if (e.type === 'label' && text) out.labels.push({ root: root.id, id: e.labelTarget.id,
                                                             box: box(text.getBBox(), e.x, e.y) });
      else if (text && /Task|SubProcess|CallActivity/.test(e.type)) {
        const icons = [...visual.querySelectorAll(':scope > path')].map(p => p.getBBox())
          .filter(b => b.width && b.width < 60).map(b => box(b, 0, 0));
        out.icons.push({ root: root.id, id: e.id, text: box(text.getBBox(), 0, 0), icons });
      }
    }
  }
  return out;
}"""


def _overlap(a, b, margin=0.0) -> bool:
    return (a[0] - margin < b[0] + b[2] and b[0] < a[0] + a[2] + margin and
            a[1] - margin < b[1] + b[3] and b[1] < a[1] + a[3] + margin)


def _crosses(a, b, rect, margin=1.0) -> bool:
    x, y, w, h = rect[0] - margin, rect[1] - margin, rect[2] + 2 * margin, rect[3] + 2 * margin
    if abs(a[0] - b[0]) < 0.5:
        return x <= a[0] <= x + w and max(min(a[1], b[1]), y) <= min(max(a[1], b[1]), y + h)
    return y <= a[1] <= y + h and max(min(a[0], b[0]), x) <= min(max(a[0], b[0]), x + w)


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.stem)
def test_rendered_names_clear_of_icons_and_labels_clear_of_flows(page, static_server, path):
    """As bpmn-js draws every plane: no task's name runs into its type icon or loop marker, and no label of a
    gateway, event or flow is crossed by a sequence flow of its plane."""
    page.goto(f"{static_server}/tests/browser/bpmn-viewer.html")
    seen = page.evaluate(RENDERED_GEOMETRY, path.read_text(encoding="utf-8"))
    assert seen["icons"] and seen["labels"] and seen["flows"]
    for task in seen["icons"]:
        for icon in task["icons"]:
            assert not _overlap(task["text"], icon), (task["root"], task["id"], "name runs into", icon)
    for label in seen["labels"]:
        for flow in seen["flows"]:
            if flow["root"] != label["root"]:
                continue
            for a, b in zip(flow["points"], flow["points"][1:]):
                assert not _crosses(a, b, label["box"]), (label["root"], label["id"], "crossed by", flow["id"])
    assert page.errors == []
