"""A real SMTP server on loopback (aiosmtpd), a throwaway TLS certificate, a small inventory."""

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

START = datetime.datetime(2026, 3, 2, 1, 0, tzinfo=datetime.UTC)
CANARY = "canary-Pw-7f3a9c"


@dataclass
class Received:
    """One message the server took."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """Records what arrives; ``reply`` and ``delay`` make it refuse or dawdle."""

    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    reply: str = "250 OK"
    delay: float = 0.0

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reply.startswith("250"):
            parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
            assert isinstance(parsed, EmailMessage)
            self.received.append(Received(envelope.mail_from or "", envelope.rcpt_tos, parsed))
        return self.reply

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login == b"runbook" and auth_data.password == CANARY.encode()
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    """An aiosmtpd server on 127.0.0.1 that a test can stop and start again on its port."""

    port: int
    handler: Handler
    tls: ssl.SSLContext | None = None
    controller: Controller | None = None

    def start(self) -> "Server":
        kwargs: dict[str, Any] = {}
        if self.tls is not None:
            kwargs = {
                "tls_context": self.tls,
                "require_starttls": True,
                "authenticator": self.handler.authenticate,
                "auth_required": True,
            }
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return a throwaway self-signed certificate for 127.0.0.1 and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    """Return a factory of servers; every server it made is stopped at the end."""
    made: list[Server] = []

    def make(*, port: int | None = None, tls: ssl.SSLContext | None = None, start: bool = True):
        server = Server(port or free_port(), Handler(), tls)
        made.append(server)
        return server.start() if start else server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def tls_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """Return the server side TLS context of the throwaway certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep each test's outbox apart, and no SMTP password from the environment."""
    directory = tmp_path / "data"
    monkeypatch.setenv("RUNBOOK_DATA_DIR", str(directory))
    monkeypatch.delenv("RUNBOOK_SMTP_PASSWORD", raising=False)
    return directory


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """Return an inventory directory whose ``group_vars/all/`` holds the contacts."""
    all_vars = tmp_path / "inventory" / "group_vars" / "all"
    all_vars.mkdir(parents=True)
    (all_vars / "isps.yml").write_text(
        yaml.safe_dump(
            {
                "batiknet_isps": {
                    "isp_a": {
                        "name": "PT Contoh Net",
                        "contacts": [
                            {"name": "NOC Contoh", "email": "noc@isp-a.example", "phone": "1"},
                            {"name": "Sales", "phone": "2"},
                            {"name": "Helpdesk", "email": "help@isp-a.example"},
                        ],
                        "support_hours": "24x7",
                    },
                    "isp_b": {"name": "PT Tanpa Email", "contacts": [{"name": "Call only"}]},
                }
            }
        )
    )
    (all_vars / "sites.yml").write_text(
        "batiknet_sites:\n"
        "  opd1:\n"
        "    name: Dinas Pendidikan\n"
        "    provider: isp_a\n"
        "    circuit_id: CID-0001\n"
        "    contact: {name: Bapak Admin, email: admin@opd1.example, phone: '3'}\n"
        "  opd2:\n"
        "    name: Dinas Kesehatan\n"
        "    contact: {name: Ibu Admin}\n"
        "batiknet_snmp_community: !vault |\n"
        "  $ANSIBLE_VAULT;1.1;AES256\n"
        "  3132\n"
    )
    return tmp_path / "inventory"


def smtp_config(port: int, **smtp: Any) -> dict[str, Any]:
    """Return a configuration mapping delivering to 127.0.0.1:``port`` in clear."""
    return {
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "timeout_seconds": 5}
        | smtp,
        "notify": {"sender": "runbook@diskominfo.example", "message_id_domain": "test.example"},
        "escalation": {"official_email": "pengaduan@diskominfo.example", "official_name": "PP"},
    }
