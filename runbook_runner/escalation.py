"""Escalation to the complaints official (Pejabat Pengaduan): when, and the message.

The service standard passes what the officer cannot solve to a Diskominfo
official. An incident is escalated when its SLA status is ``at_risk`` or
``breached``, or when the technician marks it as beyond their reach.
:func:`decide_escalation` says whether and why; :func:`write_escalation_message`
writes the message, an RFC 5322 ``.eml``, into an outbox folder, where the
notifications deliver it (``runbook_runner.outbox`` adopts a ``.eml`` dropped
into its ``pending/`` folder). Recording the escalation is the runner's.

Reasons rank ``at_risk`` < ``beyond_reach`` < ``breached``: an incident is
escalated again only for a reason ranked above every one it was escalated
for, so the official hears of each worsening once.
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from runbook_runner import files
from runbook_runner.config import load_config
from runbook_runner.errors import RunbookError
from runbook_runner.outbox import Recipient, build_message, message_name
from runbook_runner.sla import SlaStatus, format_duration

log = logging.getLogger(__name__)


class EscalationError(RunbookError):
    """An escalation message cannot be written."""


class EscalationReason(StrEnum):
    """Why an incident goes to the complaints official."""

    AT_RISK = "at_risk"
    BEYOND_REACH = "beyond_reach"
    BREACHED = "breached"

    @property
    def rank(self) -> int:
        """Return the rank of the reason: a higher one is escalated again."""
        return list(EscalationReason).index(self)

    def label(self, lang: str = "id") -> str:
        """Return the reason as a clause of a sentence, in Bahasa Indonesia or English."""
        return _REASONS[self][0 if lang == "id" else 1]


_REASONS = {
    EscalationReason.AT_RISK: (
        "berisiko melewati target waktu penyelesaian",
        "at risk of missing the resolution target",
    ),
    EscalationReason.BEYOND_REACH: (
        "ditandai teknisi di luar kemampuan penanganannya",
        "marked by the technician as beyond their reach",
    ),
    EscalationReason.BREACHED: (
        "telah melewati target waktu penyelesaian",
        "past its resolution target",
    ),
}

# The fields of an incident summary shown in the message, in this order.
_FIELDS = {
    "id": ("Nomor insiden", "Incident"),
    "opd_name": ("OPD", "Agency (OPD)"),
    "site": ("Lokasi", "Site"),
    "letter_no": ("Nomor surat", "Letter number"),
    "letter_date": ("Tanggal surat", "Letter date"),
    "complaint": ("Keluhan", "Complaint"),
    "assignee": ("Teknisi", "Technician"),
    "received_at": ("Surat diterima", "Letter received"),
    "state": ("Tahap penanganan", "State"),
    "segment": ("Segmen gangguan", "Faulty segment"),
    "note": ("Catatan teknisi", "Technician's note"),
}

OFFICE_ZONE = ZoneInfo("Asia/Jakarta")
_WEEKDAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_TEXTS = {
    "id": {
        "subject": "[Batik.Net] Eskalasi {incident}: {reason}",
        "greeting": "Yth. {name},",
        "opening": (
            "Dengan hormat, penanganan gangguan jaringan Batik.Net {incident} kami teruskan "
            "kepada Bapak/Ibu selaku Pejabat Pengaduan karena insiden ini {reason}."
        ),
        "sla": "Waktu layanan (jam pelayanan, WIB)",
        "target_due": "Target penyelesaian ({days} hari kerja)",
        "limit_due": "Batas waktu layanan ({days} hari kerja)",
        "elapsed": "Waktu layanan berjalan",
        "wall": "Waktu kalender berjalan",
        "status": "Status",
        "policy": (
            "Sesuai standar pelayanan, gangguan yang tidak dapat diselesaikan petugas "
            "diteruskan kepada pejabat Diskominfo untuk diselesaikan sampai tuntas."
        ),
        "closing": "Hormat kami,\n{sender}\n\n(Pesan ini dibuat otomatis oleh runbook Batik.Net.)",
    },
    "en": {
        "subject": "[Batik.Net] Escalation {incident}: {reason}",
        "greeting": "Dear {name},",
        "opening": (
            "The handling of Batik.Net disruption {incident} is passed to you as the "
            "complaints official (Pejabat Pengaduan) because the incident is {reason}."
        ),
        "sla": "Service time (service hours, WIB)",
        "target_due": "Resolution target ({days} working days)",
        "limit_due": "Service limit ({days} working days)",
        "elapsed": "Service time elapsed",
        "wall": "Wall-clock time elapsed",
        "status": "Status",
        "policy": (
            "Under the service standard, what the officer cannot solve goes to a "
            "Diskominfo official, who solves it to the end."
        ),
        "closing": "Regards,\n{sender}\n\n(This message was written by the Batik.Net runbook.)",
    },
}


def decide_escalation(
    sla_status: SlaStatus | str | None,
    marked_beyond_reach: bool,
    already: Iterable[EscalationReason | str] = (),
) -> EscalationReason | None:
    """Return why the incident must be escalated now, or None.

    ``sla_status`` is the status of :func:`runbook_runner.sla.evaluate` (None
    when there is no clock); ``already`` the reasons the incident was escalated
    for before. The highest reason that applies is returned unless one ranked
    as high or higher was already escalated.

    Raises:
        ValueError: ``sla_status`` or a reason of ``already`` is not a known value.
    """
    status = None if sla_status is None else SlaStatus(sla_status)
    applying = []
    if status is SlaStatus.AT_RISK:
        applying.append(EscalationReason.AT_RISK)
    if marked_beyond_reach:
        applying.append(EscalationReason.BEYOND_REACH)
    if status is SlaStatus.BREACHED:
        applying.append(EscalationReason.BREACHED)
    if not applying:
        return None
    reason = max(applying, key=lambda item: item.rank)
    highest_before = max((EscalationReason(item).rank for item in already), default=-1)
    return reason if reason.rank > highest_before else None


def escalation_text(
    incident_summary: Mapping[str, Any],
    reason: EscalationReason | str,
    official: Mapping[str, str],
    lang: str = "id",
    sender_name: str = "",
) -> tuple[str, str]:
    """Return the subject and the plain text of an escalation message.

    ``incident_summary`` holds ``id`` and any of ``opd_name``, ``site``,
    ``letter_no``, ``letter_date``, ``complaint``, ``assignee``,
    ``received_at``, ``state``, ``segment``, ``note``, and ``sla``: the dict of
    :meth:`runbook_runner.sla.SlaReport.to_dict`. Values are shown as given.

    Raises:
        ValueError: ``reason`` is not a known reason or ``lang`` not id or en.
    """
    if lang not in _TEXTS:
        raise ValueError(f"unknown language {lang!r}; use id or en")
    texts, column = _TEXTS[lang], 0 if lang == "id" else 1
    reason = EscalationReason(reason)
    incident = str(incident_summary.get("id", "?"))
    lines = [
        texts["greeting"].format(name=official.get("name") or "Pejabat Pengaduan"),
        "",
        texts["opening"].format(incident=incident, reason=reason.label(lang)),
        "",
    ]
    for key, labels in _FIELDS.items():
        value = incident_summary.get(key)
        if value not in (None, ""):
            shown = _time(value, lang) if key == "received_at" else value
            lines.append(f"{labels[column]}: {shown}")
    sla = incident_summary.get("sla")
    if isinstance(sla, Mapping):
        lines += ["", f"{texts['sla']}:", *_sla_lines(sla, texts, lang)]
    lines += ["", texts["policy"], "", texts["closing"].format(sender=sender_name).rstrip()]
    subject = texts["subject"].format(incident=incident, reason=reason.label(lang))
    return subject, "\n".join(lines) + "\n"


def write_escalation_message(
    outbox_dir: Path,
    incident_summary: Mapping[str, Any],
    reason: EscalationReason | str,
    official: Mapping[str, str],
    lang: str = "id",
    *,
    sender: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Path:
    """Write the escalation of an incident to the official into ``outbox_dir``; return its path.

    The file is ``<incident>.escalation-<reason>.<digest>.eml``, named as
    ``runbook_runner.outbox`` names its messages; it is written to a temporary
    file, flushed and renamed into place. The same incident and reason give the
    same file: when it exists already (or, for an outbox's ``pending/``
    folder, was sent already) it is left as it is and its path returned.
    ``official`` and ``sender`` are ``{"name": ..., "email": ...}``; the sender
    defaults to the ``[escalation]`` section's.

    Raises:
        EscalationError: no incident id, no official's email, a malformed
            address, or the folder cannot be written.
        ValueError: ``reason`` is not a known reason or ``lang`` not id or en.
    """
    reason = EscalationReason(reason)
    incident = str(incident_summary.get("id") or "")
    if not incident:
        raise EscalationError(
            "the incident summary has no id", hint="pass the incident's id under the key 'id'"
        )
    if not official.get("email"):
        raise EscalationError(
            "no email for the complaints official (Pejabat Pengaduan)",
            hint="set official_email in the [escalation] section of the configuration",
        )
    sender = sender or load_config().escalation.sender()
    try:
        name = message_name(f"escalation-{reason.value.replace('_', '-')}", incident)
    except RunbookError as error:
        raise EscalationError(error.message, hint=error.hint) from error
    path = outbox_dir / f"{name}.eml"
    sent = outbox_dir.parent / "sent" / path.name
    if path.exists() or (outbox_dir.name == "pending" and sent.exists()):
        log.info("%s: escalation for %s already written", incident, reason)
        return path
    subject, text = escalation_text(
        incident_summary, reason, official, lang, sender.get("name", "")
    )
    try:
        message = build_message(
            name=name,
            kind="escalation",
            incident_id=incident,
            sender=Recipient(sender.get("email", ""), sender.get("name", "")),
            to=[Recipient(official["email"], official.get("name", ""))],
            subject=subject,
            text=text,
            date=now or datetime.now(UTC),
        )
    except RunbookError as error:
        raise EscalationError(error.message, hint=error.hint) from error
    message["X-Runbook-Escalation-Reason"] = reason.value
    _write_atomically(path, message.as_bytes())
    log.info("%s: escalation (%s) written to %s", incident, reason, path)
    return path


def _sla_lines(sla: Mapping[str, Any], texts: Mapping[str, str], lang: str) -> list[str]:
    lines = []
    if sla.get("target_due"):
        label = texts["target_due"].format(days=sla.get("target_working_days", "?"))
        lines.append(f"- {label}: {_time(sla['target_due'], lang)}")
    if sla.get("limit_due"):
        label = texts["limit_due"].format(days=sla.get("limit_working_days", "?"))
        lines.append(f"- {label}: {_time(sla['limit_due'], lang)}")
    if sla.get("elapsed_service_minutes") is not None:
        lines.append(f"- {texts['elapsed']}: {_minutes(sla['elapsed_service_minutes'], lang)}")
    if sla.get("elapsed_wall_minutes") is not None:
        lines.append(f"- {texts['wall']}: {_minutes(sla['elapsed_wall_minutes'], lang, True)}")
    if sla.get("status"):
        status = SlaStatus(sla["status"])
        lines.append(f"- {texts['status']}: {status.label(lang)}")
    return lines


def _time(value: Any, lang: str) -> str:
    """Return an ISO 8601 instant as "Kamis 2026-03-26 15:40 WIB"; anything else as given."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return str(value)
    local = moment.astimezone(OFFICE_ZONE)
    weekday = (_WEEKDAYS_ID if lang == "id" else _WEEKDAYS_EN)[local.weekday()]
    return f"{weekday} {local:%Y-%m-%d %H:%M} WIB"


def _minutes(value: Any, lang: str, with_days: bool = False) -> str:
    return format_duration(timedelta(minutes=int(value)), lang=lang, with_days=with_days)


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        files.write_atomically(path, data)
    except OSError as error:
        raise EscalationError(
            f"cannot write the escalation {path}: {error.strerror}",
            hint="check the free space and the permissions of the outbox folder",
        ) from error
