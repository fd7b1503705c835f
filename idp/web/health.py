"""Health for load balancers and orchestrators: ``/healthz`` says the process answers;
``/readyz`` says it can serve: the database answers, a signing key is loaded and, when the
throttling counts live in Redis, Redis answers. JSON, never cached, never throttled."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp.extensions import db, limiter

bp = Blueprint("health", __name__)


def _answer(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


@bp.get("/healthz")
@limiter.exempt
def healthz() -> Response:
    return _answer({"status": "ok"}, 200)


@bp.get("/readyz")
@limiter.exempt
def readyz() -> Response:
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError:
        db.session.rollback()  # a probe, no transaction of ours: the connection is reset
        checks["database"] = "unreachable"
    try:
        settings = current_app.extensions["idp.settings"]
        current_app.extensions["idp.keyring"].signing_key(settings.oidc.signing_alg)
        checks["signing_key"] = "ok"
    except Exception:  # noqa: BLE001 - any failure here means: not ready
        checks["signing_key"] = "missing"
    if current_app.extensions["idp.settings"].rate_limits.storage_uri.startswith("redis"):
        try:
            checks["redis"] = "ok" if limiter.storage.check() else "unreachable"
        except Exception:  # noqa: BLE001
            checks["redis"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return _answer({"status": "ok" if ready else "unavailable", **checks}, 200 if ready else 503)
