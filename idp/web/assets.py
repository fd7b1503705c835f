"""Static files addressed by their content: ``url_for('static', ...)`` adds ``?v=<digest>``,
and a request carrying the current digest may be cached for a year (``immutable``). Any other
static request is cached for five minutes and revalidated by ETag, so an edited file reaches
browsers with the next page even where an old page is still open. ``/favicon.ico``, which
browsers ask for whatever a page links, answers with the same icon the pages link."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, Response, request
from werkzeug.security import safe_join

LONG = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
FAVICON = "favicon.svg"


def install(app: Flask) -> None:
    folder = app.static_folder or ""
    digests: dict[str, tuple[float, str]] = {}

    def digest(filename: str) -> str | None:
        path = safe_join(folder, filename)
        if path is None:
            return None
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        known = digests.get(filename)
        if known is None or known[0] != mtime:
            with open(path, "rb") as file:
                known = (mtime, hashlib.sha256(file.read()).hexdigest()[:16])
            digests[filename] = known
        return known[1]

    @app.url_defaults
    def versioned(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = digest(values["filename"])
            if version:
                values["v"] = version

    def favicon() -> Response:
        response = app.send_static_file(FAVICON)
        response.headers["Cache-Control"] = SHORT
        return response

    app.add_url_rule("/favicon.ico", "favicon", favicon)

    @app.after_request
    def cache_static(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename", "")
            current = digest(filename)
            response.headers["Cache-Control"] = (
                LONG if current and request.args.get("v") == current else SHORT
            )
        return response
