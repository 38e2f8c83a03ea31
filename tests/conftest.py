"""SMTP fixtures: a real aiosmtpd server with TLS and AUTH on an ephemeral local port.

``smtp_server`` speaks STARTTLS (required before AUTH and mail); ``smtps_server``
wraps the listening socket in TLS from the first byte (implicit TLS, port 465
style). Both accept exactly one user and password, trust nothing but a
self-signed certificate made for the session (CN/SAN 127.0.0.1 and localhost),
record what they receive byte for byte, and can refuse chosen recipients.

Their ``recorder`` injects the faults real servers produce, from inside the
SMTP dialogue (see :class:`Recorder`): a reply at MAIL, RCPT or DATA (4xx, 5xx, or
421 with the connection closed), a connection dropped after the message body,
a server that does not answer in time, a slow DATA. ``silent_port`` is a port
that accepts TCP connections and never says anything (no greeting, no TLS).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
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


STAGES = ("MAIL", "RCPT", "DATA")


@dataclass
class _Fault:
    """A reply (or a hang) waiting for its stage; ``times`` None means every time."""

    stage: str
    reply: str | None = None
    times: int | None = 1
    address: str | None = None
    seconds: float = 0.0
    drop: bool = False


@dataclass
class Recorder:
    """aiosmtpd handler that keeps every message and injects faults on request.

    ``fail``, ``drop_after_data`` and ``hang`` arm a fault for the next
    occurrences of a stage; the handler plays it inside the real SMTP dialogue,
    so the client sees exactly what a real server would send (or not send).
    ``messages`` holds what the server accepted, and also a message whose reply
    was dropped: in reality that one may well have been delivered.
    """

    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[tuple[str, bool]] = field(default_factory=list)
    data_delay: float = 0.0  # seconds every DATA waits before its 250
    faults: list[_Fault] = field(default_factory=list)
    played: list[tuple[str, str]] = field(default_factory=list)  # (stage, what was done)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, stage: str, reply: str, times: int | None = 1,
             address: str | None = None) -> None:
        """Answer ``reply`` at ``stage`` the next ``times`` times (RCPT: for ``address``).

        A ``421`` reply also closes the connection after it is sent, as a server
        shutting down or shedding load does.
        """
        assert stage in STAGES, stage
        self._arm(_Fault(stage, reply=reply, times=times, address=address))

    def drop_after_data(self, times: int | None = 1) -> None:
        """Take the whole message, keep it, then close the connection without a reply."""
        self._arm(_Fault("DATA", times=times, drop=True))

    def hang(self, stage: str, seconds: float, times: int | None = None) -> None:
        """Wait ``seconds`` at ``stage`` before answering (every time unless ``times``)."""
        assert stage in STAGES and seconds > 0, (stage, seconds)
        self._arm(_Fault(stage, times=times, seconds=seconds))

    def _arm(self, fault: _Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _take(self, stage: str, address: str | None = None, *,
              hang: bool = False) -> _Fault | None:
        """The first armed fault for this stage (and address), counted down."""
        with self._lock:
            for fault in self.faults:
                if fault.stage != stage or (fault.seconds > 0) != hang:
                    continue
                if fault.address is not None and fault.address != address:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    async def _play(self, server, stage: str, address: str | None = None,
                    received: Received | None = None) -> str | None:
        """Hang if asked, then the injected reply for this stage, if any.

        ``received`` is the message at DATA: a dropped connection keeps it.
        """
        hang = self._take(stage, address, hang=True)
        if hang is not None:
            self.played.append((stage, f"hang {hang.seconds:g} s"))
            await asyncio.sleep(hang.seconds)
        fault = self._take(stage, address)
        if fault is None:
            return None
        if fault.drop:
            assert received is not None
            self.messages.append(received)  # in reality it may well have been delivered
            self.played.append((stage, "drop"))
            await _close_and_wait(server)
        assert fault.reply is not None
        self.played.append((stage, fault.reply))
        if fault.reply.startswith("421"):
            await server.push(fault.reply)
            await _close_and_wait(server)
        return fault.reply

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = await self._play(server, "MAIL")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = await self._play(server, "RCPT", address)
        if reply is not None:
            return reply
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # aiosmtpd calls this once the whole body has arrived: a fault here is the
        # reply to the message itself, after the client has sent every byte.
        received = Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                            envelope.original_content)
        reply = await self._play(server, "DATA", received=received)
        if reply is not None:
            return reply
        await asyncio.sleep(self.data_delay)
        self.messages.append(received)
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == SMTP_USER
              and auth_data.password.decode() == SMTP_PASSWORD)
        self.logins.append((auth_data.login.decode() if auth_data else "", ok))
        # handled=False lets aiosmtpd answer a failure with its own 535 reply.
        return AuthResult(success=ok, handled=False)


async def _close_and_wait(server) -> None:
    """Close the connection and wait to be cancelled, as aiosmtpd does when it goes away.

    Returning instead would make aiosmtpd write a reply to a closed transport.
    """
    server.transport.close()
    await asyncio.Event().wait()


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


def _serve(smtp_tls: TlsFiles, security: str, **extra):
    recorder = Recorder()
    options: dict = {"authenticator": recorder.authenticate, "server_hostname": "localhost",
                     **extra}
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


@pytest.fixture
def ascii_smtp_server(smtp_tls):
    """STARTTLS as ``smtp_server``, without SMTPUTF8 (no non-ASCII mailbox names)."""
    yield from _serve(smtp_tls, "starttls", enable_SMTPUTF8=False)


@pytest.fixture
def silent_port():
    """A local port that completes TCP connections and never says a word.

    The socket listens but never accepts: the kernel finishes the handshake from
    its backlog, so the client waits for a greeting (or a TLS reply) forever.
    """
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


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


def own_config(sample, tmp_path: Path) -> Path:
    """The sample config beside its exports, writing to this test's own output folders."""
    path, _ = sample
    text = path.read_text("utf-8").replace('output_dir = "out"', f'output_dir = "{tmp_path}/out"')
    text = text.replace('outbox_dir = "outbox"', f'outbox_dir = "{tmp_path}/outbox"')
    copy = path.parent / f"{tmp_path.name}.toml"
    copy.write_text(text, "utf-8")
    return copy


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Each test its own (empty) canonical cache, so that every test still reads and
    checks its exports, and none sees another's entries."""
    monkeypatch.setenv("YUEBAO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
