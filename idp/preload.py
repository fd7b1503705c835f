"""The app's life in a preforking server (gunicorn with ``preload_app``; see gunicorn_conf.py).

A worker is forked from the master and, after ``max_requests`` requests, replaced by a new
fork. Two things made every replacement costly, measured with one worker recycled every 200
requests: the leaving worker spent ~300 ms tearing the interpreter down (freeing the
preloaded app's objects one by one) before the master noticed it had gone, and the new
worker's first requests did what every worker does once (importing the private signing key,
~60 ms; compiling the sign-in page's templates, ~50 ms). Requests queued behind both.

:func:`warm` does the once-per-process work in the master, before it forks, so every worker
inherits it; :func:`release` lets a leaving worker close its database connections before it
exits without the teardown.
"""

from __future__ import annotations

import logging

import ua_parser
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from idp.extensions import db

log = logging.getLogger(__name__)


def warm(app: object) -> None:
    """Load the signing keys and compile every template, then close the master's database
    connections (a forked worker must never share one). A database that cannot be reached is
    not an error here: each worker loads the keys itself once it can. An app that is not the
    provider's (the benchmark's floors, served with the same settings) has nothing to warm."""
    if not isinstance(app, Flask) or "idp.keyring" not in app.extensions:
        return
    try:
        with app.app_context():  # its end returns the session's connection to the pool
            app.extensions["idp.keyring"].jwks_json()  # imports each algorithm's current key
    except SQLAlchemyError as error:
        log.warning("signing keys not preloaded, the database did not answer: %s", error)
    finally:
        release(app)  # then the pool closes it
    for name in app.jinja_env.list_templates(extensions=["html", "txt"]):
        app.jinja_env.get_template(name)
    # ua-parser builds its matchers at the first parse (~180 ms; later ones ~1 ms): the
    # Security page's device names would pay it once per worker.
    ua_parser.parse(WARM_USER_AGENT)


WARM_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def release(app: object) -> None:
    """Close this process's pooled database connections, if the app has any."""
    if not isinstance(app, Flask) or "sqlalchemy" not in app.extensions:
        return
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
