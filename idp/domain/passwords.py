"""Password policy and verification."""

from __future__ import annotations

from idp.errors import InvalidInput

MAX_PASSWORD_LENGTH = 256


def check_policy(password: str, min_length: int, *, email: str | None = None) -> None:
    """Raise InvalidInput naming what is wrong with a new password."""
    if len(password) < min_length:
        raise InvalidInput(f"Password must be at least {min_length} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"Password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    if password.strip() != password and not password.strip():
        raise InvalidInput("Password must not be blank.")
    if email and password.lower() == email.lower():
        raise InvalidInput("Password must not be your email address.")
