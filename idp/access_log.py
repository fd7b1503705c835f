"""gunicorn's access log without secrets: the token of a reset link, and the values of query
parameters that carry codes or tokens, are replaced before the line is written; request
headers (cookies, credentials) are never offered to the log format."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gunicorn.glogging import Logger

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


class RedactingLogger(Logger):
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
