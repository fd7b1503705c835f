"""Which language a page or an email is in: English or Spanish.

In order: the ``ui_locales`` of the authorization request being served (remembered in the
session while its sign-in lasts), then a language the person chose with the footer switch
(``?lang=``, remembered in the session), then, signed in, the person's own language, then the
browser's ``Accept-Language``, then English.
Choosing a language during a sign-in replaces the one the service asked for.

A person's own language (``User.locale``) is the last one they chose with the footer switch,
kept when they sign in or choose while signed in; until they choose, the one their browser
asked for when they first signed in (a service's ``ui_locales`` is for its sign-in only,
not a choice of theirs). Emails they cause themselves follow the page in front of them;
emails someone else causes (an invitation, an officer's password reset or change of
address, a notice that someone tried to use their address) are written in their own
language (the ``Mail``'s ``locale``, ``writing_in``), or the page's when it is not known yet.
The ``locale`` claim (scope ``profile``) carries it to relying parties.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from flask import Flask, has_request_context, request, session, url_for
from flask_babel import force_locale, get_locale, gettext, refresh
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from idp import clock
from idp.errors import DomainError, Text
from idp.extensions import db

if TYPE_CHECKING:
    from idp.models import User

SUPPORTED = ("en", "es")
DEFAULT = "en"
# Each language's name in its own language, for the switch.
NAMES = {"en": "English", "es": "Español"}
CHOICE_KEY = "lang"
# Set when the choice in CHOICE_KEY was made on our own pages by someone not signed in: the
# one choice a sign-in adopts as the person's own (not another person's who signed out on
# this browser, nor a ``?lang=`` in a link from another site).
CHOSEN_SIGNED_OUT_KEY = "lang_own"
REQUESTED_KEY = "ix_lang"
View = TypeVar("View", bound=Callable[..., Any])


def first_supported(ui_locales: str | None) -> str | None:
    """The first supported language of a space-separated ``ui_locales`` list (``es-ES`` -> es)."""
    for tag in (ui_locales or "").split()[:20]:
        primary = tag.split("-")[0].lower()
        if primary in SUPPORTED:
            return primary
    return None


def remember_requested(interaction_id: str, ui_locales: str | None, ttl_seconds: int) -> None:
    """Show the sign-in pages of this authorization request in the language it asked for."""
    language = first_supported(ui_locales)
    if language is None:
        session.pop(REQUESTED_KEY, None)
    else:
        session[REQUESTED_KEY] = {
            "ix": interaction_id,
            "lang": language,
            "until": clock.timestamp() + ttl_seconds,
        }
    refresh()


def forget_requested(interaction_id: str) -> None:
    requested = session.get(REQUESTED_KEY)
    if isinstance(requested, dict) and requested.get("ix") == interaction_id:
        session.pop(REQUESTED_KEY, None)
        refresh()


def _requested() -> str | None:
    requested = session.get(REQUESTED_KEY)
    if (
        isinstance(requested, dict)
        and requested.get("lang") in SUPPORTED
        and isinstance(requested.get("until"), int | float)
        and requested["until"] > clock.timestamp()
    ):
        return str(requested["lang"])
    return None


def _own() -> str | None:
    """The signed-in person's own language. Nobody signed in costs no query, and a database
    that cannot be reached leaves the page (perhaps its own error page) in another language."""
    if "_user_id" not in session:
        return None
    try:
        person = current_user._get_current_object()
    except SQLAlchemyError:
        return None
    if person.is_authenticated and person.locale in SUPPORTED:
        return str(person.locale)
    return None


def select() -> str | None:
    """The locale of the current request (None outside a request: the default, English)."""
    if not has_request_context():
        return None
    chosen = session.get(CHOICE_KEY)
    return (
        _requested()
        or (chosen if chosen in SUPPORTED else None)
        or _own()
        or request.accept_languages.best_match(SUPPORTED)
        or DEFAULT
    )


def switch_url(language: str) -> str:
    """This page again, in ``language``: the same address and query, plus ``lang``."""
    rule = request.url_rule
    if request.endpoint == "oidc.authorize":
        # The sign-in page shown in place of an authorization request: switch on /login, so
        # that the request is not started again.
        started = session.get("ix") or [None]
        if isinstance(started[-1], str):
            return url_for("auth.login", ix=started[-1], lang=language)
        return url_for("home.index", lang=language)
    if rule is None or request.endpoint is None:
        return f"{_this_path()}?{CHOICE_KEY}={language}"
    if "GET" not in (rule.methods or ()):
        return url_for("home.index", lang=language)
    # Built from the address itself, not from the route: a query that repeats a path
    # parameter's name (``/organisation/AA101/users?code=x``) is kept as it came.
    query = [(k, v) for k, v in request.args.items(multi=True) if k != CHOICE_KEY]
    return f"{_this_path()}?{urlencode([*query, (CHOICE_KEY, language)])}"


def _this_path() -> str:
    """The request's path as a link on this site: one leading slash, never ``//host``."""
    return request.script_root + "/" + quote(request.path.lstrip("/"))


