"""The support desk's actions on a person, as the audit pages tell them: a sentence for each
``staff.<action>`` of ``idp.domain.support`` (their labels, and the reason given, are
``audit_sentences``'). Added to ``audit_sentences``' table when the console's People pages
are loaded."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import lazy_gettext as _l

from idp.web import audit_sentences
from idp.web.audit_sentences import Event

WHAT = {
    "staff.invitation_resent": _l("%(actor)s sent %(person)s their invitation again."),
    "staff.reset_link_sent": _l("%(actor)s sent %(person)s a link to reset their password."),
    "staff.backoff_cleared": _l("%(actor)s let %(person)s try their password again at once."),
    "staff.sessions_ended": _l("%(actor)s signed %(person)s out everywhere."),
    "staff.account_suspended": _l("%(actor)s suspended the whole account of %(person)s."),
    "staff.account_restored": _l("%(actor)s restored the account of %(person)s."),
}
FACTORS = {
    "totp": _l("%(actor)s removed the authenticator app of %(person)s."),
    "recovery_codes": _l("%(actor)s removed the recovery codes of %(person)s."),
    "passkey": _l('%(actor)s removed the passkey "%(passkey)s" of %(person)s.'),
}


def _sentence(action: str) -> Callable[[Event], str]:
    def told(e: Event) -> str:
        if action == "staff.factor_removed":
            template = FACTORS.get(e.text("factor"), FACTORS["totp"])
            words = str(template) % {
                "actor": e.actor,
                "person": e.target,
                "passkey": e.text("passkey"),
            }
        else:
            words = str(WHAT[action]) % {"actor": e.actor, "person": e.target}
        return words

    return told


def register() -> None:
    """Add the sentences to the audit pages' table."""
    for action in [*WHAT, "staff.factor_removed"]:
        audit_sentences.SENTENCES[action] = _sentence(action)
