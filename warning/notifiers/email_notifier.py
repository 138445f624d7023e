"""EmailNotifier: mails an alert to the agency it was routed to (smtplib)."""
from __future__ import annotations

import logging
import os
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from index.schema import Alert, AlertLevel
from yuqing.config import AgenciesFile

from ..alerts import AlertChange
from .base import NotificationError, Notifier
from .text import alert_text, subject_line

logger = logging.getLogger(__name__)


class EmailNotifier(Notifier):
    """Sends to the routed agency's contact emails, else the default agency's, plus any `always_to`."""

    def __init__(self, *, smtp_host: str, smtp_port: int = 25, sender: str, agencies: AgenciesFile,
                 always_to: list[str] | None = None, name: str = "email",
                 min_level: AlertLevel | str = AlertLevel.blue, starttls: bool = False,
                 username: str | None = None, password_env: str | None = None, timeout: float = 10.0):
        super().__init__(name, min_level)
        self.smtp_host, self.smtp_port, self.sender = smtp_host, smtp_port, sender
        self.agencies = {a.id: a for a in agencies.agencies}
        self.default_agency = agencies.default_agency
        self.always_to = list(always_to or [])
        self.starttls, self.username, self.password_env, self.timeout = starttls, username, password_env, timeout

    def recipients(self, alert: Alert) -> list[str]:
        agency = self.agencies.get(alert.agency or "") or self.agencies[self.default_agency]
        emails = agency.contact.email or self.agencies[self.default_agency].contact.email
        return list(dict.fromkeys([*emails, *self.always_to]))

    def build_message(self, alert: Alert, change: AlertChange) -> EmailMessage:
        to = self.recipients(alert)
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
        message.set_content(alert_text(alert, change), charset="utf-8")
        return message

    def send(self, alert: Alert, change: AlertChange) -> None:
        message = self.build_message(alert, change)
        try:
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, os.environ.get(self.password_env or "", ""))
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(f"{self.name}: sending alert {alert.id} via "
                                    f"{self.smtp_host}:{self.smtp_port} failed: {exc}") from exc
        logger.info("alert %s mailed to %s", alert.id, message["To"])
