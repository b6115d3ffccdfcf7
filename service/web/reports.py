"""The registers and statistics page (/reports): filters, charts beside their tables, CSV and Excel exports, print.

The office and the leading group read everything; reviewers read everything but the watch list's names (see
service/reports.py). Views are thin: they read the filters, call the report service and render or export."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from ..reports import ART_11_3, may_read
from ..store.statistics import CaseFilter
from . import csv_response, services
from .pages import REGISTER_HEADER, _person_name, officers, principal, register_rows
from .spreadsheets import xlsx_response

reports = Blueprint("reports", __name__)

YEAR_RANGE = (1900, 9999)


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _date(name: str, errors: dict[str, str]) -> dt.date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = "日期应写作 年-月-日，例如 2026-03-02"
        return None


def read_filters(choices: dict[str, Any], this_year: int) -> tuple[CaseFilter, dict[str, str]]:
    """The filters of the query string, each checked; errors name the field (the page shows them there)."""
    errors: dict[str, str] = {}
    year = this_year
    raw_year = (request.args.get("year") or "").strip()
    if raw_year:
        if raw_year.isdigit() and YEAR_RANGE[0] <= int(raw_year) <= YEAR_RANGE[1]:
            year = int(raw_year)
        else:
            errors["year"] = f"年度应为 {YEAR_RANGE[0]} 至 {YEAR_RANGE[1]} 之间的四位数字"
    channel = request.args.get("channel") or None
    if channel and channel not in choices["channels"]:
        errors["channel"] = "没有这个来源渠道，请从列表中选择"
    unit = (request.args.get("unit") or "").strip() or None
    if unit and len(unit) > 100:
        errors["unit"] = "单位名称不能超过 100 个字"
    start, end = _date("from", errors), _date("to", errors)
    if start and end and end < start:
        errors["to"] = "结束日期不能早于开始日期"
    return CaseFilter(year=year, channel=channel, unit=unit, received_from=start, received_to=end), errors


def _filter_rows(f: CaseFilter, channels: dict[str, str]) -> list[list[Any]]:
    return [["过错行为年度", f.year], ["来源渠道", channels.get(f.channel, f.channel) if f.channel else "全部"],
            ["单位", f.unit or "全部"], ["受理日期自", f.received_from.isoformat() if f.received_from else ""],
            ["受理日期至", f.received_to.isoformat() if f.received_to else ""]]


def _tables(data: dict[str, Any], watch: dict[str, Any], register: list[dict[str, Any]], f: CaseFilter,
            channels: dict[str, str], people: dict[str, dict[str, str]]) -> dict[str, tuple[str, list[str], list]]:
    """Every export table by section: (sheet title, header, rows), the same for CSV and Excel."""
    t = data["totals"]
    dl = data["deadline_totals"]
    summary = _filter_rows(f, channels) + [
        ["案件数", t["cases"]], ["办理中", t["open"]], ["已结案", t["closed"]], ["承担责任人数", t["persons_liable"]],
        ["期限执行：按期完成", dl["on_time"]], ["期限执行：逾期完成", dl["late"]], ["期限执行：逾期未完成", dl["overdue"]],
        ["按期完成率", _percent(dl["rate"])]]
    tables: dict[str, tuple[str, list[str], list]] = {
        "summary": ("概况", ["项目", "数值"], summary),
        "channel": ("来源渠道", ["来源渠道", "案件数"], [[r["label"], r["count"]] for r in data["channel"]]),
        "ground": ("第五条情形", ["第五条情形", "案件数"], [[r["label"], r["count"]] for r in data["ground"]]),
        "status": ("办理状态", ["办理状态", "案件数"], [[r["label"], r["count"]] for r in data["status"]]),
        "outcome": ("处理结果", ["处理结果", "人数"], [[r["label"], r["count"]] for r in data["outcome"]]),
        "tier": ("责任档次", ["责任档次", "人数", "其中从重"],
                 [[r["label"], r["count"], r["aggravated"]] for r in data["tier"]]),
        "step": ("当前环节", ["当前环节", "案件数"], [[r["label"], r["count"]] for r in data["step"]]),
        "age": ("案龄", ["受理至今", "办理中案件数"], [[r["label"], r["count"]] for r in data["age"]]),
        "deadlines": ("期限执行", ["环节", "按期完成", "逾期完成", "逾期未完成", "期限内办理中", "按期完成率"],
                      [[r["label"], r["on_time"], r["late"], r["overdue"], r["pending"], _percent(r["rate"])]
                       for r in data["deadlines"]]),
        "register": ("第十五条名单", REGISTER_HEADER, register_rows(register, people)),
    }
    if not watch["hidden"]:
        tables["watchlist"] = ("第十一条关注名单", ["年度", "姓名", "账号", "所在单位", "年度过错次数",
                                                  "已达第十一条第（三）项", "案件编号"],
                               [[watch["year"], _person_name(people, p["person"]), p["person"], "、".join(p["units"]),
                                 p["count"], "是" if p["reached"] else "否",
                                 "、".join(str(e["case_id"]) for e in p["errors"])] for p in watch["persons"]])
    return tables


@reports.get("/reports")
@login_required
def overview():
    p = principal()
    if not may_read(p):
        abort(403)
    svc = services().reports
    choices = svc.choices(p)
    f, errors = read_filters(choices, svc.this_year())
    if errors:
        return render_template("reports.html", errors=errors, args=request.args, choices=choices, data=None,
                               filters=f), 422
    data = svc.overview(p, f)
    watch = svc.watch_list(p, f.year)
    register = services().cases.disqualifications(p, f.year)
    people = officers()
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        tables = _tables(data, watch, register, f, choices["channels"], people)
        if fmt == "xlsx":
            return xlsx_response(f"reports-{f.year}.xlsx", tables.values())
        section = request.args.get("section", "summary")
        if section not in tables:
            abort(403 if section == "watchlist" else 404)
        _, header, rows = tables[section]
        return csv_response(f"reports-{f.year}-{section}.csv", header, rows)
    return render_template("reports.html", errors={}, args=request.args, choices=choices, data=data, watch=watch,
                           register=register, filters=f, people=people, percent=_percent,
                           art_11_3=ART_11_3, export_args=_export_args())


def _export_args() -> Callable[..., dict[str, str]]:
    """The page's filters for an export link (without format and section)."""
    keep = {k: v for k, v in request.args.items() if k in ("year", "channel", "unit", "from", "to") and v}
    return lambda **extra: {**keep, **extra}
