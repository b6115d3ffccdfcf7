"""The ``accountability`` command line."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .decisions import Catalog, DecisionError, DmnLoadError, load_catalog, needed_inputs


def _deployed_dir(name: str, env: str) -> Path:
    """A deployed folder: $<env>, else ./<name> when it exists, else the project's own."""
    if os.environ.get(env):
        return Path(os.environ[env])
    here = Path.cwd() / name
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / name


def processes_dir() -> Path:
    """The deployed BPMN and DMN files ($ACCOUNTABILITY_PROCESSES, ./processes or the project's)."""
    return _deployed_dir("processes", "ACCOUNTABILITY_PROCESSES")


def forms_dir() -> Path:
    """The deployed form schemas ($ACCOUNTABILITY_FORMS, ./forms or the project's)."""
    return _deployed_dir("forms", "ACCOUNTABILITY_FORMS")


def _catalog(file: str | None) -> Catalog:
    try:
        return load_catalog([file] if file else [processes_dir()])
    except DmnLoadError as exc:
        raise click.ClickException("the decision tables cannot be loaded:\n" + "\n".join(
            f"  {p}" for p in exc.problems)) from None


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """明山区行政执法过错责任追究 — decisions, procedure and case service."""


@main.command()
@click.argument("decision")
@click.option("--input", "input_json", required=True, metavar="JSON",
              help='Inputs as a JSON object, e.g. \'{"exemption_ground": 2}\'; "-" reads standard input.')
@click.option("--file", "file", type=click.Path(dir_okay=False), metavar="PATH",
              help="Evaluate a decision of this DMN 1.1-1.5 file instead of the deployed processes/.")
def decide(decision: str, input_json: str, file: str | None) -> None:
    """Evaluate DECISION (id or name) and print {"outputs": ..., "trace": ...} as JSON."""
    text = sys.stdin.read() if input_json == "-" else input_json
    try:
        inputs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                                 param_hint="--input") from None
    if not isinstance(inputs, dict):
        raise click.BadParameter('must be a JSON object of input names and values, e.g. {"severity": "minor"}',
                                 param_hint="--input")
    catalog = _catalog(file)
    try:
        result = catalog.evaluate(decision, inputs)
    except DecisionError as exc:
        raise click.ClickException(str(exc)) from None
    _dump(result.to_json())


@main.command()
@click.option("--file", "file", type=click.Path(dir_okay=False), metavar="PATH",
              help="List the decisions of this DMN file instead of the deployed processes/.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def tables(file: str | None, as_json: bool) -> None:
    """List the decisions with their inputs, outputs and hit policy."""
    catalog = _catalog(file)
    rows = []
    for d in catalog.decisions:
        t = d.table
        rows.append({
            "id": d.id, "name": d.name, "file": d.file, "version": d.version,
            "hit_policy": t.hit_policy_label if t else "LITERAL EXPRESSION",
            "inputs": ([{"expression": c.text, "label": c.label, "type": c.type_ref,
                         "allowed": c.allowed.text if c.allowed else None} for c in t.inputs]
                       if t else [{"expression": n, "label": None, "type": None, "allowed": None}
                                  for n in needed_inputs(d)]),
            "outputs": ([{"name": o.name, "label": o.label, "type": o.type_ref, "values": o.values_text}
                         for o in t.outputs] if t else [{"name": d.name, "label": None, "type": d.type_ref,
                                                          "values": None}]),
            "rules": len(t.rules) if t else 0,
        })
    if as_json:
        _dump(rows)
        return
    for r in rows:
        click.echo(f"{r['id']}  {r['name']}  [{r['hit_policy']}, {r['rules']} rules]  {r['file']}")
        for i in r["inputs"]:
            extra = f"  allowed: {i['allowed']}" if i["allowed"] else ""
            click.echo(f"  in   {i['expression']}: {i['type'] or 'any'}  {i['label'] or ''}{extra}")
        for o in r["outputs"]:
            extra = f"  values: {o['values']}" if o["values"] else ""
            click.echo(f"  out  {o['name']}: {o['type'] or 'any'}  {o['label'] or ''}{extra}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check BPMN, DMN and form files (default: processes/ and forms/); exit 1 on any problem."""
    from .validation import validate as run_validation

    targets = list(paths) or [processes_dir(), forms_dir()]
    problems, checked = run_validation(targets, default_processes=processes_dir(), default_forms=forms_dir())
    for p in problems:
        click.echo(str(p), err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {checked} file(s)")
    click.echo(f"OK: {checked} files checked, no problems")


if __name__ == "__main__":  # pragma: no cover
    main()
