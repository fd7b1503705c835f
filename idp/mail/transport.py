"""How a message leaves: over SMTP, or into a local outbox folder (demo and development)."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Protocol

from idp import clock, metrics
from idp.config import MailSettings
from idp.security import random_token

log = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass
class SMTPTransport:
    host: str
    port: int
    security: str = "none"  # "none", "starttls" or "tls"
    username: str = ""
    password: str = ""
    timeout: float = 10
    ca_file: str = ""  # trust these CAs instead of the system's (a private mail relay)

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context(cafile=self.ca_file or None)
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


@dataclass
class OutboxTransport:
    """Writes each message as an ``.eml`` file; the demo's outbox page reads them back."""

    directory: Path

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{clock.now():%Y%m%dT%H%M%S%f}-{random_token(6)}.eml"
        temporary = self.directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(message.as_bytes(policy=policy.SMTP))
        os.replace(temporary, self.directory / name)

    def names(self, limit: int = 100) -> list[str]:
        """The newest messages first."""
        if not self.directory.is_dir():
            return []
        return sorted((p.name for p in self.directory.glob("*.eml")), reverse=True)[:limit]

    def read(self, name: str) -> EmailMessage | None:
        if "/" in name or name.startswith(".") or not name.endswith(".eml"):
            return None
        path = self.directory / name
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            message = BytesParser(policy=policy.default).parse(fh)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Mailer:
    """Delivers a message, retrying a bounded number of times; a final failure is logged and
    reported to the caller, never raised (the action that sent it has already committed)."""

    transport: Transport
    sender: str
    retries: int = 3
    retry_delay: float = 0.5

    @classmethod
    def from_settings(cls, settings: MailSettings) -> Mailer:
        transport: Transport
        if settings.backend == "smtp":
            transport = SMTPTransport(
                settings.host,
                settings.port,
                settings.security,
                settings.username,
                settings.password,
                settings.timeout,
                settings.ca_file,
            )
        else:
            outbox = Path(settings.outbox_dir)
            transport = OutboxTransport(outbox if outbox.is_absolute() else Path.cwd() / outbox)
        return cls(transport, settings.sender, max(1, settings.retries), settings.retry_delay)

    def deliver(self, message: EmailMessage) -> bool:
        for attempt in range(1, self.retries + 1):
            try:
                self.transport.send(message)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning(
                    "mail: attempt %d/%d to send %r failed: %s",
                    attempt,
                    self.retries,
                    message["Subject"],
                    exc,
                )
                if attempt < self.retries:
                    time.sleep(self.retry_delay * attempt)
            else:
                metrics.series(metrics.EMAILS, "sent").inc()
                return True
        log.error("mail: gave up sending %r after %d attempts", message["Subject"], self.retries)
        metrics.series(metrics.EMAILS, "failed").inc()
        return False
