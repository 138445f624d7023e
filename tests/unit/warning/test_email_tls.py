"""E-mail over STARTTLS and over SMTPS, with login, against a real aiosmtpd server holding a certificate
made for 127.0.0.1; the notifier verifies it (SSL_CERT_FILE) and refuses a wrong password."""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from warning.alerts import AlertChange
from warning.notifiers import EmailNotifier, NotificationError

from test_notifiers import AGENCIES, free_port, make_alert


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((session.authenticated, envelope))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"yuqing", b"s3cret")
    return AuthResult(success=ok)


def server(certificate, *, implicit: bool):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    if implicit:
        # aiosmtpd does not count a TLS-wrapped listener as TLS for auth_require_tls; the socket is TLS anyway
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), ssl_context=context,
                                authenticator=authenticator, auth_required=True, auth_require_tls=False)
    else:
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                                require_starttls=True, authenticator=authenticator, auth_required=True,
                                auth_require_tls=True)
    controller.start()
    return controller, inbox


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_mail_over_tls_with_login(certificate, monkeypatch, implicit):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    controller, inbox = server(certificate, implicit=implicit)
    try:
        mail = EmailNotifier(smtp_host="127.0.0.1", smtp_port=controller.port, sender="yuqing@example.gov.cn",
                             agencies=AGENCIES, starttls=not implicit, ssl=implicit, username="yuqing",
                             password_env="SMTP_PASSWORD", timeout=5)
        alert = make_alert()
        mail.send(alert, AlertChange(alert, "new"))
        [(authenticated, envelope)] = inbox.messages
        assert authenticated and envelope.rcpt_tos == ["hjj@example.gov.cn"]
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert message.get_body(preferencelist=("html",)) is not None
        monkeypatch.setenv("SMTP_PASSWORD", "wrong")
        with pytest.raises(NotificationError, match="failed"):
            mail.send(alert, AlertChange(alert, "new"))
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_a_certificate_that_does_not_verify_is_refused(certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)     # the system store does not know our certificate
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    controller, inbox = server(certificate, implicit=False)
    try:
        mail = EmailNotifier(smtp_host="127.0.0.1", smtp_port=controller.port, sender="y@example.gov.cn",
                             agencies=AGENCIES, starttls=True, username="yuqing", password_env="SMTP_PASSWORD",
                             timeout=5)
        alert = make_alert()
        with pytest.raises(NotificationError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            mail.send(alert, AlertChange(alert, "new"))
        assert inbox.messages == []
    finally:
        controller.stop()
