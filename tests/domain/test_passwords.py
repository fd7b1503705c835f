"""The password policy, table by table, and the optional Pwned Passwords range check."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from idp.domain import passwords
from idp.errors import InvalidInput


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "Enter a password."),
        ("               ", "Enter a password."),
        ("fourteen chars", "at least 15 characters"),
        ("x" * 257, "at most 256 characters"),
        ("1qaz2wsx3edc4rfv", "most common passwords"),
        ("QWERTY123456789", "most common passwords"),  # case does not hide it
        ("my jane.smith@example.org", "must not contain your email"),
        ("jane.smith is my name ok", "must not contain your email"),  # the local part
        ("mister smith and his cat", "must not contain your name"),
    ],
)
def test_refused_passwords_say_why(password, message):
    with pytest.raises(InvalidInput, match=message):
        passwords.check_policy(
            password, 15, email="jane.smith@example.org", names=("Jane", "Smith")
        )


@pytest.mark.parametrize(
    "password",
    [
        "lantern orchard velvet",
        "ПарольИзПятнадцати",  # any Unicode
        "短いけれど十五文字以上のパスワードです",
        "a" * 256,
        "Tr0ub4dor&3 is ok now",
    ],
)
def test_accepted_passwords(password):
    passwords.check_policy(password, 15, email="jane.smith@example.org", names=("Jane", "Smith"))


def test_length_counts_characters_after_normalisation():
    # Fifteen characters, some composed of two code points: NFKC counts each once.
    composed = "e\u0301" * 15
    passwords.check_policy(composed, 15)
    with pytest.raises(InvalidInput):
        passwords.check_policy("e\u0301" * 14, 15)


class _Range(BaseHTTPRequestHandler):
    breached = "lantern orchard velvet"
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(self.path)
        digest = hashlib.sha1(self.breached.encode()).hexdigest().upper()
        lines = [
            "0018A45C4D1DEF81644B54AB7F969B88D65:1",
            f"{digest[5:]}:42",
            "00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0",
        ]
        body = "\r\n".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def range_api():
    server = HTTPServer(("127.0.0.1", 0), _Range)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Range.seen.clear()
    yield f"http://127.0.0.1:{server.server_port}/range/"
    server.shutdown()
    server.server_close()


def test_pwned_passwords_sends_only_a_five_digit_prefix_and_refuses_a_match(range_api):
    with pytest.raises(InvalidInput, match="appeared in a data breach"):
        passwords.check_pwned("lantern orchard velvet", range_api)
    prefix = hashlib.sha1(b"lantern orchard velvet").hexdigest().upper()[:5]
    assert _Range.seen == [f"/range/{prefix}"]
    passwords.check_pwned("a different passphrase entirely", range_api)


def test_pwned_passwords_unreachable_is_skipped_not_fatal(caplog):
    passwords.check_pwned("lantern orchard velvet", "http://127.0.0.1:9/range/", timeout=0.5)
    assert "check skipped" in caplog.text


def test_pwned_passwords_is_off_by_default():
    passwords.check_pwned("lantern orchard velvet", "")
