"""The technician's commands: incident, isp, recheck, report, close, list, show, demo.

``runbook incident`` carries an incident from the agency's letter to the
verdict; the others carry it on to the close. ``--json`` on incident,
recheck and show prints one JSON object (docs/runner.md lists its fields).
Progress goes to the terminal with rich when it is one, as plain lines
otherwise; the runbook never waits for an answer when standard input is not
a terminal.
"""

import argparse
import fcntl
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from runbook_runner import documents, execution, incidents
from runbook_runner.errors import RunbookError, UsageError
from runbook_runner.records import open_records
from runbook_runner.verdict import PHYSICAL_STATES, PhysicalCheck

log = logging.getLogger(__name__)

LAB_LOCK = Path("/run/lock/batiknet-lab.lock")
DEMO_FAULT = "uplink-down"
DEMO_SITE = "opd1"

_EXAMPLES = {
    "incident": """example:
  runbook incident --site opd1 --letter-no 005/123/2026 --letter-date 2026-12-03 \\
      --complaint "Internet mati sejak pagi" --channel letter --assignee "Budi" \\
      --physical-check confirmed --observed "bn-opd1-gw=powered, WAN link light off"
  runbook incident --resume INC-2026-0001""",
    "isp": 'example:\n  runbook isp INC-2026-0001 --ref LDP-77812 --eta "2026-12-03 14:00" '
    '--contact "Andi (NOC)"',
    "recheck": "example:\n  runbook recheck INC-2026-0001 --watch --interval 60 --max-wait 1800",
    "report": "example:\n  runbook report INC-2026-0001 --lang en --format html",
    "close": "example:\n  runbook close INC-2026-0001\n"
    '  runbook close INC-2026-0002 --force --reason "the OPD moved out"',
    "escalate": "example:\n"
    '  runbook escalate INC-2026-0001 --reason "the gateway needs a vendor replacement"',
    "list": "example:\n  runbook list --open",
    "show": "example:\n  runbook show INC-2026-0001 --json",
    "demo": "example:\n  runbook demo",
}


def register(subparsers: Any) -> None:
    """Add the incident commands to the ``runbook`` parser."""
    _register_incident(subparsers)
    _register_isp(subparsers)
    _register_recheck(subparsers)
    _register_report(subparsers)
    _register_close(subparsers)
    _register_escalate(subparsers)
    _register_list(subparsers)
    _register_show(subparsers)
    demo = _parser(subparsers, "demo", "run the whole story on the lab: fault, ticket, heal, close")
    demo.add_argument("--lang", choices=documents.LANGS, default="id")
    demo.set_defaults(handler=_demo)


def _parser(subparsers: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=_EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _register_incident(subparsers: Any) -> None:
    parser = _parser(subparsers, "incident", "open an incident and run SOP steps 1-7")
    parser.add_argument("--site", help="the site key of the inventory (opd1)")
    parser.add_argument("--letter-no", help="the number of the agency's notice letter")
    parser.add_argument("--letter-date", help="the date of the letter, 2026-12-03")
    parser.add_argument("--complaint", help="the complaint as the letter states it")
    parser.add_argument("--channel", choices=incidents.CHANNELS, default="letter")
    parser.add_argument("--assignee", help="the technician of the disposition")
    parser.add_argument("--opd-name", help="the agency's name (default: the inventory's)")
    parser.add_argument("--received", help='when the office received it, "2026-12-03 08:15" WIB')
    parser.add_argument("--resume", metavar="INC", help="carry on a stopped incident")
    _physical_arguments(parser)
    _run_arguments(parser)
    parser.set_defaults(handler=_incident)


def _physical_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--physical-check",
        choices=PHYSICAL_STATES,
        help="step 4's physical check by the technician (asked on a terminal; pending otherwise)",
    )
    parser.add_argument("--physical-reason", help="why the physical check is pending or skipped")
    parser.add_argument(
        "--observed",
        action="append",
        default=[],
        metavar="DEVICE=NOTE",
        help='what the technician saw, e.g. "bn-opd3-gw=no power, all lights off" (repeatable)',
    )


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=documents.LANGS, default="id", help="of the documents")
    parser.add_argument(
        "--timeout",
        type=int,
        default=execution.DEFAULT_TIMEOUT,
        help="seconds one playbook run may take (default %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-notify", action="store_true", help="write the documents but queue no message"
    )


