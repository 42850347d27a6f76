"""``runbook sla``: the due times of a letter and, at an instant, where it stands.

It checks the working calendar on its own, without any incident:

    runbook sla --received "2026-03-17 15:40" --at "2026-03-26 12:00" --json
"""

import argparse
import json
import sys
from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table

from runbook_runner.calendar import collect_calendar_warnings
from runbook_runner.errors import UsageError
from runbook_runner.sla import SlaClock, SlaReport, format_duration

TIME_FORMATS = "'YYYY-MM-DD HH:MM' (WIB) or ISO 8601 with an offset, e.g. 2026-03-17T08:40+00:00"


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the ``sla`` sub-command."""
    parser = subparsers.add_parser(
        "sla",
        help="show the SLA due times of a letter, and its status at a time",
        description=(
            "Show the resolution target, the service limit and the at-risk time of a letter "
            "received at --received, counted in the office's service hours; with --at, the "
            "service time elapsed then and the status. Times without an offset are WIB."
        ),
        epilog='example: runbook sla --received "2026-03-17 15:40" --at "2026-03-26 12:00"',
    )
    parser.add_argument("--received", required=True, metavar="TIME", help="when the letter came")
    parser.add_argument("--at", metavar="TIME", help="the instant to evaluate; 'now' for now")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the due times (and the status with ``--at``); return the exit code.

    Raises:
        UsageError: a time is malformed, or ``--at`` is before ``--received``.
        ConfigError: the configuration holds a bad value.
    """
    clock = SlaClock.from_config()
    received = parse_time(args.received, "--received", clock)
    at = None if args.at is None else parse_time(args.at, "--at", clock)
    if at is not None and at < received:
        raise UsageError(
            f"--at {args.at!r} is before --received {args.received!r}",
            hint="give an --at time after the letter was received",
        )
    with collect_calendar_warnings() as notes:
        report = clock.evaluate(received, at)
    if args.json:
        print(json.dumps({**report.to_dict(), "warnings": notes}, indent=2, ensure_ascii=False))
    else:
        _print_table(report)
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def parse_time(text: str, option: str, clock: SlaClock) -> datetime:
    """Return the instant ``text`` names; naive times are office time, 'now' is now.

    Raises:
        UsageError: ``text`` is not a time.
    """
    if text.strip().lower() == "now":
        return datetime.now(clock.calendar.zone)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise UsageError(
            f"{option} {text!r} is not a time", hint=f"write {TIME_FORMATS}"
        ) from error
    return clock.calendar.localize(moment)


def _print_table(report: SlaReport) -> None:
    due, policy = report.due, report.policy
    table = Table(title="SLA clock (service hours)", show_header=False)
    table.add_column("item", style="bold")
    table.add_column("time")
    table.add_column("note")
    table.add_row("Received", _when(due.received), "")
    if due.clock_start != due.received:
        table.add_row("Clock starts", _when(due.clock_start), "outside service hours")
    share = f"{float(policy.at_risk_share):.0%} of the target"
    table.add_row("At risk from", _when(due.at_risk_from), share)
    for label, moment, days, service in (
        ("Target due", due.target_due, policy.target_working_days, report.target_service_time),
        ("Limit due", due.limit_due, policy.limit_working_days, report.limit_service_time),
    ):
        note = f"{float(days):g} working days, {format_duration(service)} of service"
        table.add_row(label, _when(moment), note)
    for closed in report.closed_days:
        table.add_row("Closed", f"{closed.day:%a %Y-%m-%d}", closed.reason)
    if report.at is not None:
        _add_status_rows(table, report)
    Console(highlight=False).print(table)


def _add_status_rows(table: Table, report: SlaReport) -> None:
    service = report.elapsed_service or timedelta()
    wall = report.elapsed_wall or timedelta()
    days = float(report.elapsed_working_days or 0)
    share = float(report.share_of_target() or 0)
    table.add_row("At", _when(report.at), "")
    table.add_row("Elapsed service", format_duration(service), f"{days:.2f} working days")
    table.add_row("Elapsed wall-clock", format_duration(wall, with_days=True), "")
    limit = "; service limit exceeded" if report.limit_exceeded else ""
    table.add_row("Status", str(report.status), f"{share:.0%} of the target spent{limit}")


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%a %Y-%m-%d %H:%M %Z}"
