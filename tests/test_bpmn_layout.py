"""scripts/bpmn_layout.py writes fresh DI: semantics unchanged, each element drawn once on its plane, no overlaps."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "scripts" / "bpmn_layout.py"
SOURCES = sorted((ROOT / "processes").glob("*.bpmn")) + [ROOT / "tests" / "data" / "layout_sample.bpmn"]

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
FLOW_NODES = {"task", "userTask", "manualTask", "scriptTask", "businessRuleTask", "serviceTask", "sendTask",
              "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess", "exclusiveGateway",
              "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway", "startEvent", "endEvent",
              "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
DRAWN = FLOW_NODES | {"sequenceFlow", "textAnnotation", "association", "dataObjectReference", "dataStoreReference"}
CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}


_spec = importlib.util.spec_from_file_location("bpmn_layout", TOOL)
bpmn_layout = sys.modules.setdefault("bpmn_layout", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(bpmn_layout)


def run_tool(*args: str) -> None:
    """The command line, in this process (no second interpreter start: the test stays fast)."""
    assert bpmn_layout.main(list(args)) == 0


@pytest.fixture(scope="module", params=SOURCES, ids=lambda p: p.stem)
def laid_out(request, tmp_path_factory):
    """(original bytes, laid-out bytes, laid-out root): the tool run on a temporary copy, in place."""
    tmp = tmp_path_factory.mktemp(request.param.stem)
    copy = tmp / request.param.name
    original = request.param.read_bytes()
    copy.write_bytes(original)
    run_tool(str(copy))
    data = copy.read_bytes()
    return original, data, etree.fromstring(data)


def local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def in_bpmn(el, names) -> bool:
    return isinstance(el.tag, str) and etree.QName(el).namespace == BPMN and local(el) in names


def semantic(data: bytes) -> bytes:
    root = etree.fromstring(data)
    for diagram in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(diagram)
    for el in root.iter():
        if el.text is not None and not el.text.strip():
            el.text = None
        if el.tail is not None and not el.tail.strip():
            el.tail = None
    return etree.tostring(root, method="c14n")


def before_di(data: bytes) -> bytes:
    m = re.search(rb"<\w+:BPMNDiagram\b|</\w+:definitions>", data)
    return data[:m.start()].rstrip()


def bounds(el):
    b = el.find(f"{{{DC}}}Bounds")
    return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def label_bounds(el):
    label = el.find(f"{{{BPMNDI}}}BPMNLabel")
    return bounds(label) if label is not None and label.find(f"{{{DC}}}Bounds") is not None else None


def overlap(a, b, touching=False) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    if touching:  # bpmnlint's no-overlapping-elements counts touching shapes as overlapping
        return ax <= bx + bw and bx <= ax + aw and ay <= by + bh and by <= ay + ah
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def expected_planes(root) -> dict[str, set[str]]:
    """Plane bpmnElement -> ids of the elements that must be drawn on it."""
    planes: dict[str, set[str]] = {}
    processes = {p.get("id"): p for p in root if in_bpmn(p, {"process"})}

    def contents(container, plane):
        for el in container:
            if in_bpmn(el, DRAWN):
                planes[plane].add(el.get("id"))
                for assoc in el:
                    if in_bpmn(assoc, {"dataInputAssociation", "dataOutputAssociation"}):
                        planes[plane].add(assoc.get("id"))
            if in_bpmn(el, CONTAINERS) and any(in_bpmn(c, DRAWN) for c in el):
                planes[el.get("id")] = set()
                contents(el, el.get("id"))

    collab = next((c for c in root if in_bpmn(c, {"collaboration"})), None)
    if collab is not None:
        plane = collab.get("id")
        planes[plane] = set()
        for part in collab:
            if in_bpmn(part, {"participant", "messageFlow"}):
                planes[plane].add(part.get("id"))
            if in_bpmn(part, {"participant"}) and part.get("processRef") in processes:
                proc = processes[part.get("processRef")]
                planes[plane].update(lane.get("id") for lane in proc.iter(f"{{{BPMN}}}lane"))
                contents(proc, plane)
    else:
        for pid, proc in processes.items():
            planes[pid] = set()
            contents(proc, pid)
    return planes


def drawn_planes(root) -> dict[str, list]:
    out: dict[str, list] = {}
    for plane in root.iter(f"{{{BPMNDI}}}BPMNPlane"):
        out[plane.get("bpmnElement")] = [el for el in plane if local(el) in ("BPMNShape", "BPMNEdge")]
    return out


def test_semantics_unchanged_byte_for_byte(laid_out):
    original, data, _ = laid_out
    assert semantic(data) == semantic(original)
    assert before_di(data) == before_di(original)


def test_every_element_drawn_once_on_its_plane(laid_out):
    _, _, root = laid_out
    expected = expected_planes(root)
    drawn = drawn_planes(root)
    assert set(drawn) == set(expected)
    all_refs = [el.get("bpmnElement") for items in drawn.values() for el in items]
    assert len(all_refs) == len(set(all_refs)), "an element has two DI elements"
    for plane, ids in expected.items():
        assert {el.get("bpmnElement") for el in drawn[plane]} == ids, plane
    sub_ids = {plane for plane in expected if plane not in
               {p.get("id") for p in root if in_bpmn(p, {"process", "collaboration"})}}
    for items in drawn.values():
        for el in items:
            if el.get("bpmnElement") in sub_ids:
                assert el.get("isExpanded") == "false"  # collapsed, drilled into on its own plane


def test_no_shapes_overlap_and_boundary_events_sit_on_the_host_bottom(laid_out):
    _, _, root = laid_out
    semantic_el = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for plane, items in drawn_planes(root).items():
        shapes = {el.get("bpmnElement"): bounds(el) for el in items if local(el) == "BPMNShape"
                  and local(semantic_el[el.get("bpmnElement")]) not in ("participant", "lane")}
        ids = sorted(shapes)
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                hosts = {semantic_el[a].get("attachedToRef"), semantic_el[b].get("attachedToRef")}
                if a in hosts or b in hosts:
                    continue
                assert not overlap(shapes[a], shapes[b], touching=True), (plane, a, b)
        for eid in ids:
            host = semantic_el[eid].get("attachedToRef")
            if host:
                ex, ey, ew, eh = shapes[eid]
                hx, hy, hw, hh = shapes[host]
                assert ey < hy + hh < ey + eh and ey + eh / 2 == hy + hh, eid  # centred on the bottom edge
                assert hx <= ex + ew / 2 <= hx + hw, eid


def test_labels_present_and_clear_of_shapes(laid_out):
    _, _, root = laid_out
    semantic_el = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for plane, items in drawn_planes(root).items():
        shapes = [(el.get("bpmnElement"), bounds(el)) for el in items if local(el) == "BPMNShape"
                  and local(semantic_el[el.get("bpmnElement")]) not in ("participant", "lane")]
        labels = []
        for el in items:
            sem = semantic_el[el.get("bpmnElement")]
            named = bool((sem.get("name") or "").strip())
            kind = local(sem)
            if named and (kind.endswith("Event") or kind.endswith("Gateway") or kind == "sequenceFlow"):
                assert label_bounds(el) is not None, el.get("bpmnElement")
            if label_bounds(el) is not None:
                labels.append((el.get("bpmnElement"), label_bounds(el)))
        for owner, lb in labels:
            for sid, sb in shapes:
                assert not overlap(lb, sb), (plane, owner, "label on", sid)
        for i, (a, la) in enumerate(labels):
            for b, lb in labels[i + 1:]:
                assert not overlap(la, lb), (plane, a, b)


def test_sequence_flows_are_orthogonal(laid_out):
    _, _, root = laid_out
    semantic_el = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for items in drawn_planes(root).values():
        for el in items:
            if local(el) == "BPMNEdge" and local(semantic_el[el.get("bpmnElement")]) == "sequenceFlow":
                pts = [(float(w.get("x")), float(w.get("y"))) for w in el.findall(f"{{{DI}}}waypoint")]
                assert len(pts) >= 2
                assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(pts, pts[1:])), el.get("bpmnElement")


def test_deterministic_and_idempotent(laid_out, tmp_path):
    _, data, _ = laid_out
    again = tmp_path / "again.bpmn"
    again.write_bytes(data)
    run_tool(str(again), "--out", str(tmp_path / "twice.bpmn"))
    assert (tmp_path / "twice.bpmn").read_bytes() == data


# --------------------------------------------------------------------------- labels and flows, flows and the pool

LABEL_ASCENT = 3  # bpmn-js draws a label's text from 3 px above its bounds
POOL_CLEARANCE = 50  # a flow this close to a pool's edge, parallel to it, reads as part of the border


def waypoints(el):
    return [(float(w.get("x")), float(w.get("y"))) for w in el.findall(f"{{{DI}}}waypoint")]


def segment_hits(a, b, rect, margin=0.0) -> bool:
    x, y, w, h = rect
    x, y, w, h = x - margin, y - margin, w + 2 * margin, h + 2 * margin
    if a[0] == b[0]:
        return x <= a[0] <= x + w and max(min(a[1], b[1]), y) <= min(max(a[1], b[1]), y + h)
    return y <= a[1] <= y + h and max(min(a[0], b[0]), x) <= min(max(a[0], b[0]), x + w)


def start_marker(flow, source, pts):
    """Where bpmn-js draws the slash of a default flow or the diamond of a conditional flow out of an activity."""
    default = source.get("default") == flow.get("id")
    conditional = flow.find(f"{{{BPMN}}}conditionExpression") is not None and not local(source).endswith("Gateway")
    if not (default or conditional):
        return None
    (x0, y0), (x1, y1) = pts[0], pts[1]
    if y0 == y1:
        return (x0 if x1 > x0 else x0 - 16, y0 - 6, 16, 12)
    return (x0 - 6, y0 if y1 > y0 else y0 - 16, 12, 16)


def test_labels_are_clear_of_every_flow_and_flow_marker(laid_out):
    """No label is crossed by a sequence flow (its own or another) or by a flow's start marker, measured where
    bpmn-js draws the text, with a pixel to spare."""
    _, _, root = laid_out
    semantic_el = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for plane, items in drawn_planes(root).items():
        flows = [(el.get("bpmnElement"), waypoints(el)) for el in items
                 if local(el) == "BPMNEdge" and local(semantic_el[el.get("bpmnElement")]) == "sequenceFlow"]
        markers = []
        for fid, pts in flows:
            flow = semantic_el[fid]
            marker = start_marker(flow, semantic_el[flow.get("sourceRef")], pts)
            if marker:
                markers.append((fid, marker))
        for el in items:
            lb = label_bounds(el)
            if lb is None:
                continue
            ink = (lb[0], lb[1] - LABEL_ASCENT, lb[2], lb[3] + LABEL_ASCENT)
            owner = el.get("bpmnElement")
            for fid, pts in flows:
                for a, b in zip(pts, pts[1:]):
                    assert not segment_hits(a, b, ink, 1), (plane, owner, "label crossed by", fid)
            for fid, marker in markers:
                assert not overlap(ink, marker), (plane, owner, "label on the start marker of", fid)


def test_no_flow_runs_along_a_pool_edge(laid_out):
    """A flow parallel to a pool's edge keeps 50 px from it (loops run on tracks inside the lanes)."""
    _, _, root = laid_out
    semantic_el = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for plane, items in drawn_planes(root).items():
        pools = [bounds(el) for el in items if local(semantic_el[el.get("bpmnElement")]) == "participant"]
        for el in items:
            if local(el) != "BPMNEdge" or local(semantic_el[el.get("bpmnElement")]) != "sequenceFlow":
                continue
            pts = waypoints(el)
            for (ax, ay), (bx, by) in zip(pts, pts[1:]):
                for px, py, pw, ph in pools:
                    if ay == by and px <= min(ax, bx) and max(ax, bx) <= px + pw:
                        assert min(abs(ay - py), abs(ay - (py + ph))) >= POOL_CLEARANCE, \
                            (plane, el.get("bpmnElement"), "runs along the top or bottom of the pool")
                    if ax == bx and py <= min(ay, by) and max(ay, by) <= py + ph:
                        assert abs(ax - (px + pw)) >= POOL_CLEARANCE, \
                            (plane, el.get("bpmnElement"), "runs along the right edge of the pool")


