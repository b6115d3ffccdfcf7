"""E-mail for notifications, sent with smtplib when SMTP is configured (no SMTP_HOST: no mail, the bell only).

Settings (environment): ``SMTP_HOST``; ``SMTP_PORT`` (25, or 465 with ``SMTP_SSL=1``); ``SMTP_STARTTLS=1`` to
upgrade a plain connection; ``SMTP_USER`` and ``SMTP_PASSWORD`` to log in; ``SMTP_FROM`` (the sender, default
``accountability@localhost``); ``SMTP_TIMEOUT`` (seconds, 10); ``ACCOUNTABILITY_BASE_URL`` (the address staff open
the app at, for the link in each mail).
"""
from __future__ import annotations

import os
import smtplib
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Iterator, Mapping


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "accountability@localhost"
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SmtpSettings | None":
        env = os.environ if env is None else env
        host = (env.get("SMTP_HOST") or "").strip()
        if not host:
            return None
        use_ssl = env.get("SMTP_SSL", "") in ("1", "true", "yes")
        return cls(host=host, port=int(env.get("SMTP_PORT") or (465 if use_ssl else 25)),
                   user=env.get("SMTP_USER") or None, password=env.get("SMTP_PASSWORD") or None,
                   sender=env.get("SMTP_FROM") or cls.sender,
                   starttls=env.get("SMTP_STARTTLS", "") in ("1", "true", "yes"), use_ssl=use_ssl,
                   timeout=float(env.get("SMTP_TIMEOUT") or 10))


class Mailer:
    """Sends plain-text mails over one SMTP connection per batch."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    @classmethod
    def from_env(cls) -> "Mailer | None":
        settings = SmtpSettings.from_env()
        return cls(settings) if settings else None

    @contextmanager
    def connection(self) -> Iterator["_Connection"]:
        s = self.settings
        context = ssl.create_default_context()
        if s.use_ssl:
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                smtp.starttls(context=context)
            if s.user:
                smtp.login(s.user, s.password or "")
            yield _Connection(smtp, s.sender)
        finally:
            try:
                smtp.quit()
            except smtplib.SMTPException:
                smtp.close()


class _Connection:
    def __init__(self, smtp: smtplib.SMTP, sender: str):
        self.smtp = smtp
        self.sender = sender

    def send(self, to: str, subject: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, to, subject
        msg.set_content(body)
        self.smtp.send_message(msg)
