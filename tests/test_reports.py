"""Registers and statistics (/reports) on SQLite and PostgreSQL: cases built through the real case service.

A case revoked on appeal leaves the Art. 15 register and the Art. 11(3) watch list; the counts by channel, Art. 5
ground, outcome, tier, current step and age, and time-limit compliance, with filters; the CSV and Excel exports
open with the right rows and no formula; who may read what; never a reporter."""
from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import update

from service.auth import Principal
from service.errors import Forbidden
from service.reports import ReportService
from service.store.models import Task
from service.store.statistics import CaseFilter
from service.web import create_app
from tests.databases import PASSWORD
from tests.test_persons_service import (MEMBERS, OFFICE, REPORTER, WANG, ZHANG, conclude_and_hear, decided_case,
                                        register_and_investigate, serve_all, step, vote)

YEAR = 2026
LG, REVIEWER = MEMBERS[0], Principal("reviewer", frozenset({"reviewer"}))
ADMIN = Principal("admin", frozenset({"admin"}))
FORMULA_UNIT = "=HYPERLINK(\"http://x\")科"


def revoke_on_appeal(services, case_id: int, person: Principal) -> None:
    step(services, person, case_id, "Task_appeal", {"appeal": True, "appeal_reason": "事实不清"})
    for m in MEMBERS:
        step(services, m, case_id, "Task_review", {"review_vote": "revoked", "review_reason": "撤销"})


def watch(services, year: int = YEAR) -> dict[str, int]:
    return {p["person"]: p["count"] for p in services.reports.watch_list(OFFICE, year)["persons"]}


def register(services, year: int = YEAR) -> set[tuple[str, str, str | None]]:
    return {(r["kind"], r["name"], r["unit"]) for r in services.cases.disqualifications(OFFICE, year)}


def client_for(services, username: str):
    app = create_app(services=services, config={"TESTING": True, "SECRET_KEY": "reports", "WTF_CSRF_ENABLED": False,
                                                "RATELIMIT_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


# --------------------------------------------------------------------------- revoked on appeal

def test_a_case_revoked_on_appeal_leaves_the_register_and_the_watch_list(services):
    # wang_fang: two established errors of the year (decided by the group, waiting to be served)
    first = decided_case(services, "wang_fang", f"{YEAR}-01-10")
    decided_case(services, "wang_fang", f"{YEAR}-02-10")
    assert watch(services) == {"wang_fang": 2}
    full = services.reports.watch_list(OFFICE, YEAR)
    assert (full["threshold"], full["at_least"]) == (3, 2)  # read from the aggregation table (第十一条第（三）项 >= 3)
    assert [(p["reached"], [e["case_id"] for e in p["errors"]]) for p in full["persons"]][0][0] is False

    # one act, two respondents: zhang_wei (handler) and wang_fang (reviewer, her third error of the year)
    case_id = services.cases.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": FORMULA_UNIT,
                                                 "grounds": [7], "summary": "未按程序送达",
                                                 "act_date": f"{YEAR}-03-02"})["id"]
    register_and_investigate(services, case_id, [{"person": "zhang_wei", "role": "handler", "unit": FORMULA_UNIT},
                                                 {"person": "wang_fang", "role": "reviewer", "unit": "法制科"}],
                             f"{YEAR}-03-02")
    conclude_and_hear(services, case_id, [{"person": "zhang_wei", "handler_fault": 5, "severity": "light"},
                                          {"person": "wang_fang", "reviewer_missed": True, "severity": "light"}])
    vote(services, case_id)
    assert watch(services) == {"wang_fang": 3}
    assert services.reports.watch_list(OFFICE, YEAR)["persons"][0]["reached"] is True
    assert services.reports.watch_list(OFFICE, YEAR - 1)["persons"] == []  # another year counts on its own

    serve_all(services, case_id)
    step(services, ZHANG, case_id, "Task_appeal", {"appeal": False})
    revoke_on_appeal(services, case_id, WANG)
    assert watch(services) == {"wang_fang": 2}  # the revoked error no longer counts
    step(services, OFFICE, case_id, "Task_recovery", {"compensation_paid": 0, "recovery": []})
    assert services.cases.get_case(OFFICE, case_id)["status"] == "closed"
    # the register: zhang_wei and his own unit; wang_fang and her unit are not listed for a revoked decision
    assert register(services) == {("person", "zhang_wei", FORMULA_UNIT), ("unit", FORMULA_UNIT, None)}

    # her first error revoked on appeal too: she leaves the watch list
    serve_all(services, first)
    revoke_on_appeal(services, first, WANG)
    assert watch(services) == {}
    assert services.cases.get_case(OFFICE, first)["status"] == "closed"  # nobody liable: closed, no register
    assert all(name != "wang_fang" for _, name, _ in register(services))

    # the page says the same, and so do the exports
    office = client_for(services, "office_li")
    page = office.get(f"/reports?year={YEAR}").get_data(as_text=True)
    assert "wang_fang" not in page.split('id="h-watch"')[1].split('id="h-register"')[0]
    assert "zhang_wei" in page.split('id="h-register"')[1]
    rows = read_csv(office.get(f"/reports?year={YEAR}&format=csv&section=register"))
    assert rows == [["年度", "类别", "名称", "姓名", "所在单位", "案件编号"],
                    [str(YEAR), "人员", "zhang_wei", "zhang_wei", "'" + FORMULA_UNIT, str(case_id)],
                    [str(YEAR), "科室或单位", "'" + FORMULA_UNIT, "", "'" + FORMULA_UNIT, str(case_id)]]
    assert read_csv(office.get(f"/reports?year={YEAR}&format=csv&section=watchlist"))[1:] == []


