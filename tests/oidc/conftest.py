from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.factories import Factories
from tests.oidc_helpers import RelyingParty


@pytest.fixture
def centre(make: Factories):
    return make.org("AA101", name="AA Dummy Centre A (CIC)")


@pytest.fixture
def teacher(make: Factories, centre):
    return make.user(
        "teacher@example.org",
        given_name="Donald",
        family_name="Duck",
        org=centre,
        roles=("sfa.teacher", "aa.nominated_user"),
    )


@pytest.fixture
def rp(client: FlaskClient, make: Factories) -> RelyingParty:
    return RelyingParty(client, make.client())


@pytest.fixture
def public_rp(client: FlaskClient, make: Factories) -> RelyingParty:
    return RelyingParty(client, make.client(public=True))
