"""Fuzzing /api/v1 with schemathesis from its own OpenAPI document, through WSGI, as an office user.

Bounded: a fixed number of examples per operation, derandomised (the same inputs every run), well under two
minutes per database. Every response must be free of server errors (no 5xx) and, where the document describes a
response, conform to it (status code, content type, body schema)."""
from __future__ import annotations

import base64
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,  # noqa: E402
                                               status_code_conformance)

from service.web import build_services, create_app  # noqa: E402
from tests.databases import PASSWORD  # noqa: E402

EXAMPLES_PER_OPERATION = 25  # for each operation, of valid and of invalid inputs
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def app(database_url):
    services = build_services(database_url)
    app = create_app(services=services, config={"TESTING": True, "COMPLAINT_RATE_LIMIT": "100000 per minute"})
    yield app
    services.db.dispose()


def _basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


def test_fuzz_api(app):
    client = app.test_client()
    office = _basic("office_li")
    # something to find: a case with an open task
    started = client.post("/api/v1/cases", headers=office, json={
        "channel": "self_report", "subject": "zhang_wei", "unit": "执法一科", "summary": "fuzz seed", "grounds": [7],
        "act_date": "2026-01-05"})
    assert started.status_code == 201, started.get_json()

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    nonconforming: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation, mode in [(op, mode) for op in operations for mode in GenerationMode]:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), print_blob=True)
        def run(case):
            response = case.call(headers=office)
            statuses[response.status_code] += 1
            where = f"{case.method} {case.formatted_path} {case.query or ''} {str(case.body)[:80]}"
            if response.status_code >= 500:
                server_errors.append(f"{where} -> {response.status_code}")
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported together below
                nonconforming.append(f"{where} -> {response.status_code}: {str(exc).splitlines()[0:3]}")

        run()

    total = sum(statuses.values())
    print(f"fuzz: {len(operations)} operations, {total} requests, statuses {dict(sorted(statuses.items()))}")
    print(f"fuzz: {len(server_errors)} server errors, {len(nonconforming)} responses not as documented")
    assert server_errors == [], "\n".join(server_errors)
    assert nonconforming == [], "\n".join(nonconforming)
    assert total >= 200
