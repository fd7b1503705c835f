"""A real SMTP server for the tests (aiosmtpd on loopback) and a mailbox to read it."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

CODE_RE = re.compile(r"\b(\d{6})\b")
URL_RE = re.compile(r"https?://\S+")


@dataclass
class Mailbox:
    """Every message the server accepted, in order."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def wait_for(
        self, address: str, subject: str = "", count: int = 1, timeout: float = 5.0
    ) -> EmailMessage:
        """The ``count``-th message to ``address`` whose subject contains ``subject``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.to(address) if subject in str(m["Subject"])]
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.01)
        raise AssertionError(
            f"no message {count} to {address} about {subject!r}; got {self.subjects()}"
        )

    def subjects(self) -> list[str]:
        with self.lock:
            return [f"{m['To']}: {m['Subject']}" for m in self.messages]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def html_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return body.get_content()


def code_in(message: EmailMessage) -> str:
    match = CODE_RE.search(text_of(message))
    assert match, "no code in the message"
    return match.group(1)


def links_in(message: EmailMessage) -> list[str]:
    return URL_RE.findall(text_of(message))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(handler: Mailbox, **options: Any) -> Iterator[int]:
    """Run an SMTP server on a free loopback port for the ``with`` block; yield the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def start_server() -> tuple[Controller, Mailbox, int]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, mailbox, port
