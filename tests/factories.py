"""Plain factory functions with sane defaults, built on the domain functions."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from flask import Flask

from idp.domain import clients, invitations, organisations, users
from idp.extensions import db
from idp.models import Client, Organisation, User

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@dataclass
class RegisteredClient:
    model: Client
    client_id: str
    secret: str | None
    redirect_uri: str
    post_logout_redirect_uri: str


class Factories:
    def __init__(self, app: Flask):
        self.app = app
        self.catalogue = app.extensions["idp.settings"].catalogue

    def org(
        self,
        code: str | None = None,
        *,
        name: str = "Dummy Centre",
        brand: str = "cambridge-international",
        associate_of: str | None = None,
    ) -> Organisation:
        code = code or f"ZZ{next(_counter):03d}"
        org = organisations.create(
            code=code, name=name, brand=brand, catalogue=self.catalogue, associate_of=associate_of
        )
        db.session.commit()
        return org

    def user(
        self,
        email: str | None = None,
        *,
        password: str | None = PASSWORD,
        given_name: str = "Jane",
        family_name: str = "Smith",
        org: Organisation | None = None,
        roles: tuple[str, ...] = (),
    ) -> User:
        email = email or f"user{next(_counter)}@example.org"
        user = users.create(
            email=email,
            given_name=given_name,
            family_name=family_name,
            password=password,
            email_verified=True,
        )
        if org is not None:
            organisations.set_roles(user, org, roles, self.catalogue)
        db.session.commit()
        return user

    def exams_officer(
        self,
        org: Organisation,
        email: str = "officer@example.org",
        *,
        roles: tuple[str, ...] = ("user_management",),
        given_name: str = "Olga",
        family_name: str = "Officer",
    ) -> User:
        """The centre's exams officer: ``roles`` plus what the office brings (User Management,
        Global Listening)."""
        officer = self.user(
            email, given_name=given_name, family_name=family_name, org=org, roles=roles
        )
        organisations.set_exams_officer(org, officer, self.catalogue)
        db.session.commit()
        return officer

    def invited(
        self,
        email: str | None = None,
        *,
        given_name: str = "Tom",
        family_name: str = "Teacher",
        org: Organisation | None = None,
        roles: tuple[str, ...] = (),
    ) -> User:
        """An account created for someone: it is emailed a temporary password."""
        email = email or f"invited{next(_counter)}@example.org"
        user = users.create(email=email, given_name=given_name, family_name=family_name)
        if org is not None:
            organisations.set_roles(user, org, roles, self.catalogue)
        invitations.invite(
            user,
            ttl_seconds=self.app.extensions["idp.settings"].auth.temporary_password_ttl,
            organisation=org,
        )
        db.session.commit()
        return user

    def client(
        self,
        *,
        public: bool = False,
        services: tuple[str, ...] = ("submit_for_assessment",),
        first_party: bool = True,
        introspect: bool = False,
        auth_method: str | None = None,
        alg: str | None = None,
        **kwargs: Any,
    ) -> RegisteredClient:
        n = next(_counter)
        redirect_uri = kwargs.pop("redirect_uri", f"https://rp{n}.example.org/callback")
        post_logout = kwargs.pop(
            "post_logout_redirect_uri", f"https://rp{n}.example.org/signed-out"
        )
        model, secret = clients.create(
            name=kwargs.pop("name", f"Relying party {n}"),
            client_id=kwargs.pop("client_id", None),
            backchannel_logout_uri=kwargs.pop("backchannel_logout_uri", None),
            api_scopes=kwargs.pop("api_scopes", ()),
            user_data_uri=kwargs.pop("user_data_uri", None),
            initiate_login_uri=kwargs.pop("initiate_login_uri", None),
            redirect_uris=kwargs.pop("redirect_uris", [redirect_uri]),
            post_logout_redirect_uris=[post_logout],
            public=public,
            service_keys=services,
            catalogue=self.catalogue,
            first_party=first_party,
            can_introspect=introspect,
            auth_method=auth_method,
        )
        if alg:
            model.extra_metadata = {"id_token_signed_response_alg": alg}
        db.session.commit()
        return RegisteredClient(model, model.client_id, secret, redirect_uri, post_logout)
