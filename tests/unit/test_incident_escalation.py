"""The runner escalates an open incident past its SLA once, through the escalation module."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook_runner import incidents
from runbook_runner.cli import main
from runbook_runner.records import open_records


def _incident(data_dir: Path, received_at: str) -> str:
    with open_records(data_dir) as db:
        return db.create_incident(
            {
                "site": "opd1",
                "opd_name": "Dinas Satu",
                "letter_no": "005/123/2026",
                "letter_date": received_at[:10],
                "complaint": "Internet mati",
                "channel": "letter",
                "assignee": "Budi",
                "received_at": received_at,
                "disposed_at": received_at,
                "state": "waiting_isp",
            }
        )


def test_a_breached_open_incident_is_escalated_once(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RUNBOOK_DATA_DIR", str(tmp_path))
    incident_id = _incident(tmp_path, "2026-03-02T01:00:00+00:00")  # months ago: breached
    with open_records(tmp_path) as db:
        assert incidents.escalate_if_due(db, incident_id) == "breached"
        assert incidents.escalate_if_due(db, incident_id) is None
        assert [e["reason"] for e in db.escalations(incident_id)] == ["breached"]
    assert list((tmp_path / "outbox" / "pending").glob(f"{incident_id}*.eml"))


def test_a_resolved_incident_is_not_escalated(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RUNBOOK_DATA_DIR", str(tmp_path))
    incident_id = _incident(tmp_path, "2026-03-02T01:00:00+00:00")
    with open_records(tmp_path) as db:
        db.update_incident(incident_id, state="resolved")
        assert incidents.escalate_if_due(db, incident_id) is None


def test_escalate_command_passes_an_incident_beyond_reach_to_the_official(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("RUNBOOK_DATA_DIR", str(tmp_path))
    now = datetime.now(UTC).isoformat(timespec="seconds")  # fresh: on track, no SLA reason
    incident_id = _incident(tmp_path, now)

    first = main(["escalate", incident_id, "--reason", "gateway needs the vendor's RMA"])
    second = main(["escalate", incident_id, "--reason", "still waiting"])

    assert (first, second) == (0, 0)
    with open_records(tmp_path) as db:
        assert [e["reason"] for e in db.escalations(incident_id)] == ["beyond_reach"]
    messages = list((tmp_path / "outbox" / "pending").glob(f"{incident_id}*.eml"))
    assert len(messages) == 1
    assert "gateway needs the vendor's RMA" in messages[0].read_text(encoding="utf-8")
    assert "already escalated (beyond_reach)" in capsys.readouterr().out


def test_escalate_command_refuses_a_closed_incident(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RUNBOOK_DATA_DIR", str(tmp_path))
    incident_id = _incident(tmp_path, "2026-03-02T01:00:00+00:00")
    with open_records(tmp_path) as db:
        db.update_incident(incident_id, state="closed")

    assert main(["escalate", incident_id, "--reason", "too late"]) == 2
    with open_records(tmp_path) as db:
        assert db.escalations(incident_id) == []
