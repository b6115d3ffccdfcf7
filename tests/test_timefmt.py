"""Times on the pages are office time (Asia/Shanghai by default), not the UTC the store keeps."""
import datetime as dt

from service.web import create_app
from service.web.timefmt import local_date, local_time


def test_a_stored_utc_time_reads_as_beijing_time_across_midnight():
    assert local_time("2026-11-26T17:28:38.806365+00:00") == "2026-11-27 01:28"
    assert local_date("2026-11-26T17:28:38+00:00") == "2026-11-27"


def test_a_time_without_offset_is_utc_as_the_store_keeps_it():
    assert local_time("2026-11-26 17:28:38.806365") == "2026-11-27 01:28"
    assert local_time(dt.datetime(2026, 11, 26, 15, 59)) == "2026-11-26 23:59"


def test_a_deadline_keeps_its_last_day():
    # a period ends at 23:59:59 office time, stored as 15:59:59 UTC the same day
    assert local_date("2026-12-08T15:59:59+00:00") == "2026-12-08"
    assert local_date(dt.date(2026, 12, 8)) == "2026-12-08"


def test_nothing_gives_empty_text_and_nonsense_is_shown_as_typed():
    assert local_time(None) == "" and local_date("") == ""
    assert local_time("not a time") == "not a time"


def test_the_office_may_set_another_zone(monkeypatch):
    monkeypatch.setenv("ACCOUNTABILITY_TIMEZONE", "Europe/Berlin")
    assert local_time("2026-11-26T17:28:00+00:00") == "2026-11-26 18:28"


def test_templates_have_the_filters(services):
    app = create_app(services=services, config={"SECRET_KEY": "t"})
    with app.app_context():
        out = app.jinja_env.from_string("{{ a|local_time }} / {{ b|local_date }}").render(
            a="2026-11-26T17:28:00+00:00", b="2026-12-08T15:59:59+00:00")
    assert out == "2026-11-27 01:28 / 2026-12-08"
