"""gunicorn's logs as JSON lines, like the app's (idp.logs), and its access log without
secrets: the token of a reset link, and the values of query parameters that carry codes or
tokens, are replaced before the line is written; request headers (cookies, credentials) are
never offered to the log format.

An access line carries the request's fields (``remote``, ``method``, ``path``, ``status``,
``bytes``, ``ms``, ``user_agent``, ``request_id``) and, as its ``message``, the line
``access_log_format`` makes; gunicorn's own lines (start-up, workers) are ``message`` only."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gunicorn.glogging import Logger

from idp.logs import JSONFormatter

REDACTED = "[redacted]"
SECRET_PARAMETERS = frozenset(
    {
        "code",
        "state",
        "token",
        "access_token",
        "refresh_token",
        "id_token_hint",
        "client_secret",
        "client_assertion",
        "logout_token",
        "request",
        "code_verifier",
    }
)
SECRET_PATHS = re.compile(r"^(/password/reset/)[^/]+")


def redact_query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if k in SECRET_PARAMETERS else v) for k, v in pairs], safe="[]")


def redact_path(path: str) -> str:
    return SECRET_PATHS.sub(r"\1" + REDACTED, path or "")


def redact_uri(uri: str) -> str:
    """A request URI (or a Referer) as it may be logged."""
    try:
        parts = urlsplit(uri or "")
    except ValueError:
        return REDACTED
    return urlunsplit(
        (parts.scheme, parts.netloc, redact_path(parts.path), redact_query(parts.query), "")
    )


class AccessFormatter(JSONFormatter):
    """An access line: the fields of its atoms (``record.args``, made by ``atoms`` below)."""

    FIELDS = (
        ("remote", "h"),
        ("method", "m"),
        ("path", "U"),
        ("query", "q"),
        ("status", "s"),
        ("bytes", "B"),
        ("ms", "M"),
        ("user_agent", "a"),
        ("request_id", "{x-request-id}o"),
    )

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        atoms = record.args
        if not isinstance(atoms, dict):
            return {}
        # gunicorn escaped the quotes for its own line format; JSON escapes its own.
        found = {name: dict.get(atoms, key) for name, key in self.FIELDS}
        return {
            k: v.replace('\\"', '"') if isinstance(v, str) else v
            for k, v in found.items()
            if v not in (None, "", "-")
        }


class RedactingLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JSONFormatter())
        for handler in self.access_log.handlers:
            handler.setFormatter(AccessFormatter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = (
            f"{environ['REQUEST_METHOD']} {redact_uri(environ.get('RAW_URI', ''))} "
            f"{environ['SERVER_PROTOCOL']}"
        )
        atoms["U"] = redact_path(environ.get("PATH_INFO", ""))
        atoms["q"] = redact_query(environ.get("QUERY_STRING", ""))
        atoms["f"] = redact_uri(environ.get("HTTP_REFERER", "-"))
        # Request and response headers and the environ may hold credentials and cookies; the
        # request id is the one header offered, to tie the line to the app's log lines.
        return {k: v for k, v in atoms.items() if not k.startswith("{") or k == "{x-request-id}o"}
