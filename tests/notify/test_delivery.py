"""Delivery against a real SMTP server on loopback: success, down, refused, slow."""

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from runbook_runner import notices
from runbook_runner.notifications import enqueue, flush, flush_due, load_config, outbox_for
from runbook_runner.outbox import FAILED, PENDING, SENT, Recipient
from runbook_runner.recipients import load_inventory_vars

from .conftest import START, Server, free_port, smtp_config

TO = [Recipient("noc@isp-a.example", "NOC")]


def _enqueue(config: dict, kind: str = "isp-ticket", incident: str = "INC-2026-0001"):
    return enqueue(kind, incident, TO, "Tiket gangguan", "Isi tiket", config=config, now=START)


def test_completion_notice_reaches_the_agency_with_subject_and_pdf_attached(
    servers: Callable[..., Server], inventory: Path, tmp_path: Path
) -> None:
    server = servers()
    config = smtp_config(server.port)
    report_pdf = tmp_path / "laporan-INC-2026-0001.pdf"
    report_pdf.write_bytes(b"%PDF-1.7\n% laporan\n%%EOF\n")
    document = notices.Document("Laporan penyelesaian gangguan", attachments=(report_pdf,))

    entry = notices.send_completion_notice(
        "INC-2026-0001", "opd1", document, config=config,
        variables=load_inventory_vars(inventory), now=START,
    )  # fmt: skip
    report = flush(config, START)

    assert [m.name for m in report.sent] == [entry.name], report
    [received] = server.handler.received
    assert received.rcpt_tos == ["admin@opd1.example"]
    assert received.mail_from == "runbook@diskominfo.example"
    message = received.message
    assert message["Subject"] == (
        "Gangguan jaringan Dinas Pendidikan telah selesai ditangani (INC-2026-0001)"
    )
    assert message["Message-ID"] == entry.message_id
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == report_pdf.name
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == report_pdf.read_bytes()
    assert "Laporan penyelesaian gangguan" in message.get_body(("plain",)).get_content()
    assert outbox_for(load_config(config)).get(entry.name).state == SENT


def test_isp_ticket_goes_to_every_isp_contact_with_an_email_in_english(
    servers: Callable[..., Server], inventory: Path
) -> None:
    server = servers()
    config = smtp_config(server.port)

    notices.send_isp_ticket(
        "INC-2026-0002", "isp_a", "opd1", "CID-0001", notices.Document("Evidence"),
        lang="en", config=config, variables=load_inventory_vars(inventory), now=START,
    )  # fmt: skip
    flush(config, START)

    [received] = server.handler.received
    assert received.rcpt_tos == ["noc@isp-a.example", "help@isp-a.example"]
    assert (
        received.message["Subject"]
        == "Fault ticket INC-2026-0002: Dinas Pendidikan (circuit CID-0001)"
    )


def test_server_down_then_up_delivers_exactly_once(servers: Callable[..., Server]) -> None:
    port = free_port()
    config = smtp_config(port)
    entry = _enqueue(config)

    down = flush(config, START)
    pending = outbox_for(load_config(config)).get(entry.name)
    assert pending.state == PENDING and pending.error_kind == "unreachable", down
    assert pending.next_attempt_at == START + timedelta(seconds=60)
    assert flush(config, START + timedelta(seconds=30)).skipped == "no message is due"

    server = servers(port=port)
    up = flush(config, START + timedelta(seconds=61))
    again = flush(config, START + timedelta(days=1))
    enqueue_again = _enqueue(config)

    assert [m.name for m in up.sent] == [entry.name]
    assert again.skipped == "no message is due"
    assert enqueue_again.state == SENT
    assert flush(config, START + timedelta(days=2)).sent == []
    assert len(server.handler.received) == 1


def test_refused_message_stays_pending_with_the_servers_reason(
    servers: Callable[..., Server],
) -> None:
    server = servers()
    server.handler.reply = "550 5.7.1 Message rejected by policy"
    config = smtp_config(server.port)
    entry = _enqueue(config)

    report = flush(config, START)

    stored = outbox_for(load_config(config)).get(entry.name)
    assert report.failed and not report.sent
    assert stored.state == PENDING
    assert stored.error_kind == "refused"
    assert "550 5.7.1 Message rejected by policy" in (stored.last_error or "")


