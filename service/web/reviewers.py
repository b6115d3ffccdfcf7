"""Pages for compliance reviewers: the decision tables, their analysis, trying them, rule usage."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from ..errors import Forbidden, Invalid, NotFound
from . import csv_response, services
from .pages import principal

reviewers = Blueprint("reviewers", __name__, url_prefix="/decisions")


def _version() -> int | None:
    raw = request.args.get("version", "")
    return int(raw) if raw.isdigit() else None


@reviewers.get("")
@login_required
def tables():
    try:
        data = services().reviews.tables(principal(), _version())
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    return render_template("decisions.html", data=data)


@reviewers.route("/<decision_id>", methods=["GET", "POST"])
@login_required
def table(decision_id: str):
    reviews = services().reviews
    try:
        data = reviews.table(principal(), decision_id, _version())
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    tried, errors, raw = None, {}, {}
    if request.method == "POST":
        raw = {i["text"]: request.form.get(i["text"], "") for i in data["inputs"]}
        errors = _unanswered(data["inputs"], raw)
        if not errors:
            try:
                tried = reviews.try_table(principal(), decision_id, data["version"], raw)
            except Invalid as exc:
                errors = exc.fields or {"": exc.message}
    matched = {m["id"] for m in (tried or {}).get("trace", {}).get("matched", [])}
    return render_template("decision.html", t=data, tried=tried, errors=errors, raw=raw, matched=matched), \
        (422 if errors else 200)


def _unanswered(inputs: list[dict], raw: dict[str, str]) -> dict[str, str]:
    """Every input left blank gets its own message: a try with nothing chosen asks for the facts instead of
    evaluating to an empty result. (An unknown value is chosen as null where the column allows it.)"""
    errors = {}
    for i in inputs:
        if raw.get(i["text"], "").strip():
            continue
        nullable = any(value == "null" for value, _label in i.get("choices") or [])
        if i.get("choices"):
            errors[i["text"]] = _("请选择一项（不适用时选 null）") if nullable else _("请选择一项")
        else:
            errors[i["text"]] = _("请填写（不适用时填 null）")
    return errors


@reviewers.get("/<decision_id>.csv")
@login_required
def table_csv(decision_id: str):
    try:
        t = services().reviews.table(principal(), decision_id, _version())
    except (Forbidden, NotFound):
        abort(404)
    header = ["行"] + [i["label"] for i in t["inputs"]] + [o["label"] for o in t["outputs"]] + ["依据（注释）", "案件数"]
    return csv_response(f"{decision_id}-v{t['version']}.csv", header,
                        ([r["row"], *r["inputs"], *r["outputs"], r["annotation"], len(r["cases"])] for r in t["rules"]))


@reviewers.get("/<decision_id>/print")
@login_required
def table_print(decision_id: str):
    try:
        t = services().reviews.table(principal(), decision_id, _version())
    except (Forbidden, NotFound):
        abort(404)
    return render_template("decision_print.html", t=t)
