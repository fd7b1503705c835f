"""Typed domain errors. Rendered at the edge: HTML for pages, OAuth JSON for the protocol."""


class DomainError(Exception):
    """A rule of the service refused the action; the message is safe to show."""

    def __init__(self, message: str = ""):
        super().__init__(message or self.__class__.__doc__ or "")

    @property
    def message(self) -> str:
        return str(self)


class NotFound(DomainError):
    """Not found."""


class Conflict(DomainError):
    """That already exists."""


class InvalidInput(DomainError):
    """The input is not valid."""

    def __init__(self, message: str = "", field: str | None = None):
        super().__init__(message)
        self.field = field  # the form field at fault, when one is, for the page to point at


class PermissionDenied(DomainError):
    """You do not have permission to do that."""


class InvalidCredentials(DomainError):
    """Enter a correct email address and password."""


class AccountThrottled(InvalidCredentials):
    # Too many wrong passwords in a row: the person is told exactly what a wrong password
    # gets (the docstring is the message shown).
    __doc__ = InvalidCredentials.__doc__


class TemporaryPasswordExpired(DomainError):
    """Your temporary password has expired. Ask your exams officer to send you a new invitation."""


class CodeInvalid(DomainError):
    """The code is not correct. Check the email we sent you and try again."""


class CodeExpired(DomainError):
    """The code has expired. Request a new code."""


class TooManyAttempts(DomainError):
    """Too many wrong codes. Request a new code."""


class TooSoon(DomainError):
    """We sent you a code a moment ago. Wait a minute before asking for another."""


class LinkInvalid(DomainError):
    """This link has expired or has already been used."""
