"""A standalone OpenID Connect identity provider for exam centres and their services."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, Response, abort, request, session
from flask.ctx import AppContext
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from idp import config, database, languages, logs, security
from idp.config import Settings
from idp.extensions import babel, csrf, db, limiter, login_manager, migrate
from idp.page_policy import form_targets
from idp.resources import resource
from idp.security import DOCUMENT_POLICY, AppKeys, Passwords, content_security_policy
from idp.web import assets

__all__ = ["create_app"]


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its signing serializer built once per set of keys
    rather than twice a request (opening and saving each built one: ~11 µs a request)."""

    _built: tuple[tuple[Any, ...], Any] | None = None

    def get_signing_serializer(self, app: Flask) -> Any:
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        built = self._built
        if built is None or built[0] != keys:
            built = self._built = (keys, super().get_signing_serializer(app))
        return built[1]


class ProviderAppContext(AppContext):
    """Flask's app context, binding the app's keys for ``idp.security`` while it is pushed, so
    the domain hashes and signs without reaching for ``current_app``."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self._keys = AppKeys(app.config, app.extensions)
        self._key_tokens: list[Any] = []

    def push(self) -> None:
        super().push()
        self._key_tokens.append(security.bind(self._keys))

    def pop(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().pop(*args, **kwargs)
        finally:
            security.unbind(self._key_tokens.pop())


class Provider(Flask):
    """Flask, remembering which hooks and views need an async wrapper, and pushing app
    contexts that bind the app's keys (``ProviderAppContext``).

    Flask asks ``inspect.iscoroutinefunction`` of every hook and view it runs, on every
    request (seventeen times for a plain request here); none of ours is a coroutine, and the
    answer for a function never changes. Bounded, so functions made per request (those of
    ``after_this_request``) cannot grow it without limit.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = CookieSessions()
        self._ensure_sync = functools.lru_cache(maxsize=512)(super().ensure_sync)

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return self._ensure_sync(func)

    def app_context(self) -> AppContext:
        return ProviderAppContext(self)


def create_app(overrides: dict[str, Any] | None = None, *, maintenance: bool = False) -> Flask:
    """Build an app: settings, extensions, the OAuth server, blueprints, error pages.

    ``maintenance``: the app serves the ``idp`` commands, whose statements may run for
    ``database.maintenance_statement_timeout`` rather than a web request's
    ``database.statement_timeout``.
    """
    settings = config.load(overrides)
    app = Provider(
        __name__,
        template_folder=str(resource("templates")),
        static_folder=str(resource("static")),
        instance_path=str(settings.instance_dir),
    )
    setup_flask_config(app, settings, maintenance)
    logs.install(app)  # first, so every later hook logs with the request's id
    setup_extensions(app, settings)
    setup_mail(app, settings)
    setup_oauth(app, settings)
    register_blueprints(app, settings)
    setup_response_headers(app, settings)
    setup_input_guard(app)
    assets.install(app)
    return app


def throttle_storage_options(uri: str) -> dict[str, Any]:
    """Storage errors surface as one type (the throttled pages answer 503 on it); a Redis that
    does not answer is given up on within a second rather than holding a worker."""
    options: dict[str, Any] = {"wrap_exceptions": True}
    if uri.startswith(("redis", "rediss")):
        options.update(socket_connect_timeout=1, socket_timeout=1)
    return options


def throttle_strategy(uri: str) -> str:
    """Moving windows where the storage keeps each hit (memory, Redis); in the database, the
    sliding-window counter, which keeps two counts per limit and source instead."""
    return "sliding-window-counter" if uri.startswith("database") else "moving-window"


def setup_flask_config(app: Flask, settings: Settings, maintenance: bool = False) -> None:
    secure = not config.issuer_is_loopback_http(settings.oidc.issuer)
    limits = settings.database
    statement_timeout = (
        limits.maintenance_statement_timeout if maintenance else limits.statement_timeout
    )
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_urlsafe(32),
        TESTING=settings.testing,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=database.engine_options(settings.database_url, statement_timeout),
        SESSION_COOKIE_NAME="__Host-idp_session" if secure else "idp_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.auth.session_ttl),
        PREFERRED_URL_SCHEME="https" if secure else "http",
        MAX_CONTENT_LENGTH=1024 * 1024,
        WTF_CSRF_TIME_LIMIT=settings.auth.interaction_ttl,
        WTF_CSRF_SSL_STRICT=secure,
        RATELIMIT_ENABLED=settings.rate_limits.enabled,
        RATELIMIT_STORAGE_URI=settings.rate_limits.storage_uri,
        RATELIMIT_STORAGE_OPTIONS=throttle_storage_options(settings.rate_limits.storage_uri),
        RATELIMIT_KEY_PREFIX="idp",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_STRATEGY=throttle_strategy(settings.rate_limits.storage_uri),
    )
    app.extensions["idp.settings"] = settings


def setup_extensions(app: Flask, settings: Settings) -> None:
    db.init_app(app)
    database.install_teardown(app)
    migrate.init_app(app, db, directory=str(resource("migrations")), render_as_batch=True)
    csrf.init_app(app)
    import idp.throttle_storage  # noqa: F401 - registers the database:// storage

    limiter.init_app(app)
    limits = settings.rate_limits
    if limits.enabled and limits.storage_uri.startswith("memory"):
        app.logger.warning(
            "rate_limits.storage_uri is memory://: every worker keeps its own counts, so each"
            " limit is multiplied by the number of workers and instances"
        )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    babel.init_app(app, locale_selector=languages.select)
    # {% trans %} blocks are extracted and looked up with their whitespace collapsed.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    languages.install(app)
    app.extensions["idp.passwords"] = Passwords.from_settings(settings.auth)

    from idp.domain import sessions

    @login_manager.user_loader
    def load_user(sid: str) -> Any:
        auth_session = sessions.load(sid, settings.auth.session_idle_ttl)
        if auth_session is None:
            return None
        sessions.touch(auth_session)
        user = auth_session.user
        user.attach_session(auth_session)
        return user

    from idp.domain import audit

    @app.before_request
    def audit_source() -> None:
        audit.source_ip.set(request.remote_addr)

    @app.teardown_request
    def audit_source_done(_exc: BaseException | None) -> None:
        audit.source_ip.set(None)

    @app.before_request
    def load_signed_in_user() -> None:
        # Load (and touch) the sign-in session first, before the request writes anything:
        # the touch commits on a connection of its own and must not wait on this request.
        if "_user_id" in session:
            current_user._get_current_object()


