"""Small parsers for the pages' forms: they trim and bound input, and apply no rules."""

from __future__ import annotations

from urllib.parse import urlsplit

from werkzeug.datastructures import MultiDict

MAX_FIELD = 1024


def field(form: MultiDict[str, str], name: str, limit: int = MAX_FIELD) -> str:
    return (form.get(name) or "").strip()[:limit]


def safe_next(value: str | None) -> str | None:
    """A local path to go to after signing in, or None; never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def mask_email(address: str) -> str:
    """``jane.smith@example.org`` -> ``j*********@example.org``: recognisable, not harvestable."""
    local, _, domain = address.partition("@")
    if not domain:
        return address
    return local[:1] + "*" * max(len(local) - 1, 1) + "@" + domain
