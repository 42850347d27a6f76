"""The incident service: an incident carried through the procedure, step by step.

Opening an incident records steps 1-3 (the letter, the disposition, the
follow-up), runs steps 4-7 in one playbook run storing each step as it
completes, decides the verdict and takes the branch: the ISP ticket (step 8),
an internal action record, or the completion report (step 9). A killed run
is resumed from the last completed step; no step is recorded twice and no
second ISP ticket is written. One run at a time holds an incident's lock.
"""

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from runbook_runner import documents, execution, files, settings
from runbook_runner.errors import RunbookError, UsageError
from runbook_runner.records import Records, now, open_records
from runbook_runner.steps import CHECK_STEPS, Step, step
from runbook_runner.verdict import PHYSICAL_STATES, PhysicalCheck, SiteFacts, decide

log = logging.getLogger(__name__)

CHANNELS = ("letter", "phone", "email", "whatsapp", "monitoring")
MAX_TEXT = 4000
OFFICE_ZONE = ZoneInfo("Asia/Jakarta")


class IncidentBusyError(RunbookError):
    """Another run holds the incident; ``holder`` says who (pid, host, user, since)."""

    def __init__(self, incident_id: str, holder: Mapping[str, Any]) -> None:
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
            f" (user {holder.get('user', '?')}, since {holder.get('since', '?')})"
        )
        super().__init__(
            f"{incident_id} is being run by {who}",
            hint=f"wait for that run to end, or end it (kill {holder.get('pid', 'PID')})"
            f" and run `runbook incident --resume {incident_id}`",
        )
        self.incident_id = incident_id
        self.holder = dict(holder)


class IncidentStateError(RunbookError):
    """The incident is not in a state that allows what was asked."""


@dataclass(frozen=True)
class Intake:
    """Steps 1 and 2: the agency's notice and the disposition."""

    site: str
    letter_no: str
    letter_date: str
    complaint: str
    assignee: str
    channel: str = "letter"
    received_at: str | None = None
    opd_name: str | None = None


@dataclass
class RunOptions:
    """How to run the checks and write the documents."""

    physical: PhysicalCheck | None = None
    lang: str = "id"
    timeout: int = execution.DEFAULT_TIMEOUT
    on_progress: Callable[[execution.Progress], None] = lambda _progress: None
    notify: bool = True
    parallel: int = 2


@dataclass
class _Session:
    """What one command works with: the records, the inventory, the options."""

    records: Records
    variables: Mapping[str, Any]
    options: RunOptions
    data_dir: Path | None


# -- Inputs ---------------------------------------------------------------------------------


