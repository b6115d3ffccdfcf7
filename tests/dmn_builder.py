"""Build small DMN 1.3 decision tables in memory for engine tests."""
from __future__ import annotations

from typing import Sequence
from xml.sax.saxutils import escape

from service.decisions import Decision, load_bytes


def table_xml(hit_policy: str, inputs: Sequence[tuple[str, str | None]], outputs: Sequence[tuple],
              rules: Sequence[tuple[Sequence[str], Sequence[str]]], *, aggregation: str | None = None,
              input_values: dict[str, str] | None = None, decision_id: str = "t") -> str:
    """inputs: (expression, typeRef); outputs: (name, typeRef or None[, output values]); rules: (cells, outputs)."""
    x = ['<?xml version="1.0" encoding="UTF-8"?>',
         '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs" name="test" '
         'namespace="http://example.org/test">',
         f'<decision id="{decision_id}" name="Test {decision_id}">',
         f'<decisionTable id="table_{decision_id}" hitPolicy="{hit_policy}"'
         + (f' aggregation="{aggregation}"' if aggregation else "") + ">"]
    for i, (expr, typ) in enumerate(inputs):
        type_attr = f' typeRef="{typ}"' if typ else ""
        x.append(f'<input id="in{i}" label="{escape(expr)}"><inputExpression id="ie{i}"{type_attr}>'
                 f"<text>{escape(expr)}</text></inputExpression>")
        if input_values and expr in input_values:
            x.append(f"<inputValues><text>{escape(input_values[expr])}</text></inputValues>")
        x.append("</input>")
    for i, out in enumerate(outputs):
        name, typ = out[0], out[1]
        type_attr = f' typeRef="{typ}"' if typ else ""
        x.append(f'<output id="out{i}" name="{name}"{type_attr}>')
        if len(out) > 2 and out[2]:
            x.append(f"<outputValues><text>{escape(out[2])}</text></outputValues>")
        x.append("</output>")
    for r, (cells, outs) in enumerate(rules, 1):
        x.append(f'<rule id="r{r}"><description>rule {r}</description>')
        x += [f"<inputEntry><text>{escape(c)}</text></inputEntry>" for c in cells]
        x += [f"<outputEntry><text>{escape(o)}</text></outputEntry>" for o in outs]
        x.append("</rule>")
    x += ["</decisionTable>", "</decision>", "</definitions>"]
    return "\n".join(x)


def table(*args, **kwargs) -> Decision:
    """Load a table built by table_xml and return its decision."""
    model = load_bytes(table_xml(*args, **kwargs).encode(), "test.dmn")
    return next(iter(model.decisions.values()))
