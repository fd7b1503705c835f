"""Storage only: tables, columns and constraints; the rules live in ``idp.domain``."""

from idp.models.address_change import AddressChange
from idp.models.audit import AuditEvent
from idp.models.centre_names import CentreNameTrigram
from idp.models.connected import ConnectedAccount
from idp.models.imports import ImportJob
from idp.models.invitation import JoinInvitation, JoinOutcome, join_invitation_roles
from idp.models.keys import SigningKey
from idp.models.membership_period import MembershipPeriod
from idp.models.oauth import (
    AuthorizationCode,
    Client,
    ClientAssertion,
    Consent,
    RegistrationToken,
    Token,
)
from idp.models.organisation import Membership, Organisation, RoleRow, ServiceRow, membership_roles
from idp.models.passkey import Passkey, PasskeyChallenge
from idp.models.session import AuthSession, Interaction
from idp.models.throttle import ThrottleCount
from idp.models.user import EmailAddress, StaffRole, User, UserOrigin, UserStatus
from idp.models.verification import RecoveryCode, VerificationCode

__all__ = [
    "AddressChange",
    "AuditEvent",
    "CentreNameTrigram",
    "AuthSession",
    "AuthorizationCode",
    "Client",
    "ClientAssertion",
    "ConnectedAccount",
    "Consent",
    "EmailAddress",
    "ImportJob",
    "Interaction",
    "JoinInvitation",
    "JoinOutcome",
    "Membership",
    "MembershipPeriod",
    "Organisation",
    "Passkey",
    "PasskeyChallenge",
    "RecoveryCode",
    "RegistrationToken",
    "RoleRow",
    "ServiceRow",
    "SigningKey",
    "StaffRole",
    "ThrottleCount",
    "Token",
    "User",
    "UserOrigin",
    "UserStatus",
    "VerificationCode",
    "join_invitation_roles",
    "membership_roles",
]
