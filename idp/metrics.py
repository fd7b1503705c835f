"""The provider's Prometheus metrics (served at ``/metrics`` by ``idp.web.metrics``).

Under gunicorn every worker counts in files of its own, in ``PROMETHEUS_MULTIPROC_DIR`` (set
by ``idp/gunicorn_conf.py``), and a scrape adds them up; elsewhere (tests, the CLI) counts
live in the process.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("idp_http_requests", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "idp_http_request_duration_seconds",
    "Time from request to response",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SIGN_INS = Counter("idp_sign_ins", "Sign-in attempts by result", ["result"])
TOKENS = Counter("idp_tokens_issued", "Token responses by grant type", ["grant"])
EMAILS = Counter("idp_emails", "Emails by result", ["result"])


@functools.lru_cache(maxsize=4096)
def series(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: the label values are bounded (routes,
    standard methods, status codes, results), and ``labels`` validates and locks every call."""
    return metric.labels(*labels)


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
