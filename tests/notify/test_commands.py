"""``runbook outbox list|flush|retry`` through the command line."""

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook_runner import outbox_commands
from runbook_runner.config import load_config as load_office_config
from runbook_runner.notifications import enqueue, flush, flush_due
from runbook_runner.outbox import OutboxError, Recipient

from .conftest import Server, free_port


def _write_config(path: Path, port: int) -> None:
    path.write_text(
        "[smtp]\n"
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout_seconds = 5\n'
        "[notify]\n"
        'sender = "runbook@diskominfo.example"\n'
    )


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    outbox_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def config_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    port = free_port()
    _write_config(tmp_path / "runbook.toml", port)
    monkeypatch.setenv("RUNBOOK_CONFIG", str(tmp_path / "runbook.toml"))
    return port


def test_list_shows_what_is_pending_and_why(
    config_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = enqueue(
        "isp-ticket", "INC-2026-0040", [Recipient("noc@isp-a.example")], "[bold]Tiket[/]", "t"
    )
    flush()

    assert _run("outbox", "list") == 0

    out = capsys.readouterr().out
    assert entry.name[:20] in out
    assert "[bold]Tiket[/]" in out
    assert "unreachable" in out and "pending" in out


def test_flush_delivers_and_then_list_all_shows_it_sent(
    config_port: int, servers: Callable[..., Server], capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue("isp-ticket", "INC-2026-0041", [Recipient("noc@isp-a.example")], "Tiket", "t")
    servers(port=config_port)

    assert _run("outbox", "flush") == 0
    assert _run("outbox", "list", "--all") == 0

    out = capsys.readouterr().out
    assert "1 sent, 0 still pending" in out
    assert "sent" in out.split("1 sent")[1]


def test_flush_exits_1_when_a_message_is_left_pending(
    config_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    enqueue("isp-ticket", "INC-2026-0042", [Recipient("noc@isp-a.example")], "Tiket", "t")

    assert _run("outbox", "flush") == 1
    assert "0 sent, 1 still pending" in capsys.readouterr().out


def test_retry_refuses_a_sent_message(config_port: int, servers: Callable[..., Server]) -> None:
    entry = enqueue("isp-ticket", "INC-2026-0043", [Recipient("noc@isp-a.example")], "T", "t")
    servers(port=config_port)
    flush(now=datetime.now(UTC))

    with pytest.raises(OutboxError, match="not sent again"):
        _run("outbox", "retry", entry.name)


def test_flush_of_an_unknown_name_says_how_to_find_the_names(config_port: int) -> None:
    with pytest.raises(OutboxError, match="INC-2026-9999") as raised:
        _run("outbox", "flush", "INC-2026-9999.isp-ticket.0000000000")

    assert "runbook outbox list" in (raised.value.hint or "")


def test_flush_due_takes_the_office_config_object(
    config_port: int, servers: Callable[..., Server]
) -> None:
    enqueue("isp-ticket", "INC-2026-0044", [Recipient("noc@isp-a.example")], "T", "t")
    server = servers(port=config_port)

    report = flush_due(load_office_config())

    assert len(report.sent) == 1 and len(server.handler.received) == 1, report
