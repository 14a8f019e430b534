"""The e-mail channel: SMTP (smtplib) with STARTTLS or TLS, UTF-8 headers and body."""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar

from pydantic import Field, SecretStr

from leadsync.connectors.redact import redact
from leadsync.core.notify.channels import Channel, ChannelSettings, NotDelivered, Refused
from leadsync.core.notify.messages import Notice

__all__ = ["EmailChannel", "EmailSettings", "build_message"]


class EmailSettings(ChannelSettings):
    smtp_host: str
    smtp_port: int = Field(587, gt=0, lt=65536)
    starttls: bool = True
    tls: bool = False  # implicit TLS (port 465); starttls is then ignored
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)

    model_config = ChannelSettings.model_config | {"populate_by_name": True}


def build_message(notice: Notice, sender: str, recipients: list[str]) -> EmailMessage:
    """A text/plain UTF-8 message; the Japanese subject is RFC 2047 encoded by the policy."""
    message = EmailMessage()
    message["Subject"] = notice.title
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2] or "leadsync.invalid"
    # The same notice always has the same Message-ID, so a resend is recognisably the same mail.
    message["Message-ID"] = f"<{hashlib.sha256(notice.key.encode()).hexdigest()[:32]}@{domain}>"
    message["X-Leadsync-Key"] = notice.key
    message.set_content(notice.plain(), charset="utf-8")
    return message


class EmailChannel(Channel):
    kind = "email"
    settings: EmailSettings
    settings_model: ClassVar[type[ChannelSettings]] = EmailSettings
    idempotent = True  # a resend carries the same Message-ID

    def send(self, notice: Notice) -> None:
        s = self.settings
        message = build_message(notice, s.from_, s.to)
        context = ssl.create_default_context()
        try:
            if s.tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.timeout_s, context=context)
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_s)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotDelivered(f"cannot connect to {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}") from None
        try:
            try:
                if s.starttls and not s.tls:
                    smtp.starttls(context=context)
                if s.username:
                    smtp.login(s.username, s.password.get_secret_value() if s.password else "")
            except smtplib.SMTPAuthenticationError as exc:
                raise Refused(f"SMTP login refused ({exc.smtp_code})") from None
            except (OSError, smtplib.SMTPException) as exc:
                raise NotDelivered(f"SMTP session failed before sending: {redact(exc)}") from None
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                raise Refused(f"recipients refused: {', '.join(exc.recipients)}") from None
            except smtplib.SMTPResponseException as exc:
                if 400 <= exc.smtp_code < 500:
                    raise NotDelivered(f"SMTP {exc.smtp_code} (temporary)") from None
                raise Refused(f"SMTP {exc.smtp_code}") from None
            except (socket.timeout, OSError, smtplib.SMTPServerDisconnected) as exc:
                raise TimeoutError(f"SMTP answer lost: {type(exc).__name__}") from None
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
