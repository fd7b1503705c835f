"""Structured logs: JSON lines carrying the id of their request, which the response returns."""

from __future__ import annotations

import io
import json
import logging

from idp import logs


def test_log_lines_are_json_with_the_request_id(client):
    stream = io.StringIO()
    handler = logs.json_handler(stream)
    logger = logging.getLogger("idp")
    logger.addHandler(handler)
    try:
        response = client.post("/login", data={"email": "x"})  # no CSRF token: a warning
    finally:
        logger.removeHandler(handler)
    rid = response.headers["X-Request-ID"]
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["request_id"] == rid and line["level"] == "warning"
    assert line["logger"] == "idp.web.errors" and "CSRF" in line["message"]
    assert {"time", "level", "logger", "message", "request_id"} == set(line)


def test_a_sane_request_id_from_the_proxy_is_kept_and_a_strange_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-1234abcd"})
    assert kept.headers["X-Request-ID"] == "lb-1234abcd"
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>" * 3})
    assert replaced.headers["X-Request-ID"] != "<script>" * 3
    assert len(replaced.headers["X-Request-ID"]) == 16
