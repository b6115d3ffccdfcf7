"""List timings at growing sizes: GET /api/v1/tasks, the inbox page and /cases, as the office sees them.

Each size has its own database, and the requests go round-robin over the sizes (1,000, then 10,000, then
100,000, then 1,000 again …), so a burst of load from elsewhere on the machine hits every size alike and the
ratios between sizes stay meaningful on a shared machine.
"""
from __future__ import annotations

import base64
import re
import time
from typing import Any

from tests.databases import PASSWORD

SIZES = (1000, 10000, 100000)
LISTS = {  # name: (path, how): the office's first page of each list
    "GET /api/v1/tasks": ("/api/v1/tasks?per_page=50", "api"),
    "inbox page /": ("/", "page"),
    "/cases page": ("/cases", "page"),
    "GET /api/v1/cases": ("/api/v1/cases?per_page=50", "api"),
}


def pct(values: list[float], p: float) -> float:
    """The p-th percentile, in milliseconds."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()}


def logged_in(app, user: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    form = {"username": user, "password": PASSWORD, **({"csrf_token": token.group(1)} if token else {})}
    assert client.post("/login", data=form).status_code == 302, "bench login failed"
    return client


def time_lists(apps: dict[int, Any], runs: int = 100, log=print) -> list[dict[str, Any]]:
    """p50/p95 and size of each list's first page, for each size's app (``apps``: cases -> Flask app)."""
    clients = {size: (app.test_client(), logged_in(app, "office_li")) for size, app in apps.items()}
    out = []
    for name, (path, how) in LISTS.items():
        times: dict[int, list[float]] = {size: [] for size in apps}
        last: dict[int, Any] = {}
        for i in range(runs + 5):
            for size, (api, page) in clients.items():
                client, headers = (api, basic("office_li")) if how == "api" else (page, {})
                start = time.perf_counter()
                response = client.get(path, headers=headers)
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, (path, response.status_code)
                if i >= 5:  # the first requests warm caches
                    times[size].append(elapsed)
                last[size] = response
        for size in apps:
            body = last[size].get_json() if how == "api" else None
            total = f"{body['total']}{'+' if body.get('total_capped') else ''}" if body else None
            row = {"list": name, "cases": size, "p50_ms": round(pct(times[size], 50), 2),
                   "p95_ms": round(pct(times[size], 95), 2), "bytes": len(last[size].get_data()), "total": total}
            out.append(row)
            log(f"    {name:<20} {size:>7,} cases  p50 {row['p50_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms  "
                f"{row['bytes']:>7,} B" + (f"  total {total}" if total else ""))
    return out