def writing_in(locale: str | None) -> AbstractContextManager[Any]:
    """Write in ``locale``, a person's own language (an email someone else causes), or, not
    known yet (``None``), in the current one."""
    if locale in SUPPORTED:
        return force_locale(locale)
    return nullcontext()


def remember(person: User, language: str) -> None:
    """Keep ``language`` as ``person``'s own: a profile change (``updated_at``), so a relying
    party sees the ``locale`` claim change. The caller commits."""
    if language in SUPPORTED and person.locale != language:
        person.locale = language
        person.updated_at = clock.now()


def remember_at_sign_in(person: User) -> None:
    """A language chosen on the way in becomes the person's own; a browser's preference only
    sets it the first time (one browser's default does not undo a choice made on another)."""
    chosen = session.get(CHOICE_KEY)
    if chosen in SUPPORTED and session.get(CHOSEN_SIGNED_OUT_KEY):
        remember(person, chosen)
    elif person.locale is None:
        remember(person, request.accept_languages.best_match(SUPPORTED) or DEFAULT)


def keep_after_sign_out(person: User) -> None:
    """The signed-out pages stay in ``person``'s language, which the next sign-in on this
    browser does not adopt (it may be someone else's)."""
    session.pop(CHOSEN_SIGNED_OUT_KEY, None)
    if person.locale in SUPPORTED:
        session[CHOICE_KEY] = person.locale


def _from_our_pages() -> bool:
    """A navigation from our own pages, or typed (``Sec-Fetch-Site``; a client that does not
    send it is taken at its word): not a link or redirect from another site."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def in_english(view: View) -> View:
    """A JSON API view: its messages are protocol text, in English whatever the caller's
    Accept-Language says."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with force_locale(DEFAULT):
            return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def words(text: str) -> str:
    """A word of the catalogue (a role's name, a service's description) in the page's
    language: the default catalogue's words are in the message catalogue (``N_`` in
    ``idp.catalogue``); anything else shows as configured."""
    return gettext(text) if text else text


def say(text: DomainError | Text | str | dict[str, Any]) -> str:
    """The domain's words (an error's message, an outcome's, one stored as data) in the page's
    language: the domain marks them ``N_`` and keeps their parameters apart, and they are
    translated here, when shown."""
    if isinstance(text, DomainError):
        text = text.text
    said = Text.from_data(text)
    if not said.msgid:
        return ""
    return gettext(said.msgid, **said.params)


def install(app: Flask) -> None:
    app.jinja_env.filters["words"] = words
    app.jinja_env.filters["say"] = say

    @app.before_request
    def remember_choice() -> None:
        language = request.args.get(CHOICE_KEY)
        if language not in SUPPORTED:
            return
        session.pop(REQUESTED_KEY, None)
        ours = _from_our_pages()
        if current_user.is_authenticated and ours:
            # The person's own choice: kept on their account, not in this browser's session.
            session.pop(CHOICE_KEY, None)
            if current_user.locale != language:
                remember(current_user, language)
                db.session.commit()
            return
        # This browser's, for now: another site's link changes the page, never an account.
        session[CHOICE_KEY] = language
        if current_user.is_authenticated or not ours:
            session.pop(CHOSEN_SIGNED_OUT_KEY, None)
        else:
            session[CHOSEN_SIGNED_OUT_KEY] = True

    @app.context_processor
    def language_switch() -> dict[str, Any]:
        return {
            "language": str(get_locale() or DEFAULT),
            "languages": NAMES,
            "language_url": switch_url,
        }
