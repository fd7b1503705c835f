"""Demo data: one Cambridge International centre, a Cambridge Associate with two associate
centres, an OCR centre, their people (one of them invited, with a temporary password in the
mail outbox; one invited to join a second centre), and one client per demo service. Safe to
run twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from idp.catalogue import Catalogue
from idp.domain import clients, invitations, joining, organisations, users
from idp.errors import NotFound
from idp.extensions import db
from idp.models import Client, User

DEMO_PASSWORD = "demo-password-2026"

ORGANISATIONS = [
    ("AA101", "AA Dummy Centre A (CIC)", "cambridge-international", None),
    ("CA200", "Cambridge Associate Dummy (CA)", "cambridge-international", None),
    ("CA201", "Associate Centre One", "cambridge-international", "CA200"),
    ("CA202", "Associate Centre Two", "cambridge-international", "CA200"),
    ("OC301", "OCR Dummy Centre", "ocr", None),
]

PEOPLE = [
    # email, given, family, org, roles, exams officer?
    (
        "aa101.anakin@example.org",
        "Anakin",
        "Skywalker",
        "AA101",
        ["sfa.exams_officer", "aa.nominated_user"],
        True,
    ),
    ("aa101.buzz@example.org", "Buzz", "Lightyear", "AA101", ["user_management"], False),
    (
        "aa101.captain@example.org",
        "Captain",
        "America",
        "AA101",
        ["user_management", "sfa.teacher"],
        False,
    ),
    ("aa101.donald@example.org", "Donald", "Duck", "AA101", ["sfa.teacher"], False),
    # AA101 only: her officer can change her address (it waits for the link sent there).
    ("aa101.daisy@example.org", "Daisy", "Duck", "AA101", ["aa.nominated_user"], False),
    ("ca200.officer@example.org", "Cora", "Associate", "CA200", ["sfa.exams_officer"], True),
    ("oc301.officer@example.org", "Olive", "Officer", "OC301", ["ocr.interchange"], True),
]

# A teacher at two centres: Submit for Assessment asks which one he acts for (the organisation
# chooser), and AA101's officer can suspend him at AA101 only.
SECOND_MEMBERSHIPS = [("aa101.donald@example.org", "CA201", ["sfa.teacher"])]

CLIENTS = [
    ("submit-for-assessment", "Submit for Assessment", "submit_for_assessment", 5101),
    # Submit for Assessment also reads its centres' teachers from the API and keeps
    # submissions, so it is asked before anyone is deleted.
    ("access-arrangements", "Apply for Access Arrangements", "access_arrangements", 5102),
    ("global-listening", "Global Listening", "global_listening", 5103),
]


@dataclass
class DemoClient:
    client_id: str
    name: str
    secret: str | None
    redirect_uri: str


# Runs the service: the operators' pages (clients).
OPERATOR = ("operator@example.org", "Oscar", "Operator")

# Invited, not yet active: the invitation email in the outbox starts the activation journey.
INVITED = ("aa101.eve@example.org", "Eve", "Newstarter", "AA101", ["sfa.teacher"])

# An invitation to join waiting for its answer: AA101's exams officer added the address of
# OC301's officer (under the name he typed); she sees it on her home page and accepts or
# declines it, and until then AA101's pages show only "Olive Other", invited.
JOIN_INVITATION = (
    "aa101.anakin@example.org",
    "AA101",
    "oc301.officer@example.org",
    "Olive",
    "Other",
    ["aa.nominated_user"],
)


def seed(
    catalogue: Catalogue,
    password_min_length: int,
    temporary_password_ttl: int,
    join_invitation_ttl: int = 14 * 24 * 3600,
) -> dict[str, Any]:
    """Create whatever of the demo data is missing; returns what a person needs to sign in."""
    for code, name, brand, parent in ORGANISATIONS:
        try:
            organisations.get_by_code(code)
        except NotFound:
            organisations.create(
                code=code, name=name, brand=brand, catalogue=catalogue, associate_of=parent
            )
    for email, given, family, code, roles, officer in PEOPLE:
        user = users.find_by_email(email)
        if user is None:
            user = users.create(
                email=email,
                given_name=given,
                family_name=family,
                password=DEMO_PASSWORD,
                password_min_length=password_min_length,
                email_verified=True,
            )
            organisation = organisations.get_by_code(code)
            organisations.set_roles(user, organisation, roles, catalogue)
            if officer:
                organisations.set_exams_officer(organisation, user, catalogue)
    for email, code, roles in SECOND_MEMBERSHIPS:
        user = users.find_by_email(email)
        organisation = organisations.get_by_code(code)
        if user is not None and organisations.membership(user, organisation) is None:
            organisations.set_roles(user, organisation, roles, catalogue)
    if users.find_by_email(OPERATOR[0]) is None:
        operator = users.create(
            email=OPERATOR[0],
            given_name=OPERATOR[1],
            family_name=OPERATOR[2],
            password=DEMO_PASSWORD,
            password_min_length=password_min_length,
            email_verified=True,
        )
        operator.is_operator = True
    email, given, family, code, roles = INVITED
    if users.find_by_email(email) is None:
        organisation = organisations.get_by_code(code)
        user = users.create(email=email, given_name=given, family_name=family)
        organisations.set_roles(user, organisation, roles, catalogue)
        invitations.invite(user, ttl_seconds=temporary_password_ttl, organisation=organisation)
    inviter, code, address, given, family, roles = JOIN_INVITATION
    organisation = organisations.get_by_code(code)
    person = users.find_by_email(address)
    inviting = users.find_by_email(inviter)
    if (
        person is not None
        and inviting is not None
        and organisations.membership(person, organisation) is None
        and joining.open_invitation(organisation, person) is None
    ):
        joining.invite(
            inviting,
            organisation,
            person,
            email=address,
            given_name=given,
            family_name=family,
            role_keys=roles,
            ttl_seconds=join_invitation_ttl,
            catalogue=catalogue,
        )
    demo_clients = []
    for client_id, name, service, port in CLIENTS:
        redirect_uri = f"http://127.0.0.1:{port}/callback"
        holds_data = service == "submit_for_assessment"
        api_scopes = ["users.read"] if holds_data else []
        user_data_uri = f"http://127.0.0.1:{port}/user-data" if holds_data else None
        existing = db.session.scalar(select(Client).where(Client.client_id == client_id))
        if existing is None:
            client, secret = clients.create(
                name=name,
                client_id=client_id,
                redirect_uris=[redirect_uri],
                post_logout_redirect_uris=[f"http://127.0.0.1:{port}/"],
                service_keys=[service],
                catalogue=catalogue,
                backchannel_logout_uri=f"http://127.0.0.1:{port}/backchannel-logout",
                api_scopes=api_scopes,
                user_data_uri=user_data_uri,
            )
        else:
            secret = None
            # Registered by an older demo: bring it up to date.
            if existing.backchannel_logout_uri is None:
                existing.backchannel_logout_uri = f"http://127.0.0.1:{port}/backchannel-logout"
            if api_scopes and not clients.api_scopes_of(existing.scope):
                clients.set_api_access(existing, api_scopes)
            if user_data_uri and existing.user_data_uri is None:
                existing.user_data_uri = user_data_uri
        demo_clients.append(DemoClient(client_id, name, secret, redirect_uri))
    db.session.flush()
    return {
        "password": DEMO_PASSWORD,
        "users": [p[0] for p in PEOPLE] + [OPERATOR[0]],
        "invited": INVITED[0],
        "clients": demo_clients,
        "user_count": db.session.scalar(select(db.func.count()).select_from(User)),
    }
