"""The documents of an incident: ISP ticket, internal action record, completion report.

Each is a Jinja2 template in ``templates/`` (``<kind>.<format>.j2``) filled
from plain data. The templates are the project's; every value comes from
the records, the inventory or the technician, and is data: the environment
is sandboxed, HTML templates are autoescaped, and no value is ever compiled
as a template. Words come from a small message catalog, Bahasa Indonesia by
default and English with ``lang="en"``.
"""

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from runbook_runner import files, settings
from runbook_runner.errors import RunbookError, UsageError

log = logging.getLogger(__name__)

LANGS = ("id", "en")
FORMATS = {
    "isp_ticket": ("md", "html"),
    "completion_report": ("md", "html"),
    "internal_action": ("md",),
}
OFFICE_ZONE = ZoneInfo("Asia/Jakarta")


class DocumentError(RunbookError):
    """A document cannot be rendered or written."""


TEXTS: dict[str, dict[str, Any]] = {
    "id": {
        "office": "Dinas Komunikasi dan Informatika Kota Pekalongan",
        "supervisor": "Kepala Bidang Infrastruktur dan Statistik",
        "isp_ticket": "Laporan Gangguan kepada Penyedia Layanan (ISP)",
        "completion_report": "Laporan Penyelesaian Gangguan Jaringan",
        "internal_action": "Catatan Tindakan Internal",
        "incident": "Nomor insiden",
        "site": "Lokasi (OPD)",
        "letter": "Surat pemberitahuan",
        "letter_date": "tanggal",
        "complaint": "Keluhan",
        "channel": "Saluran",
        "received": "Diterima",
        "disposed": "Disposisi",
        "technician": "Teknisi",
        "state": "Status",
        "connected": "Terhubung",
        "yes": "ya",
        "no": "tidak",
        "unknown": "tidak diketahui",
        "degraded_note": "terhubung, tetapi kualitas menurun",
        "segment": "Segmen gangguan",
        "branch": "Tindak lanjut",
        "confidence": "Tingkat keyakinan",
        "findings": "Temuan",
        "evidence": "Bukti",
        "corroboration": "Bukti pendukung",
        "contradictions": "Pertentangan",
        "unchecked": "Tidak dapat diperiksa",
        "alternatives": "Kemungkinan lain",
        "provider": "Penyedia",
        "circuit": "ID sirkuit",
        "contacts": "Kontak ISP",
        "support_hours": "Jam layanan ISP",
        "request": "Mohon ditindaklanjuti: berikan nomor tiket dan perkiraan waktu pemulihan.",
        "isp_ref": "Nomor tiket ISP",
        "isp_eta": "Perkiraan pemulihan dari ISP",
        "isp_contact": "Petugas ISP",
        "actual_recovery": "Pemulihan sebenarnya",
        "eta_met": "sesuai perkiraan",
        "eta_missed": "melewati perkiraan",
        "timeline": "Kronologi",
        "step": "Langkah",
        "attempt": "Percobaan",
        "start": "Mulai",
        "end": "Selesai",
        "outcome": "Hasil",
        "cause": "Penyebab",
        "action_taken": "Tindakan",
        "durations": "Durasi",
        "wall_time": "Waktu kalender",
        "service_time": "Waktu layanan",
        "sla": "Standar waktu penyelesaian",
        "target_due": "Batas target",
        "limit_due": "Batas layanan",
        "sla_status": "Status",
        "escalations": "Eskalasi",
        "physical": "Pemeriksaan fisik (langkah 4)",
        "what_to_check": "Yang harus diperiksa",
        "closed": "Ditutup",
        "close_reason": "Alasan penutupan",
        "signoff": "Mengetahui",
        "prepared_by": "Dibuat oleh",
        "generated": "Dibuat",
        "none": "tidak ada",
        "vantage": "dari",
        "checks": "pemeriksaan",
        "segments": {
            "none": "tidak ada gangguan",
            "user_lan": "LAN pengguna",
            "opd_access": "link akses OPD",
            "opd_gateway": "router (gateway) OPD",
            "core": "router inti (core)",
            "dns": "server DNS",
            "server": "server aplikasi",
            "isp_upstream": "upstream ISP (Internet)",
        },
        "branches": {
            "completion_report": "laporan penyelesaian",
            "isp_ticket": "tiket ke ISP",
            "internal_action": "tindakan internal",
        },
        "confidences": {"high": "tinggi", "medium": "sedang", "low": "rendah"},
        "contradiction_rules": {
            "monitoring-silent": "sistem monitoring tidak menunjukkan gangguan, padahal"
            " pemeriksaan langsung gagal",
            "monitoring-alone": "sistem monitoring menunjukkan gangguan yang tidak terlihat"
            " oleh pemeriksaan langsung (mungkin alarm yang tertinggal setelah perbaikan)",
            "user-side-only": "komputer pengguna tidak dapat menjangkau server, padahal"
            " jaringan dan server terlihat sehat: periksa komputer dan LAN pengguna",
        },
        "physical_states": {
            "confirmed": "sudah diperiksa",
            "pending": "belum diperiksa",
            "skipped": "dilewati",
        },
        "states": {
            "checking": "pengecekan",
            "waiting_isp": "menunggu ISP",
            "internal_action": "tindakan internal",
            "resolved": "selesai",
            "closed": "ditutup",
        },
        "actions": {
            "opd_gateway": "Datangi {site}; periksa daya dan lampu indikator {gateway}, "
            "nyalakan ulang bila perlu, periksa port WAN dan LAN-nya.",
            "opd_access": "Periksa fiber milik Pemkot antara {core_port} dan {gateway}: "
            "patch cord, jalur optik, SFP di kedua ujung.",
            "core": "Di {core_device}, periksa port {core_port}: status administratif "
            "dan konfigurasinya.",
            "user_lan": "Di {site}, periksa switch LAN, kabel, dan komputer pengguna {probe_host}.",
            "dns": "Di server DNS ({targets}), periksa layanan DNS, data zona, dan lognya.",
            "server": "Di server aplikasi ({targets}), periksa layanan HTTP dan lognya.",
            "isp_upstream": "Hubungi ISP upstream dan periksa port uplink di {core_device}.",
            "isp": "Tiket gangguan ke {provider} untuk sirkuit {circuit}; pantau sampai pulih.",
        },
    },
    "en": {
        "office": "Communication and Informatics Office of Kota Pekalongan",
        "supervisor": "Head of the Infrastructure and Statistics Division"
        " (Kepala Bidang Infrastruktur dan Statistik)",
        "isp_ticket": "Fault Report to the Service Provider (ISP)",
        "completion_report": "Network Disruption Completion Report",
        "internal_action": "Internal Action Record",
        "incident": "Incident",
        "site": "Site (agency)",
        "letter": "Notice letter",
        "letter_date": "dated",
        "complaint": "Complaint",
        "channel": "Channel",
        "received": "Received",
        "disposed": "Disposition",
        "technician": "Technician",
        "state": "State",
        "connected": "Connected",
        "yes": "yes",
        "no": "no",
        "unknown": "unknown",
        "degraded_note": "connected, but degraded",
        "segment": "Faulty segment",
        "branch": "Next step",
        "confidence": "Confidence",
        "findings": "Findings",
        "evidence": "Evidence",
        "corroboration": "Corroborating evidence",
        "contradictions": "Contradictions",
        "unchecked": "Could not be checked",
        "alternatives": "Other possibility",
        "provider": "Provider",
        "circuit": "Circuit ID",
        "contacts": "ISP contacts",
        "support_hours": "ISP support hours",
        "request": "Please act on this: send us your ticket number and the recovery estimate.",
        "isp_ref": "ISP ticket number",
        "isp_eta": "ISP recovery estimate",
        "isp_contact": "ISP contact person",
        "actual_recovery": "Actual recovery",
        "eta_met": "within the estimate",
        "eta_missed": "later than the estimate",
        "timeline": "Timeline",
        "step": "Step",
        "attempt": "Attempt",
        "start": "Start",
        "end": "End",
        "outcome": "Outcome",
        "cause": "Cause",
        "action_taken": "Action",
        "durations": "Durations",
        "wall_time": "Wall-clock time",
        "service_time": "Service time",
        "sla": "Resolution standard",
        "target_due": "Target due",
        "limit_due": "Limit due",
        "sla_status": "Status",
        "escalations": "Escalations",
        "physical": "Physical check (step 4)",
        "what_to_check": "What to check",
        "closed": "Closed",
        "close_reason": "Reason for closing",
        "signoff": "Acknowledged by",
        "prepared_by": "Prepared by",
        "generated": "Generated",
        "none": "none",
        "vantage": "from",
        "checks": "checks",
        "segments": {
            "none": "no fault",
            "user_lan": "user LAN",
            "opd_access": "agency access link",
            "opd_gateway": "agency gateway router",
            "core": "core router",
            "dns": "DNS servers",
            "server": "application server",
            "isp_upstream": "ISP upstream (Internet)",
        },
        "branches": {
            "completion_report": "completion report",
            "isp_ticket": "ISP ticket",
            "internal_action": "internal action",
        },
        "confidences": {"high": "high", "medium": "medium", "low": "low"},
        "contradiction_rules": {},
        "physical_states": {"confirmed": "confirmed", "pending": "pending", "skipped": "skipped"},
        "states": {
            "checking": "checking",
            "waiting_isp": "waiting for the ISP",
            "internal_action": "internal action",
            "resolved": "resolved",
            "closed": "closed",
        },
        "actions": {
            "opd_gateway": "Go to {site}; check the power and status lights of {gateway}, "
            "restart it if needed, check its WAN and LAN ports.",
            "opd_access": "Check the city's fibre between {core_port} and {gateway}: "
            "patch cords, the optical path, the SFPs at both ends.",
            "core": "On {core_device}, check the port {core_port}: its administrative state "
            "and its configuration.",
            "user_lan": "At {site}, check the LAN switch, the cabling and the user host "
            "{probe_host}.",
            "dns": "On the DNS servers ({targets}), check the DNS service, the zone data "
            "and the logs.",
            "server": "On the application server ({targets}), check the HTTP service and its logs.",
            "isp_upstream": "Call the upstream ISP and check the uplink port on {core_device}.",
            "isp": "Fault ticket to {provider} for circuit {circuit}; follow it up to recovery.",
        },
    },
}


