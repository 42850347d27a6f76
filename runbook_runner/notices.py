"""The three messages the office sends, in Bahasa Indonesia or English.

- the ISP ticket to the provider's contacts (SOP step 8),
- the completion notice to the agency (OPD) (SOP step 10),
- an escalation to the complaints official (Pejabat Pengaduan).

Each wraps a document the runner already rendered (text, optional HTML,
optional attachments such as the HTML or PDF report) in a short cover letter,
resolves the recipients and enqueues the message. Values from the inventory or
the records go into the HTML escaped.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from runbook_runner import recipients
from runbook_runner.notifications import enqueue, load_config
from runbook_runner.outbox import Message, OutboxError

ISP_TICKET = "isp-ticket"
COMPLETION_NOTICE = "completion-notice"
ESCALATION = "escalation"

_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Document:
    """A rendered document: its text, its HTML if any, the files to attach."""

    text: str
    html: str | None = None
    attachments: tuple[Path, ...] = ()


_CLOSINGS = {"id": "Hormat kami,\n{sender}", "en": "Regards,\n{sender}"}

_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "id": {
        ISP_TICKET: (
            "Tiket gangguan {incident}: {site} (sirkuit {circuit})",
            "Yth. {to},\n\nDengan hormat, kami melaporkan gangguan pada layanan {isp} "
            "untuk {site} (sirkuit {circuit}). Mohon ditindaklanjuti dan informasikan "
            "nomor tiket serta perkiraan waktu pemulihan dengan membalas email ini.",
        ),
        COMPLETION_NOTICE: (
            "Gangguan jaringan {site} telah selesai ditangani ({incident})",
            "Yth. {to},\n\nDengan hormat, gangguan jaringan Batik.Net di {site} "
            "(nomor {incident}) telah selesai ditangani. Laporan penyelesaian gangguan "
            "terlampir.",
        ),
        ESCALATION: (
            "Eskalasi {incident}: {reason}",
            "Yth. {to},\n\nDengan hormat, penanganan gangguan {incident} ({site}) "
            "memerlukan perhatian Bapak/Ibu: {reason}. Rincian di bawah ini.",
        ),
    },
    "en": {
        ISP_TICKET: (
            "Fault ticket {incident}: {site} (circuit {circuit})",
            "Dear {to},\n\nWe report a fault on the {isp} service for {site} "
            "(circuit {circuit}). Please act on it and tell us your ticket number and "
            "the expected recovery time by replying to this email.",
        ),
        COMPLETION_NOTICE: (
            "Network disruption at {site} resolved ({incident})",
            "Dear {to},\n\nThe Batik.Net disruption at {site} (number {incident}) has "
            "been resolved. The resolution report is attached.",
        ),
        ESCALATION: (
            "Escalation {incident}: {reason}",
            "Dear {to},\n\nThe handling of disruption {incident} ({site}) needs your "
            "attention: {reason}. The details follow.",
        ),
    },
}


def compose(kind: str, lang: str, document: Document, **values: str) -> tuple[str, str, str]:
    """Return the subject, text and HTML of a cover letter around ``document``.

    ``kind`` is one of :data:`ISP_TICKET`, :data:`COMPLETION_NOTICE`,
    :data:`ESCALATION`; ``values`` fill the template (incident, site, to, sender
    and, per kind, isp, circuit, reason).

    Raises:
        KeyError: the kind or language is unknown, or a value is missing.
    """
    texts = _TEXTS[lang]
    subject_template, cover_template = texts[kind]
    subject = subject_template.format(**values)
    cover = cover_template.format(**values)
    closing = _CLOSINGS[lang].format(**values)
    text = f"{cover}\n\n{document.text.rstrip()}\n\n{closing}\n"
    html = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head><body>\n"
        + "".join(f"<p>{escape(p)}</p>\n" for p in cover.split("\n\n"))
        + "<hr>\n"
        + _document_html(document)
        + "<hr>\n"
        + "<p>" + escape(closing).replace("\n", "<br>\n") + "</p>\n</body></html>\n"
    )  # fmt: skip
    return subject, text, html


def _document_html(document: Document) -> str:
    if document.html is None:
        return f'<pre style="white-space: pre-wrap">{escape(document.text)}</pre>\n'
    match = _BODY.search(document.html)
    return (match.group(1) if match else document.html) + "\n"


def send_isp_ticket(
    incident_id: str,
    provider: str,
    site: str,
    circuit_id: str,
    document: Document,
    *,
    lang: str | None = None,
    config: Any = None,
    variables: recipients.InventoryVars | None = None,
    now: datetime | None = None,
) -> Message:
    """Enqueue the ISP ticket to every contact of ``provider`` that has an email.

    Raises:
        RecipientError: the inventory holds no email for the provider.
        ConfigError, OutboxError, AttachmentError: see :func:`notifications.enqueue`.
    """
    loaded = load_config(config)
    variables = variables or recipients.load_inventory_vars()
    to = recipients.isp_contacts(provider, variables)
    isp = recipients.isp_name(provider, variables)
    subject, text, html = compose(
        ISP_TICKET, lang or loaded.notify.lang, document, incident=incident_id,
        site=recipients.site_name(site, variables), circuit=circuit_id or "-", isp=isp,
        to=_greeting(to[0].name, isp), sender=loaded.notify.sender_name,
    )  # fmt: skip
    return enqueue(
        ISP_TICKET, incident_id, to, subject, text,
        html=html, attachments=document.attachments, config=loaded, now=now,
    )  # fmt: skip


def send_completion_notice(
    incident_id: str,
    site: str,
    document: Document,
    *,
    lang: str | None = None,
    config: Any = None,
    variables: recipients.InventoryVars | None = None,
    now: datetime | None = None,
) -> Message:
    """Enqueue the completion notice to the agency's contact, the report attached.

    Raises:
        RecipientError: the inventory holds no contact email for the site.
        ConfigError, OutboxError, AttachmentError: see :func:`notifications.enqueue`.
    """
    loaded = load_config(config)
    variables = variables or recipients.load_inventory_vars()
    contact = recipients.site_contact(site, variables)
    name = recipients.site_name(site, variables)
    subject, text, html = compose(
        COMPLETION_NOTICE, lang or loaded.notify.lang, document, incident=incident_id,
        site=name, to=_greeting(contact.name, name), sender=loaded.notify.sender_name,
    )  # fmt: skip
    return enqueue(
        COMPLETION_NOTICE, incident_id, [contact], subject, text,
        html=html, attachments=document.attachments, config=loaded, now=now,
    )  # fmt: skip


def send_escalation(
    incident_id: str,
    site: str,
    reason: str,
    document: Document,
    *,
    reason_text: str | None = None,
    lang: str | None = None,
    config: Any = None,
    variables: recipients.InventoryVars | None = None,
    now: datetime | None = None,
) -> Message:
    """Enqueue an escalation to the complaints official, once per incident and reason.

    ``reason`` is the key (``at_risk``, ``beyond_reach``, ``breached``) and
    ``reason_text`` the words for the subject (the key when absent). The
    message is named as :func:`runbook_runner.escalation.write_escalation_message`
    names its own, so the two never both send the same escalation.

    Raises:
        RecipientError: ``[escalation]`` holds no email for the official.
        ConfigError, OutboxError, AttachmentError: see :func:`notifications.enqueue`.
    """
    loaded = load_config(config)
    variables = variables or recipients.load_inventory_vars()
    official = recipients.complaints_official(loaded.raw, loaded.path)
    subject, text, html = compose(
        ESCALATION, lang or loaded.notify.lang, document, incident=incident_id,
        site=recipients.site_name(site, variables), reason=reason_text or reason,
        to=_greeting(official.name, "Pejabat Pengaduan"), sender=loaded.notify.sender_name,
    )  # fmt: skip
    kind = f"{ESCALATION}-{_slug(reason)}"
    return enqueue(
        kind, incident_id, [official], subject, text,
        html=html, attachments=document.attachments, config=loaded, now=now,
    )  # fmt: skip


def _greeting(name: str, fallback: str) -> str:
    return name or fallback


def _slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", value).strip("-").lower()[:30] or "x"


def attachments_of(paths: Iterable[Path | str]) -> tuple[Path, ...]:
    """Return the existing files among ``paths``, for a document's attachments."""
    return tuple(Path(path) for path in paths if Path(path).is_file())


