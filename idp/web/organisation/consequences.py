"""The words of My Organisation's actions with consequences: the question asked before
(``confirmation``) and the notice after, saying what the action affects.

A question for an action on a person raises the refusal the action would raise, so nothing is
asked that would be refused."""

from __future__ import annotations

from flask_babel import gettext as _

from idp.domain import management, suspensions
from idp.models import Organisation, User
from idp.web.organisation.confirmation import Question
from idp.web.organisation.invitations import Invited


def suspension_effect(reach: suspensions.Scope, org: Organisation, user: User) -> str:
    """What suspending ``user`` from ``org`` does, in one sentence (before it is done)."""
    if reach == "account":
        return _(
            "%(name)s will be signed out everywhere and cannot sign in until restored.",
            name=user.name,
        )
    return _(
        "%(name)s will lose access to %(centre)s's services; their account and other centres"
        " are not affected.",
        name=user.name,
        centre=org.code,
    )


def suspend_question(
    actor: User, org: Organisation, user: User, settings: management.ManagementSettings
) -> Question:
    name = user.name
    reach = suspensions.check_suspendable(actor, org, user, settings.catalogue)
    lines = [suspension_effect(reach, org, user)]
    if reach == "account":
        lines.append(_("Every service they have signed in to is told to sign them out."))
    else:
        lines.append(
            _(
                "They hold no roles at %(centre)s while suspended, and services stop"
                " accepting their sign-in for %(centre)s.",
                centre=org.code,
            )
        )
    lines.append(_("Their roles are kept, for when they are restored."))
    return Question(_("Suspend %(name)s?", name=name), lines, _("Yes, suspend %(name)s", name=name))


def restore_question(
    actor: User, org: Organisation, user: User, settings: management.ManagementSettings
) -> Question:
    name = user.name
    reach = suspensions.check_restorable(actor, org, user, settings.catalogue)
    if reach == "membership":
        lines = [
            _(
                "%(name)s can use %(centre)s's services again, with the roles they held there.",
                name=name,
                centre=org.code,
            )
        ]
    else:
        lines = [_("%(name)s can sign in again, with the roles they held.", name=name)]
    return Question(
        _("Restore %(name)s?", name=name),
        lines,
        _("Yes, restore %(name)s", name=name),
        warning=False,
    )


def password_question(
    actor: User, org: Organisation, user: User, settings: management.ManagementSettings
) -> Question:
    name = user.name
    management.check_password_reset(actor, org, user)
    return Question(
        _("Send %(name)s a password reset link?", name=name),
        [
            _(
                "We will email %(email)s a link to choose a new password. It works once, for"
                " %(minutes)d minutes.",
                email=user.email,
                minutes=settings.password_reset_minutes,
            ),
            _("The email names you as the person who asked for it."),
            _("Their password does not change until they use the link; they are not signed out."),
        ],
        _("Yes, send the link to %(name)s", name=name),
        warning=False,
    )


def delete_question(org: Organisation, user: User, deletes_account: bool) -> Question:
    """The question that ends the delete page (once no service holds the person's data)."""
    name = user.name
    if deletes_account:
        return Question(
            _("Delete %(name)s?", name=name),
            [
                _(
                    "%(name)s's account will be deleted: they belong to no other organisation."
                    " This cannot be undone.",
                    name=name,
                )
            ],
            _("Yes, delete %(name)s", name=name),
        )
    return Question(
        _("Remove %(name)s from %(centre)s?", name=name, centre=org.code),
        [
            _(
                "%(name)s will be removed from %(organisation)s and keep their account and"
                " any other centres.",
                name=name,
                organisation=org.name,
            ),
            _("Services stop accepting their sign-in for %(centre)s.", centre=org.code),
        ],
        _("Yes, remove %(name)s from %(centre)s", name=name, centre=org.code),
    )


def transfer_question(service: str, client_id: str, user: User, to: User) -> Question:
    """The question before a service moves what it holds of ``user`` to ``to``."""
    return Question(
        _("Transfer the data of %(name)s to %(to)s?", name=user.name, to=to.name),
        [
            _(
                "%(service)s will move everything it holds of %(name)s to %(to)s, who will own"
                " it from then on.",
                service=service,
                name=user.name,
                to=to.name,
            ),
            _("This cannot be undone from My Cambridge."),
        ],
        _("Yes, transfer to %(to)s", to=to.name),
        warning=False,
        hidden={"client_id": client_id, "to": to.sub},
    )


def withdraw_question(org: Organisation, invited: Invited) -> Question:
    """The question before withdrawing an invitation (to join, or of a member who never
    activated)."""
    return Question(
        title=_("Withdraw the invitation to %(name)s?", name=invited.name),
        consequences=[
            _(
                "The invitation sent to %(email)s stops working: they cannot join"
                " %(centre)s with it.",
                email=invited.email,
                centre=org.code,
            ),
            _("You can invite them again later."),
        ],
        yes=_("Yes, withdraw the invitation to %(name)s", name=invited.name),
    )


def suspended_notice(reach: suspensions.Scope, org: Organisation, user: User) -> str:
    if reach == "account":
        return _(
            "%(name)s has been suspended: they are signed out everywhere and cannot sign in"
            " until restored.",
            name=user.name,
        )
    return _(
        "%(name)s has been suspended at %(centre)s: they have lost access to %(centre)s's"
        " services; their account and other centres are not affected.",
        name=user.name,
        centre=org.code,
    )


def restored_notice(reach: suspensions.Scope, org: Organisation, user: User) -> str:
    if reach == "account":
        return _("%(name)s has been restored and can sign in again.", name=user.name)
    return _(
        "%(name)s has been restored at %(centre)s and can use its services again.",
        name=user.name,
        centre=org.code,
    )
