"""The outbox on disk: stable names, one entry per document, recovery after a crash."""

import json
import os
import time
from collections.abc import Callable
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from runbook_runner import notices
from runbook_runner.errors import UsageError
from runbook_runner.escalation import write_escalation_message
from runbook_runner.notifications import enqueue, flush, load_config, outbox_for
from runbook_runner.outbox import (
    PENDING,
    SENT,
    AddressError,
    AttachmentError,
    Recipient,
    Retry,
    message_name,
)

from .conftest import START, Server, free_port, smtp_config

TO = [Recipient("noc@isp-a.example", "NOC")]


def _enqueue(config: dict, incident: str = "INC-2026-0100", subject: str = "Tiket"):
    return enqueue("isp-ticket", incident, TO, subject, "Isi", config=config, now=START)


def test_message_name_is_stable_and_distinct_per_document() -> None:
    first = message_name("isp-ticket", "INC-2026-0001")

    assert first == message_name("isp-ticket", "INC-2026-0001")
    assert first.startswith("INC-2026-0001.isp-ticket.")
    assert first != message_name("completion-notice", "INC-2026-0001")
    assert first != message_name("isp-ticket", "INC-2026-0002")


@pytest.mark.parametrize(
    "kind", ["../etc", "a b", "", "x\ny"], ids=["path", "space", "empty", "lf"]
)
def test_message_name_refuses_what_is_not_a_plain_name(kind: str) -> None:
    with pytest.raises(UsageError):
        message_name(kind, "INC-2026-0001")


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (40, 3600)],
    ids=["first", "second", "third", "sixth", "capped", "far"],
)
def test_back_off_doubles_up_to_the_cap(attempts: int, seconds: int) -> None:
    assert Retry(60, 3600, 48).delay(attempts) == timedelta(seconds=seconds)


def test_enqueue_writes_an_rfc5322_message_and_its_sidecar(data_dir: Path) -> None:
    entry = _enqueue(smtp_config(free_port()))

    eml = data_dir / "outbox" / "pending" / f"{entry.name}.eml"
    sidecar = json.loads(eml.with_suffix(".json").read_text())
    parsed = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert parsed["Message-ID"] == f"<{entry.name}@test.example>"
    assert parsed["X-Runbook-Incident"] == "INC-2026-0100"
    assert [p.get_content_type() for p in parsed.walk()] == [
        "multipart/alternative", "text/plain", "text/html",
    ]  # fmt: skip
    assert sidecar["state"] == PENDING and sidecar["attempts"] == 0
    assert sidecar["next_attempt_at"] == START.isoformat()
    assert not [p for p in eml.parent.iterdir() if p.name.startswith(".")]


def test_enqueue_twice_keeps_the_first_message() -> None:
    config = smtp_config(free_port())
    first = _enqueue(config, subject="first")
    second = _enqueue(config, subject="second")

    assert second.name == first.name and second.subject == "first"
    assert len(outbox_for(load_config(config)).entries()) == 1


def test_message_without_sidecar_is_adopted_and_delivered(
    servers: Callable[..., Server], data_dir: Path
) -> None:
    server = servers()
    config = smtp_config(server.port)
    entry = _enqueue(config)
    (data_dir / "outbox" / "pending" / f"{entry.name}.json").unlink()

    [adopted] = outbox_for(load_config(config)).entries()
    report = flush(config, START + timedelta(days=1))

    assert adopted.message_id == entry.message_id and adopted.recipients == entry.recipients
    assert [m.name for m in report.sent] == [entry.name]
    assert len(server.handler.received) == 1


def test_crash_after_the_commit_rename_is_finished_and_not_sent_again(
    servers: Callable[..., Server], data_dir: Path
) -> None:
    server = servers()
    config = smtp_config(server.port)
    entry = _enqueue(config)
    pending = data_dir / "outbox" / "pending"
    sent = data_dir / "outbox" / "sent"
    sent.mkdir()
    (pending / f"{entry.name}.eml").rename(sent / f"{entry.name}.eml")

    report = flush(config, START)

    assert report.skipped == "no message is due"
    assert outbox_for(load_config(config)).get(entry.name).state == SENT
    assert not list(pending.iterdir()) or not list(pending.glob("*.json"))
    assert server.handler.received == []


