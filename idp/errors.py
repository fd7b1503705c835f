"""Typed domain errors. Rendered at the edge: HTML for pages, OAuth JSON for the protocol.

Each class's docstring says when it is raised; ``default`` is the message shown when no other
is given, translated when it is shown (messages are lazy strings, so the CLI prints English).
"""

from typing import Any

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """A rule of the service refused the action; the message is safe to show."""

    default: Any = _l("That cannot be done.")

    def __init__(self, message: Any = ""):
        super().__init__(message or self.default)

    @property
    def message(self) -> str:
        return str(self)


class NotFound(DomainError):
    """Not found."""

    default = _l("Not found.")


class Conflict(DomainError):
    """That already exists."""

    default = _l("That already exists.")


class InvalidInput(DomainError):
    """The input is not valid."""

    default = _l("The input is not valid.")

    def __init__(self, message: Any = "", field: str | None = None):
        super().__init__(message)
        self.field = field  # the form field at fault, when one is, for the page to point at


class PermissionDenied(DomainError):
    """You do not have permission to do that."""

    default = _l("You do not have permission to do that.")


class InvalidCredentials(DomainError):
    """Enter a correct email address and password."""

    default = _l("Enter a correct email address and password.")


class AccountThrottled(InvalidCredentials):
    # Too many wrong passwords in a row: the person is told exactly what a wrong password
    # gets (the same message).
    __doc__ = InvalidCredentials.__doc__
    default = InvalidCredentials.default


class TemporaryPasswordExpired(DomainError):
    """Your temporary password has expired. Ask your exams officer to send you a new invitation."""

    default = _l(
        "Your temporary password has expired. Ask your exams officer to send you a new invitation."
    )


class CodeInvalid(DomainError):
    """The code is not correct. Check the email we sent you and try again."""

    default = _l("The code is not correct. Check the email we sent you and try again.")


class CodeExpired(DomainError):
    """The code has expired. Request a new code."""

    default = _l("The code has expired. Request a new code.")


class TooManyAttempts(DomainError):
    """Too many wrong codes. Request a new code."""

    default = _l("Too many wrong codes. Request a new code.")


class TooSoon(DomainError):
    """We sent you a code a moment ago. Wait a minute before asking for another."""

    default = _l("We sent you a code a moment ago. Wait a minute before asking for another.")


class LinkInvalid(DomainError):
    """This link has expired or has already been used."""

    default = _l("This link has expired or has already been used.")
