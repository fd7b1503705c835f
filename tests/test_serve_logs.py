"""``idp serve``'s output is JSON lines, every one of them: gunicorn's own, the app's and the
access log, which carries each request's fields with its secrets redacted."""

from __future__ import annotations

import json

import pytest
import requests

from tests.servers import serving

pytestmark = pytest.mark.slow


def test_every_line_idp_serve_writes_is_json(_schema, base_overrides, tmp_path):
    with serving(
        base_overrides,
        tmp_path,
        IDP_ACCESS_LOG="-",
        GUNICORN_CMD_ARGS="--max-requests 4 --max-requests-jitter 0",  # workers come and go
    ) as (_port, base):
        for _ in range(3):
            requests.get(base + "/password/reset/secret-reset-token", timeout=5)
            requests.get(base + "/authorize?code=secret-code&state=secret-state", timeout=5)
            requests.post(base + "/login", data={"email": "x"}, timeout=5)  # no CSRF token
            requests.get(base + "/nowhere", timeout=5, headers={"X-Request-ID": "probe-0001"})

    text = (tmp_path / "server.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access", "idp.web.errors"} <= loggers, loggers
    assert any("Autorestarting worker" in line["message"] for line in lines)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    statuses = {(line["method"], line["path"], line["status"]) for line in access}
    assert ("GET", "/password/reset/[redacted]", "410") in statuses, statuses  # no such link
    assert ("POST", "/login", "400") in statuses
    assert any(
        line.get("request_id") == "probe-0001" and line["status"] == "404" for line in access
    )
    for secret in ("secret-reset-token", "secret-code", "secret-state"):
        assert secret not in text
