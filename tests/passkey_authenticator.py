"""A passkey authenticator in software, for tests that drive the ceremonies without a browser:
it answers the provider's options as a browser and a platform authenticator would (an ES256
key, "none" attestation, the CBOR written by the cbor2 library), and can be told to misbehave
as an attacker's would: another RP id or origin, no user verification, a counter that goes
backwards (a clone)."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


class Authenticator:
    def __init__(self, *, synced: bool = False) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.counter = 0
        self.synced = synced
        self.user_handle = ""

    @property
    def id(self) -> str:
        return bytes_to_base64url(self.credential_id)

    def clone(self) -> Authenticator:
        """A copy of this authenticator's key and counter (what a cloned credential is)."""
        copy = Authenticator(synced=self.synced)
        copy.key, copy.credential_id = self.key, self.credential_id
        copy.counter, copy.user_handle = self.counter, self.user_handle
        return copy

    def _public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _authenticator_data(self, rp_id: str, *, attested: bool, verified: bool) -> bytes:
        flags = UP | (UV if verified else 0) | ((BE | BS) if self.synced else 0)
        data = hashlib.sha256(rp_id.encode()).digest()
        data += bytes([flags | (AT if attested else 0)]) + struct.pack(">I", self.counter)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self._public_key()
        return data

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def create(
        self,
        options: str | dict[str, Any],
        origin: str = "http://localhost",
        *,
        rp_id: str | None = None,
        verified: bool = True,
    ) -> str:
        """The browser's answer to registration options (``navigator.credentials.create``)."""
        o = json.loads(options) if isinstance(options, str) else options
        self.user_handle = o["user"]["id"]
        client_data = self._client_data("webauthn.create", o["challenge"], origin)
        auth_data = self._authenticator_data(
            rp_id or o["rp"]["id"], attested=True, verified=verified
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": self.id,
                "rawId": self.id,
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "attestationObject": bytes_to_base64url(attestation),
                    "transports": ["internal", "hybrid"],
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )

    def get(
        self,
        options: str | dict[str, Any],
        origin: str = "http://localhost",
        *,
        rp_id: str | None = None,
        verified: bool = True,
    ) -> str:
        """The browser's answer to authentication options (``navigator.credentials.get``); the
        counter moves on by one first."""
        o = json.loads(options) if isinstance(options, str) else options
        self.counter += 1
        client_data = self._client_data("webauthn.get", o["challenge"], origin)
        auth_data = self._authenticator_data(rp_id or o["rpId"], attested=False, verified=verified)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": self.id,
                "rawId": self.id,
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "authenticatorData": bytes_to_base64url(auth_data),
                    "signature": bytes_to_base64url(signature),
                    "userHandle": self.user_handle,
                },
                "clientExtensionResults": {},
                "authenticatorAttachment": "platform",
            }
        )


def challenge_of(options: str) -> bytes:
    return base64url_to_bytes(json.loads(options)["challenge"])