def _register_isp(subparsers: Any) -> None:
    parser = _parser(subparsers, "isp", "record the ISP's ticket reference and estimate (step 8)")
    parser.add_argument("incident", metavar="INC")
    parser.add_argument("--ref", required=True, help="the ISP's ticket number")
    parser.add_argument("--eta", help='the recovery estimate, "2026-12-03 14:00" WIB')
    parser.add_argument("--contact", help="the person at the ISP")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_isp)


def _register_recheck(subparsers: Any) -> None:
    parser = _parser(subparsers, "recheck", "check again (steps 4-7); connected: the report")
    parser.add_argument("incident", metavar="INC")
    parser.add_argument("--watch", action="store_true", help="repeat until healthy or the bound")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between attempts")
    parser.add_argument("--max-wait", type=float, default=900.0, help="seconds to watch at most")
    _run_arguments(parser)
    parser.set_defaults(handler=_recheck)


def _register_report(subparsers: Any) -> None:
    parser = _parser(subparsers, "report", "write the completion report (step 9)")
    parser.add_argument("incident", metavar="INC")
    parser.add_argument("--lang", choices=documents.LANGS, default="id")
    parser.add_argument("--format", choices=("md", "html"), default="md", dest="fmt")
    parser.set_defaults(handler=_report)


def _register_close(subparsers: Any) -> None:
    parser = _parser(subparsers, "close", "close an incident (step 10)")
    parser.add_argument("incident", metavar="INC")
    parser.add_argument("--force", action="store_true", help="close although not connected")
    parser.add_argument("--reason", help="why it is closed by force")
    parser.add_argument("--lang", choices=documents.LANGS, default="id")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_close)


def _register_escalate(subparsers: Any) -> None:
    parser = _parser(
        subparsers, "escalate", "pass an incident beyond your reach to the complaints official"
    )
    parser.add_argument("incident", metavar="INC")
    parser.add_argument("--reason", required=True, help="what you cannot solve, in a sentence")
    parser.add_argument("--lang", choices=documents.LANGS, default="id")
    parser.set_defaults(handler=_escalate)


def _register_list(subparsers: Any) -> None:
    parser = _parser(subparsers, "list", "list the incidents, newest first")
    parser.add_argument("--open", action="store_true", help="only those not closed")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(handler=_list)


def _register_show(subparsers: Any) -> None:
    parser = _parser(subparsers, "show", "show an incident: state, verdict, timeline, SLA")
    parser.add_argument("incident", metavar="INC")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_show)


# -- Progress -------------------------------------------------------------------------------


def _progress_printer(as_json: bool) -> tuple[Callable[[execution.Progress], None], Any]:
    """Return a progress callback and the rich status to stop (None without rich)."""
    stream: TextIO = sys.stderr if as_json else sys.stdout
    if stream.isatty() and not as_json:
        from rich.console import Console

        console = Console(file=stream)
        status = console.status("Starting the checks...")
        status.start()

        def show(item: execution.Progress) -> None:
            if item.kind == "step_finished":
                console.print(f"[bold]{item.message}[/bold]", markup=True, highlight=False)
                status.update("Waiting for the other steps...")
            elif item.kind == "task":
                status.update(f"{item.step.title() if item.step else ''}: {item.message}")

        return show, status

    def plain(item: execution.Progress) -> None:
        if item.kind in ("step_started", "step_finished"):
            print(item.message, file=stream, flush=True)

    return plain, None


@contextmanager
def _progress(as_json: bool) -> Iterator[Callable[[execution.Progress], None]]:
    callback, status = _progress_printer(as_json)
    try:
        yield callback
    finally:
        if status is not None:
            status.stop()


def _ask_physical(args: argparse.Namespace) -> PhysicalCheck | None:
    """Return the physical check from the flags, asking on a terminal only."""
    if args.physical_check:
        return incidents.physical_check(args.physical_check, args.physical_reason, args.observed)
    if args.observed:
        return incidents.physical_check("confirmed", args.physical_reason, args.observed)
    if args.resume:
        return None  # the recorded check stands
    if not sys.stdin.isatty():
        return PhysicalCheck("pending", "not given: the run was not interactive")
    answer = input("Physical check of the devices (confirmed/pending/skipped) [pending]: ")
    status = answer.strip() or "pending"
    observed = []
    reason = None
    if status == "confirmed":
        while note := input("What did you see? DEVICE=NOTE (empty line to finish): ").strip():
            observed.append(note)
    else:
        reason = input("Why? ").strip() or "not given"
    return incidents.physical_check(status, reason, observed)


# -- Handlers -------------------------------------------------------------------------------


