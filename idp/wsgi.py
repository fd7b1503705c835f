"""The WSGI entry point for gunicorn: ``gunicorn idp.wsgi:app``. Logs are JSON lines."""

import os

from idp import create_app, logs

logs.configure(os.environ.get("IDP_LOG_LEVEL", "info"))
app = create_app()