# --------------------------------------------------------------------------- counts by each dimension

def open_case(services, channel: str, person: str, unit: str, grounds: list[int], act_date: str) -> int:
    return services.cases.start_case(OFFICE, {"channel": channel, "subject": person, "unit": unit, "grounds": grounds,
                                              "summary": "情况", "act_date": act_date})["id"]


def decide(services, case_id: int, person: str, unit: str, act_date: str, **finding: Any) -> None:
    register_and_investigate(services, case_id, [{"person": person, "role": "handler", "unit": unit}], act_date)
    conclude_and_hear(services, case_id, [{"person": person, "handler_fault": 5, "severity": "light", **finding}])
    vote(services, case_id)


@pytest.fixture
def counted_cases(services):
    """Five cases of the year and one of the year before:
    A  public complaint with a reporter, received 40 days ago, waiting at registration
    B  inspection, received 100 days ago, not registered (closed)
    C  self-report on Art. 5(5) and (7), wang_fang held liable (tier 2), the investigation done late, waiting for
       service
    D  superior referral, zhang_wei exempt (Art. 6(1)), served: closed
    E  inspection, an act of the year before, waiting at registration"""
    svc = services.cases
    real = svc.clock
    now = real()
    svc.clock = lambda: now - dt.timedelta(days=40)
    svc.start_case(None, {"officer": "执法人员", "summary": "处罚程序违法", "act_date": f"{YEAR}-05-10",
                          "reporter": REPORTER})
    a = max(c["id"] for c in svc.list_cases(OFFICE, filters={"channel": "public_complaint"}).items)
    svc.clock = lambda: now - dt.timedelta(days=100)
    b = open_case(services, "inspection", "zhang_wei", "执法一科", [7], f"{YEAR}-04-01")
    svc.clock = real
    step(services, OFFICE, b, "Task_register", {"register": False, "grounds": [7], "not_registered_reason": "不构成过错",
                                                "respondents": [{"person": "zhang_wei", "role": "handler",
                                                                 "unit": "执法一科"}]})
    c = open_case(services, "self_report", "wang_fang", "执法二科", [5, 7], f"{YEAR}-06-01")
    step(services, OFFICE, c, "Task_register", {"register": True, "grounds": [5, 7], "respondents": [
        {"person": "wang_fang", "role": "handler", "unit": "执法二科"}]})
    with services.db.session() as s, s.begin():  # the investigation's limit had passed when it was done
        s.execute(update(Task).where(Task.case_id == c, Task.name == "Task_investigate", Task.state == "open")
                  .values(due=now - dt.timedelta(days=1)))
    step(services, OFFICE, c, "Task_investigate", {"facts_found": "查明的事实", "evidence": ["案卷"],
                                                   "investigators": ["office_li", "office_sun"],
                                                   "act_date": f"{YEAR}-06-01"})
    conclude_and_hear(services, c, [{"person": "wang_fang", "handler_fault": 5, "severity": "light"}])
    vote(services, c)
    d = open_case(services, "superior_referral", "zhang_wei", "执法一科", [7], f"{YEAR}-07-01")
    decide(services, d, "zhang_wei", "执法一科", f"{YEAR}-07-01", exemption_ground=1)
    serve_all(services, d)
    e = open_case(services, "inspection", "liu_yang", "执法一科", [4], f"{YEAR - 1}-12-01")
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "now": now}


