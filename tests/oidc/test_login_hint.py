"""``login_hint`` (a tile's sign-in names the person; anyone can write one): it fills in the
sign-in form, and nothing more. A browser signed in as someone else carries on as that person,
as a hint is only a hint (OpenID Connect Core 1.0 §3.1.2.1) and asking would let any page sign
people out of their session; the hinted person is never signed in, and no answer tells whether
the hinted address has an account."""

from __future__ import annotations

import re

from tests.journeys import location, page_text, sign_in
from tests.oidc_helpers import Callback, RelyingParty


def test_a_hint_naming_someone_else_does_not_change_who_is_signed_in(client, make, teacher):
    other = make.user("other@example.org", org=teacher.memberships[0].organisation)
    rp = RelyingParty(client, make.client())
    assert location(sign_in(client, "teacher@example.org")) == "/"
    answers = []
    for hint in ("other@example.org", "nobody@example.org"):
        callback = rp.follow(rp.authorize(login_hint=hint))
        assert isinstance(callback, Callback), hint
        claims = rp.verify_id_token(rp.exchange(callback.code).get_json()["id_token"])
        assert claims["sub"] == teacher.sub != other.sub
        answers.append(sorted(callback.params))
    assert answers[0] == answers[1]  # an account or none: the same answer


def _without_tokens(html: str, hint: str) -> str:
    html = html.replace(hint, "HINT")
    html = re.sub(r'(name="(?:csrf_token|ix)" value=")[^"]+', r"\1", html)
    return re.sub(r"ix=[\w-]+", "ix=", html)


def test_signed_out_the_hint_only_fills_in_the_form(client, make, teacher):
    rp = RelyingParty(client, make.client())
    pages = {}
    for hint in ("teacher@example.org", "nobody@example.org"):
        page = rp.authorize(login_hint=hint)
        assert page.status_code == 200 and f'value="{hint}"' in page_text(page)
        pages[hint] = _without_tokens(page_text(page), hint)
    assert pages["teacher@example.org"] == pages["nobody@example.org"]
