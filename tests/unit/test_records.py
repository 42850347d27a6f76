"""The incident records: schema, ids, step attempts, escalations, hostile text."""

import sqlite3
from pathlib import Path

import pytest

from runbook_runner import records
from runbook_runner.records import IncidentNotFoundError, RecordsError, open_records

HOSTILE = "{{ lookup('pipe','id') }} $(touch /tmp/owned) <script>alert(1)</script> 'x\"; --"


def intake(received_at: str = "2026-12-03T01:15:00+00:00", **extra: str) -> dict[str, str]:
    fields = {
        "site": "opd1",
        "opd_name": "Dinas Satu",
        "letter_no": "005/123/2026",
        "letter_date": "2026-12-03",
        "complaint": "Internet mati",
        "channel": "letter",
        "assignee": "Budi",
        "received_at": received_at,
        "disposed_at": received_at,
    }
    return fields | extra


def test_open_records_sets_wal_full_sync_foreign_keys_and_schema_version(tmp_path: Path):
    with open_records(tmp_path) as db:
        pragma = db.connection.execute
        assert pragma("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert pragma("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert pragma("PRAGMA foreign_keys").fetchone()[0] == 1
        assert pragma("PRAGMA user_version").fetchone()[0] == records.SCHEMA_VERSION
    assert (tmp_path / "runbook.db").exists()


def test_open_records_refuses_a_newer_schema(tmp_path: Path):
    open_records(tmp_path).close()
    connection = sqlite3.connect(tmp_path / "runbook.db")
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(RecordsError, match="schema version 99"):
        open_records(tmp_path)


def test_incident_ids_count_per_year_of_receipt(tmp_path: Path):
    with open_records(tmp_path) as db:
        first = db.create_incident(intake())
        second = db.create_incident(intake())
        next_year = db.create_incident(intake("2027-01-02T01:00:00+00:00"))
    assert (first, second, next_year) == ("INC-2026-0001", "INC-2026-0002", "INC-2027-0001")


def test_hostile_text_is_stored_and_read_back_literally(tmp_path: Path):
    with open_records(tmp_path) as db:
        incident_id = db.create_incident(intake(complaint=HOSTILE, opd_name=HOSTILE))
        stored = db.get_incident(incident_id)
    assert stored["complaint"] == HOSTILE
    assert stored["opd_name"] == HOSTILE


def test_unknown_incident_field_is_refused(tmp_path: Path):
    with open_records(tmp_path) as db:
        incident_id = db.create_incident(intake())
        with pytest.raises(RecordsError, match="unknown record fields: colour"):
            db.update_incident(incident_id, colour="red")


def test_missing_incident_names_the_id(tmp_path: Path):
    with open_records(tmp_path) as db, pytest.raises(IncidentNotFoundError, match="INC-2026-0042"):
        db.get_incident("INC-2026-0042")


def test_step_attempts_are_numbered_and_only_finished_ones_complete_a_step(tmp_path: Path):
    check = {"step": "dns", "status": "ok"}
    with open_records(tmp_path) as db:
        incident_id = db.create_incident(intake())
        db.record_step(incident_id, 4, "devices", "ok", evidence=[check])
        db.start_step(incident_id, 6, "dns")
        assert db.completed_steps(incident_id) == {4}
        assert db.mark_interrupted(incident_id) == 1
        db.record_step(incident_id, 6, "dns", "ok", evidence=[check])
        attempts = [(a["step"], a["attempt"], a["outcome"]) for a in db.steps(incident_id)]
        assert db.completed_steps(incident_id) == {4, 6}
    assert attempts == [(4, 1, "ok"), (6, 1, "interrupted"), (6, 2, "ok")]


def test_step_evidence_round_trips_as_json(tmp_path: Path):
    check = {"step": "devices", "values": {"loss": 30, "answer": ["192.0.2.1"]}, "message": HOSTILE}
    with open_records(tmp_path) as db:
        incident_id = db.create_incident(intake())
        db.record_step(incident_id, 4, "devices", "degraded", evidence=[check])
        assert db.steps(incident_id)[0]["evidence"] == [check]


def test_an_escalation_is_recorded_once_per_reason_and_level(tmp_path: Path):
    with open_records(tmp_path) as db:
        incident_id = db.create_incident(intake())
        assert db.add_escalation(incident_id, "at_risk", "complaints_official") is True
        assert db.add_escalation(incident_id, "at_risk", "complaints_official") is False
        assert db.add_escalation(incident_id, "breached", "complaints_official") is True
        assert [e["reason"] for e in db.escalations(incident_id)] == ["at_risk", "breached"]


def test_a_document_rewrite_replaces_its_row(tmp_path: Path):
    with open_records(tmp_path) as db:
        incident_id = db.create_incident(intake())
        db.add_document(incident_id, "isp_ticket", "id", "md", tmp_path / "a.md")
        db.add_document(incident_id, "isp_ticket", "id", "md", tmp_path / "b.md")
        db.add_document(incident_id, "isp_ticket", "en", "md", tmp_path / "c.md")
        paths = [Path(d["path"]).name for d in db.documents(incident_id)]
    assert sorted(paths) == ["b.md", "c.md"]


def test_open_incidents_leave_out_closed_ones(tmp_path: Path):
    with open_records(tmp_path) as db:
        kept = db.create_incident(intake())
        closed = db.create_incident(intake())
        db.update_incident(closed, state="closed")
        assert [i["id"] for i in db.list_incidents(open_only=True)] == [kept]
        assert len(db.list_incidents()) == 2


def test_an_unwritable_data_directory_gives_a_records_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RecordsError, match="cannot open the records"):
        open_records(blocker / "data")