def _options(args: argparse.Namespace, progress: Callable[[execution.Progress], None]) -> Any:
    return incidents.RunOptions(
        physical=getattr(args, "physical", None),
        lang=args.lang,
        timeout=args.timeout,
        on_progress=progress,
        notify=not args.no_notify,
    )


def _incident(args: argparse.Namespace) -> int:
    args.physical = _ask_physical(args)
    with _progress(args.json) as progress:
        options = _options(args, progress)
        if args.resume:
            result = incidents.resume_incident(args.resume, options)
        else:
            missing = [
                flag
                for flag, value in (
                    ("--site", args.site),
                    ("--letter-no", args.letter_no),
                    ("--letter-date", args.letter_date),
                    ("--complaint", args.complaint),
                    ("--assignee", args.assignee),
                )
                if not value
            ]
            if missing:
                raise UsageError(
                    f"missing {', '.join(missing)}",
                    hint="give the letter's details, or --resume INC to carry an incident on",
                )
            intake = incidents.Intake(
                site=args.site,
                letter_no=args.letter_no,
                letter_date=args.letter_date,
                complaint=args.complaint,
                assignee=args.assignee,
                channel=args.channel,
                received_at=args.received,
                opd_name=args.opd_name,
            )
            result = incidents.open_incident(intake, options)
    _print_result(result, args.json)
    return 0


def _recheck(args: argparse.Namespace) -> int:
    with _progress(args.json) as progress:
        result = incidents.recheck(
            args.incident,
            _options(args, progress),
            watch=args.watch,
            interval=args.interval,
            max_wait=args.max_wait,
        )
    _print_result(result, args.json)
    return 0