def test_counts_by_each_dimension(services, counted_cases):
    now = counted_cases["now"]
    assert services.cases.get_case(OFFICE, counted_cases["D"])["status"] == "closed"
    data = services.reports.overview(OFFICE, CaseFilter(year=YEAR))
    counts = lambda key: {r["key"]: r["count"] for r in data[key] if r["count"]}  # noqa: E731
    assert data["totals"] == {"cases": 4, "open": 2, "closed": 2, "persons_liable": 1,
                              "on_time_rate": round(12 / 15, 4)}
    assert counts("channel") == {"public_complaint": 1, "inspection": 1, "self_report": 1, "superior_referral": 1}
    assert counts("ground") == {5: 1, 7: 3}  # C counts under both of its items; A has none yet
    assert counts("status") == {"open": 2, "不予立案，结案": 1, "结案": 1}
    assert counts("outcome") == {"liable_unserved": 1, "exempt": 1, "not_registered": 1}
    assert [(r["key"], r["count"], r["aggravated"]) for r in data["tier"]] == [(2, 1, 0)]
    assert counts("step") == {"Task_register": 1, "Task_serve": 1}
    assert [r["count"] for r in data["age"]] == [1, 0, 1, 0, 0]  # C today, A 40 days ago
    deadlines = {r["key"]: (r["on_time"], r["late"], r["overdue"], r["pending"]) for r in data["deadlines"]}
    # registration: B was decided 100 days after it came in (late), A has waited 40 days (past its 15 working days)
    assert deadlines == {"Task_register": (2, 1, 1, 0), "Task_investigate": (1, 1, 0, 0),
                         "Task_conclude": (2, 0, 0, 0), "Task_vote": (6, 0, 0, 0), "Task_serve": (1, 0, 0, 1)}
    assert "Task_statement" not in deadlines  # a respondent's own period is not the office's time limit

    # 25 days later the open steps are past their limits, and the open cases older
    later = ReportService(services.db, services.deployments, clock=lambda: now + dt.timedelta(days=25))
    data = later.overview(OFFICE, CaseFilter(year=YEAR))
    deadlines = {r["key"]: (r["on_time"], r["late"], r["overdue"], r["pending"]) for r in data["deadlines"]}
    assert deadlines["Task_register"] == (2, 1, 1, 0) and deadlines["Task_serve"] == (1, 0, 1, 0)
    assert data["deadline_totals"]["rate"] == round(12 / 16, 4)
    assert [r["count"] for r in data["age"]] == [0, 1, 0, 1, 0]

    # filters: channel, unit, received dates, year
    by = lambda **kw: services.reports.overview(OFFICE, CaseFilter(**kw))["totals"]["cases"]  # noqa: E731
    assert by(year=YEAR, channel="self_report") == 1
    assert by(year=YEAR, unit="执法一科") == 2  # B and D
    today = now.date()
    assert by(year=YEAR, received_from=today - dt.timedelta(days=50), received_to=today - dt.timedelta(days=30)) == 1
    assert by(year=YEAR, received_to=today - dt.timedelta(days=41)) == 1  # B only
    assert by(year=YEAR - 1) == 1
    assert services.reports.overview(OFFICE, CaseFilter(year=YEAR - 1))["ground"] == [
        {"key": 4, "label": "第五条第（四）项 在内部执法检查中被认定错误", "count": 1}]


def test_exports_open_with_the_right_rows(services, counted_cases):
    from openpyxl import load_workbook

    office = client_for(services, "office_li")
    query = f"year={YEAR}"
    assert read_csv(office.get(f"/reports?{query}&format=csv&section=channel")) == [
        ["来源渠道", "案件数"], ["自行报告（第十九条）", "1"], ["群众举报（第二十条）", "1"], ["上级转办（第二十条）", "1"],
        ["检查发现（第二十条）", "1"]]
    assert read_csv(office.get(f"/reports?{query}&format=csv&section=ground"))[1:] == [
        ["第五条第（五）项 执法没有法定依据", "1"], ["第五条第（七）项 违反法定执法程序", "3"]]
    assert read_csv(office.get(f"/reports?{query}&format=csv&section=tier"))[1:] == [
        ["第十二条第（二）项 性质较轻，影响较小", "1", "0"]]
    channel_only = read_csv(office.get(f"/reports?{query}&channel=self_report&format=csv&section=summary"))
    assert ["来源渠道", "自行报告（第十九条）"] in channel_only and ["案件数", "1"] in channel_only

    response = office.get(f"/reports?{query}&format=xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["概况", "来源渠道", "第五条情形", "办理状态", "处理结果", "责任档次", "当前环节", "案龄",
                               "期限执行", "第十五条名单", "第十一条关注名单"]
    values = lambda name: [list(r) for r in book[name].iter_rows(values_only=True)]  # noqa: E731
    assert values("来源渠道") == [["来源渠道", "案件数"], ["自行报告（第十九条）", 1], ["群众举报（第二十条）", 1],
                              ["上级转办（第二十条）", 1], ["检查发现（第二十条）", 1]]
    assert values("期限执行")[0] == ["环节", "按期完成", "逾期完成", "逾期未完成", "期限内办理中", "按期完成率"]
    assert ["调查取证", 1, 1, 0, 0, "50.0%"] in values("期限执行")
    assert values("办理状态")[1:] == [["办理中", 2], ["不予立案，结案", 1], ["结案", 1]]
    assert ["案件数", 4] in values("概况")
    assert all(cell.data_type != "f" for sheet in book for row in sheet.iter_rows() for cell in row)
    # no reporter anywhere
    everything = "\n".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row)
    page = office.get(f"/reports?{query}").get_data(as_text=True)
    for text in (everything, page):
        assert REPORTER["name"] not in text and REPORTER["contact"] not in text


