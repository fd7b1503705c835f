"""Flask extensions, created unbound and initialised by ``create_app``."""

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask, Response
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits.errors import StorageError
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names keep Alembic migrations portable across SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Objects stay loaded after a commit: a request that commits and carries on (sign in, then
# issue the code) would otherwise reload every object it touches.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# The locale is chosen per request by ``idp.languages.select``.
babel = Babel()


class SteadyLimiter(Limiter):
    """Flask-Limiter, whose rate-limit headers never turn an answer into an error.

    A throttled request is checked against the shared counts before its view runs, and fails
    closed when they cannot be read (idp.web.errors). The headers are read again afterwards;
    should the storage go away in between (a database restart), the answer goes out without
    them rather than as a 500."""

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        # Flask-Limiter registers its header step as partial(Limiter.__inject_headers, self).
        steps = app.after_request_funcs.setdefault(None, [])
        for i, step in enumerate(steps):
            if (
                isinstance(step, partial)
                and step.func is Limiter._Limiter__inject_headers  # type: ignore[attr-defined]
                and step.args == (self,)
            ):
                steps[i] = partial(_headers_or_none, step)


def _headers_or_none(inject: Callable[[Response], Response], response: Response) -> Response:
    try:
        return inject(response)
    except StorageError as error:
        logging.getLogger(__name__).warning(
            "rate-limit headers left out, the storage is unavailable: %r", error.storage_error
        )
        return response


# Limits are set per view (``idp.throttle``); the storage comes from [rate_limits].
limiter = SteadyLimiter(key_func=get_remote_address)
