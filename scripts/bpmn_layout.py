#!/usr/bin/env python3
"""Write fresh BPMN diagram interchange (DI) for a BPMN file: a deterministic left-to-right auto-layout.

Usage::

    .venv/bin/python scripts/bpmn_layout.py processes/accountability_case.bpmn            # rewrite in place
    .venv/bin/python scripts/bpmn_layout.py processes/appeal_review.bpmn --out /tmp/x.bpmn

Every ``bpmndi:BPMNDiagram`` in the file is removed and new ones are written; the semantic XML (everything
outside the DI) is kept as lxml parsed it, with the file's own XML declaration, namespace prefixes and the
Camunda-style ``" />"`` empty-element endings, so a diff shows only DI changes.

What is drawn, and how:

* a ``bpmn:collaboration`` becomes the main plane: one pool per participant (stacked top to bottom, label
  column 30 px), lanes of its process as horizontal bands (nested child lane sets indent by 30 px); a file
  without a collaboration gets one plane per process;
* flow nodes get columns (layers) by the longest path from the start events after removing back edges
  (found by a depth-first search from the start events: a flow into a node on the DFS stack, e.g. a
  "return for revision" loop); inside its lane band a node sits in a row; nodes of the same lane and column
  are stacked in rows, the branch with the longest continuation stays on its predecessor's row;
* standard sizes: tasks/call activities/collapsed sub-processes 100x80, gateways 50x50, events 36x36;
* boundary events sit on the bottom edge of their host (spread 44 px apart), their targets go one row lower
  in a later column; their flows leave the event downwards;
* an embedded sub-process with content is drawn collapsed (``isExpanded="false"``) and gets its own
  ``BPMNDiagram`` whose plane references the sub-process (bpmn-js / Camunda Modeler 5 drill-down), laid out
  with the same algorithm without lanes; nested sub-processes recursively;
* sequence flows are orthogonal; routes are picked from candidates by a score (shapes crossed, other flows
  overlapped or crossed, label areas, bends, length); back edges run on reserved tracks above the content
  of the upper lane involved (below the lower lane when they leave a boundary event), never on the pool edge;
* labels (named events, gateways, flows, data objects) get ``BPMNLabel`` bounds sized for bpmn-js' 11 px
  label font, placed by candidates: gateway labels above, event labels below, flow labels beside the first
  suitable segment, moved elsewhere only when a flow, shape or another label is in the way;
* text annotations and data object/store references are placed above the element they are associated with.

The output depends only on the input (no randomness, no dict/set-order effects), so running the tool twice
gives the same bytes.  Not handled: ``bpmn:group`` (no DI written), expanded sub-processes, vertical pools,
message-flow routing beyond a simple vertical-horizontal-vertical line.
"""
from __future__ import annotations

import argparse
import heapq
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
DI_PREFIXES = {"bpmndi": BPMNDI, "dc": DC, "di": DI}

TASKS = {"task", "userTask", "manualTask", "scriptTask", "businessRuleTask", "serviceTask", "sendTask",
         "receiveTask", "callActivity"}