def test_formulas_are_neutralised_in_excel(services):
    from openpyxl import load_workbook

    from service.web.spreadsheets import workbook_bytes

    book = load_workbook(io.BytesIO(workbook_bytes([("表", ["=A1", "b"], [["=1+1", 3], ["@SUM(A1)", "-2+3"],
                                                                         ["+x", None]])])))
    assert [list(r) for r in book["表"].iter_rows(values_only=True)] == [
        ["'=A1", "b"], ["'=1+1", 3], ["'@SUM(A1)", "'-2+3"], ["'+x", None]]
    assert all(c.data_type != "f" for row in book["表"].iter_rows() for c in row)


# --------------------------------------------------------------------------- who may read what

def test_access_per_role(services):
    decided_case(services, "wang_fang", f"{YEAR}-01-10")
    decided_case(services, "wang_fang", f"{YEAR}-02-10")
    f = CaseFilter(year=YEAR)
    for who in (OFFICE, LG, REVIEWER):
        assert services.reports.overview(who, f)["totals"]["cases"] == 2
    for who in (ADMIN, ZHANG, Principal("wang_fang")):
        with pytest.raises(Forbidden):
            services.reports.overview(who, f)
        with pytest.raises(Forbidden):
            services.reports.watch_list(who, YEAR)
    assert [p["person"] for p in services.reports.watch_list(LG, YEAR)["persons"]] == ["wang_fang"]
    hidden = services.reports.watch_list(REVIEWER, YEAR)
    assert (hidden["hidden"], hidden["count"], hidden["persons"]) == (True, 1, [])

    expect = {"office_li": 200, "lg_chen": 200, "reviewer": 200, "admin": 403, "zhang_wei": 403}
    for username, status in expect.items():
        client = client_for(services, username)
        page = client.get("/reports")
        assert page.status_code == status, username
        assert (">统计报表</a>" in client.get("/").get_data(as_text=True)) is (status == 200), username
        assert client.get(f"/reports?year={YEAR}&format=xlsx").status_code == status, username
    reviewer = client_for(services, "reviewer")
    text = reviewer.get(f"/reports?year={YEAR}").get_data(as_text=True)
    assert "关注名单共 1 人" in text and "wang_fang" not in text.split('id="h-watch"')[1].split('id="h-register"')[0]
    assert reviewer.get(f"/reports?year={YEAR}&format=csv&section=watchlist").status_code == 403
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(reviewer.get(f"/reports?year={YEAR}&format=xlsx").data))
    assert "第十一条关注名单" not in book.sheetnames
    office = client_for(services, "office_li")
    assert "wang_fang" in office.get(f"/reports?year={YEAR}").get_data(as_text=True).split('id="h-watch"')[1]


def test_bad_filters_are_named_at_their_fields_and_kept(services):
    office = client_for(services, "office_li")
    for query, field, message in (("year=12345", "year", "年度应为 1900 至 9999"),
                                  ("from=2026-02-30", "from", "日期应写作 年-月-日"),
                                  ("from=2026-05-01&to=2026-04-01", "to", "结束日期不能早于开始日期"),
                                  ("channel=fax", "channel", "没有这个来源渠道")):
        response = office.get(f"/reports?{query}")
        text = response.get_data(as_text=True)
        assert response.status_code == 422 and message in text and f'id="r-{field}-error"' in text, query
    text = office.get("/reports?from=2026-05-01&to=2026-04-01&unit=执法一科").get_data(as_text=True)
    assert 'value="2026-05-01"' in text and 'value="2026-04-01"' in text and 'value="执法一科"' in text
    assert office.get("/reports?format=csv&section=nothing").status_code == 404


def test_received_dates_are_the_office_local_days(services):
    """The office works in China (UTC+8): a case received at 04:00 on 2 March there is received on 2 March."""
    services.cases.clock = lambda: dt.datetime(YEAR, 3, 1, 20, 0, tzinfo=dt.timezone.utc)
    open_case(services, "inspection", "zhang_wei", "执法一科", [7], f"{YEAR}-02-20")
    by_day = lambda day: services.reports.overview(OFFICE, CaseFilter(  # noqa: E731
        year=YEAR, received_from=day, received_to=day))["totals"]["cases"]
    assert (by_day(dt.date(YEAR, 3, 1)), by_day(dt.date(YEAR, 3, 2))) == (0, 1)
