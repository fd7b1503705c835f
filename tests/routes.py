"""Every route of the app, for tests that walk them all: the rules that answer some methods,
and their paths filled with values that exist (a real centre, member, client, import job,
reset link), so that a walk reaches the views rather than their 404s."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Flask
from werkzeug.routing import AnyConverter, IntegerConverter, Rule

from idp.domain import imports, joining, passwords
from idp.domain.management import NewUser
from idp.extensions import db
from idp.models import Organisation, StaffRole, User
from tests.factories import Factories, RegisteredClient

# A connected-account provider (``/login/with/<key>``) that is never called: nothing listens
# on the discard port, and these walks never finish a journey there.
UPSTREAM = {
    "key": "fb",
    "name": "Facebook",
    "kind": "facebook",
    "authorize_url": "http://127.0.0.1:9/dialog/oauth",
    "token_url": "http://127.0.0.1:9/oauth/access_token",
    "userinfo_url": "http://127.0.0.1:9/me",
    "client_id": "fb-app-id",
    "client_secret": "fb-app-secret",
}
CENTRE = "AA101"


@dataclass
class Site:
    centre: Organisation
    officer: User  # the centre's exams officer (User Management)
    member: User  # a teacher at the centre
    operator: User
    client: RegisteredClient
    values: dict[str, str]  # a real value for each path parameter, by name


def build_site(make: Factories) -> Site:
    centre = make.org(CENTRE, name="AA Dummy Centre A (CIC)")
    officer = make.exams_officer(centre)
    member = make.user(
        "donald@example.org",
        given_name="Donald",
        family_name="Duck",
        org=centre,
        roles=("sfa.teacher",),
    )
    operator = make.user("ops@example.org", given_name="Otto", family_name="Operator")
    operator.staff_role = StaffRole.OPERATOR
    client = make.client()
    job = imports.start(officer, centre, [NewUser("Ana", "Uno", "ana@example.org", ())])
    # Another centre invites the teacher to join it.
    other = make.org("BB102", name="BB Dummy Centre B")
    invitation = joining.invite(
        make.exams_officer(other, "bofficer@example.org"),
        other,
        member,
        email="donald@example.org",
        given_name="Don",
        family_name="D",
        role_keys=("sfa.teacher",),
        ttl_seconds=3600,
        catalogue=make.catalogue,
    )
    db.session.commit()
    values = {
        "code": centre.code,
        "associate": other.code,
        "sub": member.sub,
        "job_id": job.id,
        "client_id": client.client_id,
        "key": UPSTREAM["key"],
        "token": passwords.reset_token(member),
        "filename": "site.css",
        "public_id": invitation.public_id,
        "service": "submit_for_assessment",
    }
    return Site(centre, officer, member, operator, client, values)


def rules(app: Flask, methods: Iterable[str]) -> list[Rule]:
    """The rules that answer any of ``methods``, in address order."""
    wanted = set(methods)
    found = [r for r in app.url_map.iter_rules() if wanted & (r.methods or set())]
    return sorted(found, key=lambda r: r.rule)


def paths(rule: Rule, values: dict[str, str]) -> list[str]:
    """The rule's paths: ``values`` for its parameters, each choice of an ``any(...)`` part,
    1 for a number and "x" for anything else."""
    choices = []
    for name, converter in rule._converters.items():
        if isinstance(converter, AnyConverter):
            options = sorted(converter.items)
        elif isinstance(converter, IntegerConverter):
            options = ["1"]
        else:
            options = [values.get(name, "x")]
        choices.append([(name, option) for option in options])
    built = []
    for chosen in itertools.product(*choices):
        result = rule.build(dict(chosen), append_unknown=False)
        assert result is not None, f"cannot build {rule.rule} from {chosen}"
        built.append(result[1])
    return built