def test_a_loop_between_lanes_runs_between_them_not_over_the_upper_lane(laid_out):
    """A back edge from a lower lane to an upper one turns on a track below the upper lane's tasks."""
    _, _, root = laid_out
    semantic_el = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    for plane, items in drawn_planes(root).items():
        shapes = {el.get("bpmnElement"): bounds(el) for el in items if local(el) == "BPMNShape"}
        for el in items:
            flow = semantic_el[el.get("bpmnElement")]
            if local(el) != "BPMNEdge" or local(flow) != "sequenceFlow":
                continue
            src, tgt = shapes[flow.get("sourceRef")], shapes[flow.get("targetRef")]
            pts = waypoints(el)
            if src[0] > tgt[0] and src[1] > tgt[1] + tgt[3]:  # back to the left, and up
                (a, b) = max(zip(pts, pts[1:]), key=lambda s: abs(s[0][0] - s[1][0]))
                assert a[1] == b[1] and tgt[1] + tgt[3] < a[1] < src[1], (plane, flow.get("id"), "runs over its target")


def test_task_names_fit_in_two_lines_clear_of_the_icon():
    """The width rule that keeps a task's name out of its icon (the rendering itself is checked in Chromium)."""
    def el(tag, name):
        return etree.Element(f"{{{BPMN}}}{tag}", name=name)
    assert bpmn_layout.task_width(el("scriptTask", "汇总处理决定")) == 100
    assert bpmn_layout.task_width(el("userTask", "立案审查")) == 100
    assert bpmn_layout.task_width(el("userTask", "制作并送达处理决定")) > 100  # two full lines touch the user icon
    assert bpmn_layout.task_width(el("scriptTask", "确定需告知和听取的当事人")) == 100  # the script icon is shorter
    assert bpmn_layout.task_width(el("businessRuleTask", "责任人（第八条至第十条、第五条第（十九）项）")) > 130
