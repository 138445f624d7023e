"""EmailNotifier: mails an alert to the agency it was routed to (smtplib)."""
from __future__ import annotations

import logging
import os
import smtplib
import ssl as ssl_module
from email.message import EmailMessage
from datetime import tzinfo
from email.utils import formatdate, make_msgid

from pydantic import Field, model_validator

from index.configbase import StrictModel
from index.schema import DEFAULT_TZ, Alert, AlertLevel

from ..alerts import AlertChange
from ..config import AgenciesFile
from .base import NotificationError, Notifier, NotifierContext, from_env
from .text import alert_html, alert_text, subject_line

logger = logging.getLogger(__name__)


class EmailOptions(StrictModel):
    """SMTP delivery. Secrets never live in YAML: the password (and optionally the user) come from the
    environment variables named here."""
    smtp_host: str
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="default 465 with ssl, else 25")
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    starttls: bool = Field(default=False, description="upgrade a plain connection with STARTTLS")
    ssl: bool = Field(default=False, description="connect over TLS from the start (SMTPS, usually port 465)")
    username: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    always_to: list[str] = Field(default_factory=list, description="addresses that get every alert too")
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> "EmailOptions":
        if self.starttls and self.ssl:
            raise ValueError("give starttls or ssl, not both")
        if self.username is not None and self.username_env is not None:
            raise ValueError("give username or username_env, not both")
        if (self.username is not None or self.username_env is not None) != (self.password_env is not None):
            raise ValueError("SMTP login needs both a user (username or username_env) and password_env")
        return self


class EmailNotifier(Notifier):
    """Sends to the routed agency's contact emails, else the default agency's, plus any `always_to`."""

    options_model = EmailOptions

    def __init__(self, *, smtp_host: str, smtp_port: int | None = None, sender: str, agencies: AgenciesFile,
                 always_to: list[str] | None = None, name: str = "email",
                 min_level: AlertLevel | str = AlertLevel.blue, starttls: bool = False, ssl: bool = False,
                 username: str | None = None, password_env: str | None = None, timeout: float = 10.0,
                 tz: tzinfo = DEFAULT_TZ):
        super().__init__(name, min_level, tz)
        self.ssl = ssl
        self.smtp_host, self.smtp_port, self.sender = smtp_host, smtp_port or (465 if ssl else 25), sender
        self.agencies = {a.id: a for a in agencies.agencies}
        self.default_agency = agencies.default_agency
        self.always_to = list(always_to or [])
        self.starttls, self.username, self.password_env, self.timeout = starttls, username, password_env, timeout
        # alert → (file name, DOCX bytes) of its 专报, attached to 红 alerts; the shell sets it
        self.report_for = None

    @classmethod
    def from_config(cls, settings, options: EmailOptions, context: NotifierContext) -> "EmailNotifier":
        username = from_env(options.username_env, "SMTP user") if options.username_env else options.username
        if options.password_env:
            from_env(options.password_env, "SMTP password")
        return cls(smtp_host=options.smtp_host, smtp_port=options.smtp_port, sender=options.sender,
                   agencies=context.agencies, always_to=options.always_to, name=settings.name,
                   min_level=settings.min_level, starttls=options.starttls, ssl=options.ssl,
                   username=username, password_env=options.password_env, timeout=options.timeout_s, tz=context.tz)

    def recipients(self, alert: Alert) -> list[str]:
        """The owning agency's addresses (else the duty desk's), the agencies it was reported to
        (直报, overdue), then `always_to`."""
        agency = self.agencies.get(alert.agency or "") or self.agencies[self.default_agency]
        emails = agency.contact.email or self.agencies[self.default_agency].contact.email
        above = [e for a in alert.reported_to if a in self.agencies for e in self.agencies[a].contact.email]
        return list(dict.fromkeys([*emails, *above, *self.always_to]))

    @property
    def tls_context(self) -> ssl_module.SSLContext:
        """Certificates are verified against the system store (SSL_CERT_FILE points elsewhere)."""
        return ssl_module.create_default_context()

    def send_to(self, addresses: list[str], alert: Alert, change: AlertChange) -> None:
        """The alert to these addresses instead of the agency's (a subscriber's)."""
        self._deliver(self.build_message(alert, change, to=addresses), alert.id)

    def send_text_to(self, addresses: list[str], subject: str, body: str) -> None:
        """A plain-text message (a digest) to these addresses."""
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, self.sender, ", ".join(addresses)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(body + "\n", charset="utf-8")
        self._deliver(message, "digest")

    def send_files_to(self, addresses: list[str], subject: str, body: str,
                      files: list[tuple[str, bytes, str]], message_id: str | None = None) -> None:
        """A plain-text message with attachments (name, data, MIME type), e.g. the 日报."""
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, self.sender, ", ".join(addresses)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(idstring=message_id, domain=self.sender.rpartition("@")[2] or None)
        message.set_content(body + "\n", charset="utf-8")
        for name, data, mime in files:
            maintype, _, subtype = mime.partition("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        self._deliver(message, subject)

    def build_message(self, alert: Alert, change: AlertChange, to: list[str] | None = None) -> EmailMessage:
        to = to or self.recipients(alert)
        if not to:
            raise NotificationError(f"{self.name}: no email address for agency {alert.agency!r} "
                                    f"nor default agency {self.default_agency!r}")
        message = EmailMessage()
        message["Subject"] = subject_line(alert, change)
        message["From"] = self.sender
        message["To"] = ", ".join(to)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message["X-Yuqing-Alert-Id"] = alert.id
        message.set_content(alert_text(alert, change, self.tz), charset="utf-8")
        message.add_alternative(alert_html(alert, change, self.tz), subtype="html", charset="utf-8")
        if self.report_for is not None and alert.level == "红":
            try:
                attachment = self.report_for(alert)
            except Exception as exc:  # noqa: BLE001 - the alert must go out even when its 专报 cannot be made
                logger.warning("专报 for %s not attached: %s", alert.id, exc)
            else:
                if attachment is not None:
                    name, data = attachment
                    message.add_attachment(data, maintype="application",
                                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                                           filename=name)
        return message

    def send(self, alert: Alert, change: AlertChange) -> None:
        self._deliver(self.build_message(alert, change), alert.id)

    def _deliver(self, message: EmailMessage, what: str) -> None:
        try:
            connect = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
            with connect(self.smtp_host, self.smtp_port, timeout=self.timeout,
                         **({"context": self.tls_context} if self.ssl else {})) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context)
                if self.username:
                    smtp.login(self.username, os.environ.get(self.password_env or "", ""))
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(f"{self.name}: sending alert {what} via "
                                    f"{self.smtp_host}:{self.smtp_port} failed: {exc}") from exc
        logger.info("alert %s mailed to %s", what, message["To"])