def _isp(args: argparse.Namespace) -> int:
    result = incidents.record_isp(args.incident, args.ref, args.eta, args.contact)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        isp = result["isp"]
        print(f"{result['incident']}: ISP reference {isp['ref']}, estimate {isp['eta'] or '-'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    path = incidents.write_report(args.incident, args.lang, args.fmt)
    print(path)
    return 0


def _close(args: argparse.Namespace) -> int:
    result = incidents.close_incident(
        args.incident, force=args.force, reason=args.reason, lang=args.lang
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{result['incident']}: closed.")
        _print_documents(result)
    return 0


def _escalate(args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise UsageError("an escalation needs a reason", hint='add --reason "..."')
    with open_records() as records:
        incident = records.get_incident(args.incident)
        if incident["state"] in ("resolved", "closed"):
            raise UsageError(
                f"{args.incident} is {incident['state']}: there is nothing left to escalate",
                hint="escalate only an incident that is still being handled",
            )
        reason = incidents.escalate_if_due(
            records, args.incident, args.lang, beyond_reach=True, note=args.reason.strip()
        )
        already = [e["reason"] for e in records.escalations(args.incident)]
    if reason is None and not already:
        raise RunbookError(
            f"{args.incident}: the escalation could not be written",
            hint="run again with -v to see why (the [escalation] settings or the outbox folder)",
        )
    if reason is None:
        print(f"{args.incident}: already escalated ({', '.join(already)}); nothing new to send.")
        return 0
    print(f"{args.incident}: escalated to the complaints official ({reason}).")
    return 0


def _list(args: argparse.Namespace) -> int:
    with open_records() as records:
        rows = records.list_incidents(open_only=args.open)
        for row in rows:
            row["sla"] = incidents.sla_of(row)
            row["escalations"] = [e["reason"] for e in records.escalations(row["id"])]
    if args.json:
        keys = ("id", "site", "opd_name", "state", "connected", "segment", "branch")
        data = [
            {k: row[k] for k in keys} | {"sla": row["sla"], "escalations": row["escalations"]}
            for row in rows
        ]
        print(json.dumps(data, ensure_ascii=False))
        return 0
    if not rows:
        print("No incidents." if not args.open else "No open incidents.")
        return 0
    print(f"{'incident':<15} {'site':<6} {'state':<16} {'conn':<5} {'segment':<13} {'SLA':<10} OPD")
    for row in rows:
        sla = row["sla"] or {}
        print(
            f"{row['id']:<15} {row['site']:<6} {row['state']:<16} {_yes_no(row['connected']):<5}"
            f" {row['segment'] or '-':<13} {sla.get('status') or '-':<10}"
            f" {' '.join(row['opd_name'].split())[:40]}"
            + (f"  (escalated: {', '.join(row['escalations'])})" if row["escalations"] else "")
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_records() as records:
        incidents.escalate_if_due(records, args.incident)
        result = incidents.summary(records, args.incident)
        events = records.events(args.incident)
    if args.json:
        result["timeline"] = [{k: e[k] for k in ("time", "kind", "message")} for e in events]
        print(json.dumps(result, ensure_ascii=False))
        return 0
    _print_human(result)
    print("\nTimeline:")
    for event in events:
        print(f"  {documents.office_time(event['time'])}  {event['kind']:<14} {event['message']}")
    return 0


# -- Output ---------------------------------------------------------------------------------


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    _print_human(result)


def _print_human(result: dict[str, Any]) -> None:
    connected = _yes_no(result["connected"])
    if result["connected"] and result["degraded"]:
        connected += " (degraded)"
    print(f"{result['incident']}  {result['opd_name']} ({result['site']})  state {result['state']}")
    print(f"  connected: {connected}")
    print(f"  segment:   {', '.join(result['segments'] or []) or result['segment'] or '-'}")
    latest = result.get("latest") or {}
    if latest.get("time"):
        now_segments = ", ".join(latest["segments"]) or "none"
        print(f"  now:       connected {_yes_no(latest['connected'])}, faults: {now_segments}"
              f" (recheck at {documents.office_time(latest['time'])})")  # fmt: skip
    print(f"  branch:    {result['branch'] or '-'}   confidence: {result['confidence'] or '-'}")
    for finding in result["findings"]:
        owner = (
            f" ({finding['provider']}, circuit {finding['circuit_id']})"
            if finding["provider"]
            else ""
        )
        print(f"  - {finding['segment']} {finding['status']}{owner}: {finding['summary']}")
        if finding["alternatives"]:
            print(f"    could also be: {', '.join(finding['alternatives'])}")
    for item in result["contradictions"]:
        print(f"  ! {item['message']}")
    sla = result.get("sla") or {}
    if sla:
        print(
            f"  SLA: {sla.get('status') or '-'}, service time {sla.get('elapsed_service_minutes')}"
            f" min, target due {documents.office_time(sla.get('target_due'))},"
            f" limit due {documents.office_time(sla.get('limit_due'))}"
        )
    if result["isp"]["ref"]:
        isp = result["isp"]
        print(f"  ISP: ref {isp['ref']}, estimate {documents.office_time(isp['eta'])}")
    for item in result.get("escalations") or []:
        print(f"  escalated: {item['reason']} to {item['level']} at {item['time']}")
    _print_documents(result)


def _print_documents(result: dict[str, Any]) -> None:
    for path in result["documents"]:
        print(f"  document: {path}")


# -- The demo -------------------------------------------------------------------------------


@contextmanager
def _lab_lock() -> Iterator[None]:
    LAB_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LAB_LOCK.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("Waiting for the lab: someone else is using it...", flush=True)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _demo(args: argparse.Namespace) -> int:
    from runbook_runner.lab import manager

    with _lab_lock():
        if not manager.is_up():
            _say("Bringing the lab up (runbook lab up)")
            manager.up()
        manager.heal()
        _say(f"Injecting the fault {DEMO_FAULT}: the upstream ISP's side of the uplink goes down")
        manager.fault(DEMO_FAULT)
        try:
            result = _demo_story(args.lang)
        finally:
            manager.heal()
    _say("The lab is healed. The documents:")
    _print_documents(result)
    return 0


def _demo_story(lang: str) -> dict[str, Any]:
    from runbook_runner.lab import manager

    with _progress(False) as progress:
        _say("Opening the incident (SOP steps 1-7)")
        options = incidents.RunOptions(
            physical=PhysicalCheck(
                "confirmed", None, {"bn-core": "powered, uplink port light off"}
            ),
            lang=lang,
            on_progress=progress,
        )
        intake = incidents.Intake(
            site=DEMO_SITE,
            letter_no="005/123/DEMO/2026",
            letter_date=incidents.now()[:10],
            complaint="Internet tidak dapat diakses dari kantor sejak pagi.",
            assignee="Teknisi Demo",
        )
        result = incidents.open_incident(intake, options)
        _print_human(result)
        incident_id = result["incident"]

        _say("Step 8: the ISP answers the ticket with its reference and estimate")
        eta = (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="minutes")
        result = incidents.record_isp(incident_id, "LDP-DEMO-0001", eta, "NOC Lintas Data Pesisir")
        print(f"  ISP reference {result['isp']['ref']}")

        _say("The ISP repairs the uplink (runbook lab heal)")
        manager.heal()

        _say("Checking again (runbook recheck)")
        result = incidents.recheck(incident_id, options, watch=True, interval=5, max_wait=60)
        _print_human(result)

    _say("Step 10: closing the incident")
    return incidents.close_incident(incident_id, lang=lang)
