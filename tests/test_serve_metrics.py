"""Prometheus metrics under a real server of several workers: each worker counts in files of
its own, and every scrape, whichever worker answers it, adds up what all of them served
(idp/metrics.py; the directory is set up by idp/gunicorn_conf.py)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.servers import serving

pytestmark = pytest.mark.slow
TOKEN = "metrics-token-0123456789"
CLIENTS, EACH = 8, 10
HEALTHZ = re.compile(
    r'^idp_http_requests_total\{endpoint="/healthz",method="GET",status="200"\} (\S+)$', re.M
)


def _healthz_count(base: str) -> float:
    scrape = requests.get(
        base + "/metrics",
        headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
        timeout=5,
    )
    assert scrape.status_code == 200, scrape.text
    found = HEALTHZ.search(scrape.text)
    return float(found.group(1)) if found else 0.0


def test_every_scrape_counts_what_every_worker_served(_schema, base_overrides, tmp_path):
    metered = {"IDP_METRICS__ENABLED": "true", "IDP_METRICS__BEARER_TOKEN": TOKEN}
    with serving(base_overrides, tmp_path, workers=2, **metered) as (_port, base):

        def client(_: int) -> None:
            for _request in range(EACH):  # a new connection each: any worker may take it
                response = requests.get(base + "/healthz", headers={"Connection": "close"})
                assert response.status_code == 200

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))
        counts = [_healthz_count(base) for _ in range(10)]
    assert counts == [CLIENTS * EACH] * 10
