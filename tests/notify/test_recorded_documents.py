"""Messages built from the documents the runner wrote and recorded."""

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from runbook_runner import notices, outbox_commands
from runbook_runner.notifications import flush
from runbook_runner.outbox import OutboxError
from runbook_runner.recipients import RecipientError, load_inventory_vars
from runbook_runner.records import open_records

from .conftest import START, Server, smtp_config

INTAKE = {
    "site": "opd1",
    "opd_name": "Dinas Pendidikan",
    "letter_no": "005/123/2026",
    "letter_date": "2026-03-02",
    "complaint": "Internet mati",
    "channel": "surat",
    "assignee": "Teknisi 1",
    "received_at": "2026-03-02T08:10:00+07:00",
    "disposed_at": "2026-03-02T08:30:00+07:00",
}


def _record_incident(data_dir: Path, *formats: str) -> str:
    with open_records(data_dir) as records:
        incident_id = records.create_incident(INTAKE)
        folder = data_dir / "documents" / incident_id
        folder.mkdir(parents=True)
        for fmt in formats:
            path = folder / f"completion_report.id.{fmt}"
            path.write_bytes(b"%PDF-1.7\n" if fmt == "pdf" else f"Laporan ({fmt})".encode())
            records.add_document(incident_id, "completion_report", "id", fmt, path)
    return incident_id


def test_completion_notice_from_records_carries_the_report_as_html_and_pdf(
    servers: Callable[..., Server], data_dir: Path, inventory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(inventory))
    server = servers()
    config = smtp_config(server.port)
    incident_id = _record_incident(data_dir, "md", "html", "pdf")
    with open_records(data_dir) as records:
        incident, documents = records.get_incident(incident_id), records.documents(incident_id)

    notices.send_recorded(incident, documents, notices.COMPLETION_NOTICE, config=config, now=START)
    flush(config, START)

    [received] = server.handler.received
    assert received.rcpt_tos == ["admin@opd1.example"]
    assert [a.get_filename() for a in received.message.iter_attachments()] == [
        "completion_report.id.html",
        "completion_report.id.pdf",
    ]
    assert "Laporan (md)" in received.message.get_body(("plain",)).get_content()
    assert "Laporan (html)" in received.message.get_body(("html",)).get_content()


def test_isp_ticket_without_a_provider_names_the_inventory_key(
    data_dir: Path, inventory: Path
) -> None:
    incident = {"id": "INC-2026-0200", "site": "opd2", "isp_provider": None}
    documents = [{"kind": "isp_ticket", "lang": "id", "format": "md", "path": str(_file(data_dir))}]

    with pytest.raises(RecipientError) as raised:
        notices.send_recorded(
            incident,
            documents,
            notices.ISP_TICKET,
            config=smtp_config(1),
            variables=load_inventory_vars(inventory),
        )
    assert raised.value.key == "batiknet_sites.opd2.access.provider"


def test_send_command_refuses_a_document_not_yet_written(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "runbook.toml").write_text('[notify]\nsender = "r@diskominfo.example"\n')
    monkeypatch.setenv("RUNBOOK_CONFIG", str(tmp_path / "runbook.toml"))
    incident_id = _record_incident(data_dir)
    parser = argparse.ArgumentParser()
    outbox_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["outbox", "send", incident_id, "completion-notice"])

    with pytest.raises(OutboxError, match="no completion_report document"):
        args.handler(args)


def _file(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "ticket.md"
    path.write_text("Tiket")
    return path