def setup_mail(app: Flask, settings: Settings) -> None:
    from idp import deferred
    from idp.mail import outgoing
    from idp.mail.transport import Mailer

    app.extensions["idp.mailer"] = Mailer.from_settings(settings.mail)
    deferred.install(app)
    outgoing.install()


def setup_oauth(app: Flask, settings: Settings) -> None:
    from idp.oidc.documents import PublicDocuments
    from idp.oidc.keys import KeyRing
    from idp.oidc.server import init_oauth
    from idp.oidc.upstream import init_upstreams

    keyring = KeyRing(settings.keys_path, settings.oidc.keyring_refresh)
    app.extensions["idp.keyring"] = keyring
    init_oauth(app, settings, keyring)
    init_upstreams(app, settings.upstreams)
    app.wsgi_app = PublicDocuments(  # type: ignore[method-assign]
        app.wsgi_app,
        {"/.well-known/openid-configuration": keyring.version, "/jwks.json": keyring.version},
    )
    if settings.trusted_proxies:
        # Behind that many proxies, the client's address and scheme come from their
        # X-Forwarded-For/-Proto (the last n entries); with none, those headers are ignored,
        # so nobody can pick the address throttling and the audit log see.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]


def register_blueprints(app: Flask, settings: Settings) -> None:
    from idp.oidc.api import bp as api_bp
    from idp.oidc.console_api import bp as console_api_bp
    from idp.oidc.registration import bp as registration_bp
    from idp.oidc.routes import bp as oidc_bp
    from idp.web import errors
    from idp.web.account import bp as account_bp
    from idp.web.address import bp as address_bp
    from idp.web.auth import bp as auth_bp
    from idp.web.branding import bp as branding_bp
    from idp.web.branding import install as install_looks
    from idp.web.connected import bp as connected_bp
    from idp.web.console import bp as console_bp
    from idp.web.health import bp as health_bp
    from idp.web.home import bp as home_bp
    from idp.web.join_invitations import bp as joining_bp
    from idp.web.launch import bp as launch_bp
    from idp.web.metrics import bp as metrics_bp
    from idp.web.metrics import install as install_metrics
    from idp.web.operator import bp as operator_bp
    from idp.web.organisation import bp as organisation_bp
    from idp.web.passkeys import bp as passkeys_bp
    from idp.web.password import bp as password_bp
    from idp.web.signup import bp as signup_bp

    app.register_blueprint(oidc_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(console_api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(branding_bp)
    install_looks(app)
    app.register_blueprint(connected_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    install_metrics(app)
    app.register_blueprint(password_bp)
    app.register_blueprint(signup_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(launch_bp)
    app.register_blueprint(joining_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(passkeys_bp)
    app.register_blueprint(address_bp)
    app.register_blueprint(organisation_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(operator_bp)

    @app.context_processor
    def navigation() -> dict[str, Any]:
        def can_manage() -> bool:
            from idp.web.organisation.common import manageable

            return current_user.is_authenticated and bool(manageable())

        def acting_for() -> tuple[Any, bool]:
            """The organisation the signed-in person acts for (None until they choose, when
            they have several), and whether they have a choice (``idp.domain.acting``)."""
            from idp.domain import acting

            if not current_user.is_authenticated:
                return None, False
            options = acting.choices(current_user, settings.catalogue)
            org = acting.current(current_user, current_user.auth_session, settings.catalogue)
            return org, len(options) > 1

        return {"can_manage": can_manage, "acting_for": acting_for}

    if settings.demo or settings.testing:
        from idp.web.dev import bp as dev_bp

        app.register_blueprint(dev_bp)
    errors.register(app)


def setup_input_guard(app: Flask) -> None:
    """No NUL character in any request input: no form, address or name needs one, and
    PostgreSQL refuses it in text (a 500 the fuzzer found); 400 at the door instead."""

    @app.before_request
    def refuse_nul() -> None:
        if "\x00" in request.path or any(
            "\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)
        ):
            abort(400)
        if request.method in ("POST", "PUT", "PATCH"):
            if request.mimetype == "application/json":
                if b"\\u0000" in request.get_data(cache=True):
                    abort(400)
            elif any("\x00" in k or "\x00" in v for k, v in request.form.items(multi=True)):
                abort(400)


def setup_response_headers(app: Flask, settings: Settings) -> None:
    hsts = not config.issuer_is_loopback_http(settings.oidc.issuer)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            if "Content-Security-Policy" not in headers:
                # A redirect is never shown: no form targets (nor the query that finds them).
                shown = not 300 <= response.status_code < 400
                targets = form_targets() if shown else ()
                headers["Content-Security-Policy"] = content_security_policy(targets)
            headers.setdefault("X-Frame-Options", "DENY")
            headers.setdefault("Referrer-Policy", "same-origin")
            headers.setdefault("Cache-Control", "no-store")
        else:
            headers.setdefault("Content-Security-Policy", DOCUMENT_POLICY)
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
