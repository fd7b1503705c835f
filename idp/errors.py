"""Typed domain errors. Rendered at the edge: HTML for pages, OAuth JSON for the protocol.

Each class's docstring says when it is raised; ``default`` is the message shown when no other
is given. Messages are English ``Text``: a message id marked with ``N_`` for extraction and its
parameters as data. The edge translates it when it shows it (``idp.languages.say``: pages,
flashes); ``str()`` is the English (the CLI, logs, protocol JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idp.catalogue import N_

__all__ = [
    "N_",
    "Text",
    "DomainError",
    "NotFound",
    "Conflict",
    "InvalidInput",
    "PermissionDenied",
    "InvalidCredentials",
    "AccountThrottled",
    "TemporaryPasswordExpired",
    "CodeInvalid",
    "CodeExpired",
    "TooManyAttempts",
    "TooSoon",
    "LinkInvalid",
]


@dataclass(frozen=True)
class Text:
    """Words for a person: a message id (English, marked ``N_``) and its ``%(name)s``
    parameters, translated where they are shown."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        # As gettext formats a translation: parameters only when there are some.
        return self.msgid % self.params if self.params else self.msgid

    def as_data(self) -> dict[str, Any]:
        """For storing (JSON): ``Text.from_data`` reads it back."""
        return {"msgid": self.msgid, "params": dict(self.params)}

    @classmethod
    def from_data(cls, data: Any) -> Text:
        if isinstance(data, Text):
            return data
        if isinstance(data, dict):
            return cls(str(data.get("msgid", "")), dict(data.get("params") or {}))
        return cls(str(data))


class DomainError(Exception):
    """A rule of the service refused the action; the message is safe to show."""

    default = N_("That cannot be done.")

    def __init__(self, message: str | Text = "", **params: Any):
        if isinstance(message, Text):
            self.text = message
        else:
            self.text = Text(message or self.default, params)
        super().__init__(str(self.text))


class NotFound(DomainError):
    """Not found."""

    default = N_("Not found.")


class Conflict(DomainError):
    """That already exists."""

    default = N_("That already exists.")


class InvalidInput(DomainError):
    """The input is not valid."""

    default = N_("The input is not valid.")

    def __init__(self, message: str | Text = "", field: str | None = None, **params: Any):
        super().__init__(message, **params)
        self.field = field  # the form field at fault, when one is, for the page to point at


class PermissionDenied(DomainError):
    """You do not have permission to do that."""

    default = N_("You do not have permission to do that.")


class InvalidCredentials(DomainError):
    """Enter a correct email address and password."""

    default = N_("Enter a correct email address and password.")


class AccountThrottled(InvalidCredentials):
    # Too many wrong passwords in a row: the person is told exactly what a wrong password
    # gets (the same message).
    __doc__ = InvalidCredentials.__doc__
    default = InvalidCredentials.default


class TemporaryPasswordExpired(DomainError):
    """Your temporary password has expired. Ask your exams officer to send you a new invitation."""

    default = N_(
        "Your temporary password has expired. Ask your exams officer to send you a new invitation."
    )


class CodeInvalid(DomainError):
    """The code is not correct. Check the email we sent you and try again."""

    default = N_("The code is not correct. Check the email we sent you and try again.")


class CodeExpired(DomainError):
    """The code has expired. Request a new code."""

    default = N_("The code has expired. Request a new code.")


class TooManyAttempts(DomainError):
    """Too many wrong codes. Request a new code."""

    default = N_("Too many wrong codes. Request a new code.")


class TooSoon(DomainError):
    """We sent you a code a moment ago. Wait a minute before asking for another."""

    default = N_("We sent you a code a moment ago. Wait a minute before asking for another.")


class LinkInvalid(DomainError):
    """This link has expired or has already been used."""

    default = N_("This link has expired or has already been used.")
