"""SMTP fixtures: a real aiosmtpd server with TLS and AUTH on an ephemeral local port.

``smtp_server`` speaks STARTTLS (required before AUTH and mail); ``smtps_server``
wraps the listening socket in TLS from the first byte (implicit TLS, port 465
style). Both accept exactly one user and password, trust nothing but a
self-signed certificate made for the session (CN/SAN 127.0.0.1 and localhost),
record what they receive byte for byte, and can refuse chosen recipients.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from yuebao.config import Smtp

SMTP_USER = "reports@example.com"
SMTP_PASSWORD = "Pa55-w0rd!#unique-7f3a"


@dataclass(frozen=True)
class Received:
    """One message as the server got it: envelope and the exact DATA bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


@dataclass
class Recorder:
    """aiosmtpd handler that keeps every message and refuses listed recipients."""

    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                      envelope.original_content))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == SMTP_USER
              and auth_data.password.decode() == SMTP_PASSWORD)
        self.logins.append((auth_data.login.decode() if auth_data else "", ok))
        # handled=False lets aiosmtpd answer a failure with its own 535 reply.
        return AuthResult(success=ok, handled=False)


class _EphemeralController(Controller):
    """Controller bound to port 0; learns the real port before its readiness check."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def factory(self):
        # With implicit TLS, auth_require_tls must be off (see _serve), and
        # aiosmtpd then warns on every connection that AUTH may go in clear text.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return super().factory()


@dataclass
class SmtpServer:
    host: str
    port: int
    security: str
    ca_file: Path
    recorder: Recorder
    user: str = SMTP_USER
    password: str = SMTP_PASSWORD

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages

    def config(self, **overrides) -> Smtp:
        """A ``[delivery.smtp]`` section pointing at this server."""
        values = {
            "host": self.host, "port": self.port, "security": self.security,
            "user": self.user, "password_env": "YUEBAO_TEST_SMTP_PASSWORD",
            "sender_name": "物业管理部", "timeout_seconds": 5, "ca_file": self.ca_file,
        }
        values.update(overrides)
        return Smtp(**values)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def smtp_tls(tmp_path_factory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM)."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return files


def _serve(smtp_tls: TlsFiles, security: str):
    recorder = Recorder()
    options: dict = {"authenticator": recorder.authenticate, "server_hostname": "localhost"}
    if security == "starttls":
        options.update(tls_context=smtp_tls.server_context(), require_starttls=True,
                       auth_require_tls=True, auth_required=True)
    else:
        # aiosmtpd only counts STARTTLS as TLS for auth_require_tls, so with
        # implicit TLS (every byte already encrypted) that check is switched off.
        options.update(ssl_context=smtp_tls.server_context(), auth_require_tls=False,
                       auth_required=True)
    controller = _EphemeralController(recorder, hostname="127.0.0.1", port=0, **options)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, security, smtp_tls.cert, recorder)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(smtp_tls):
    """STARTTLS required, then AUTH (one user and password), then mail."""
    yield from _serve(smtp_tls, "starttls")


@pytest.fixture
def smtps_server(smtp_tls):
    """Implicit TLS on connect, then AUTH, then mail."""
    yield from _serve(smtp_tls, "ssl")


# --------------------------------------------------------------------------- Prefect


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect server for the session's flow runs (temporary database)."""
    from prefect.testing.utilities import prefect_test_harness  # after yuebao: offline

    with prefect_test_harness(server_startup_timeout=120):
        yield


# --------------------------------------------------------------------------- sample data

SAMPLE_MONTH = "2025-09"  # its plan is October's: heating preparation in the north


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """Realistic sample exports (four cities, 14 months to 2025-09) and their config."""
    from yuebao.months import Month
    from yuebao.tasks.sample_config import write_sample_config
    from yuebao.tasks.sample_data import generate_sample

    folder = tmp_path_factory.mktemp("sample")
    data = generate_sample(folder, seed=11, communities=4, months=14, scale=0.3,
                           last_month=Month.parse(SAMPLE_MONTH))
    return write_sample_config(data, folder / "yuebao.toml"), data