def check_lang(lang: str) -> str:
    """Return ``lang`` when it is a language of the documents.

    Raises:
        UsageError: it is not ``id`` or ``en``.
    """
    if lang not in LANGS:
        raise UsageError(f"unknown language {lang!r}", hint="use --lang id or --lang en")
    return lang


def office_time(value: str | None) -> str:
    """Return an ISO 8601 time as the office reads it: ``03-12-2026 14:00 WIB``."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%d-%m-%Y %H:%M")
    return moment.astimezone(OFFICE_ZONE).strftime("%d-%m-%Y %H:%M WIB")


def duration(minutes: float | None, lang: str = "id") -> str:
    """Return minutes as ``2 jam 05 menit`` (``2 h 05 min`` in English)."""
    if minutes is None:
        return "-"
    total = max(int(minutes), 0)
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = ("hari", "jam", "menit") if lang == "id" else ("d", "h", "min")
    text = f"{hours} {units[1]} {mins:02d} {units[2]}"
    return f"{days} {units[0]} {text}" if days else text


def _quote(value: Any) -> str:
    return "\n".join(f"> {line}" for line in str(value).splitlines() or [""])


def _oneline(value: Any) -> str:
    return " ".join(str(value).split())


def environment() -> SandboxedEnvironment:
    """Return the Jinja2 environment of the templates (sandboxed, HTML autoescaped)."""
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(settings.TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2", "html"), default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(wib=office_time, quote=_quote, oneline=_oneline)
    return env


def render(kind: str, lang: str, fmt: str, context: Mapping[str, Any]) -> str:
    """Return the document ``kind`` rendered in ``lang`` and ``fmt`` from ``context``.

    Raises:
        UsageError: the kind, language or format is unknown.
        DocumentError: the template is missing or fails.
    """
    check_lang(lang)
    if fmt not in FORMATS.get(kind, ()):
        raise UsageError(
            f"no {fmt!r} format of the document {kind!r}",
            hint=f"use one of: {', '.join(FORMATS.get(kind, ('md',)))}",
        )
    texts = TEXTS[lang]
    try:
        template = environment().get_template(f"{kind}.{fmt}.j2")
        return template.render(
            **context,
            t=texts,
            lang=lang,
            dur=lambda minutes: duration(minutes, lang),
        )
    except jinja2.TemplateError as error:
        raise DocumentError(
            f"cannot render {kind}.{fmt}.j2: {error}",
            hint=f"check the template under {settings.TEMPLATE_DIR}",
        ) from error


def document_path(
    incident_id: str, kind: str, lang: str, fmt: str, data_dir: Path | None = None
) -> Path:
    """Return where a document of an incident is written."""
    return (data_dir or settings.data_dir()) / "documents" / incident_id / f"{kind}.{lang}.{fmt}"


def write(
    incident_id: str,
    kind: str,
    lang: str,
    fmt: str,
    context: Mapping[str, Any],
    *,
    data_dir: Path | None = None,
) -> Path:
    """Render a document and write it atomically; return its path.

    Raises:
        UsageError: the kind, language or format is unknown.
        DocumentError: rendering or writing fails.
    """
    text = render(kind, lang, fmt, context)
    path = document_path(incident_id, kind, lang, fmt, data_dir)
    try:
        files.write_atomically(path, text.encode("utf-8"))
    except OSError as error:
        raise DocumentError(
            f"{path}: cannot write the document: {error}",
            hint="check that the data directory is writable and the disk has room",
        ) from error
    log.info("%s: %s written to %s", incident_id, kind, path)
    return path
