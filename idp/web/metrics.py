"""``/metrics`` for Prometheus, when ``[metrics] enabled``; a scrape must present the
configured bearer token (compared in constant time). Every request is counted and timed by
route (the rule, never the raw path, so secrets in paths and unbounded label sets stay out)
and by method (the standard ones by name, anything else a client sends as ``other``)."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST

from idp import metrics
from idp.extensions import limiter
from idp.security import constant_time_equals

bp = Blueprint("metrics", __name__)
GRANTS = {"authorization_code", "refresh_token", "client_credentials"}
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


@bp.get("/metrics")
@limiter.exempt
def scrape() -> Response:
    settings = current_app.extensions["idp.settings"].metrics
    if not settings.enabled:
        abort(404)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not constant_time_equals(token, settings.bearer_token):
        return Response("unauthorized\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(
        metrics.exposition(), mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
    )


def install(app: Flask) -> None:
    @app.before_request
    def start_clock() -> None:
        g.idp_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        method = request.method if request.method in METHODS else "other"
        metrics.series(metrics.REQUESTS, endpoint, method, str(response.status_code)).inc()
        started = g.get("idp_started")
        if started is not None:
            metrics.series(metrics.LATENCY, endpoint).observe(time.perf_counter() - started)
        if endpoint == "/token" and response.status_code == 200:
            grant = request.form.get("grant_type", "")
            metrics.series(metrics.TOKENS, grant if grant in GRANTS else "other").inc()
        return response