# The documents table's kind of the document each message carries.
RECORDED_KINDS = {ISP_TICKET: "isp_ticket", COMPLETION_NOTICE: "completion_report"}


def recorded_document(documents: Iterable[Mapping[str, Any]], kind: str, lang: str) -> Document:
    """Return the document of ``kind`` in ``lang`` from an incident's document rows.

    The text is the Markdown (or plain text) version, the HTML version is the
    HTML alternative, and the HTML and PDF files are attached.

    Raises:
        OutboxError: the records hold no text version of that document.
    """
    files = {
        row["format"]: Path(row["path"])
        for row in documents
        if row["kind"] == RECORDED_KINDS[kind] and row["lang"] == lang
    }
    text_file = files.get("md") or files.get("txt")
    if text_file is None or not text_file.is_file():
        raise OutboxError(
            f"no {RECORDED_KINDS[kind]} document in {lang!r} is recorded",
            hint="write the document first (the runner does it at its step), then send it",
        )
    html_file = files.get("html")
    html = html_file.read_text(encoding="utf-8") if html_file and html_file.is_file() else None
    return Document(
        text_file.read_text(encoding="utf-8"),
        html,
        attachments_of(files[fmt] for fmt in ("html", "pdf") if fmt in files),
    )


def send_recorded(
    incident: Mapping[str, Any],
    documents: Iterable[Mapping[str, Any]],
    kind: str,
    *,
    lang: str | None = None,
    config: Any = None,
    variables: recipients.InventoryVars | None = None,
    now: datetime | None = None,
) -> Message:
    """Enqueue the message of an incident's written document, from its records.

    ``incident`` is the incident's row and ``documents`` its document rows
    (``Records.get_incident`` and ``Records.documents``). The ISP is the
    incident's ``isp_provider``, else the site's ``access.provider``.

    Raises:
        OutboxError: the document is not written.
        RecipientError: no provider or no address for it.
        ConfigError, AttachmentError: see :func:`notifications.enqueue`.
    """
    loaded = load_config(config)
    lang = lang or loaded.notify.lang
    variables = variables or recipients.load_inventory_vars()
    document = recorded_document(documents, kind, lang)
    incident_id, site = str(incident["id"]), str(incident["site"])
    if kind == COMPLETION_NOTICE:
        return send_completion_notice(
            incident_id, site, document, lang=lang, config=loaded, variables=variables, now=now
        )
    provider, circuit = incident.get("isp_provider"), incident.get("isp_circuit_id")
    if not provider:
        provider, circuit = recipients.site_provider(site, variables)
    return send_isp_ticket(
        incident_id, str(provider), site, str(circuit or ""), document,
        lang=lang, config=loaded, variables=variables, now=now,
    )  # fmt: skip
