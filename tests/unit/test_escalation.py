"""Escalation to the complaints official: the decision table and the message file."""

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from runbook_runner.escalation import (
    EscalationError,
    EscalationReason,
    decide_escalation,
    write_escalation_message,
)
from runbook_runner.outbox import Outbox
from runbook_runner.sla import SlaClock

WIB = ZoneInfo("Asia/Jakarta")
OFFICIAL = {"name": "Ibu Pejabat Pengaduan", "email": "pengaduan@diskominfo.example"}
SENDER = {"name": "Runbook Batik.Net", "email": "runbook@diskominfo.example"}
NOW = datetime(2026, 3, 26, 5, 0, tzinfo=UTC)

AT_RISK = EscalationReason.AT_RISK
BEYOND = EscalationReason.BEYOND_REACH
BREACHED = EscalationReason.BREACHED


@pytest.mark.parametrize(
    ("status", "beyond_reach", "already", "expected"),
    [
        pytest.param("on_track", False, (), None, id="on-track-stays"),
        pytest.param(None, False, (), None, id="no-clock-stays"),
        pytest.param("at_risk", False, (), AT_RISK, id="at-risk-escalates"),
        pytest.param("breached", False, (), BREACHED, id="breached-escalates"),
        pytest.param("on_track", True, (), BEYOND, id="beyond-reach-escalates-on-track"),
        pytest.param("at_risk", True, (), BEYOND, id="beyond-reach-outranks-at-risk"),
        pytest.param("breached", True, (), BREACHED, id="breached-outranks-beyond-reach"),
        pytest.param("at_risk", False, ("at_risk",), None, id="at-risk-once"),
        pytest.param("breached", False, ("at_risk",), BREACHED, id="breach-after-risk"),
        pytest.param("at_risk", True, ("at_risk",), BEYOND, id="beyond-reach-after-risk"),
        pytest.param("at_risk", False, ("beyond_reach",), None, id="no-risk-after-beyond"),
        pytest.param("breached", True, ("breached",), None, id="nothing-above-breach"),
    ],
)
def test_decide_escalation(
    status: str | None,
    beyond_reach: bool,
    already: tuple[str, ...],
    expected: EscalationReason | None,
) -> None:
    assert decide_escalation(status, beyond_reach, already) == expected


def test_decide_escalation_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="late"):
        decide_escalation("late", False)


def _summary() -> dict[str, Any]:
    report = SlaClock.from_config().evaluate(
        datetime(2026, 3, 17, 15, 40, tzinfo=WIB), datetime(2026, 3, 26, 15, 41, tzinfo=WIB)
    )
    return {
        "id": "INC-2026-0007",
        "opd_name": "Dinas Kesehatan",
        "site": "opd1",
        "letter_no": "005/123/2026",
        "complaint": "Internet mati sejak pagi\r\nBcc: attacker@example.org",
        "assignee": "Teknisi A",
        "received_at": "2026-03-17T08:40:00+00:00",
        "sla": report.to_dict(),
    }


def _read(path: Path) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(path.read_bytes()))


def _address(message: EmailMessage, header: str) -> tuple[str, str]:
    address = message[header].addresses[0]
    return address.display_name, address.addr_spec


def test_the_message_in_bahasa_indonesia_addresses_the_official(tmp_path: Path) -> None:
    path = write_escalation_message(
        tmp_path, _summary(), "breached", OFFICIAL, sender=SENDER, now=NOW
    )
    message = _read(path)
    assert path.parent == tmp_path
    assert path.name.startswith("INC-2026-0007.escalation-breached.")
    assert path.suffix == ".eml"
    assert message["To"] == "Ibu Pejabat Pengaduan <pengaduan@diskominfo.example>"
    assert _address(message, "From") == ("Runbook Batik.Net", "runbook@diskominfo.example")
    assert message["Subject"] == (
        "[Batik.Net] Eskalasi INC-2026-0007: telah melewati target waktu penyelesaian"
    )
    assert (message["X-Runbook-Kind"], message["X-Runbook-Incident"]) == (
        "escalation", "INC-2026-0007",
    )  # fmt: skip
    assert message["X-Runbook-Escalation-Reason"] == "breached"
    assert message["Bcc"] is None
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Yth. Ibu Pejabat Pengaduan," in text
    assert "Target penyelesaian (2 hari kerja): Kamis 2026-03-26 15:40 WIB" in text
    assert "Batas waktu layanan (5 hari kerja): Selasa 2026-03-31 15:40 WIB" in text
    # 5 + 435 + 431 = 871 min of service; 9 d 0 h 01 min on the wall clock.
    assert "Waktu layanan berjalan: 14 jam 31 menit" in text
    assert "Waktu kalender berjalan: 9 hari 0 jam 01 menit" in text
    assert "Status: melewati target" in text
    assert "Surat diterima: Selasa 2026-03-17 15:40 WIB" in text
    assert "Bcc: attacker@example.org" in text


