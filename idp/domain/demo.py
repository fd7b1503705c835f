"""Demo data: one Cambridge International centre, a Cambridge Associate with two associate
centres, an OCR centre, their people (one of them invited, with a temporary password in the
mail outbox; one invited to join a second centre; one signed up on their own, with no centre),
and one client per demo service. Safe to run twice. ``accounts`` says who is who."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from idp.catalogue import Catalogue
from idp.domain import clients, invitations, joining, organisations, users
from idp.errors import NotFound
from idp.extensions import db
from idp.models import Client, StaffRole, User, UserOrigin, UserStatus

DEMO_PASSWORD = "demo-password-2026"

ORGANISATIONS = [
    ("AA101", "AA Dummy Centre A (CIC)", "cambridge-international", None),
    ("CA200", "Cambridge Associate Dummy (CA)", "cambridge-international", None),
    ("CA201", "Associate Centre One", "cambridge-international", "CA200"),
    ("CA202", "Associate Centre Two", "cambridge-international", "CA200"),
    ("OC301", "OCR Dummy Centre", "ocr", None),
    # Its exams officer has left (her account is suspended): the support desk names a new one.
    ("AA104", "AA Dummy Centre D (CIC)", "cambridge-international", None),
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
    # The Primary support site's teacher (Progression Test groups to transfer before she is
    # deleted) and its administrator (who sees the centre's groups and can receive them).
    ("aa101.minnie@example.org", "Minnie", "Mouse", "AA101", ["primary.teacher"], False),
    (
        "aa101.mickey@example.org",
        "Mickey",
        "Mouse",
        "AA101",
        ["primary.admin", "primary.teacher"],
        False,
    ),
    ("ca200.officer@example.org", "Cora", "Associate", "CA200", ["sfa.exams_officer"], True),
    ("oc301.officer@example.org", "Olive", "Officer", "OC301", ["ocr.interchange"], True),
    ("aa104.lena@example.org", "Lena", "Left", "AA104", ["sfa.exams_officer"], True),
]
# Left the centre: suspended, still named its exams officer until the support desk names another.
LEFT = "aa104.lena@example.org"

# A teacher at two centres: Submit for Assessment asks which one he acts for (the organisation
# chooser), and AA101's officer can suspend him at AA101 only.
SECOND_MEMBERSHIPS = [("aa101.donald@example.org", "CA201", ["sfa.teacher"])]

CLIENTS = [
    ("submit-for-assessment", "Submit for Assessment", "submit_for_assessment", 5101),
    # Submit for Assessment also reads its centres' teachers from the API and keeps
    # submissions, so it is asked before anyone is deleted.
    ("access-arrangements", "Apply for Access Arrangements", "access_arrangements", 5102),
    ("global-listening", "Global Listening", "global_listening", 5103),
    # The Primary support site keeps Progression Test groups: asked before anyone is deleted.
    ("primary-support", "Cambridge Primary support site", "primary_support", 5104),
    ("ocr-interchange", "OCR Interchange", "ocr_interchange", 5105),
]
# The services that keep people's data: they read the centre's people from the API and
# answer the provider's user-data requests.
DATA_HOLDERS = {"submit_for_assessment", "primary_support"}


@dataclass
class DemoClient:
    client_id: str
    name: str
    secret: str | None
    redirect_uri: str

    @property
    def port(self) -> int:
        return int(self.redirect_uri.split(":")[2].split("/")[0])

    @property
    def url(self) -> str:
        return self.redirect_uri.removesuffix("callback")


# The exam board's staff: the operator runs the service (the console and the clients pages),
# the support desk finds and helps people and centres (the console).
OPERATOR = ("operator@example.org", "Oscar", "Operator")
SUPPORT = ("support@example.org", "Sally", "Support")

# Invited, not yet active: the invitation email in the outbox starts the activation journey.
INVITED = ("aa101.eve@example.org", "Eve", "Newstarter", "AA101", ["sfa.teacher"])

# Signed up on their own ("Create account"): an account with no centre and no roles until an
# organisation adds them.
SELF_SIGNED_UP = ("sam.signup@example.org", "Sam", "Signup")

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
        operator.staff_role = StaffRole.OPERATOR
    if users.find_by_email(SUPPORT[0]) is None:
        desk = users.create(
            email=SUPPORT[0],
            given_name=SUPPORT[1],
            family_name=SUPPORT[2],
            password=DEMO_PASSWORD,
            password_min_length=password_min_length,
            email_verified=True,
        )
        desk.staff_role = StaffRole.SUPPORT
    left = users.find_by_email(LEFT)
    if left is not None:
        left.status = UserStatus.SUSPENDED
    if users.find_by_email(SELF_SIGNED_UP[0]) is None:
        users.create(
            email=SELF_SIGNED_UP[0],
            given_name=SELF_SIGNED_UP[1],
            family_name=SELF_SIGNED_UP[2],
            password=DEMO_PASSWORD,
            password_min_length=password_min_length,
            origin=UserOrigin.SELF,
            email_verified=True,
        )
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
        holds_data = service in DATA_HOLDERS
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
                initiate_login_uri=f"http://127.0.0.1:{port}/initiate-login",
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
            if existing.initiate_login_uri is None:
                existing.initiate_login_uri = f"http://127.0.0.1:{port}/initiate-login"
        demo_clients.append(DemoClient(client_id, name, secret, redirect_uri))
    db.session.flush()
    return {
        "password": DEMO_PASSWORD,
        "users": [p[0] for p in PEOPLE] + [OPERATOR[0], SUPPORT[0], SELF_SIGNED_UP[0]],
        "invited": INVITED[0],
        "accounts": accounts(catalogue),
        "clients": demo_clients,
        "user_count": db.session.scalar(select(db.func.count()).select_from(User)),
    }


# What to try with each demo account, in the order the demo prints them.
TRY = {
    "aa101.anakin@example.org": "The exams officer: adds a passkey at his first sign-in (his "
    "roles require one), then adds, suspends and deletes AA101's people (a teacher's "
    "Progression Test groups must be transferred first), all of its services.",
    "aa101.buzz@example.org": "A deputy with User Management: manages AA101's people but "
    "cannot suspend or demote its exams officer.",
    "aa101.captain@example.org": "A deputy who also teaches: User Management and Submit for "
    "Assessment as a teacher.",
    "aa101.donald@example.org": "A teacher at two centres: Submit for Assessment asks which "
    "one he acts for; Change organisation switches.",
    "aa101.daisy@example.org": "AA101 only: a change of her address by its officer waits for "
    "the link sent to the new address.",
    "aa101.minnie@example.org": "A Primary support site teacher with Progression Test groups: "
    "deleting her waits until they are transferred.",
    "aa101.mickey@example.org": "The Primary support site's administrator: sees every group of "
    "AA101 and can receive a leaving teacher's groups.",
    "ca200.officer@example.org": "A Cambridge Associate's exams officer: Change organisation to "
    "its associate centres CA201 and CA202 and manage their people.",
    "oc301.officer@example.org": "The OCR centre's officer: OCR Interchange, and an invitation to "
    "join AA101 waiting on her home page.",
    INVITED[0]: "Invited, not yet active: the temporary password is in the mail outbox; then a "
    "new password and an emailed code.",
    SELF_SIGNED_UP[0]: "Signed up on their own: no centre and no services until an "
    "organisation adds them.",
    OPERATOR[0]: "The operator: adds a passkey at his first sign-in, then the console and its "
    "clients pages (register, edit, rotate a secret, disable).",
    SUPPORT[0]: "The support desk: adds a passkey at her first sign-in, then the console: find "
    "AA104, whose exams officer has left, and name a new one.",
}


@dataclass(frozen=True)
class Account:
    """One demo account as the demo describes it."""

    email: str
    name: str
    centres: list[dict[str, Any]]  # {"code", "roles": [role names]} per membership
    try_this: str


def accounts(catalogue: Catalogue) -> list[Account]:
    """Who is who in the demo: each account's centres, its roles there (by name) and what to
    try with it."""
    found = []
    for email, try_this in TRY.items():
        user = users.find_by_email(email)
        if user is None:
            continue
        centres = [
            {
                "code": m.organisation.code,
                "roles": sorted(
                    catalogue.roles_by_key[k].name
                    for k in m.role_keys
                    if k in catalogue.roles_by_key
                ),
            }
            for m in sorted(user.memberships, key=lambda m: m.organisation.code)
        ]
        found.append(Account(email, user.name, centres, try_this))
    return found
