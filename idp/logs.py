"""Structured logs: one JSON object a line, each with the request id of the request it
belongs to (taken from ``X-Request-ID`` when a proxy sets a sane one, else made here, and sent
back in the response). ``idp serve`` logs this way (``idp.wsgi``); tests and the CLI keep
Python's defaults."""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(self.fields(record))
        rid = entry.get("request_id") or getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:  # noqa: ARG002
        """More of the record, for a subclass to add."""
        return {}


class RequestIdFilter(logging.Filter):
    """Stamps each record, as it is emitted, with the id of the request being served."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def json_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(RequestIdFilter())
    return handler


def configure(level: str = "info") -> None:
    """Send every logger's records, as JSON lines, to standard error."""
    handler = json_handler()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # a library's warning is a line like the others


def install(app: Flask) -> None:
    @app.before_request
    def take_request_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        request_id.set(given if SANE_ID.match(given) else secrets.token_hex(8))

    @app.after_request
    def send_request_id(response: Response) -> Response:
        rid = request_id.get()
        if rid:
            response.headers["X-Request-ID"] = rid
        return response

    @app.teardown_request
    def forget_request_id(_exc: BaseException | None) -> None:
        request_id.set(None)