def test_the_message_in_english(tmp_path: Path) -> None:
    path = write_escalation_message(
        tmp_path, _summary(), BEYOND, OFFICIAL, lang="en", sender=SENDER, now=NOW
    )
    message = _read(path)
    assert message["Subject"] == (
        "[Batik.Net] Escalation INC-2026-0007: marked by the technician as beyond their reach"
    )
    body = message.get_body(("plain",))
    assert body is not None
    assert "Resolution target (2 working days): Thursday 2026-03-26 15:40 WIB" in body.get_content()


def test_the_same_escalation_is_written_once(tmp_path: Path) -> None:
    first = write_escalation_message(tmp_path, _summary(), AT_RISK, OFFICIAL, sender=SENDER)
    content = first.read_bytes()
    second = write_escalation_message(tmp_path, _summary(), AT_RISK, OFFICIAL, sender=SENDER)
    other = write_escalation_message(tmp_path, _summary(), BREACHED, OFFICIAL, sender=SENDER)
    assert (second, second.read_bytes()) == (first, content)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([first.name, other.name])


def test_the_outbox_adopts_the_message_written_into_pending(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    path = write_escalation_message(
        outbox.pending_dir, _summary(), BREACHED, OFFICIAL, sender=SENDER, now=NOW
    )
    entries = outbox.entries()
    assert [(entry.name, entry.kind, entry.incident_id) for entry in entries] == [
        (path.stem, "escalation", "INC-2026-0007"),
    ]  # fmt: skip
    assert entries[0].recipients == ("pengaduan@diskominfo.example",)


def test_a_message_already_sent_is_not_written_again(tmp_path: Path) -> None:
    pending = tmp_path / "outbox" / "pending"
    path = write_escalation_message(pending, _summary(), BREACHED, OFFICIAL, sender=SENDER)
    sent = tmp_path / "outbox" / "sent"
    sent.mkdir()
    path.rename(sent / path.name)
    assert write_escalation_message(pending, _summary(), BREACHED, OFFICIAL, sender=SENDER) == path
    assert not path.exists()


def test_the_sender_defaults_to_the_escalation_section(tmp_path: Path) -> None:
    path = write_escalation_message(tmp_path, _summary(), BREACHED, OFFICIAL)
    assert _address(_read(path), "From") == ("Runbook Batik.Net", "runbook@diskominfo.example")


@pytest.mark.parametrize(
    ("summary", "official", "message"),
    [
        pytest.param({"opd_name": "x"}, OFFICIAL, "has no id", id="no-incident-id"),
        pytest.param({"id": "INC/2026"}, OFFICIAL, "not a plain name", id="bad-incident-id"),
        pytest.param({"id": "INC-1"}, {"name": "x"}, "no email for the", id="no-official-email"),
        pytest.param(
            {"id": "INC-1"}, {"email": "pengaduan at kominfo"}, "malformed", id="bad-address"
        ),
    ],
)
def test_a_message_that_cannot_be_written_raises_escalation_error(
    tmp_path: Path, summary: dict[str, Any], official: dict[str, str], message: str
) -> None:
    with pytest.raises(EscalationError, match=message):
        write_escalation_message(tmp_path, summary, BREACHED, official, sender=SENDER)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_outbox_raises_escalation_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(EscalationError, match="cannot write the escalation"):
        write_escalation_message(blocker / "outbox", _summary(), BREACHED, OFFICIAL, sender=SENDER)