SUBPROCESSES = {"subProcess", "transaction", "adHocSubProcess"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
DATA = {"dataObjectReference": (36, 50), "dataStoreReference": (50, 50)}
FLOW_NODES = TASKS | SUBPROCESSES | GATEWAYS | EVENTS

# geometry (px)
H_GAP = 70            # minimal horizontal gap between columns
ROW_GAP = 40          # minimal vertical gap between the extents of two rows
ROW_PAD = 24          # space between a band's edge (or its tracks) and its first/last row
TRACK = 20            # distance between back-edge tracks
TRACK_PAD = 40        # space between a lane boundary and its outermost track
POOL_TRACK_PAD = 64   # space between a pool's edge and a track beside it: a loop never runs along the pool's edge
LABEL_COL = 30        # pool and lane label columns
CONTENT_MARGIN = 50   # space between the label column(s) and the first/after the last column
MIN_BAND = 140        # minimal lane height
BOUNDARY_SPACING = 44 # distance between the centres of two boundary events on one host
LABEL_FONT = 11       # bpmn-js draws external labels at 11 px, lines 1.2 em
LABEL_LINE = 14
LABEL_MAX_W = 90
LABEL_ASCENT = 3      # bpmn-js draws label text from 3 px above the label's bounds
TASK_FONT = 12        # bpmn-js draws task names at 12 px inside the box, 5 px padding
TASK_WIDTHS = (100, 130, 160, 190, 220)  # a task widens until its name fits in two lines, clear of its icon and markers
TASK_TEXT_LINES = 2

# route scoring
HIT_SHAPE = 5000
HIT_ZONE = 150
OVERLAP_OTHER = 400
OVERLAP_SIBLING = 80
TRUNK = 5
JUNCTION = 300
CROSSING = 25
PORT_CLASH = 300
BEND = 20
PER_PX = 0.05


def local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def is_bpmn(el, *names) -> bool:
    return isinstance(el.tag, str) and etree.QName(el).namespace == BPMN and (not names or local(el) in names)


def bpmn_children(el, *names):
    return [c for c in el if is_bpmn(c, *names)]


# --------------------------------------------------------------------------- text metrics

def _char_width(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in "WF":
        return LABEL_FONT
    if ch == " ":
        return LABEL_FONT * 0.3
    if ch.isupper() or ch in "mwMW@%&":
        return LABEL_FONT * 0.8
    return LABEL_FONT * 0.6


def wrap_text(text: str, max_w: float) -> list[float]:
    """Widths of the lines bpmn-js makes of ``text`` in a box ``max_w`` wide (generous estimate)."""
    widths: list[float] = []
    for para in text.split("\n"):
        line = 0.0
        for word in re.findall(r"\S+\s*|\s+", para) or [""]:
            ww = sum(_char_width(c) for c in word.rstrip())
            if line and line + ww >= max_w:
                widths.append(line)
                line = 0.0
            if ww >= max_w:  # break inside a long word (CJK text has no spaces)
                for ch in word.rstrip():
                    cw = _char_width(ch)
                    if line and line + cw >= max_w:
                        widths.append(line)
                        line = 0.0
                    line += cw
                line += sum(_char_width(c) for c in word[len(word.rstrip()):])
            else:
                line += sum(_char_width(c) for c in word)
        widths.append(line)
    return widths


TALL_ICONS = {"userTask", "manualTask", "serviceTask", "sendTask", "receiveTask"}  # icons reaching 24 px down


def task_width(el) -> int:
    """The narrowest standard width in which bpmn-js writes the task's name clear of its icon and markers.

    bpmn-js writes the name in 12 px text, centred, leaving about 10 px of each side free, so a line holds
    (width - 20) px. Two lines start 22 px below the task's top: clear of a script or table icon (which ends
    at 20 px), but the first line runs into a user, manual or service icon (4-24 px down, 4-21 px across)
    unless it starts 22 px in. Three lines start 15 px down, into every icon and onto the loop or sub-process
    marker at the bottom, so no name is given three."""
    name = (el.get("name") or "").strip()
    tall_icon = local(el) in TALL_ICONS
    for w in TASK_WIDTHS:
        lines = wrap_text(name, (w - 20) * LABEL_FONT / TASK_FONT)
        first = lines[0] * TASK_FONT / LABEL_FONT
        if len(lines) == 1 or (len(lines) <= TASK_TEXT_LINES and not (tall_icon and first > w - 44)):
            return w
    return TASK_WIDTHS[-1]


def label_size(text: str) -> tuple[int, int]:
    lines = wrap_text(text.strip(), LABEL_MAX_W - 2)
    width = min(LABEL_MAX_W, int(max(lines) + 0.999) + 6)
    return width, LABEL_LINE * len(lines)


# --------------------------------------------------------------------------- geometry helpers

@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def r(self) -> int:
        return self.x + self.w

    @property
    def b(self) -> int:
        return self.y + self.h

    def overlaps(self, other: "Rect", margin: int = 0) -> bool:
        return (self.x < other.r + margin and other.x < self.r + margin
                and self.y < other.b + margin and other.y < self.b + margin)


def seg_hits(a, b, rect: Rect, margin: int = 0) -> bool:
    """Does the axis-parallel segment a-b run through the interior of ``rect`` grown by ``margin``?"""
    x1, x2 = sorted((a[0], b[0]))
    y1, y2 = sorted((a[1], b[1]))
    return (x1 < rect.r + margin and x2 > rect.x - margin and y1 < rect.b + margin and y2 > rect.y - margin
            and (x1 != x2 or rect.x - margin < x1 < rect.r + margin)
            and (y1 != y2 or rect.y - margin < y1 < rect.b + margin))


def segments(points):
    return list(zip(points, points[1:]))


def direction(a, b) -> str:
    if b[0] > a[0]:
        return "R"
    if b[0] < a[0]:
        return "L"
    return "D" if b[1] > a[1] else "U"


OPPOSITE = {"R": "L", "L": "R", "U": "D", "D": "U"}


def simplify(points):
    out = []
    for p in points:
        if out and out[-1] == p:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
            continue
        out.append(p)
    return out


def overlap_len(s, t, tol: int = 5) -> int:
    """Length over which two axis-parallel segments run on top of each other (within ``tol`` px)."""
    (a, b), (c, d) = s, t
    if a[1] == b[1] and c[1] == d[1] and abs(a[1] - c[1]) < tol:
        lo, hi = max(min(a[0], b[0]), min(c[0], d[0])), min(max(a[0], b[0]), max(c[0], d[0]))
        return max(0, hi - lo)
    if a[0] == b[0] and c[0] == d[0] and abs(a[0] - c[0]) < tol:
        lo, hi = max(min(a[1], b[1]), min(c[1], d[1])), min(max(a[1], b[1]), max(c[1], d[1]))
        return max(0, hi - lo)
    return 0


def on_segment(p, s) -> bool:
    (a, b) = s
    return (min(a[0], b[0]) <= p[0] <= max(a[0], b[0])) and (min(a[1], b[1]) <= p[1] <= max(a[1], b[1]))


def crosses(s, t) -> bool:
    (a, b), (c, d) = s, t
    if a[1] == b[1] and c[0] == d[0]:
        h, v = (a, b), (c, d)
    elif a[0] == b[0] and c[1] == d[1]:
        h, v = (c, d), (a, b)
    else:
        return False
    hx1, hx2 = sorted((h[0][0], h[1][0]))
    vy1, vy2 = sorted((v[0][1], v[1][1]))
    return hx1 < v[0][0] < hx2 and vy1 < h[0][1] < vy2


# --------------------------------------------------------------------------- model

@dataclass(eq=False)
class Node:
    id: str
    el: object
    kind: str  # task | subprocess | gateway | event | boundary | data | annotation
    name: str
    w: int
    h: int
    index: int
    lane: int = 0
    layer: int = 0
    row: int = 0
    x: int = 0
    y: int = 0
    host: "Node | None" = None
    boundaries: list = field(default_factory=list)
    artifacts: list = field(default_factory=list)
    label: Rect | None = None
    expanded_plane: bool = False

    @property
    def rect(self) -> Rect:
        return Rect(self.x, self.y, self.w, self.h)

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    @property
    def cy(self) -> int:
        return self.y + self.h // 2

    def port(self, side: str):
        return {"R": (self.x + self.w, self.cy), "L": (self.x, self.cy),
                "U": (self.cx, self.y), "D": (self.cx, self.y + self.h)}[side]


@dataclass(eq=False)
class Flow:
    id: str
    el: object
    name: str
    src: Node
    tgt: Node
    index: int
    back: bool = False
    track: tuple | None = None  # ("top"|"bottom", band index, track number)
    points: list = field(default_factory=list)
    label: Rect | None = None


@dataclass
class LaneSpec:
    id: str
    name: str
    depth: int
    refs: list
    children: list


@dataclass
class Band:
    lane: LaneSpec | None
    top: int = 0
    height: int = 0
    rows: list = field(default_factory=list)  # row centre y
    top_ext: list = field(default_factory=list)
    bot_ext: list = field(default_factory=list)
    tracks_top: list = field(default_factory=list)
    tracks_bottom: list = field(default_factory=list)
    track_y_top: list = field(default_factory=list)
    track_y_bottom: list = field(default_factory=list)


@dataclass
class DiShape:
    element: str
    bounds: Rect
    attrs: dict
    label: Rect | None = None


@dataclass
class DiEdge:
    element: str
    points: list
    label: Rect | None = None


def node_size(el) -> tuple[str, int, int]:
    name = local(el)
    if name in GATEWAYS:
        return "gateway", 50, 50
    if name == "boundaryEvent":
        return "boundary", 36, 36
    if name in EVENTS:
        return "event", 36, 36
    if name in SUBPROCESSES:
        return "subprocess", task_width(el), 80
    return "task", task_width(el), 80


def has_content(el) -> bool:
    return any(is_bpmn(c) and (local(c) in FLOW_NODES or local(c) in DATA or local(c) == "textAnnotation")
               for c in el)


# --------------------------------------------------------------------------- one plane

class PlaneLayout:
    """Layout of one process or sub-process: nodes, flows, artifacts; with lane bands when ``lanes`` is given."""

    def __init__(self, container, lanes: list[LaneSpec] | None, left: int, top: int, pool=None):
        self.container = container
        self.lane_tree = lanes or []
        self.leaves: list[LaneSpec] = []
        self._flatten(self.lane_tree)
        self.pool = pool
        self.left = left
        self.top = top
        self.nodes: dict[str, Node] = {}
        self.order: list[Node] = []
        self.flows: list[Flow] = []
        self.artifacts: list[Node] = []
        self.associations: list[tuple] = []  # (element id, artifact node, anchor id)
        self.collect()

    def _flatten(self, specs):
        for spec in specs:
            if spec.children:
                self._flatten(spec.children)
            else:
                self.leaves.append(spec)

    # ---- collect
    def collect(self):
        index = 0
        for el in self.container:
            if not is_bpmn(el):
                continue
            name = local(el)
            if name in FLOW_NODES:
                kind, w, h = node_size(el)
                node = Node(el.get("id"), el, kind, (el.get("name") or "").strip(), w, h, index)
                node.expanded_plane = kind == "subprocess" and has_content(el)
                self.nodes[node.id] = node
                self.order.append(node)
            elif name in DATA:
                w, h = DATA[name]
                node = Node(el.get("id"), el, "data", (el.get("name") or "").strip(), w, h, index)
                self.nodes[node.id] = node
                self.artifacts.append(node)
            elif name == "textAnnotation":
                text_el = el.find(f"{{{BPMN}}}text")
                text = (text_el.text or "").strip() if text_el is not None else ""
                lines = wrap_text(text, (100 - 10) * LABEL_FONT / 12) if text else [0]  # drawn at 12 px
                node = Node(el.get("id"), el, "annotation", text, 100, max(30, LABEL_LINE * len(lines) + 12),
                            index)
                self.nodes[node.id] = node
                self.artifacts.append(node)
            index += 1
        for node in self.order:
            if node.kind == "boundary":
                host = self.nodes.get(node.el.get("attachedToRef"))
                if host is not None and host in self.order and host.kind != "boundary":
                    node.host = host
                    host.boundaries.append(node)
                else:  # no host here: draw it as a plain event
                    node.kind = "event"
        for host in self.order:
            if len(host.boundaries) > 3:  # wider, so that every event's centre stays on the host's edge
                host.w = BOUNDARY_SPACING * (len(host.boundaries) - 1) + 12
        for el in self.container:
            if is_bpmn(el, "sequenceFlow"):
                src, tgt = self.nodes.get(el.get("sourceRef")), self.nodes.get(el.get("targetRef"))
                if src is None or tgt is None or src.kind in ("data", "annotation") or \
                        tgt.kind in ("data", "annotation"):
                    print(f"bpmn_layout: {el.get('id')} not drawn: its source or target is not a flow node "
                          f"of {self.container.get('id')}", file=sys.stderr)
                    continue
                self.flows.append(Flow(el.get("id"), el, (el.get("name") or "").strip(), src, tgt,
                                       len(self.flows)))
        # associations and data associations: (edge id, artifact, anchor id)
        for el in self.container:
            if is_bpmn(el, "association"):
                s, t = el.get("sourceRef"), el.get("targetRef")
                art = self.nodes.get(s) if self.nodes.get(s) in self.artifacts else self.nodes.get(t)
                anchor = t if art is self.nodes.get(s) else s
                if art is not None and art in self.artifacts:
                    self.associations.append((el.get("id"), art, anchor, art is self.nodes.get(s)))
        for node in self.order:
            for assoc in node.el:
                if is_bpmn(assoc, "dataInputAssociation", "dataOutputAssociation"):
                    ref = assoc.find(f"{{{BPMN}}}sourceRef" if local(assoc) == "dataInputAssociation"
                                     else f"{{{BPMN}}}targetRef")
                    data = self.nodes.get((ref.text or "").strip()) if ref is not None else None
                    if data is not None and data.kind == "data" and assoc.get("id"):
                        self.associations.append((assoc.get("id"), data, node.id,
                                                  local(assoc) == "dataInputAssociation"))
        for _, art, anchor, _ in self.associations:
            target = self.nodes.get(anchor)
            if target is not None and target in self.order and art not in target.artifacts:
                if not any(art in n.artifacts for n in self.order):
                    target.artifacts.append(art)

    # ---- ranking
    def rank(self):
        main = [n for n in self.order if n.kind != "boundary"]
        succ: dict[Node, list] = {n: [] for n in main}
        for f in self.flows:
            u = f.src.host if f.src.kind == "boundary" else f.src
            v = f.tgt.host if f.tgt.kind == "boundary" else f.tgt
            if u is None or v is None:
                continue
            succ[u].append((v, f))
        # a host's own flows first, then its boundary events' flows
        for n in main:
            succ[n].sort(key=lambda vf: (vf[1].src.kind == "boundary", vf[1].index))
        has_in = {v for n in main for v, _ in succ[n]}
        roots = ([n for n in main if local(n.el) == "startEvent"] + [n for n in main if n not in has_in] + main)
        color: dict[Node, int] = {}
        for root in roots:
            if root in color:
                continue
            color[root] = 1
            stack = [(root, iter(succ[root]))]
            while stack:
                u, it = stack[-1]
                for v, f in it:
                    if v not in color:
                        color[v] = 1
                        stack.append((v, iter(succ[v])))
                        break
                    if color[v] == 1:
                        f.back = True
                else:
                    color[u] = 2
                    stack.pop()
        indeg = {n: 0 for n in main}
        for n in main:
            for v, f in succ[n]:
                if not f.back:
                    indeg[v] += 1
        heap = [(n.index, n.id, n) for n in main if indeg[n] == 0]
        heapq.heapify(heap)
        self.topo: list[Node] = []
        while heap:
            _, _, u = heapq.heappop(heap)
            self.topo.append(u)
            for v, f in succ[u]:
                if f.back:
                    continue
                v.layer = max(v.layer, u.layer + 1)
                indeg[v] -= 1
                if indeg[v] == 0:
                    heapq.heappush(heap, (v.index, v.id, v))
        self.succ = succ
        # remaining length to a sink: keeps the longest branch straight
        self.height: dict[Node, int] = {}
        for u in reversed(self.topo):
            self.height[u] = max([self.height.get(v, 0) + 1 for v, f in succ[u] if not f.back], default=0)
        for b in self.order:
            if b.kind == "boundary":
                b.layer = b.host.layer if b.host else 0
        self.n_layers = max([n.layer for n in main], default=0) + 1

    # ---- lanes
    def assign_lanes(self):
        if not self.leaves:
            for n in self.order:
                n.lane = 0
            self.bands = [Band(None)]
            return
        self.bands = [Band(spec) for spec in self.leaves]
        lane_of: dict[str, int] = {}
        for i, spec in enumerate(self.leaves):
            for ref in spec.refs:
                lane_of.setdefault(ref, i)

        def parent_refs(specs):
            for spec in specs:
                if spec.children:
                    first = self.leaves.index(next(iter(self._leaves_of(spec))))
                    for ref in spec.refs:
                        lane_of.setdefault(ref, first)
                    parent_refs(spec.children)
        parent_refs(self.lane_tree)
        unknown = []
        for n in self.order:
            if n.id in lane_of:
                n.lane = lane_of[n.id]
            else:
                unknown.append(n)
        for n in unknown:  # not in any lane: beside a neighbour
            if n.host is not None:
                n.lane = n.host.lane
                continue
            near = [f.src for f in self.flows if f.tgt is n and f.src.id in lane_of] + \
                   [f.tgt for f in self.flows if f.src is n and f.tgt.id in lane_of]
            n.lane = near[0].lane if near else 0
        for b in self.order:
            if b.host is not None:
                b.lane = b.host.lane

    def _leaves_of(self, spec):
        if not spec.children:
            yield spec
        for c in spec.children:
            yield from self._leaves_of(c)

    # ---- rows
    def assign_rows(self):
        occupied: dict[tuple, object] = {}
        main = [n for n in self.order if n.kind != "boundary"]
        by_layer: dict[int, list] = {}
        for n in main:
            by_layer.setdefault(n.layer, []).append(n)
        placed: set = set()

        def free_path(lane, l1, l2, row):
            return all((lane, l, row) not in occupied for l in range(l1 + 1, l2))

        for layer in sorted(by_layer):
            prefs = []
            for n in by_layer[layer]:
                cands = []  # (row, kind, pred, extra)
                for f in self.flows:
                    if f.tgt is not n or f.back:
                        continue
                    if f.src.kind == "boundary" and f.src.host in placed and f.src.host.lane == n.lane:
                        host = f.src.host
                        k = len(host.boundaries) - 1 - host.boundaries.index(f.src)
                        cands.append((host.row + 1 + k, "boundary", host))
                    elif f.src in placed and f.src.lane == n.lane:
                        kids = sorted([(v, g) for v, g in self.succ[f.src] if not g.back and v.lane == n.lane
                                       and g.src.kind != "boundary"],
                                      key=lambda vg: (-self.height.get(vg[0], 0), vg[1].index))
                        idx = next((i for i, (v, g) in enumerate(kids) if g is f), 0)
                        cands.append((f.src.row + idx, "flow", f.src))
                cands.sort(key=lambda c: (c[0], c[2].index))
                prefs.append((cands[0][0] if cands else 0, n.index, n, cands[0] if cands else None))
            prefs.sort(key=lambda p: (p[0], p[1]))
            for pref, _, n, cand in prefs:
                chosen = None
                for row in range(pref, pref + 60):
                    if (n.lane, layer, row) in occupied:
                        continue
                    if cand is None:
                        chosen = row
                        break
                    _, kind, pred = cand
                    if kind == "boundary":
                        ok = all((n.lane, pred.layer, r) not in occupied for r in range(pred.row + 1, row + 1)) \
                            and free_path(n.lane, pred.layer, layer, row)
                    else:
                        ok = free_path(n.lane, pred.layer, layer, row) if row == pred.row else True
                    if ok:
                        chosen = row
                        break
                if chosen is None:
                    chosen = pref
                    while (n.lane, layer, chosen) in occupied:
                        chosen += 1
                n.row = chosen
                occupied[(n.lane, layer, chosen)] = n
                placed.add(n)
                # the straight (or boundary) edge claims the cells it passes
                if cand is not None:
                    _, kind, pred = cand
                    if kind == "boundary":
                        for r in range(pred.row + 1, chosen + 1):
                            occupied.setdefault((n.lane, pred.layer, r), "edge")
                    if kind == "boundary" or chosen == pred.row:
                        for l in range(pred.layer + 1, layer):
                            occupied.setdefault((n.lane, l, chosen), "edge")
        for b in self.order:
            if b.host is not None:
                b.row = b.host.row

    # ---- back edge tracks
    def assign_tracks(self):
        for f in self.flows:
            if not f.back:
                continue
            if f.src.kind == "boundary":
                band = max(f.src.lane, f.tgt.lane)
                self.bands[band].tracks_bottom.append(f)
            elif f.src.lane != f.tgt.lane:  # below the upper lane's rows: the flow passes there anyway
                band = min(f.src.lane, f.tgt.lane)
                self.bands[band].tracks_bottom.append(f)
            else:
                self.bands[f.src.lane].tracks_top.append(f)

        def span(f):
            return (abs(f.src.layer - f.tgt.layer), f.index)
        for band in self.bands:
            band.tracks_top.sort(key=span)
            band.tracks_bottom.sort(key=span)

    # ---- coordinates
    def geometry(self):
        main = [n for n in self.order if n.kind != "boundary"]
        col_w = [0] * self.n_layers
        for n in main:
            col_w[n.layer] = max(col_w[n.layer], n.w)
        gap = [H_GAP] * self.n_layers
        for f in self.flows:
            if f.name and not f.back:
                lw, _ = label_size(f.name)
                layer = f.src.host.layer if f.src.host else f.src.layer
                gap[layer] = max(gap[layer], lw + 24)
        depth = max([spec.depth for spec in self.leaves], default=-1) + 1
        self.content_left = self.left + (LABEL_COL * (1 + depth) if self.pool is not None else 0) + CONTENT_MARGIN
        self.col_x = []
        x = self.content_left
        for l in range(self.n_layers):
            self.col_x.append(x)
            x += col_w[l] + gap[l]
        self.col_w = col_w
        self.content_right = self.col_x[-1] + col_w[-1] + CONTENT_MARGIN if self.n_layers else x + 100
        self.vchannels = []
        for l in range(self.n_layers):
            self.vchannels.append(self.col_x[l] + col_w[l] + gap[l] // 2)
        if self.n_layers:
            self.vchannels.insert(0, self.col_x[0] - CONTENT_MARGIN // 2)
            self.vchannels[-1] = min(self.vchannels[-1], self.col_x[-1] + col_w[-1] + CONTENT_MARGIN // 2)
        for n in main:
            n.x = self.col_x[n.layer] + (col_w[n.layer] - n.w) // 2

        # vertical: rows per band
        y = self.top
        self.hchannels = []
        for bi, band in enumerate(self.bands):
            rows = [n for n in main if n.lane == bi]
            n_rows = max([n.row for n in rows], default=0) + 1
            top_ext = [40] * n_rows
            bot_ext = [40] * n_rows
            for n in rows:
                t, b = n.h // 2, n.h - n.h // 2
                if n.kind == "gateway" and n.name:
                    t = max(t, 25 + 6 + label_size(n.name)[1])
                if n.kind == "event" and n.name:
                    b = max(b, 18 + 6 + label_size(n.name)[1])
                if n.boundaries:
                    lab = max([label_size(e.name)[1] for e in n.boundaries if e.name], default=0)
                    b = max(b, n.h // 2 + 18 + 6 + lab)
                if n.artifacts:
                    t = max(t, n.h // 2 + 30 + max(a.h + (20 if a.kind == "data" and a.name else 0)
                                                  for a in n.artifacts))
                top_ext[n.row] = max(top_ext[n.row], t)
                bot_ext[n.row] = max(bot_ext[n.row], b)
            band.top = y
            pad_top = POOL_TRACK_PAD if self.pool is not None and bi == 0 else TRACK_PAD
            pad_bottom = POOL_TRACK_PAD if self.pool is not None and bi == len(self.bands) - 1 else TRACK_PAD
            body_top = y + (pad_top + TRACK * len(band.tracks_top) if band.tracks_top else 0) + ROW_PAD
            centres = []
            c = body_top + top_ext[0]
            for r in range(n_rows):
                if r:
                    c += bot_ext[r - 1] + ROW_GAP + top_ext[r]
                centres.append(c)
            body_bottom = centres[-1] + bot_ext[-1] + ROW_PAD
            height = body_bottom - y + (TRACK * len(band.tracks_bottom) + pad_bottom if band.tracks_bottom else 0)
            need = MIN_BAND if band.lane is not None or self.pool is not None else 0
            if band.lane is not None and band.lane.name:
                need = max(need, int(sum(_char_width(ch) for ch in band.lane.name) * 12 / 11) + 30)
            shift = max(0, need - height) // 2
            height = max(height, need)
            centres = [c + shift for c in centres]
            band.rows, band.top_ext, band.bot_ext, band.height = centres, top_ext, bot_ext, height
            band.track_y_top = [body_top + shift - ROW_PAD - TRACK * k - TRACK // 2
                                for k in range(len(band.tracks_top))]
            first_bottom = body_bottom + shift
            band.track_y_bottom = [first_bottom + TRACK * k + TRACK // 2 for k in range(len(band.tracks_bottom))]
            for k, f in enumerate(band.tracks_top):
                f.track = ("top", bi, band.track_y_top[k])
            for k, f in enumerate(band.tracks_bottom):
                f.track = ("bottom", bi, band.track_y_bottom[k])
            self.hchannels.append(centres[0] - top_ext[0] - ROW_PAD // 2)
            for r in range(n_rows - 1):
                self.hchannels.append((centres[r] + bot_ext[r] + centres[r + 1] - top_ext[r + 1]) // 2)
            self.hchannels.append(centres[-1] + bot_ext[-1] + ROW_PAD // 2)
            y += height
        self.bottom = y
        for n in main:
            n.y = self.bands[n.lane].rows[n.row] - n.h // 2
        for host in main:
            k = len(host.boundaries)
            for i, e in enumerate(host.boundaries):
                offset = round((i - (k - 1) / 2) * BOUNDARY_SPACING)
                e.x = host.cx + offset - e.w // 2
                e.y = host.y + host.h - e.h // 2
        self.hchannels = sorted(set(self.hchannels))

    # ---- routing
    def zones(self):
        """Where labels of gateways and events will go: flows avoid them when they can."""
        out = []
        for n in self.order:
            if not n.name:
                continue
            lw, lh = label_size(n.name)
            if n.kind == "gateway":
                out.append((n, Rect(n.cx - lw // 2, n.y - 6 - lh, lw, lh + 4)))
            elif n.kind == "event":
                out.append((n, Rect(n.cx - lw // 2, n.y + n.h + 2, lw, lh + 4)))
        return out

    def route_all(self):
        self.routed: list[Flow] = []
        self.port_use: dict[tuple, set] = {}
        self._shapes = list(self.order)
        self._zones = self.zones()
        forward = sorted([f for f in self.flows if not f.back],
                         key=lambda f: ((f.src.host or f.src).layer, (f.src.host or f.src).lane,
                                        (f.src.host or f.src).row, f.index))
        back = sorted([f for f in self.flows if f.back], key=lambda f: f.index)
        for f in forward + back:
            f.points = self.route(f)
            self.routed.append(f)
            self.port_use.setdefault((f.src.id, direction(f.points[0], f.points[1])), set()).add("out")
            self.port_use.setdefault((f.tgt.id, OPPOSITE[direction(f.points[-2], f.points[-1])]), set()).add("in")

    def _cheap(self, points, penalty):
        length = sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in segments(points))
        return penalty + BEND * (len(points) - 2) + PER_PX * length

    def _expensive(self, f, points, limit):
        cost = 0.0
        segs = segments(points)
        for a, b in segs:
            for n in self._shapes:
                if n is f.src or n is f.tgt:
                    if seg_hits(a, b, n.rect, 0):
                        cost += HIT_SHAPE
                elif n is f.src.host and n.kind != "boundary":
                    if seg_hits(a, b, n.rect, 0):
                        cost += HIT_SHAPE
                elif seg_hits(a, b, n.rect, 4):
                    cost += HIT_SHAPE
            if cost > limit:
                return cost
            for owner, z in self._zones:
                if owner is not f.src and owner is not f.tgt and seg_hits(a, b, z, 0):
                    cost += HIT_ZONE
                elif (owner is f.src or owner is f.tgt) and seg_hits(a, b, z, 0) and owner.kind == "gateway":
                    cost += HIT_ZONE / 3
        if cost > limit:
            return cost
        last = len(segs) - 1
        for g in self.routed:
            sibling = (g.src is f.src or g.tgt is f.tgt) and not (f.back or g.back)
            gsegs = segments(g.points)
            for i, s in enumerate(segs):
                for j, t in enumerate(gsegs):
                    ov = overlap_len(s, t)
                    if ov:
                        if sibling and ((i == 0 and j == 0 and s[0] == t[0]) or
                                        (i == last and j == len(gsegs) - 1 and s[1] == t[1])):
                            cost += TRUNK + 0.02 * ov  # a split's or merge's common stem
                        elif sibling:
                            cost += OVERLAP_SIBLING + 0.3 * ov
                        else:
                            cost += OVERLAP_OTHER + ov
                    elif crosses(s, t):
                        cost += CROSSING
            if not sibling:  # a corner on another flow reads as a junction of the two flows
                for q in points[1:-1]:
                    if any(on_segment(q, t) for t in gsegs):
                        cost += JUNCTION
                for q in g.points[1:-1]:
                    if any(on_segment(q, t) for t in segs):
                        cost += JUNCTION
            if cost > limit:
                return cost
        out_dir = direction(points[0], points[1])
        in_dir = OPPOSITE[direction(points[-2], points[-1])]
        if "in" in self.port_use.get((f.src.id, out_dir), ()):
            cost += PORT_CLASH
        if "out" in self.port_use.get((f.tgt.id, in_dir), ()):
            cost += PORT_CLASH
        return cost

    def _valid(self, points, d0, d1):
        pts = simplify(points)
        if len(pts) < 2:
            return None
        for a, b in segments(pts):
            if a[0] != b[0] and a[1] != b[1]:
                return None
        if direction(pts[0], pts[1]) != d0 or direction(pts[-2], pts[-1]) != OPPOSITE[d1]:
            return None
        dirs = [direction(a, b) for a, b in segments(pts)]
        if any(OPPOSITE[x] == y for x, y in zip(dirs, dirs[1:])):
            return None
        if len(pts) > 2:
            first, last = segments(pts)[0], segments(pts)[-1]
            if max(abs(first[0][0] - first[1][0]), abs(first[0][1] - first[1][1])) < 10:
                return None
            if max(abs(last[0][0] - last[1][0]), abs(last[0][1] - last[1][1])) < 10:
                return None
        return pts

    def _port_options(self, f):
        s, t = f.src, f.tgt
        if f.back:  # towards the track, wherever it lies
            track_y = f.track[2]
            up_s, up_t = ("U" if track_y < s.cy else "D"), ("U" if track_y < t.cy else "D")
            src = [("D", 0)] if s.kind == "boundary" else [(up_s, 0 if s.kind == "gateway" else 10), ("R", 15)]
            tgt = [(up_t, 0), ("L", 15)]
            return src, tgt
        if s.kind == "boundary":
            src = [("D", 0)]
        else:
            down = t.cy > s.cy
            same = t.cy == s.cy
            vert = "D" if down else "U"
            if s.kind == "gateway":
                src = [("R", 0)] + ([("D", 8), ("U", 20)] if same else [(vert, 0 if t.x > s.x + s.w else 20)])
            else:
                src = [("R", 0)] + ([("D", 40), ("U", 60)] if same else [(vert, 40)])
        from_below = s.cy > t.cy if s.kind != "boundary" else True
        same = (s.cy == t.cy) and s.kind != "boundary"
        vert = "D" if from_below else "U"
        if t.kind == "gateway":
            tgt = [("L", 0)] + ([("D", 8), ("U", 20)] if same else [(vert, 0)])
        else:
            tgt = [("L", 0)] + ([("D", 40), ("U", 60)] if same else [(vert, 40)])
        return src, tgt

    def _candidates(self, f, p0, d0, p1, d1):
        xs, ys = self.vchannels, self.hchannels
        lo_y, hi_y = min(p0[1], p1[1]), max(p0[1], p1[1])
        ys = ([y for y in ys if y < lo_y][-2:] + [y for y in ys if lo_y <= y <= hi_y]
              + [y for y in ys if y > hi_y][:2])
        if f.back:
            ys = [f.track[2]]
        lo_x, hi_x = min(p0[0], p1[0]), max(p0[0], p1[0])
        between = [x for x in xs if lo_x < x < hi_x]
        between.sort(key=lambda x: -x)  # jog close to the target first
        near_src = [x for x in xs if x > p0[0]][:1] + [x for x in xs if x < p0[0]][-1:]
        near_tgt = [x for x in xs if x < p1[0]][-1:] + [x for x in xs if x > p1[0]][:1]
        out = [[p0, p1], [p0, (p1[0], p0[1]), p1], [p0, (p0[0], p1[1]), p1]]
        for x in between:
            out.append([p0, (x, p0[1]), (x, p1[1]), p1])
        for y in ys:
            out.append([p0, (p0[0], y), (p1[0], y), p1])
        for y in ys:
            for x in near_tgt:
                out.append([p0, (p0[0], y), (x, y), (x, p1[1]), p1])
            for x in near_src:
                out.append([p0, (x, p0[1]), (x, y), (p1[0], y), p1])
            for xa in near_src:
                for xb in near_tgt:
                    out.append([p0, (xa, p0[1]), (xa, y), (xb, y), (xb, p1[1]), p1])
        return out

    def route(self, f):
        src_opts, tgt_opts = self._port_options(f)
        cands = []
        seq = 0
        for d0, pen0 in src_opts:
            p0 = f.src.port(d0)
            for d1, pen1 in tgt_opts:
                p1 = f.tgt.port(d1)
                for pts in self._candidates(f, p0, d0, p1, d1):
                    pts = self._valid(pts, d0, d1)
                    if pts is None:
                        continue
                    if f.back and not any(a[1] == b[1] == f.track[2] for a, b in segments(pts)):
                        continue
                    cands.append((self._cheap(pts, pen0 + pen1), seq, pts))
                    seq += 1
        if not cands:  # cannot happen for sane input; keep the file valid anyway
            return [f.src.port("R"), f.tgt.port("L")]
        cands.sort(key=lambda c: (c[0], c[1]))
        best, best_pts = None, None
        for cheap, _, pts in cands:
            if best is not None and cheap >= best:
                break
            total = cheap + self._expensive(f, pts, (best - cheap) if best is not None else float("inf"))
            if best is None or total < best:
                best, best_pts = total, pts
        return best_pts

    # ---- labels and artifacts
    def place_labels(self):
        self.placed_labels: list[Rect] = []
        self.placed_artifacts: list[Node] = []
        self._segs = [s for f in self.routed for s in segments(f.points)]
        self._markers = [m for f in self.routed for m in [self._start_marker(f)] if m is not None]
        for n in self.order:
            if n.name and n.kind in ("gateway", "event", "boundary"):
                own = [sg for f in self.routed if n in (f.src, f.tgt) for sg in segments(f.points)]
                n.label = self._best_label(n.name, self._node_label_cands(n), own)
        for f in sorted(self.routed, key=lambda f: f.index):
            if f.name:
                f.label = self._best_label(f.name, self._flow_label_cands(f), segments(f.points))

    def _start_marker(self, f) -> Rect | None:
        """Where bpmn-js draws a flow's start marker: the slash of a default flow, the diamond of a conditional
        flow out of an activity (both within 18 px of the start, 6 px to either side of the line)."""
        src = f.src.el
        default = src.get("default") == f.id
        conditional = (f.el.find(f"{{{BPMN}}}conditionExpression") is not None and f.src.kind != "gateway")
        if not (default or conditional) or len(f.points) < 2:
            return None
        (x0, y0), d = f.points[0], direction(f.points[0], f.points[1])
        if d in "LR":
            return Rect(x0 if d == "R" else x0 - 18, y0 - 8, 18, 16)
        return Rect(x0 - 8, y0 if d == "D" else y0 - 18, 16, 18)

    def _area(self) -> Rect:
        return Rect(self.content_left - CONTENT_MARGIN + 4, self.top + 2,
                    self.content_right - self.content_left + CONTENT_MARGIN - 8, self.bottom - self.top - 4)

    def _label_cost(self, rect: Rect, own=()) -> float:
        cost = 0.0
        for n in self.order:
            if rect.overlaps(n.rect, 2):
                cost += 1000
        for art in self.placed_artifacts:
            if rect.overlaps(art.rect, 2):
                cost += 1000
        for other in self.placed_labels:
            if rect.overlaps(other, 2):
                cost += 1000
        for marker in self._markers:
            if rect.overlaps(marker, 2):
                cost += 600
        for a, b in self._segs:
            if seg_hits(a, b, rect, 2):
                cost += 600
            elif (a, b) not in own and seg_hits(a, b, rect, 12):
                cost += 120  # reads as the label of that other flow
        area = self._area()
        if rect.x < area.x or rect.y < area.y or rect.r > area.r or rect.b > area.b:
            cost += 800
        if len(self.bands) > 1:
            for band in self.bands[1:]:
                if rect.y < band.top < rect.b:
                    cost += 60
        return cost

    def _best_label(self, text, cands, own=()):
        best = None
        own = set(own)
        for pen, rect in cands:  # judged by where bpmn-js draws the text, from 3 px above the bounds
            ink = Rect(rect.x, rect.y - LABEL_ASCENT, rect.w, rect.h + LABEL_ASCENT)
            total = pen + self._label_cost(ink, own)
            if best is None or total < best[0]:
                best = (total, rect)
        self.placed_labels.append(best[1])
        return best[1]

    def _node_label_cands(self, n):
        lw, lh = label_size(n.name)
        x, y, w, h, cx = n.x, n.y, n.w, n.h, n.cx
        if n.kind == "gateway":
            c = [(0, (cx - lw // 2, y - 5 - lh)), (12, (x + w - 8, y - 3 - lh)), (12, (x + 8 - lw, y - 3 - lh)),
                 (20, (cx - lw // 2, y + h + 5)), (25, (x + w - 8, y + h + 3)), (25, (x + 8 - lw, y + h + 3)),
                 (40, (cx - lw // 2, y - 25 - lh)), (40, (cx - lw // 2, y + h + 25))]
        elif n.kind == "boundary":
            c = [(0, (x + w + 3, y + h // 2 + 3)), (5, (x - 3 - lw, y + h // 2 + 3)),
                 (15, (cx + 6, y + h + 3)), (15, (cx - 6 - lw, y + h + 3)),
                 (30, (x + w + 3, y + h + 16)), (30, (x - 3 - lw, y + h + 16))]
        else:
            c = [(0, (cx - lw // 2, y + h + 5)), (10, (x + w - 4, y + h + 3)), (10, (x + 4 - lw, y + h + 3)),
                 (20, (cx - lw // 2, y - 5 - lh)), (25, (x + w + 5, n.cy - lh // 2)),
                 (25, (x - 5 - lw, n.cy - lh // 2)),
                 (40, (cx - lw // 2, y + h + 22))]
        return [(p, Rect(px, py, lw, lh)) for p, (px, py) in c]

    def _flow_label_cands(self, f):
        lw, lh = label_size(f.name)
        out = []
        others = [t for g in self.routed if g is not f for t in segments(g.points)]
        for i, (a, b) in enumerate(segments(f.points)):
            d = direction(a, b)
            length = abs(a[0] - b[0]) + abs(a[1] - b[1])
            shared = any(overlap_len((a, b), t) for t in others)
            base = 20 * i + (200 if shared else 0) + (0 if d in "LR" else 2)
            if d in "LR":
                offsets = [8, 20, 36, max(8, length // 2 - lw // 2)]
                for k, t in enumerate(offsets):
                    px = a[0] + t if d == "R" else a[0] - t - lw
                    out.append((base + 2 * k, Rect(px, a[1] - lh - 3, lw, lh)))
                    out.append((base + 2 * k + 6, Rect(px, a[1] + LABEL_ASCENT + 4, lw, lh)))
            else:
                offsets = [8, 24, max(8, length // 2 - lh // 2)]
                for k, t in enumerate(offsets):
                    py = a[1] + t if d == "D" else a[1] - t - lh
                    out.append((base + 4 + 2 * k, Rect(a[0] + 5, py, lw, lh)))
                    out.append((base + 8 + 2 * k, Rect(a[0] - 5 - lw, py, lw, lh)))
        return out

    def place_artifacts(self):
        """Annotations and data references above the element they belong to (else to the upper right)."""
        self.assoc_edges: list[DiEdge] = []
        placed = []
        for art in self.artifacts:
            anchor_id = next((a for _, x, a, _ in self.associations if x is art), None)
            anchor = self.nodes.get(anchor_id)
            flow = next((f for f in self.routed if f.id == anchor_id), None)
            if anchor is not None and anchor in self.order:
                ax, ay = anchor.cx, anchor.y
            elif flow is not None:
                (a, b) = max(segments(flow.points), key=lambda s: abs(s[0][0] - s[1][0]) + abs(s[0][1] - s[1][1]))
                ax, ay = (a[0] + b[0]) // 2, min(a[1], b[1])
            else:
                ax, ay = self.content_left + art.w // 2, self.top + 30 + art.h
            lab_h = label_size(art.name)[1] + 4 if art.kind == "data" and art.name else 0
            cands = []
            for k, dy in enumerate((30, 60, 90, 120)):
                for j, dx in enumerate((20, -20 - art.w, -art.w // 2, 60, -60 - art.w)):
                    cands.append((k * 30 + j * 5, Rect(ax + dx, ay - dy - art.h - lab_h, art.w, art.h)))
            best = None
            for pen, rect in cands:
                cost = pen + self._label_cost(rect)
                for other in placed:
                    if rect.overlaps(other, 6):
                        cost += 1000
                if best is None or cost < best[0]:
                    best = (cost, rect)
            rect = best[1]
            art.x, art.y = rect.x, rect.y
            placed.append(rect)
            self.placed_artifacts.append(art)
            self.placed_labels.append(Rect(rect.x, rect.y, rect.w, rect.h + lab_h))
            if art.kind == "data" and art.name:
                lw, lh = label_size(art.name)
                art.label = Rect(art.cx - lw // 2, art.y + art.h + 4, lw, lh)
        for edge_id, art, anchor_id, art_is_source in self.associations:
            anchor = self.nodes.get(anchor_id)
            flow = next((f for f in self.routed if f.id == anchor_id), None)
            if anchor is not None and anchor in self.order:
                end = (anchor.cx, anchor.y) if anchor.y > art.y else (anchor.cx, anchor.y + anchor.h)
            elif flow is not None:
                (a, b) = max(segments(flow.points), key=lambda s: abs(s[0][0] - s[1][0]) + abs(s[0][1] - s[1][1]))
                end = ((a[0] + b[0]) // 2, (a[1] + b[1]) // 2)
            else:
                continue
            if art.kind == "data" and art.label is not None:  # leave from the side: the label is below
                start = (art.x if end[0] < art.cx else art.x + art.w, art.y + art.h * 2 // 3)
            else:
                start_x = min(max(end[0], art.x + 10), art.x + art.w - 10)
                start = (start_x, art.y + art.h) if end[1] >= art.y + art.h else (start_x, art.y)
            self.assoc_edges.append(DiEdge(edge_id, [start, end] if art_is_source else [end, start]))

    # ---- run
    def run(self):
        self.rank()
        self.assign_lanes()
        self.assign_rows()
        self.assign_tracks()
        self.geometry()
        self.route_all()
        self.place_labels()
        self.place_artifacts()
        return self

    def shift(self, dy: int):
        """Move everything down by ``dy`` (stacked pools)."""
        for n in self.order + self.artifacts:
            n.y += dy
            if n.label:
                n.label = Rect(n.label.x, n.label.y + dy, n.label.w, n.label.h)
        for f in self.routed:
            f.points = [(x, y + dy) for x, y in f.points]
            if f.label:
                f.label = Rect(f.label.x, f.label.y + dy, f.label.w, f.label.h)
        for e in self.assoc_edges:
            e.points = [(x, y + dy) for x, y in e.points]
        for band in self.bands:
            band.top += dy
        self.top += dy
        self.bottom += dy

    def di(self, width: int | None = None) -> list:
        """The plane's DI elements: pool, lanes, nodes, artifacts, flows, associations."""
        out: list = []
        right = width if width is not None else self.content_right
        if self.pool is not None:
            out.append(DiShape(self.pool.get("id"), Rect(self.left, self.top, right - self.left,
                                                          self.bottom - self.top), {"isHorizontal": "true"}))
            for spec, rect in self._lane_rects(self.lane_tree, right):
                out.append(DiShape(spec.id, rect, {"isHorizontal": "true"}))
        for n in sorted(self.order, key=lambda n: n.index):
            attrs = {}
            if local(n.el) == "exclusiveGateway":
                attrs["isMarkerVisible"] = "true"
            if n.kind == "subprocess":
                attrs["isExpanded"] = "false"
            out.append(DiShape(n.id, n.rect, attrs, n.label))
        for art in self.artifacts:
            out.append(DiShape(art.id, art.rect, {}, art.label))
        for f in sorted(self.routed, key=lambda f: f.index):
            out.append(DiEdge(f.id, f.points, f.label))
        out.extend(self.assoc_edges)
        return out

    def _lane_rects(self, specs, right):
        for spec in specs:
            leaves = list(self._leaves_of(spec))
            first, last = self.leaves.index(leaves[0]), self.leaves.index(leaves[-1])
            top = self.bands[first].top
            bottom = self.bands[last].top + self.bands[last].height
            x = self.left + LABEL_COL * (1 + spec.depth)
            yield spec, Rect(x, top, right - x, bottom - top)
            yield from self._lane_rects(spec.children, right)


# --------------------------------------------------------------------------- document

def lane_specs(process) -> list[LaneSpec]:
    def walk(lane_set, depth):
        specs = []
        for lane in bpmn_children(lane_set, "lane"):
            refs = [(r.text or "").strip() for r in bpmn_children(lane, "flowNodeRef")]
            child = next(iter(bpmn_children(lane, "childLaneSet")), None)
            children = walk(child, depth + 1) if child is not None else []
            specs.append(LaneSpec(lane.get("id"), (lane.get("name") or "").strip(), depth, refs, children))
        return specs
    lane_set = next(iter(bpmn_children(process, "laneSet")), None)
    return walk(lane_set, 0) if lane_set is not None else []


class Document:
    def __init__(self, root):
        self.root = root
        self.ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
        self.used: set = set()

    def unique(self, base: str) -> str:
        cand, k = base, 2
        while cand in self.ids or cand in self.used:
            cand, k = f"{base}_{k}", k + 1
        self.used.add(cand)
        return cand


def sub_planes(layout: PlaneLayout, doc: Document, out: list):
    """Own diagrams for the collapsed sub-processes of a plane, recursively, in document order."""
    for n in sorted(layout.order, key=lambda n: n.index):
        if n.kind == "subprocess" and n.expanded_plane:
            inner = PlaneLayout(n.el, None, 100, 60).run()
            out.append((n.id, inner.di()))
            sub_planes(inner, doc, out)


def build_planes(root, doc: Document) -> list[tuple[str, list]]:
    """[(bpmnElement of the plane, DI elements)] — the main plane first."""
    planes: list[tuple[str, list]] = []
    processes = {p.get("id"): p for p in bpmn_children(root, "process")}
    collab = next(iter(bpmn_children(root, "collaboration")), None)
    if collab is not None:
        layouts, y = [], 0
        participants = bpmn_children(collab, "participant")
        for part in participants:
            proc = processes.get(part.get("processRef"))
            if proc is None:
                layouts.append((part, None, y))
                y += 60 + 40
                continue
            layout = PlaneLayout(proc, lane_specs(proc), 0, 0, pool=part).run()
            layout.shift(y - layout.top)
            layouts.append((part, layout, y))
            y = layout.bottom + 40
        width = max([lay.content_right for _, lay, _ in layouts if lay is not None], default=600)
        elements: list = []
        subs: list = []
        for part, layout, top in layouts:
            if layout is None:
                elements.append(DiShape(part.get("id"), Rect(0, top, width, 60), {"isHorizontal": "true"}))
            else:
                elements.extend(layout.di(width))
                sub_planes(layout, doc, subs)
        elements.extend(message_flows(collab, elements))
        planes.append((collab.get("id"), elements))
        planes.extend(subs)
        return planes
    for proc in processes.values():
        layout = PlaneLayout(proc, lane_specs(proc), 100, 60).run()  # lanes (if any) only group the rows
        planes.append((proc.get("id"), layout.di()))
        sub_planes(layout, doc, planes)
    return planes


def message_flows(collab, elements) -> list:
    """Message flows between pools: a plain vertical-horizontal-vertical line (no obstacle avoidance)."""
    bounds = {e.element: e.bounds for e in elements if isinstance(e, DiShape)}
    out = []
    for mf in bpmn_children(collab, "messageFlow"):
        s, t = bounds.get(mf.get("sourceRef")), bounds.get(mf.get("targetRef"))
        if s is None or t is None:
            continue
        sx, tx = s.x + s.w // 2, t.x + t.w // 2
        if s.b <= t.y:
            a, b = (sx, s.b), (tx, t.y)
        elif t.b <= s.y:
            a, b = (sx, s.y), (tx, t.b)
        else:
            a, b = (s.r, s.y + s.h // 2), (t.x, t.y + t.h // 2)
        if a[0] == b[0] or a[1] == b[1]:
            pts = [a, b]
        elif a[0] != b[0] and (s.b <= t.y or t.b <= s.y):
            mid = (a[1] + b[1]) // 2
            pts = [a, (a[0], mid), (b[0], mid), b]
        else:
            mid = (a[0] + b[0]) // 2
            pts = [a, (mid, a[1]), (mid, b[1]), b]
        name = (mf.get("name") or "").strip()
        label = None
        if name:
            lw, lh = label_size(name)
            label = Rect(pts[1][0] + 5 if len(pts) > 2 else (a[0] + b[0]) // 2 + 5, (a[1] + b[1]) // 2 - lh // 2,
                         lw, lh)
        out.append(DiEdge(mf.get("id"), pts, label))
    return out


# --------------------------------------------------------------------------- XML

def _el(tag_ns, tag, attrs=None):
    el = etree.Element(f"{{{tag_ns}}}{tag}")
    for k, v in (attrs or {}).items():
        el.set(k, v)
    return el


def _bounds(rect: Rect):
    return _el(DC, "Bounds", {"x": str(rect.x), "y": str(rect.y), "width": str(rect.w), "height": str(rect.h)})


def diagram_element(doc: Document, plane_of: str, elements: list, ids: tuple[str, str] | None):
    diagram_id, plane_id = ids if ids else (doc.unique(f"BPMNDiagram_{plane_of}"),
                                           doc.unique(f"BPMNPlane_{plane_of}"))
    diagram = _el(BPMNDI, "BPMNDiagram", {"id": diagram_id})
    plane = _el(BPMNDI, "BPMNPlane", {"id": plane_id, "bpmnElement": plane_of})
    diagram.append(plane)
    for item in elements:
        if isinstance(item, DiShape):
            el = _el(BPMNDI, "BPMNShape", {"id": doc.unique(f"{item.element}_di"), "bpmnElement": item.element,
                                           **item.attrs})
            el.append(_bounds(item.bounds))
        else:
            el = _el(BPMNDI, "BPMNEdge", {"id": doc.unique(f"{item.element}_di"), "bpmnElement": item.element})
            for x, y in item.points:
                el.append(_el(DI, "waypoint", {"x": str(x), "y": str(y)}))
        if item.label is not None:
            label = _el(BPMNDI, "BPMNLabel")
            label.append(_bounds(item.label))
            el.append(label)
        plane.append(el)
    return diagram


def _indent(el, level: int):
    """Two-space pretty printing of a freshly built subtree (its own tail is set by the caller)."""
    children = list(el)
    if not children:
        return
    el.text = "\n" + "  " * (level + 1)
    for i, child in enumerate(children):
        _indent(child, level + 1)
        child.tail = "\n" + "  " * (level + (1 if i < len(children) - 1 else 0))


def ensure_prefixes(tree):
    root = tree.getroot()
    missing = {p: uri for p, uri in DI_PREFIXES.items() if root.nsmap.get(p) != uri}
    if missing:
        etree.cleanup_namespaces(tree, top_nsmap={**missing}, keep_ns_prefixes=[p for p in root.nsmap if p])


def layout_bytes(data: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=False, strip_cdata=False, resolve_entities=False,
                             remove_comments=False, huge_tree=True)
    tree = etree.ElementTree(etree.fromstring(data, parser))
    ensure_prefixes(tree)
    root = tree.getroot()
    old = [el for el in root if isinstance(el.tag, str) and etree.QName(el) == etree.QName(BPMNDI, "BPMNDiagram")]
    keep_ids = None
    if old:
        plane = old[0].find(f"{{{BPMNDI}}}BPMNPlane")
        if plane is not None and old[0].get("id") and plane.get("id"):
            keep_ids = (old[0].get("id"), plane.get("id"))
    insert_at = list(root).index(old[0]) if old else len(root)
    for el in old:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = el.tail
        else:
            root.text = el.tail
        root.remove(el)
    doc = Document(root)
    if keep_ids:
        doc.used.update(keep_ids)
    planes = build_planes(root, doc)
    diagrams = [diagram_element(doc, plane_of, elements, keep_ids if i == 0 else None)
                for i, (plane_of, elements) in enumerate(planes)]
    children = list(root)
    insert_at = min(insert_at, len(children))
    before = children[insert_at - 1] if insert_at > 0 else None
    closing = (before.tail if before is not None else root.text) or "\n"
    indent = "\n  "
    if before is not None:
        before.tail = indent
    else:
        root.text = indent
    for i, diagram in enumerate(diagrams):
        _indent(diagram, 1)
        diagram.tail = indent if i < len(diagrams) - 1 else closing
        root.insert(insert_at + i, diagram)
    body = etree.tostring(tree, encoding="UTF-8", xml_declaration=False).decode("utf-8")
    original = data.decode("utf-8", errors="replace")
    if re.search(r'"\s+/>', original) and not re.search(r'"/>', original):
        body = _space_empty_tags(body)
    m = re.match(r"\s*(<\?xml[^>]*\?>)", original)
    head = (m.group(1) + "\n") if m else ""
    tail = "\n" if original.endswith("\n") else ""
    return (head + body.lstrip("\n") + tail).encode("utf-8")


def _space_empty_tags(text: str) -> str:
    """``<a x="1"/>`` -> ``<a x="1" />`` (Camunda Modeler's style) outside comments, CDATA and PIs."""
    parts = re.split(r"(<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>)", text, flags=re.S)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"(?<=[^\s/])/>", " />", parts[i])
    return "".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path, help="BPMN 2.0 XML file")
    ap.add_argument("--out", type=Path, help="where to write (default: rewrite FILE in place)")
    args = ap.parse_args(argv)
    data = args.file.read_bytes()
    result = layout_bytes(data)
    (args.out or args.file).write_bytes(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
