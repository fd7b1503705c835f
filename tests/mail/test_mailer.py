"""The mailer: real SMTP delivery, bounded retries, mail only on commit, the demo outbox."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import re
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.domain import invitations, mailing, users
from idp.domain.mailing import Mail
from idp.extensions import db
from idp.mail import messages
from idp.mail.transport import Mailer, OutboxTransport, SMTPTransport
from idp.models import User
from tests.mailbox import Mailbox, free_port, serving, text_of


class Flaky(Mailbox):
    """Refuses the first ``failures`` messages with a temporary error."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.failures:
            self.failures -= 1
            return "451 Try again later"
        return await super().handle_DATA(server, session, envelope)


CODE = {"name": "Jane", "code": "123456", "purpose": "sign_in", "minutes": 10}


def _message(to: str = "jane@example.org"):
    return messages.verification_code(to=to, **CODE)


def _mail(to: str = "jane@example.org"):
    return Mail("verification_code", to, CODE)


def test_a_message_has_a_text_and_an_html_part_from_the_no_reply_sender(app, mailbox):
    mailing.send(_mail())
    db.session.commit()
    received = mailbox.wait_for("jane@example.org", "123456 is your My Cambridge verification code")
    assert received["From"] == "My Cambridge <no-reply@idp.example.org>"
    assert received["Auto-Submitted"] == "auto-generated"
    assert "Your verification code is: 123456" in text_of(received)
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "<!doctype html>" in html and "123456" in html
    assert mailbox.envelopes[0] == ("no-reply@idp.example.org", ["jane@example.org"])


def test_a_temporary_failure_is_retried(app):
    box = Flaky(failures=2)
    with serving(box) as port:
        mailer = Mailer(SMTPTransport("127.0.0.1", port, timeout=5), "x@example.org", 3, 0.01)
        assert mailer.deliver(_message()) is True
        assert len(box.messages) == 1


def test_a_mail_server_that_is_down_is_logged_and_the_action_stands(
    app, make_app, overrides, caplog
):
    overrides["MAIL"]["PORT"] = free_port()  # nothing listens there
    down = make_app(overrides)
    with down.app_context():
        user = users.create(email="tom@example.org", given_name="Tom", family_name="Teacher")
        with caplog.at_level(logging.WARNING, logger="idp.mail.transport"):
            invitations.invite(user, ttl_seconds=3600)
            db.session.commit()
        failures = [r for r in caplog.records if "failed" in r.getMessage()]
        assert len(failures) == 3
        assert "gave up" in caplog.records[-1].getMessage()
        db.session.remove()
    # The account exists and is still invited: the invitation can be sent again.
    stored = db.session.scalar(db.select(User).where(User.sub == user.sub))
    assert stored is not None and stored.status == "invited"


def test_a_rolled_back_action_sends_nothing(app, mailbox):
    user = users.create(email="rolled-back@example.org", given_name="Tom", family_name="Teacher")
    invitations.invite(user, ttl_seconds=3600)
    db.session.rollback()
    mailing.send(_mail("committed@example.org"))
    db.session.commit()
    mailbox.wait_for("committed@example.org")
    assert mailbox.to("rolled-back@example.org") == []


def test_the_outbox_keeps_messages_and_the_demo_page_shows_them(app, make_app, overrides, tmp_path):
    overrides["MAIL"] = {"BACKEND": "outbox", "OUTBOX_DIR": str(tmp_path)}
    demo = make_app(overrides)
    with demo.app_context():
        mailing.send(_mail())
        db.session.commit()
        box = demo.extensions["idp.mailer"].transport
        assert isinstance(box, OutboxTransport)
        [name] = box.names()
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
        http = demo.test_client()
        listing = http.get("/dev/outbox").get_data(as_text=True)
        assert "123456 is your My Cambridge verification code" in listing
        page = http.get(f"/dev/outbox/{name}").get_data(as_text=True)
        assert "Your verification code is: 123456" in page
        assert http.get("/dev/outbox/..%2Fsecret.eml").status_code == 404
        db.session.remove()


