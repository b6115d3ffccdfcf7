"""The DMN Technology Compatibility Kit, compliance level 2 decision tables, through the CLI.

Each test case of tests/tck/ (copied from the dmn-tck/tck project, see its README) is run
as ``accountability decide NAME --input JSON --file MODEL.dmn`` and its printed outputs are
compared with the kit's expected values.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from service.cli import main
from service.decisions import load_file
from service.decisions.model import DecisionModel

TCK = Path(__file__).parent / "tck"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def _local(el) -> str:
    return etree.QName(el).localname


def _kids(el, name):
    return [c for c in el if isinstance(c.tag, str) and _local(c) == name]


def _convert(text: str | None, xsi_type: str | None, base: str | None) -> Any:
    text = (text or "").strip()
    kind = (xsi_type or "").split(":")[-1] or base
    if kind in ("decimal", "number", "integer", "double", "int", "long"):
        return float(text) if "." in text or "e" in text.lower() else int(text)
    if kind == "boolean":
        return {"true": True, "false": False}[text]
    if kind in ("string", "date", "dateTime"):
        return text
    # untyped and undeclared: read it the way the kit's authors wrote it
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


def _value(el, model: DecisionModel, type_ref: str | None) -> Any:
    """A TCK value element (value, component*, list) as JSON, typed by xsi:type or the model."""
    vals, comps, lists = _kids(el, "value"), _kids(el, "component"), _kids(el, "list")
    if vals:
        v = vals[0]
        if v.get(XSI_NIL) == "true":
            return None
        return _convert(v.text, v.get(XSI_TYPE), model.types.base_type(type_ref))
    if lists:
        return [_value(item, model, type_ref) for item in _kids(lists[0], "item")]
    if comps:
        item = model.types.items.get((type_ref or "").split(":")[-1])
        out = {}
        for c in comps:
            comp_type = None
            if item is not None and c.get("name") in item.components:
                comp_type = item.components[c.get("name")].type_ref
            out[c.get("name")] = _value(c, model, comp_type)
        return out
    return None


def _output_type(model: DecisionModel, decision_name: str, component: str | None = None) -> str | None:
    d = next(d for d in model.decisions.values() if d.name == decision_name)
    if d.table is not None and len(d.table.outputs) == 1:
        return d.table.outputs[0].type_ref
    return d.type_ref


def _cases() -> list[Any]:
    params = []
    for folder in sorted(p for p in TCK.iterdir() if p.is_dir()):
        dmn = next(folder.glob("*.dmn"))
        for test_file in sorted(folder.glob("*.xml")):
            root = etree.parse(str(test_file)).getroot()
            for case in _kids(root, "testCase"):
                params.append(pytest.param(dmn, test_file, case.get("id"), id=f"{folder.name}-{case.get('id')}"))
    return params


def _approx_equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-9)
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(_approx_equal(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(_approx_equal(a, e) for a, e in zip(actual, expected))
    return actual == expected


def test_the_kit_covers_every_case_the_issue_names():
    names = {p.name[:4] for p in TCK.iterdir() if p.is_dir()}
    assert names == {f"{n:04d}" for n in [*range(4, 11), *range(108, 120)]}
    assert len(_cases()) >= 60


@pytest.mark.parametrize("dmn,test_file,case_id", _cases())
def test_tck_case(dmn: Path, test_file: Path, case_id: str):
    model = load_file(dmn)
    root = etree.parse(str(test_file)).getroot()
    case = next(c for c in _kids(root, "testCase") if c.get("id") == case_id)
    inputs = {}
    for node in _kids(case, "inputNode"):
        data = model.input_data.get(node.get("name"))
        type_ref = data.type_ref if data else None
        if type_ref is None:  # typed by the table column that reads it
            for d in model.decisions.values():
                for c in (d.table.inputs if d.table else ()):
                    if c.text == node.get("name"):
                        type_ref = c.type_ref
        inputs[node.get("name")] = _value(node, model, type_ref)
    runner = CliRunner()
    for result_node in _kids(case, "resultNode"):
        name = result_node.get("name")
        holder = (_kids(result_node, "expected") or _kids(result_node, "computed"))[0]
        expected = _value(holder, model, _output_type(model, name))
        res = runner.invoke(main, ["decide", name, "--input", json.dumps(inputs), "--file", str(dmn)])
        assert res.exit_code == 0, res.output
        actual = json.loads(res.output)["outputs"]
        assert _approx_equal(actual, expected), f"{name}: got {actual!r}, expected {expected!r}"


def test_the_installed_console_script_runs_a_tck_table():
    """The same path through the real `accountability` executable, not only in-process."""
    exe = Path(sys.executable).with_name("accountability")
    dmn = TCK / "0004-simpletable-U" / "0004-simpletable-U.dmn"
    out = subprocess.run([str(exe), "decide", "Approval Status", "--file", str(dmn), "--input",
                          '{"Age": 17, "RiskCategory": "Low", "isAffordable": true}'],
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert data["outputs"] == "Declined"
    assert [m["row"] for m in data["trace"]["matched"]] == [2]