def parse_time(text: str, what: str) -> str:
    """Return a time given by a person as ISO 8601 in UTC; without an offset it is WIB.

    Raises:
        UsageError: the text is not a date and time.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what}: {text!r} is not a date and time",
            hint='write it as "2026-12-03 14:00" (WIB) or in ISO 8601 with an offset',
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=OFFICE_ZONE)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _text(value: str, what: str, *, limit: int = MAX_TEXT) -> str:
    cleaned = value.replace("\x00", "").strip()
    if not cleaned:
        raise UsageError(f"{what} is empty", hint=f"give the {what} as the letter states it")
    if len(cleaned) > limit:
        raise UsageError(
            f"{what} is {len(cleaned)} characters long, more than {limit}",
            hint=f"shorten the {what}; attach the full text to the letter's file instead",
        )
    return cleaned


def inventory_vars() -> dict[str, Any]:
    """Return the shared variables of the inventory (``batiknet_sites``...), checked first.

    Raises:
        InventoryError: the inventory has a mistake (bad address, duplicate,
            missing SNMP settings, a site naming what does not exist...).
        RunbookError: the inventory cannot be read.
    """
    from runbook_runner import inventory_check, recipients

    inventory_check.ensure_valid([settings.inventory_path()])
    return recipients.load_inventory_vars().values


def site_facts(site: str, variables: Mapping[str, Any] | None = None) -> SiteFacts:
    """Return what the inventory says about ``site``.

    Raises:
        UsageError: the inventory has no such site.
    """
    variables = variables if variables is not None else inventory_vars()
    sites = variables.get("batiknet_sites") or {}
    if site not in sites:
        known = ", ".join(sorted(sites)) or "none"
        raise UsageError(
            f"unknown site {site!r}",
            hint=f"use a site key of the inventory's batiknet_sites: {known}",
        )
    return SiteFacts.from_inventory(site, sites, variables.get("batiknet_upstream") or {})


def _validate(intake: Intake, facts: SiteFacts) -> dict[str, Any]:
    if intake.channel not in CHANNELS:
        raise UsageError(
            f"unknown channel {intake.channel!r}", hint=f"use one of: {', '.join(CHANNELS)}"
        )
    try:
        letter_date = date.fromisoformat(intake.letter_date.strip()).isoformat()
    except ValueError:
        raise UsageError(
            f"letter date {intake.letter_date!r} is not a date", hint="write it as 2026-12-03"
        ) from None
    received = parse_time(intake.received_at, "received") if intake.received_at else now()
    return {
        "site": facts.site,
        "opd_name": _text(intake.opd_name or facts.name, "OPD name", limit=300),
        "letter_no": _text(intake.letter_no, "letter number", limit=200),
        "letter_date": letter_date,
        "complaint": _text(intake.complaint, "complaint"),
        "channel": intake.channel,
        "assignee": _text(intake.assignee, "assignee", limit=200),
        "received_at": received,
        "disposed_at": now(),
    }


def physical_check(status: str, reason: str | None, observed: Sequence[str]) -> PhysicalCheck:
    """Return step 4's physical check from the command line's values.

    Raises:
        UsageError: an unknown status, a pending or skipped check without a
            reason, or an observation not written ``DEVICE=NOTE``.
    """
    if status not in PHYSICAL_STATES:
        raise UsageError(
            f"unknown physical check {status!r}", hint=f"use one of: {', '.join(PHYSICAL_STATES)}"
        )
    notes = {}
    for item in observed:
        device, sep, note = item.partition("=")
        if not sep or not device.strip() or not note.strip():
            raise UsageError(
                f"observation {item!r} is not DEVICE=NOTE",
                hint='write it as --observed "bn-opd3-gw=no power, all lights off"',
            )
        notes[device.strip()] = _text(note, "observation", limit=500)
    if notes and status != "confirmed":
        raise UsageError(
            "observations need a confirmed physical check",
            hint="add --physical-check confirmed when the technician saw the devices",
        )
    if status == "skipped" and not (reason or "").strip():
        raise UsageError(
            "a skipped physical check needs a reason", hint='add --physical-reason "..."'
        )
    return PhysicalCheck(status, (reason or "").strip() or None, notes)


# -- The lock -------------------------------------------------------------------------------


@contextmanager
def incident_lock(incident_id: str, data_dir: Path | None = None) -> Iterator[None]:
    """Hold the incident's lock for the block; the lock file names the holder.

    Raises:
        IncidentBusyError: another process holds it.
    """
    path = (data_dir or settings.data_dir()) / "locks" / f"{incident_id}.lock"
    try:
        with files.holding_lock(path):
            yield
    except files.LockHeld as held:
        raise IncidentBusyError(incident_id, held.holder) from None


# -- Opening, running, resuming -------------------------------------------------------------


def open_incident(
    intake: Intake, options: RunOptions, data_dir: Path | None = None
) -> dict[str, Any]:
    """Record steps 1-3, run steps 4-7, decide and take the branch; return the summary.

    Raises:
        UsageError: a value of the intake is bad.
        RecordsError: the records cannot be written.
        ExecutionError: the playbooks cannot be run at all.
    """
    documents.check_lang(options.lang)
    variables = inventory_vars()
    facts = site_facts(intake.site, variables)
    fields = _validate(intake, facts)
    physical = options.physical or PhysicalCheck()
    fields.update(
        physical_check=physical.status,
        physical_reason=physical.reason,
        physical_notes=dict(physical.notes),
    )
    with open_records(data_dir) as records:
        incident_id = records.create_incident(fields)
        with incident_lock(incident_id, data_dir):
            _record_intake(records, incident_id)
            _run_and_conclude(_Session(records, variables, options, data_dir), incident_id)
        escalate_if_due(records, incident_id, options.lang)
        return summary(records, incident_id)


def resume_incident(
    incident_id: str, options: RunOptions, data_dir: Path | None = None
) -> dict[str, Any]:
    """Carry a stopped incident on from its last completed step; return the summary.

    A physical check given now replaces the recorded one and the verdict is
    decided again with it.

    Raises:
        IncidentNotFoundError: no such incident.
        IncidentBusyError: a run holds it.
        IncidentStateError: it is closed.
    """
    documents.check_lang(options.lang)
    variables = inventory_vars()
    with open_records(data_dir) as records, incident_lock(incident_id, data_dir):
        incident = records.get_incident(incident_id)
        if incident["state"] == "closed":
            raise IncidentStateError(
                f"{incident_id} is closed", hint="open a new incident for a new disruption"
            )
        ended = execution.end_leftover_runs(incident_id, data_dir)
        records.add_event(
            incident_id, "resume", "run resumed", {"ended_pids": ended, "pid": os.getpid()}
        )
        if options.physical is not None:
            records.update_incident(
                incident_id,
                physical_check=options.physical.status,
                physical_reason=options.physical.reason,
                physical_notes=dict(options.physical.notes),
            )
        _record_intake(records, incident_id)
        _run_and_conclude(_Session(records, variables, options, data_dir), incident_id)
        escalate_if_due(records, incident_id, options.lang)
        return summary(records, incident_id)


def _record_intake(records: Records, incident_id: str) -> None:
    incident = records.get_incident(incident_id)
    done = records.completed_steps(incident_id)
    notes = {
        1: (
            incident["received_at"],
            f"letter {incident['letter_no']} of {incident['letter_date']}"
            f" via {incident['channel']}",
        ),
        2: (incident["disposed_at"], f"disposition to {incident['assignee']}"),
        3: (now(), "follow-up started: the runbook checks steps 4-7"),
    }
    for number, (started, note) in notes.items():
        if number not in done:
            records.record_step(
                incident_id, number, step(number).key, "done", note=note, started_at=started
            )
            records.add_event(incident_id, step(number).key, note, time=started)


def _physical_of(incident: Mapping[str, Any]) -> PhysicalCheck:
    return PhysicalCheck(
        incident.get("physical_check") or "pending",
        incident.get("physical_reason"),
        dict(incident.get("physical_notes") or {}),
    )


def _physical_note(physical: PhysicalCheck) -> str:
    text = f"physical check {physical.status}"
    if physical.reason:
        text += f" ({physical.reason})"
    notes = "; ".join(f"{device}: {note}" for device, note in physical.notes.items())
    return f"{text}: {notes}" if notes else text


def _run_steps(
    session: _Session, incident_id: str, wanted: Sequence[Step]
) -> execution.RunResult | None:
    if not wanted:
        return None
    records, options = session.records, session.options
    incident = records.get_incident(incident_id)
    physical = _physical_of(incident)

    def store(result: execution.StepResult) -> None:
        note = result.note
        if result.step.number == 4:
            note = "; ".join(filter(None, [_physical_note(physical), note]))
        records.record_step(
            incident_id,
            result.step.number,
            result.step.key,
            result.outcome,
            evidence=result.checks,
            note=note,
            started_at=result.started_at,
        )
        log.info(
            "%s: step %d (%s) stored: %s, %d checks",
            incident_id, result.step.number, result.step.key, result.outcome, len(result.checks),
        )  # fmt: skip
        records.add_event(
            incident_id,
            "step_finished",
            f"step {result.step.number} ({result.step.key}): {result.outcome}",
            {"checks": len(result.checks)},
        )

    def progress(item: execution.Progress) -> None:
        if item.kind == "step_started" and item.step is not None:
            records.add_event(
                incident_id, "step_started", f"step {item.step.number} ({item.step.key}) started"
            )
        options.on_progress(item)

    return execution.run_steps(
        incident_id,
        incident["site"],
        wanted,
        on_step=store,
        on_progress=progress,
        timeout=options.timeout,
        data_dir=session.data_dir,
        parallel=options.parallel,
    )


def latest_checks(records: Records, incident_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the checks of the latest attempt of steps 4-7 and the steps that gave none."""
    latest: dict[int, dict[str, Any]] = {}
    for attempt in records.steps(incident_id):
        if attempt["step"] in {s.number for s in CHECK_STEPS}:
            latest[attempt["step"]] = attempt
    checks: list[dict[str, Any]] = []
    missing = []
    for wanted in CHECK_STEPS:
        found = latest.get(wanted.number)
        if found is None or not found["evidence"]:
            missing.append(wanted.key)
            continue
        checks.extend(found["evidence"])
    return checks, missing


