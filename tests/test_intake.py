"""Intake, whatever the channel: an erroneous act cannot lie in the future."""
from __future__ import annotations

import datetime as dt

import pytest

from service.auth import Principal
from service.errors import Invalid
from service.web import create_app

OFFICE = Principal("office_li", frozenset({"office"}))


def tomorrow() -> str:
    return (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() + dt.timedelta(days=1)).isoformat()


def test_a_future_act_date_is_refused_on_every_channel(services):
    before = services.cases.list_cases(OFFICE).total
    for channel in ("self_report", "superior_referral", "inspection"):
        with pytest.raises(Invalid) as refused:
            services.cases.start_case(OFFICE, {"channel": channel, "subject": "zhang_wei", "unit": "执法一科",
                                               "grounds": [7], "summary": "s", "act_date": tomorrow()})
        assert "不能晚于今天" in refused.value.fields["act_date"]
    client = create_app(services=services, config={"TESTING": True}).test_client()
    answer = client.post("/api/v1/complaints", json={"officer": "一名执法人员", "summary": "s", "act_date": tomorrow()})
    assert answer.status_code == 422 and "act_date" in answer.get_json()["fields"]
    assert services.cases.list_cases(OFFICE).total == before
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    assert services.cases.start_case(OFFICE, {"channel": "inspection", "subject": "zhang_wei", "unit": "执法一科",
                                              "grounds": [7], "summary": "s", "act_date": today})["id"]
