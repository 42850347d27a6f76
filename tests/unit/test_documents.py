"""The documents: every template in both languages, hostile values shown literally."""

from pathlib import Path
from typing import Any

import pytest

from runbook_runner import documents, incidents
from runbook_runner.errors import UsageError
from runbook_runner.records import open_records
from runbook_runner.verdict import PhysicalCheck, SiteFacts, decide

JINJA = "{{ lookup('pipe','id') }}"
SHELL = "$(touch /tmp/owned-by-documents)"
HTML = "<script>alert('x')</script>"
HOSTILE = f"{JINJA} {SHELL} {HTML} Dinas Ōtsuka 东方 | pipes"

VARIABLES: dict[str, Any] = {
    "batiknet_sites": {
        "opd1": {
            "name": HOSTILE,
            "gateway": "gw1",
            "probe_host": "pc1",
            "access": {
                "type": "leased",
                "provider": "isp_a",
                "circuit_id": "A-1",
                "core_device": "core",
                "core_interface": "p1",
            },
        }
    },
    "batiknet_isps": {
        "isp_a": {
            "name": f"PT {HTML}",
            "contacts": [{"name": JINJA, "email": "noc@isp.example", "phone": "+62 24 0"}],
            "support_hours": "24x7",
        }
    },
    "batiknet_upstream": {"provider": "isp_a", "circuit_id": "UP-1"},
}


def _check(kind: str, target: str, segment: str, status: str) -> dict[str, Any]:
    return {
        "step": "devices",
        "check": kind,
        "vantage": "ops",
        "target": target,
        "status": status,
        "values": {},
        "message": f"{target}: {HTML}",
        "segment": segment,
        "site": "opd1",
        "time": "2026-12-03T01:20:00+00:00",
    }


def _incident(tmp_path: Path, segment_status: str = "failed") -> str:
    facts = SiteFacts.from_inventory(
        "opd1", VARIABLES["batiknet_sites"], VARIABLES["batiknet_upstream"]
    )
    checks = [_check("interface", "core:p1", "opd_access", segment_status)]
    physical = PhysicalCheck("confirmed", None, {"gw1": f"powered, WAN link light off {HTML}"})
    verdict = decide(checks, facts, physical)
    with open_records(tmp_path) as db:
        incident_id = db.create_incident(
            {
                "site": "opd1",
                "opd_name": HOSTILE,
                "letter_no": f"005/{JINJA}",
                "letter_date": "2026-12-03",
                "complaint": f"line one {SHELL}\nline two {HTML}",
                "channel": "letter",
                "assignee": HTML,
                "received_at": "2026-12-03T01:15:00+00:00",
                "disposed_at": "2026-12-03T01:20:00+00:00",
                "physical_check": "confirmed",
                "physical_notes": dict(physical.notes),
            }
        )
        db.update_incident(
            incident_id,
            verdict=verdict,
            branch=verdict["branch"],
            segment=verdict["segment"],
            segments=verdict["segments"],
            connected=verdict["connected"],
            isp_provider="isp_a",
            isp_circuit_id="A-1",
            isp_ticket_at="2026-12-03T01:30:00+00:00",
            isp_ref=JINJA,
            isp_eta="2026-12-03T07:00:00+00:00",
            resolved_at="2026-12-03T06:00:00+00:00",
        )
        db.record_step(incident_id, 4, "devices", "failed", evidence=checks, note=HTML)
        db.add_event(incident_id, "verdict", "v", {"full": verdict})
    return incident_id


def _render(tmp_path: Path, kind: str, lang: str, fmt: str) -> str:
    incident_id = _incident(tmp_path)
    with open_records(tmp_path) as db:
        context = incidents.document_context(db, incident_id, lang, VARIABLES)
    return documents.render(kind, lang, fmt, context)


ALL = [
    pytest.param(kind, lang, fmt, id=f"{kind}-{lang}-{fmt}")
    for kind, formats in documents.FORMATS.items()
    for lang in documents.LANGS
    for fmt in formats
]


@pytest.mark.parametrize(("kind", "lang", "fmt"), ALL)
def test_every_document_shows_hostile_values_literally(tmp_path, kind, lang, fmt):
    text = _render(tmp_path, kind, lang, fmt)
    assert JINJA in text or "{{ lookup(&#39;pipe&#39;,&#39;id&#39;) }}" in text
    assert "uid=" not in text
    assert not Path("/tmp/owned-by-documents").exists()
    if fmt == "html":
        assert "<script>" not in text
        assert "&lt;script&gt;" in text
    else:
        assert HTML in text


@pytest.mark.parametrize(
    ("kind", "lang", "title"),
    [
        pytest.param(
            "isp_ticket", "id", "Laporan Gangguan kepada Penyedia Layanan", id="ticket-id"
        ),
        pytest.param("isp_ticket", "en", "Fault Report to the Service Provider", id="ticket-en"),
        pytest.param("completion_report", "id", "Laporan Penyelesaian Gangguan", id="report-id"),
        pytest.param("completion_report", "en", "Network Disruption Completion", id="report-en"),
    ],
)
def test_documents_speak_the_language_asked(tmp_path, kind, lang, title):
    assert title in _render(tmp_path, kind, lang, "md")


def test_completion_report_has_timeline_isp_estimate_and_supervisor_sign_off(tmp_path):
    text = _render(tmp_path, "completion_report", "id", "md")
    assert "Kepala Bidang Infrastruktur dan Statistik" in text
    assert "Kronologi" in text
    assert "03-12-2026 14:00 WIB" in text  # the ISP's estimate, in office time
    assert "sesuai perkiraan" in text  # recovered before the estimate


def test_isp_ticket_names_the_circuit_and_the_evidence(tmp_path):
    text = _render(tmp_path, "isp_ticket", "en", "md")
    assert "A-1" in text
    assert "core:p1" in text
    assert "powered, WAN link light off" in text


def test_documents_refuse_an_unknown_language():
    with pytest.raises(UsageError, match="unknown language 'fr'"):
        documents.render("isp_ticket", "fr", "md", {})


def test_documents_refuse_a_format_a_kind_does_not_have():
    with pytest.raises(UsageError, match="no 'html' format"):
        documents.render("internal_action", "id", "html", {})


def test_write_puts_the_document_under_the_incident(tmp_path):
    incident_id = _incident(tmp_path)
    with open_records(tmp_path) as db:
        context = incidents.document_context(db, incident_id, "en", VARIABLES)
    path = documents.write(incident_id, "isp_ticket", "en", "html", context, data_dir=tmp_path)
    assert path == tmp_path / "documents" / incident_id / "isp_ticket.en.html"
    assert "&lt;script&gt;" in path.read_text(encoding="utf-8")
