"""The support desk's actions on a person, as the audit pages tell them: a label and a sentence
for each ``staff.<action>`` of ``idp.domain.support``, with the reason given. Added to
``audit_sentences``' tables when the console's People pages are loaded."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from idp.web import audit_sentences
from idp.web.audit_sentences import Event

LABELS = {
    "staff.invitation_resent": _l("Invitation resent by the support desk"),
    "staff.reset_link_sent": _l("Reset link sent by the support desk"),
    "staff.backoff_cleared": _l("Sign-in wait cleared by the support desk"),
    "staff.sessions_ended": _l("Signed out everywhere by the support desk"),
    "staff.factor_removed": _l("Sign-in factor removed by the support desk"),
    "staff.account_suspended": _l("Account suspended by the support desk"),
    "staff.account_restored": _l("Account restored by the support desk"),
}
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


def _with_reason(sentence: str, e: Event) -> str:
    reason = e.text("reason")
    return _("%(what)s Reason: %(reason)s", what=sentence, reason=reason) if reason else sentence


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
        return _with_reason(words, e)

    return told


def register() -> None:
    """Add the labels and sentences to the audit pages' tables."""
    audit_sentences.LABELS.update(LABELS)
    for action in LABELS:
        audit_sentences.SENTENCES[action] = _sentence(action)
