"""Discovery and JWKS from memory.

These two public documents are the provider's most requested URLs (every relying party and
library fetches them) and change only when the signing keys do. A WSGI wrapper in front of
Flask keeps the last response Flask made for each, headers and all, and answers from it while
it is valid: while the keyring that produced it is still fresh (JWKS publishes its keys, and
discovery lists the algorithms it can sign with). Otherwise the request goes through to Flask,
which builds the document again. A response that sets a cookie is never kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Version = Callable[[], float | None]


@dataclass(frozen=True)
class _Kept:
    version: float
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class PublicDocuments:
    def __init__(self, wsgi_app: WSGIApp, versions: dict[str, Version]):
        """``versions[path]()`` names the current version of that document, None if unknown."""
        self.wsgi_app = wsgi_app
        self.versions = versions
        self.kept: dict[str, _Kept] = {}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        version_of = self.versions.get(path)
        if version_of is None or method not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        kept = self.kept.get(path)
        if kept is not None and kept.version == version_of():
            start_response(kept.status, kept.headers)
            return [] if method == "HEAD" else [kept.body]
        if method == "HEAD":
            return self.wsgi_app(environ, start_response)
        return self._through(path, environ, start_response, version_of)

    def _through(
        self,
        path: str,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        version_of: Version,
    ) -> Iterable[bytes]:
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # The documents do not depend on cookies, whatever Flask's session machinery said.
            headers = [(k, v) for k, v in headers if (k.lower(), v) != ("vary", "Cookie")]
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        version = version_of()
        # A response that sets a cookie was made for one browser (``?lang=`` changes the
        # session, a signed-in one too): answered from memory, it would hand that cookie, and
        # a sign-in with it, to everyone who asks next.
        sets_cookie = any(k.lower() == "set-cookie" for k, _v in seen.get("headers", ()))
        if (
            version is not None
            and str(seen.get("status", "")).startswith("200")
            and not sets_cookie
        ):
            self.kept[path] = _Kept(version, seen["status"], list(seen["headers"]), body)
        return [body]