def test_the_outbox_shows_the_html_part_sandboxed_beside_the_text(make_app, overrides, tmp_path):
    """The HTML part is framed from a route of its own whose policy is a sandbox: what the
    message holds cannot run script, nor act as the provider's origin; its links open a tab."""
    from email.message import EmailMessage

    overrides["MAIL"] = {"BACKEND": "outbox", "OUTBOX_DIR": str(tmp_path)}
    demo = make_app(overrides)
    sent = EmailMessage()
    sent["Subject"], sent["To"] = "You are invited", "jane@example.org"
    sent.set_content("Sign in: http://localhost/login\n")
    sent.add_alternative(
        "<!doctype html><html><head><title>x</title></head><body>"
        '<a href="http://localhost/login">Sign in</a><script>parent.document.title="owned"</script>'
        "</body></html>",
        subtype="html",
    )
    box = demo.extensions["idp.mailer"].transport
    box.send(sent)
    [name] = box.names()
    http = demo.test_client()

    page = http.get(f"/dev/outbox/{name}")
    html = page.get_data(as_text=True)
    assert "Sign in: " in html  # the text part, as before
    frame = re.search(r"<iframe[^>]*>", html).group(0)
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame
    assert "allow-scripts" not in frame and "allow-same-origin" not in frame
    assert f'src="/dev/outbox/{name}/html"' in frame
    assert "<script>parent" not in html  # never inlined into our page
    assert "frame-src" not in page.headers["Content-Security-Policy"]  # default-src 'self'

    part = http.get(f"/dev/outbox/{name}/html")
    policy = part.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox allow-popups allow-popups-to-escape-sandbox;")
    assert "allow-scripts" not in policy and "allow-same-origin" not in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'self'" in policy
    body = part.get_data(as_text=True)
    assert '<head><base target="_blank"><title>' in body
    assert '<a href="http://localhost/login">Sign in</a>' in body

    text_only = EmailMessage()
    text_only["Subject"], text_only["To"] = "Plain", "jane@example.org"
    text_only.set_content("Only text.\n")
    box.send(text_only)
    plain = next(n for n in box.names() if n != name)
    assert "<iframe" not in http.get(f"/dev/outbox/{plain}").get_data(as_text=True)
    assert http.get(f"/dev/outbox/{plain}/html").status_code == 404
    assert http.get("/dev/outbox/..%2Fsecret.eml/html").status_code == 404


def test_the_outbox_page_does_not_exist_outside_demo_and_test_mode(make_app, overrides, tmp_path):
    overrides.update(TESTING=False, DEMO=False)
    overrides["AUTH"]["ARGON2_MEMORY_COST"] = 8192
    overrides["MAIL"] = {"BACKEND": "outbox", "OUTBOX_DIR": str(tmp_path)}
    production = make_app(overrides)
    assert production.test_client().get("/dev/outbox").status_code == 404


def _self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key, as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _tls_context(cert_file, key_file):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def test_starttls_delivery_checks_the_servers_certificate(app, tmp_path):
    cert_file, key_file = _self_signed(tmp_path)
    box = Mailbox()
    tls = _tls_context(cert_file, key_file)
    with serving(box, tls_context=tls, require_starttls=True, auth_require_tls=True) as port:
        trusting = SMTPTransport("127.0.0.1", port, "starttls", timeout=5, ca_file=str(cert_file))
        assert Mailer(trusting, "x@example.org", 1, 0).deliver(_message()) is True
        assert len(box.messages) == 1
        # Without the private CA the certificate is refused: no mail goes out in clear text.
        strict = SMTPTransport("127.0.0.1", port, "starttls", timeout=5)
        assert Mailer(strict, "x@example.org", 1, 0).deliver(_message()) is False
        plain = SMTPTransport("127.0.0.1", port, "none", timeout=5)
        assert Mailer(plain, "x@example.org", 1, 0).deliver(_message()) is False
        assert len(box.messages) == 1


def test_implicit_tls_delivery(app, tmp_path):
    cert_file, key_file = _self_signed(tmp_path)
    box = Mailbox()
    with serving(box, ssl_context=_tls_context(cert_file, key_file)) as port:
        transport = SMTPTransport("127.0.0.1", port, "tls", timeout=5, ca_file=str(cert_file))
        assert Mailer(transport, "x@example.org", 1, 0).deliver(_message()) is True
        assert len(box.messages) == 1


def test_the_outbox_speaks_the_pages_language(make_app, overrides, tmp_path):
    """In Spanish an email's header lines read as a Spanish mail client's ("De:", "Para:", not
    "Desde"/"Hasta", which are a range's ends) and its date is written in Spanish."""
    from email.message import EmailMessage
    from email.utils import format_datetime

    overrides["MAIL"] = {"BACKEND": "outbox", "OUTBOX_DIR": str(tmp_path)}
    demo = make_app(overrides)
    sent = EmailMessage()
    sent["From"], sent["To"] = "no-reply@example.org", "jane@example.org"
    sent["Subject"] = "Hola"
    sent["Date"] = format_datetime(datetime.datetime(2026, 12, 7, 17, 27, 57, tzinfo=datetime.UTC))
    sent.set_content("Hola.\n")
    box = demo.extensions["idp.mailer"].transport
    box.send(sent)
    [name] = box.names()
    http = demo.test_client()
    spanish = {"Accept-Language": "es"}

    listing = http.get("/dev/outbox", headers=spanish).get_data(as_text=True)
    assert "<td>7 dic 2026 17:27:57</td>" in listing
    assert ">Destinatario<" in listing and "Hasta" not in listing
    page = http.get(f"/dev/outbox/{name}", headers=spanish).get_data(as_text=True)
    assert "<dt>De:</dt>" in page and "<dt>Para:</dt>" in page
    assert "7 diciembre 2026 17:27:57 UTC" in page
    assert "Desde" not in page and "Hasta" not in page and "Dec" not in page
    english = http.get(f"/dev/outbox/{name}").get_data(as_text=True)
    assert "<dt>From:</dt>" in english and "7 December 2026 17:27:57 UTC" in english