def _decide(records: Records, incident_id: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    incident = records.get_incident(incident_id)
    checks, missing = latest_checks(records, incident_id)
    facts = site_facts(incident["site"], variables)
    return decide(checks, facts, _physical_of(incident), steps_missing=missing)


def _run_and_conclude(session: _Session, incident_id: str) -> None:
    done = session.records.completed_steps(incident_id)
    wanted = [s for s in CHECK_STEPS if s.number not in done]
    _run_steps(session, incident_id, wanted)
    verdict = _decide(session.records, incident_id, session.variables)
    _conclude(session, incident_id, verdict)


def _conclude(session: _Session, incident_id: str, verdict: dict[str, Any]) -> None:
    """Store the verdict and take its branch; every part is done once."""
    records = session.records
    incident = records.get_incident(incident_id)
    ticketed = bool(incident["isp_ticket_at"])
    # Once the ISP has a ticket, the incident stays on that branch.
    branch = incident["branch"] if ticketed else verdict["branch"]
    records.update_incident(
        incident_id,
        connected=verdict["connected"],
        degraded=verdict["degraded"],
        segment=verdict["segment"],
        segments=verdict["segments"],
        confidence=verdict["confidence"],
        verdict=verdict,
        branch=branch,
    )
    records.add_event(
        incident_id,
        "verdict",
        f"connected={verdict['connected']} segment={verdict['segment']} branch={branch}",
        {"segments": verdict["segments"], "confidence": verdict["confidence"], "full": verdict},
    )
    if verdict["branch"] == "completion_report":
        _resolve(session, incident_id)
    elif branch == "isp_ticket":
        _isp_ticket(session, incident_id, verdict)
    else:
        records.update_incident(incident_id, state="internal_action")
        _write(session, incident_id, "internal_action")


def _isp_finding(verdict: Mapping[str, Any]) -> dict[str, Any]:
    return next(f for f in verdict["findings"] if f["provider"])


def _isp_ticket(session: _Session, incident_id: str, verdict: Mapping[str, Any]) -> None:
    records = session.records
    incident = records.get_incident(incident_id)
    if incident["isp_ticket_at"]:
        log.info("%s: the ISP ticket was written before; not again", incident_id)
        return
    finding = _isp_finding(verdict)
    records.update_incident(
        incident_id,
        state="waiting_isp",
        isp_provider=finding["provider"],
        isp_circuit_id=finding["circuit_id"],
    )
    paths = [
        _write(session, incident_id, "isp_ticket", fmt) for fmt in documents.FORMATS["isp_ticket"]
    ]
    stamp = now()
    records.update_incident(incident_id, isp_ticket_at=stamp)
    note = f"ISP ticket for {finding['provider']} (circuit {finding['circuit_id']}): {paths[0]}"
    records.record_step(incident_id, 8, "isp", "done", note=note, started_at=stamp)
    records.add_event(incident_id, "isp_ticket", note, {"paths": [str(p) for p in paths]})
    if session.options.notify:
        _notify_isp(records, incident_id, finding, paths, session.options.lang)


def _resolve(session: _Session, incident_id: str) -> None:
    records = session.records
    incident = records.get_incident(incident_id)
    if incident["resolved_at"] is None:
        records.update_incident(incident_id, resolved_at=now())
        records.add_event(incident_id, "resolved", "the site is connected and healthy")
    if incident["state"] != "closed":
        records.update_incident(incident_id, state="resolved")
    _report(session, incident_id)


def _report(session: _Session, incident_id: str) -> None:
    """Write the completion report; the first time, record step 9 and notify the agency."""
    records = session.records
    kinds = documents.FORMATS["completion_report"]
    paths = [_write(session, incident_id, "completion_report", fmt) for fmt in kinds]
    if 9 not in records.completed_steps(incident_id):
        records.record_step(incident_id, 9, "report", "done", note=f"completion report: {paths[0]}")
        if session.options.notify:
            _notify_completion(records, incident_id, paths, session.options.lang)


# -- Documents ------------------------------------------------------------------------------


def document_context(
    records: Records, incident_id: str, lang: str, variables: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the data every document template reads (see templates/)."""
    incident = records.get_incident(incident_id)
    facts = site_facts(incident["site"], variables)
    isps = variables.get("batiknet_isps") or {}
    verdict = incident["verdict"] or {}
    cause = _first_verdict(records, incident_id) or verdict
    for finding in [*verdict.get("findings", []), *cause.get("findings", [])]:
        provider = finding.get("provider")
        finding["provider_name"] = (isps.get(provider) or {}).get("name", provider)
    isp = None
    if incident["isp_provider"]:
        entry = isps.get(incident["isp_provider"]) or {}
        isp_finding: dict[str, Any] = next(
            (f for f in cause.get("findings", []) if f.get("provider")), {}
        )
        isp = {
            "key": incident["isp_provider"],
            "name": entry.get("name", incident["isp_provider"]),
            "contacts": entry.get("contacts") or [],
            "support_hours": entry.get("support_hours"),
            "circuit_id": incident["isp_circuit_id"],
            "segment": isp_finding.get("segment", "isp_upstream"),
        }
    sla = sla_of(incident)
    return {
        "incident": incident,
        "verdict": verdict,
        "cause": cause,
        "physical": {
            "status": incident["physical_check"] or "pending",
            "reason": incident["physical_reason"],
            "notes": incident["physical_notes"] or {},
        },
        "site": facts,
        "isp": isp,
        "steps": [
            {**attempt, "title": step(attempt["step"]).title(lang)}
            for attempt in records.steps(incident_id)
        ],
        "actions": actions(cause, facts, lang),
        "sla": sla,
        "resolution": _resolution(incident, sla),
        "escalations": records.escalations(incident_id),
        "generated_at": now(),
    }


def _first_verdict(records: Records, incident_id: str) -> dict[str, Any] | None:
    """Return the verdict that set the branch (the last one before any recheck)."""
    found = None
    for event in records.events(incident_id):
        if event["kind"] == "verdict" and event["data"].get("full"):
            found = dict(event["data"]["full"])
    return found


def actions(verdict: Mapping[str, Any], facts: SiteFacts, lang: str) -> list[dict[str, str]]:
    """Return what to check for each finding, in ``lang``."""
    texts = documents.TEXTS[lang]["actions"]
    core_device = (facts.core_port or ":").split(":")[0]
    result = []
    for finding in verdict.get("findings", []):
        targets = sorted({str(item.get("target")) for item in finding.get("evidence", [])})
        values = {
            "provider": finding.get("provider_name") or finding.get("provider") or "-",
            "circuit": finding.get("circuit_id") or "-",
            "site": facts.name,
            "gateway": facts.gateway or "-",
            "probe_host": facts.probe_host or "-",
            "core_port": facts.core_port or "-",
            "core_device": core_device or "-",
            "targets": ", ".join(targets) or "-",
        }
        key = "isp" if finding.get("provider") else finding["segment"]
        result.append({"segment": finding["segment"], "text": texts[key].format(**values)})
    return result


def sla_of(incident: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the SLA figures of an incident at its recovery (or now), None without a clock."""
    try:
        from runbook_runner.sla import SlaClock

        clock = SlaClock.from_config()
        return clock.evaluate_incident(incident, datetime.now(UTC)).to_dict()
    except (RunbookError, ValueError) as error:
        log.warning("%s: no SLA figures: %s", incident.get("id"), error)
        return None


def _resolution(incident: Mapping[str, Any], sla: Mapping[str, Any] | None) -> dict[str, Any]:
    end = incident.get("resolved_at") or incident.get("closed_at")
    received = datetime.fromisoformat(incident["received_at"])
    wall = (datetime.fromisoformat(end) - received).total_seconds() / 60 if end else None
    eta_met = None
    if incident.get("isp_eta") and incident.get("resolved_at"):
        eta_met = incident["resolved_at"] <= incident["isp_eta"]
    service = sla.get("elapsed_service_minutes") if sla and end else None
    return {"wall_minutes": wall, "service_minutes": service, "eta_met": eta_met}


def _write(session: _Session, incident_id: str, kind: str, fmt: str = "md") -> Path:
    records, lang = session.records, session.options.lang
    context = document_context(records, incident_id, lang, session.variables)
    path = documents.write(incident_id, kind, lang, fmt, context, data_dir=session.data_dir)
    records.add_document(incident_id, kind, lang, fmt, path)
    records.add_event(
        incident_id, "document", f"{kind} ({lang}, {fmt}) written", {"path": str(path)}
    )
    return path


# -- Notifications (best effort: the document is written whatever happens) -------------------


def _notify_isp(
    records: Records, incident_id: str, finding: Mapping[str, Any], paths: Sequence[Path], lang: str
) -> None:
    try:
        from runbook_runner import notices

        text = paths[0].read_text(encoding="utf-8")
        html = paths[1].read_text(encoding="utf-8") if len(paths) > 1 else None
        incident = records.get_incident(incident_id)
        notices.send_isp_ticket(
            incident_id,
            str(finding["provider"]),
            incident["site"],
            str(finding.get("circuit_id") or ""),
            notices.Document(text, html),
            lang=lang,
        )
        records.add_event(incident_id, "notification", "ISP ticket queued in the outbox")
    except (RunbookError, OSError) as error:
        log.warning("%s: the ISP ticket was not queued: %s", incident_id, error)
        records.add_event(incident_id, "notification", f"ISP ticket not queued: {error}")


def _notify_completion(
    records: Records, incident_id: str, paths: Sequence[Path], lang: str
) -> None:
    try:
        from runbook_runner import notices

        text = paths[0].read_text(encoding="utf-8")
        html = paths[1].read_text(encoding="utf-8") if len(paths) > 1 else None
        site = records.get_incident(incident_id)["site"]
        notices.send_completion_notice(
            incident_id, site, notices.Document(text, html, tuple(paths[1:])), lang=lang
        )
        records.add_event(incident_id, "notification", "completion notice queued in the outbox")
    except (RunbookError, OSError) as error:
        log.warning("%s: the completion notice was not queued: %s", incident_id, error)
        records.add_event(incident_id, "notification", f"completion notice not queued: {error}")


def escalate_if_due(
    records: Records,
    incident_id: str,
    lang: str = "id",
    *,
    beyond_reach: bool = False,
    note: str | None = None,
) -> str | None:
    """Escalate an open incident at risk, breached or beyond the technician's reach.

    Each reason is escalated once; a reason ranked below one already
    escalated is not. Returns the reason escalated now, or None.
    """
    incident = records.get_incident(incident_id)
    if incident["state"] in ("resolved", "closed"):
        return None
    try:
        from runbook_runner import escalation
        from runbook_runner.config import load_config
        from runbook_runner.outbox import Outbox

        sla = sla_of(incident)
        already = [e["reason"] for e in records.escalations(incident_id)]
        status = sla.get("status") if sla else None
        reason = escalation.decide_escalation(status, beyond_reach, already)
        if reason is None:
            return None
        official = load_config().escalation.official()
        summary_data = {**incident, "id": incident_id, "sla": sla}
        if note:
            summary_data["note"] = note
        path = escalation.write_escalation_message(
            Outbox().pending_dir, summary_data, reason, official, lang
        )
        records.add_escalation(
            incident_id, str(reason), "complaints_official", recipient=official.get("email")
        )
        records.add_event(incident_id, "escalation", f"escalated: {reason}", {"path": str(path)})
        return str(reason)
    except (RunbookError, ValueError, OSError) as error:
        log.warning("%s: escalation not recorded: %s", incident_id, error)
        return None


# -- The later steps ------------------------------------------------------------------------


def record_isp(
    incident_id: str,
    ref: str,
    eta: str | None,
    contact: str | None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Record the ISP's ticket reference, recovery estimate and contact (step 8).

    Raises:
        IncidentNotFoundError: no such incident.
        IncidentStateError: the incident has no ISP ticket.
        UsageError: the reference is empty or the estimate is not a time.
    """
    with open_records(data_dir) as records:
        incident = records.get_incident(incident_id)
        if not incident["isp_ticket_at"]:
            raise IncidentStateError(
                f"{incident_id} has no ISP ticket (branch {incident['branch']})",
                hint="record an ISP reference only for an incident whose fault is an ISP's",
            )
        fields: dict[str, Any] = {
            "isp_ref": _text(ref, "ISP reference", limit=200),
            "isp_recorded_at": now(),
        }
        if eta:
            fields["isp_eta"] = parse_time(eta, "ETA")
        if contact:
            fields["isp_contact"] = _text(contact, "ISP contact", limit=200)
        records.update_incident(incident_id, **fields)
        records.add_event(
            incident_id,
            "isp_ref",
            f"ISP reference {fields['isp_ref']}, estimate {fields.get('isp_eta', '-')}",
            fields,
        )
        return summary(records, incident_id)


def recheck(
    incident_id: str,
    options: RunOptions,
    *,
    watch: bool = False,
    interval: float = 60.0,
    max_wait: float = 900.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Check again (steps 4-7) until the site is healthy or the bound is reached.

    Each attempt is recorded; a healthy site gets the completion report. With
    ``watch`` the attempts repeat every ``interval`` seconds for at most
    ``max_wait`` seconds (and at most ``max_wait / interval + 1`` attempts).

    Raises:
        IncidentNotFoundError: no such incident.
        IncidentBusyError: a run holds it.
        IncidentStateError: it is closed, or has no verdict yet (resume it first).
    """
    documents.check_lang(options.lang)
    variables = inventory_vars()
    limit = int(max_wait // max(interval, 1)) + 1 if watch else 1
    started = clock()
    with open_records(data_dir) as records, incident_lock(incident_id, data_dir):
        incident = records.get_incident(incident_id)
        if incident["state"] == "closed":
            raise IncidentStateError(f"{incident_id} is closed", hint="nothing to check again")
        if incident["verdict"] is None:
            raise IncidentStateError(
                f"{incident_id} has not been through steps 4-7 yet",
                hint=f"carry it on first: runbook incident --resume {incident_id}",
            )
        session = _Session(records, variables, options, data_dir)
        for attempt in range(1, limit + 1):
            records.add_event(incident_id, "recheck", f"recheck attempt {attempt}")
            _run_steps(session, incident_id, CHECK_STEPS)
            verdict = _decide(records, incident_id, variables)
            healthy = verdict["connected"] is True and not verdict["findings"]
            # The diagnosis (segment, verdict) stays the cause; a recheck only
            # says whether the site is connected now.
            records.update_incident(
                incident_id, connected=verdict["connected"], degraded=verdict["degraded"]
            )
            records.add_event(
                incident_id,
                "recheck_verdict",
                f"recheck {attempt}: connected={verdict['connected']} segment={verdict['segment']}",
                {"latest": _latest_of(verdict), "healthy": healthy},
            )
            if healthy:
                _resolve(session, incident_id)
                break
            if attempt == limit or clock() - started + interval > max_wait:
                break
            sleep(interval)
        escalate_if_due(records, incident_id, options.lang)
        return summary(records, incident_id)


def write_report(
    incident_id: str, lang: str = "id", fmt: str = "md", data_dir: Path | None = None
) -> Path:
    """Write the completion report (or, before recovery, the current document); return its path.

    Raises:
        IncidentNotFoundError: no such incident.
        UsageError: an unknown language or format.
    """
    documents.check_lang(lang)
    variables = inventory_vars()
    with open_records(data_dir) as records:
        records.get_incident(incident_id)
        session = _Session(records, variables, RunOptions(lang=lang), data_dir)
        return _write(session, incident_id, "completion_report", fmt)


def close_incident(
    incident_id: str,
    *,
    force: bool = False,
    reason: str | None = None,
    lang: str = "id",
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Close an incident (step 10); refused while not connected unless forced with a reason.

    Raises:
        IncidentNotFoundError: no such incident.
        IncidentStateError: not connected and not forced, or already closed.
        UsageError: forced without a reason.
    """
    variables = inventory_vars()
    with open_records(data_dir) as records, incident_lock(incident_id, data_dir):
        incident = records.get_incident(incident_id)
        if incident["state"] == "closed":
            raise IncidentStateError(f"{incident_id} is closed already", hint="nothing to do")
        if incident["connected"] is not True and not force:
            raise IncidentStateError(
                f"{incident_id} is not connected (segment {incident['segment']})",
                hint=f"run `runbook recheck {incident_id}` after the repair, or close it with"
                ' --force --reason "..."',
            )
        if force and not (reason or "").strip():
            raise UsageError("--force needs a --reason", hint='add --reason "why it is closed"')
        stamp = now()
        fields: dict[str, Any] = {"state": "closed", "closed_at": stamp}
        if force:
            fields.update(forced_close=True, close_reason=_text(reason or "", "reason", limit=500))
        records.update_incident(incident_id, **fields)
        _report(_Session(records, variables, RunOptions(lang=lang), data_dir), incident_id)
        note = "closed" + (f" by force: {fields['close_reason']}" if force else "")
        records.record_step(incident_id, 10, "close", "done", note=note, started_at=stamp)
        records.add_event(incident_id, "close", note)
        return summary(records, incident_id)


# -- Views ----------------------------------------------------------------------------------


def summary(records: Records, incident_id: str) -> dict[str, Any]:
    """Return the incident as one JSON-ready object (the ``--json`` output)."""
    incident = records.get_incident(incident_id)
    verdict = incident["verdict"] or {}
    latest = _latest_of(verdict)
    for event in records.events(incident_id):
        if event["kind"] == "recheck_verdict":
            latest = event["data"]["latest"] | {"time": event["time"]}
    return {
        "incident": incident_id,
        "state": incident["state"],
        "site": incident["site"],
        "opd_name": incident["opd_name"],
        "letter_no": incident["letter_no"],
        "letter_date": incident["letter_date"],
        "channel": incident["channel"],
        "assignee": incident["assignee"],
        "received_at": incident["received_at"],
        "connected": incident["connected"],
        "degraded": incident["degraded"],
        "segment": incident["segment"],
        "segments": incident["segments"],
        "branch": incident["branch"],
        "confidence": incident["confidence"],
        "findings": verdict.get("findings", []),
        "contradictions": verdict.get("contradictions", []),
        "unchecked": verdict.get("unchecked", []),
        "physical_check": {
            "status": incident["physical_check"],
            "reason": incident["physical_reason"],
            "notes": incident["physical_notes"],
        },
        "isp": {
            "provider": incident["isp_provider"],
            "circuit_id": incident["isp_circuit_id"],
            "ticket_at": incident["isp_ticket_at"],
            "ref": incident["isp_ref"],
            "eta": incident["isp_eta"],
            "contact": incident["isp_contact"],
        },
        "resolved_at": incident["resolved_at"],
        "closed_at": incident["closed_at"],
        "close_reason": incident["close_reason"],
        "documents": [d["path"] for d in records.documents(incident_id)],
        "steps": [
            {
                key: attempt[key]
                for key in ("step", "name", "attempt", "started_at", "ended_at", "outcome", "note")
            }
            | {"checks": len(attempt["evidence"])}
            for attempt in records.steps(incident_id)
        ],
        "escalations": records.escalations(incident_id),
        "sla": sla_of(incident),
        "latest": latest,
    }


def _latest_of(verdict: Mapping[str, Any]) -> dict[str, Any]:
    """Return the part of a verdict that says how the site is now."""
    return {
        "connected": verdict.get("connected"),
        "degraded": verdict.get("degraded"),
        "segment": verdict.get("segment"),
        "segments": verdict.get("segments", []),
        "findings": [
            {key: f.get(key) for key in ("segment", "status", "summary")}
            for f in verdict.get("findings", [])
        ],
    }