def test_slow_server_hits_the_timeout_and_the_message_stays_pending(
    servers: Callable[..., Server],
) -> None:
    server = servers()
    server.handler.delay = 3.0
    config = smtp_config(server.port, timeout_seconds=0.5)
    entry = _enqueue(config)

    flush(config, START)

    stored = outbox_for(load_config(config)).get(entry.name)
    assert stored.state == PENDING
    assert stored.error_kind == "timeout", stored.last_error
    assert server.handler.received == []


def test_one_refused_message_does_not_hold_back_the_others(
    servers: Callable[..., Server],
) -> None:
    server = servers()
    config = smtp_config(server.port)
    good = _enqueue(config, incident="INC-2026-0003")
    bad = enqueue(
        "isp-ticket", "INC-2026-0004", [Recipient("nobody@isp-a.example")], "s", "t",
        config=config, now=START + timedelta(seconds=1),
    )  # fmt: skip

    async def refuse_nobody(server_: object, session: object, envelope: object, address: str,
                            options: list[str]) -> str:  # fmt: skip
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 OK"

    server.handler.handle_RCPT = refuse_nobody  # type: ignore[attr-defined]
    report = flush(config, START + timedelta(seconds=2))

    assert [m.name for m in report.sent] == [good.name]
    assert [m.name for m in report.failed] == [bad.name]
    assert "550 5.1.1 No such user" in (report.failed[0].last_error or "")


def test_back_off_grows_and_gives_up_after_max_attempts_until_retried(
    servers: Callable[..., Server],
) -> None:
    port = free_port()
    config = smtp_config(port)
    config["notify"] |= {"retry_base_seconds": 10, "retry_cap_seconds": 25, "max_attempts": 4}
    entry = _enqueue(config)
    outbox = outbox_for(load_config(config))

    now, waits = START, []
    for _ in range(4):
        flush(config, now)
        stored = outbox.get(entry.name)
        if stored.next_attempt_at is None:
            break
        waits.append((stored.next_attempt_at - now).total_seconds())
        now = stored.next_attempt_at

    assert waits == [10, 20, 25]
    assert stored.state == FAILED and stored.attempts == 4
    assert flush(config, now + timedelta(days=1)).skipped == "no message is due"

    server = servers(port=port)
    outbox.requeue(entry.name, now)
    assert [m.name for m in flush(config, now).sent] == [entry.name]
    assert len(server.handler.received) == 1


def test_flush_due_opens_no_connection_when_nothing_is_due() -> None:
    config = smtp_config(free_port())

    assert flush_due(config, START).skipped == "no message is due"
    assert flush_due({"notify": {"sender": "a@b.example"}}, START).skipped.startswith(
        "no [smtp] host"
    )


def test_flush_due_turns_a_missing_password_into_a_warning(caplog) -> None:
    config = smtp_config(free_port(), username="runbook", security="starttls")
    _enqueue(config)

    report = flush_due(config, START)

    assert report.error is not None and "RUNBOOK_SMTP_PASSWORD" in report.error
    assert "delivery skipped" in caplog.text


def test_flush_skips_while_another_process_holds_the_delivery_lock() -> None:
    config = smtp_config(free_port())
    _enqueue(config)
    outbox = outbox_for(load_config(config))

    with outbox.delivery_lock() as held:
        assert held
        assert flush(config, START).skipped == "another runbook process is delivering"


def test_two_processes_flushing_at_once_deliver_once(
    servers: Callable[..., Server], tmp_path: Path, data_dir: Path
) -> None:
    server = servers()
    server.handler.delay = 1.0
    config_file = tmp_path / "runbook.toml"
    config_file.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        '[notify]\nsender = "runbook@diskominfo.example"\n'
    )
    _enqueue(smtp_config(server.port))
    env = {**os.environ, "RUNBOOK_CONFIG": str(config_file), "RUNBOOK_DATA_DIR": str(data_dir)}
    code = "from runbook_runner.notifications import flush; print(flush().summary())"

    runs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = sorted(run.communicate(timeout=30)[0].strip() for run in runs)

    assert len(server.handler.received) == 1, outputs
    assert outputs[0] == "1 sent, 0 still pending" or outputs[1] == "1 sent, 0 still pending"
