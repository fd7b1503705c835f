"""The WSGI entry point for gunicorn: ``gunicorn idp.wsgi:app``."""

from idp import create_app

app = create_app()
