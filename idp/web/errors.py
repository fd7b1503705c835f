"""Errors at the edge: JSON for protocol endpoints, a page for people; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from idp.database import statement_cancelled, statement_summary
from idp.errors import NotFound, PermissionDenied
from idp.extensions import db, login_manager
from idp.languages import say

log = logging.getLogger(__name__)

PROTOCOL_PATHS = (
    "/token",
    "/userinfo",
    "/revoke",
    "/introspect",
    "/jwks.json",
    "/.well-known/",
    "/register",
    "/api/",
    "/healthz",
    "/readyz",
)

MESSAGES = {
    400: (_l("Something was wrong with that request"), _l("Go back and try again.")),
    403: (_l("You cannot do that"), _l("Your account does not have permission for this page.")),
    404: (_l("Page not found"), _l("Check the address, or go to the home page.")),
    405: (_l("That action is not allowed here"), _l("Go back and try again.")),
    410: (_l("This link has expired"), _l("Go back to where you started and try again.")),
    413: (_l("That request was too large"), _l("Go back and try again.")),
    429: (_l("Too many attempts"), _l("Wait a few minutes and try again.")),
    500: (_l("Sorry, something went wrong"), _l("Try again in a few minutes.")),
    503: (_l("The service is busy"), _l("Try again in a few seconds.")),
}


def _wants_json() -> bool:
    return request.path.startswith(PROTOCOL_PATHS)


def render_error(status: int, title: Any = None, message: Any = None) -> Response:
    """The error page, in the person's language; for protocol paths, OAuth JSON in English."""
    default_title, default_message = MESSAGES.get(status, MESSAGES[400])
    if _wants_json():
        error = {
            400: "invalid_request",
            404: "not_found",
            405: "invalid_request",
            429: "too_many_requests",
            503: "temporarily_unavailable",
        }.get(status, "server_error")
        with force_locale("en"):
            description = str(title or default_title)
        response = jsonify(error=error, error_description=description)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response
    body = render_template(
        "errors/error.html",
        status=status,
        title=title or default_title,
        message=message or default_message,
    )
    return Response(body, status=status, mimetype="text/html")


def register(app: Flask) -> None:
    # A page's own writes are already rolled back by its transaction (idp.web.transaction);
    # the handlers below still roll back, for whatever ran outside one (the protocol
    # endpoints, a read the database refused) before the error page reads the database.
    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> Response:
        # A guessed organisation or user: the same page as any unknown address.
        db.session.rollback()
        return render_error(404)

    @app.errorhandler(PermissionDenied)
    def denied(error: PermissionDenied) -> Response:
        db.session.rollback()
        return render_error(403, message=say(error))

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        log.warning("CSRF check failed: %s", error.description)
        return render_error(
            400,
            _l("Your form expired"),
            _l("For your security, forms expire. Go back, reload the page and try again."),
        )

    @app.errorhandler(RateLimitExceeded)
    def too_many(error: RateLimitExceeded) -> Response:
        db.session.rollback()
        log.warning(
            "rate limit %s reached on %s %s", error.description, request.method, request.path
        )
        return render_error(
            429,
            _l("Too many attempts"),
            _l(
                "There have been too many attempts from your network. Wait a minute, then try"
                " again."
            ),
        )

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Response:
        # The database is down or unreachable: fail fast, say when to come back; a lost
        # connection invalidates the pool's older ones (idp/database.py), so service resumes
        # by itself. Or a statement ran past statement_timeout and the database cancelled it:
        # the connection is sound once rolled back, and the worker carries on.
        cancelled = statement_cancelled(error)
        if cancelled:
            log.error(
                "statement cancelled after statement_timeout on %s %s: %s; statement: %s",
                request.method,
                request.path,
                str(error.orig).splitlines()[0],
                statement_summary(error.statement),
            )
        else:
            log.error("database unavailable on %s %s: %s", request.method, request.path, error.orig)
        try:
            db.session.rollback()
        except OperationalError:
            pass
        if "_login_user" not in g:
            # Whoever it is could not be read: the page renders as for nobody signed in, rather
            # than asking the database again (and failing inside this handler: a 500).
            g._login_user = login_manager.anonymous_user()
        if cancelled:
            response = render_error(
                503,
                _l("This page took too long"),
                _l(
                    "My Cambridge stopped preparing this page because it was taking too long."
                    " Try again in a few seconds. If you were searching, try a narrower search."
                ),
            )
        else:
            response = render_error(
                503,
                _l("The service is busy"),
                _l("My Cambridge cannot reach its database just now. Try again in a few seconds."),
            )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(StorageError)
    def throttling_unavailable(error: StorageError) -> Response:
        # The shared throttling counts (Redis) cannot be read. Only throttled requests get
        # here (sign-in, codes, resets, sign-up, the token endpoint): without the counts they
        # would be open to guessing, so they fail closed. Discovery, JWKS and the rest are not
        # throttled and carry on.
        log.error(
            "throttling storage unavailable on %s %s: %r",
            request.method,
            request.path,
            error.storage_error,
        )
        db.session.rollback()
        response = render_error(
            503,
            "The service is busy",
            "Signing in is paused for a moment. Try again in a few seconds.",
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        response = render_error(error.code or 500)
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_error(InternalServerError.code)
