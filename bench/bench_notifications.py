"""Benchmark (run on demand, not a test): GET /api/v1/notifications for a person with many notifications.

    .venv/bin/python bench/bench_notifications.py [--database-url URL] [--sizes 1000 10000 100000] [--runs 20]

Fills one person's notifications (bulk rows; as many again for a colleague, so the index has to tell them apart)
up to each size and prints p50/p95 of the first page, of page 20 by number (offset) and of the page after a cursor
taken deep in the list, 50 a page, through the Flask test client (no network). Compare within one run.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from service.store.models import Notification  # noqa: E402
from service.web import build_services, create_app  # noqa: E402
from tests.databases import PASSWORD, prepare  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def fill(services, size: int) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    with services.db.session() as s, s.begin():
        have = s.scalar(select(func.count()).select_from(Notification).where(Notification.username == "office_li"))
        rows = []
        for i in range(have or 0, size):
            for user in ("office_li", "office_sun"):
                rows.append({"username": user, "kind": "reminder", "title": "立案审查", "person": "zhang_wei",
                             "created_at": now, "read_at": now if i % 3 else None, "email_attempts": 0})
        for start in range(0, len(rows), 5000):
            s.execute(insert(Notification), rows[start:start + 5000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='acc-bench-')}/bench.db"
    prepare(url)
    services = build_services(url)
    client = create_app(services=services, config={"TESTING": True, "RATELIMIT_ENABLED": False}).test_client()
    headers = {"Authorization": "Basic " + base64.b64encode(f"office_li:{PASSWORD}".encode()).decode()}

    def get(**query) -> tuple[float, dict]:
        started = time.perf_counter()
        response = client.get("/api/v1/notifications", headers=headers, query_string=query)
        took = time.perf_counter() - started
        assert response.status_code == 200, response.get_json()
        return took, response.get_json()

    print(f"{services.db.engine.dialect.name}: GET /api/v1/notifications, 50 a page, p50 / p95 ms")
    print("| notifications of the person | first page | page 20 (offset) | after a cursor at row 950 | unread only |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        fill(services, size)
        cursor = get(page=19)[1]["next_cursor"]
        get()  # warm
        figures = []
        for query in ({}, {"page": 20}, {"cursor": cursor}, {"unread": "true"}):
            times = [get(**query)[0] for _ in range(args.runs)]
            figures.append(f"{pct(times, 50):.1f} / {pct(times, 95):.1f}")
        print(f"| {size:,} | " + " | ".join(figures) + " |")
    services.db.dispose()


if __name__ == "__main__":
    main()
