"""The office of exams officer: the person an operator names for an organisation
(``Organisation.exams_officer_id``, ``idp orgs set-exams-officer``). What the office holds (User
Management, the roles no centre grants) and the person holding it are the operator's to change:
from My Organisation nobody takes User Management from them, suspends or removes them."""

from __future__ import annotations

from idp.errors import N_, PermissionDenied
from idp.models import Organisation, User

OFFICER_PROTECTED = {
    "take User Management from": N_(
        "%(name)s is the exams officer named for %(centre)s, so User Management cannot be taken"
        " from them here. To name a new exams officer, contact Cambridge."
    ),
    "suspend": N_(
        "%(name)s is the exams officer named for %(centre)s, so they cannot be suspended here."
        " To name a new exams officer, contact Cambridge."
    ),
    "delete": N_(
        "%(name)s is the exams officer named for %(centre)s, so they cannot be deleted or"
        " removed here. To name a new exams officer, contact Cambridge."
    ),
}


def is_exams_officer(org: Organisation, person: User) -> bool:
    """Whether ``person`` is the exams officer named for ``org``."""
    return org.exams_officer_id == person.id


def protect_exams_officer(org: Organisation, target: User, what: str) -> None:
    """PermissionDenied when ``target`` is ``org``'s named exams officer: only an operator
    changes who holds that office, or what it holds."""
    if is_exams_officer(org, target):
        raise PermissionDenied(OFFICER_PROTECTED[what], name=target.name, centre=org.code)