def test_interrupted_attempt_is_delivered_again_with_the_same_message_id(
    servers: Callable[..., Server], caplog: pytest.LogCaptureFixture
) -> None:
    server = servers()
    config = smtp_config(server.port)
    outbox = outbox_for(load_config(config))
    entry = outbox.mark_sending(_enqueue(config), START)

    flush(config, START + timedelta(minutes=5))

    [received] = server.handler.received
    assert received.message["Message-ID"] == entry.message_id
    assert outbox.get(entry.name).attempts == 2
    assert "may have reached the server" in caplog.text


def test_missing_attachment_and_bad_address_are_clear_errors(tmp_path: Path) -> None:
    config = smtp_config(free_port())

    with pytest.raises(AttachmentError, match=r"laporan\.pdf"):
        enqueue("completion-notice", "INC-2026-0101", TO, "s", "t",
                attachments=[tmp_path / "laporan.pdf"], config=config)  # fmt: skip
    with pytest.raises(AddressError, match="not-an-address"):
        enqueue("completion-notice", "INC-2026-0101", [Recipient("not-an-address")], "s", "t",
                config=config)  # fmt: skip
    assert outbox_for(load_config(config)).entries() == []


def test_escalation_written_by_the_sla_module_is_adopted_and_delivered_once(
    servers: Callable[..., Server], data_dir: Path
) -> None:
    server = servers()
    config = smtp_config(server.port)
    pending = data_dir / "outbox" / "pending"
    summary = {"id": "INC-2026-0102", "opd_name": "Dinas Pendidikan", "site": "opd1"}
    official = {"name": "PP", "email": "pengaduan@diskominfo.example"}
    sender = {"name": "Runbook", "email": "runbook@diskominfo.example"}

    path = write_escalation_message(pending, summary, "at_risk", official, sender=sender, now=START)
    first = flush(config, START)
    again = write_escalation_message(pending, summary, "at_risk", official, sender=sender)
    second = flush(config, START + timedelta(days=1))

    assert [m.name for m in first.sent] == [path.stem]
    assert again == path and not again.exists()
    assert second.skipped == "no message is due"
    [received] = server.handler.received
    assert received.rcpt_tos == ["pengaduan@diskominfo.example"]
    assert received.message["Subject"].startswith("[Batik.Net] Eskalasi INC-2026-0102")


def test_damaged_sidecar_is_set_aside_and_the_message_still_delivered(
    servers: Callable[..., Server], data_dir: Path
) -> None:
    server = servers()
    config = smtp_config(server.port)
    entry = _enqueue(config)
    sidecar = data_dir / "outbox" / "pending" / f"{entry.name}.json"
    sidecar.write_text("{not json")

    report = flush(config, START)

    assert [m.name for m in report.sent] == [entry.name]
    assert sidecar.with_suffix(".json.damaged").exists()
    assert len(server.handler.received) == 1


def test_escalation_from_notices_and_from_the_sla_module_share_one_name(data_dir: Path) -> None:
    config = smtp_config(free_port())
    summary = {"id": "INC-2026-0103"}
    official = {"name": "PP", "email": "pengaduan@diskominfo.example"}
    sender = {"name": "Runbook", "email": "runbook@diskominfo.example"}
    path = write_escalation_message(
        data_dir / "outbox" / "pending", summary, "beyond_reach", official, sender=sender
    )

    entry = notices.send_escalation(
        "INC-2026-0103", "opd1", "beyond_reach", notices.Document("t"), config=config, now=START
    )

    assert entry.name == path.stem
    assert len(outbox_for(load_config(config)).entries()) == 1


def test_non_ascii_address_is_refused_at_enqueue() -> None:
    with pytest.raises(AddressError, match="jaringan-ü") as raised:
        enqueue("isp-ticket", "INC-2026-0104", [Recipient("noc@jaringan-ü.example")], "s", "t",
                config=smtp_config(free_port()))  # fmt: skip
    assert "xn--" in (raised.value.hint or "")


def test_stale_temporary_file_of_a_killed_write_is_removed(data_dir: Path) -> None:
    config = smtp_config(free_port())
    entry = _enqueue(config)
    pending = data_dir / "outbox" / "pending"
    stale, fresh = pending / f".{entry.name}.eml.a1b2", pending / f".{entry.name}.json.c3d4"
    stale.write_bytes(b"From: half")
    fresh.write_bytes(b"{")
    old = time.time() - 3600
    os.utime(stale, (old, old))

    assert [m.name for m in outbox_for(load_config(config)).entries()] == [entry.name]
    assert not stale.exists() and fresh.exists()
