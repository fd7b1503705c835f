"""What gunicorn's master does with the app before it forks workers (idp/preload.py)."""

from __future__ import annotations

import logging

import ua_parser
from flask import Flask
from sqlalchemy import event

from idp import create_app, preload
from idp.extensions import db


def test_warming_loads_the_keys_compiles_the_templates_and_keeps_no_connection(overrides, _schema):
    app = create_app(overrides)
    with app.app_context():
        engine = db.engine
    opened, closed = [], []
    event.listen(engine, "connect", lambda dbapi, record: opened.append(dbapi))
    event.listen(engine, "close", lambda dbapi, record: closed.append(dbapi))
    keyring = app.extensions["idp.keyring"]
    assert keyring.version() is None  # nothing loaded yet

    vars(ua_parser).pop("parser", None)  # as in a master that has named no device yet
    preload.warm(app)
    assert keyring.version() is not None
    assert "parser" in vars(ua_parser)  # its rules built once, for every fork
    assert keyring._private_cache  # the private key imported once, for every fork
    assert len(app.jinja_env.cache) >= len(app.jinja_env.list_templates(extensions=["html"]))
    # Every connection the master opened is closed: a forked worker shares none of them.
    assert opened and closed == opened


def test_a_database_that_does_not_answer_does_not_stop_the_master(overrides, tmp_path, caplog):
    overrides["DATABASE_URL"] = f"sqlite:///{tmp_path}/missing/directory/idp.sqlite3"
    app = create_app(overrides)
    with caplog.at_level(logging.WARNING, logger="idp.preload"):
        preload.warm(app)
    assert "signing keys not preloaded" in caplog.text
    assert app.extensions["idp.keyring"].version() is None  # each worker will load them
    assert app.jinja_env.cache  # the templates need no database


def test_other_apps_served_with_the_same_settings_are_left_alone():
    """The benchmark serves its floors with the provider's gunicorn settings: the hooks must
    not stop them (a plain Flask app has no keyring or database; a WSGI callable no more)."""
    plain = Flask("plain")
    preload.warm(plain)
    preload.release(plain)

    def wsgi(environ, start_response):  # a bare WSGI callable, as the benchmark's floors
        return []

    preload.warm(wsgi)
    preload.release(wsgi)
