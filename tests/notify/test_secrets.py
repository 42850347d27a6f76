"""STARTTLS and AUTH against the real server; the password never shows anywhere."""

import base64
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from ansible.constants import DEFAULT_VAULT_ID_MATCH
from ansible.parsing.vault import VaultLib, VaultSecret

from runbook_runner import outbox_commands
from runbook_runner.errors import ConfigError
from runbook_runner.mailer import Secret, SmtpSettings, load_password
from runbook_runner.notifications import enqueue, flush, load_config, outbox_for
from runbook_runner.outbox import PENDING, Recipient

from .conftest import CANARY, START, Handler, Server, free_port, smtp_config

FORMS = (CANARY, base64.b64encode(CANARY.encode()).decode())


def _tls_config(port: int, ca_file: Path, **smtp: object) -> dict:
    return smtp_config(port, security="starttls", username="runbook", ca_file=str(ca_file), **smtp)


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text


def test_starttls_and_auth_deliver_without_the_password_in_logs_or_files(
    *,
    servers: Callable[..., Server],
    tls_context: ssl.SSLContext,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("RUNBOOK_SMTP_PASSWORD", CANARY)
    server = servers(tls=tls_context)
    config = _tls_config(server.port, certificate[0])
    entry = enqueue("isp-ticket", "INC-2026-0020", [Recipient("noc@isp-a.example")], "s", "t",
                    config=config, now=START)  # fmt: skip

    report = flush(config, START)

    assert [m.name for m in report.sent] == [entry.name]
    assert server.handler.logins == ["runbook"]
    stored = "".join(p.read_text("utf-8", "replace") for p in data_dir.rglob("*") if p.is_file())
    _assert_no_secret(caplog.text, *capsys.readouterr(), stored)


def test_rejected_password_is_reported_without_showing_it(
    *,
    servers: Callable[..., Server],
    tls_context: ssl.SSLContext,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("RUNBOOK_SMTP_PASSWORD", CANARY + "-wrong")
    monkeypatch.setenv("RUNBOOK_CONFIG", str(data_dir.parent / "runbook.toml"))
    server = servers(tls=tls_context)
    config = _tls_config(server.port, certificate[0])
    entry = enqueue("isp-ticket", "INC-2026-0021", [Recipient("noc@isp-a.example")], "s", "t",
                    config=config, now=START)  # fmt: skip

    report = flush(config, START)
    monkeypatch.setattr(outbox_commands.notifications, "load_config", lambda: load_config(config))
    outbox_commands.list_command(_Args(all=True))

    stored = outbox_for(load_config(config)).get(entry.name)
    assert stored.state == PENDING and stored.error_kind == "auth", stored.last_error
    assert report.error is not None
    files = "".join(p.read_text("utf-8", "replace") for p in data_dir.rglob("*") if p.is_file())
    _assert_no_secret(
        caplog.text, *capsys.readouterr(), files, report.error, str(stored), repr(stored)
    )


def test_untrusted_certificate_fails_as_tls_and_stays_pending(
    servers: Callable[..., Server], tls_context: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_SMTP_PASSWORD", CANARY)
    server = servers(tls=tls_context)
    config = smtp_config(server.port, security="starttls", username="runbook")
    entry = enqueue("isp-ticket", "INC-2026-0022", [Recipient("noc@isp-a.example")], "s", "t",
                    config=config, now=START)  # fmt: skip

    flush(config, START)

    stored = outbox_for(load_config(config)).get(entry.name)
    assert stored.error_kind == "tls", stored.last_error
    assert server.handler.logins == []


def test_password_comes_from_an_ansible_vault_file(tmp_path: Path) -> None:
    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(b"vault-key"))])
    (tmp_path / "smtp.vault.yml").write_bytes(
        vault.encrypt(f"batiknet_smtp_password: {CANARY}\n".encode())
    )
    (tmp_path / "vault-pass").write_text("vault-key\n")
    settings = SmtpSettings.from_mapping(
        {
            "host": "127.0.0.1",
            "username": "runbook",
            "password_vault": "smtp.vault.yml",
            "vault_password_file": "vault-pass",
        },
        tmp_path,
    )

    secret = load_password(settings, environ={})

    assert secret.reveal() == CANARY
    assert CANARY not in repr(secret) and CANARY not in str(secret)


def test_missing_password_names_the_variable_and_not_a_value() -> None:
    settings = SmtpSettings(host="127.0.0.1", username="runbook")

    with pytest.raises(ConfigError, match="RUNBOOK_SMTP_PASSWORD"):
        load_password(settings, environ={})


def test_password_in_clear_is_refused_by_configuration() -> None:
    with pytest.raises(ConfigError, match="in clear"):
        SmtpSettings.from_mapping(
            {"host": "127.0.0.1", "username": "u", "security": "none"}, Path()
        )


def test_secret_redacts_itself_and_its_base64_form() -> None:
    secret = Secret(CANARY)
    text = f"535 bad {CANARY} {FORMS[1]}"

    assert secret.redact(text) == "535 bad *** ***"


class _Args:
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def test_implicit_tls_delivers_with_the_configured_ca(
    tls_context: ssl.SSLContext, certificate: tuple[Path, Path]
) -> None:
    handler = Handler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), ssl_context=tls_context
    )
    controller.start()
    try:
        config = smtp_config(controller.port, security="tls", ca_file=str(certificate[0]))
        enqueue("isp-ticket", "INC-2026-0023", [Recipient("noc@isp-a.example")], "s", "t",
                config=config, now=START)  # fmt: skip

        report = flush(config, START)
    finally:
        controller.stop()

    assert len(report.sent) == 1 and len(handler.received) == 1, report
