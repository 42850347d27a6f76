"""``runbook outbox list|flush|retry|send``: see, deliver and queue the outgoing email."""

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from runbook_runner import notices, notifications
from runbook_runner.outbox import FAILED, PENDING, SENT, Message
from runbook_runner.records import open_records

_STYLE = {PENDING: "yellow", FAILED: "red", SENT: "green"}


def register(subparsers: Any) -> None:
    """Add ``runbook outbox`` and its sub-commands."""
    parser = subparsers.add_parser("outbox", help="see and deliver the outgoing email")
    commands = parser.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="show what is pending and why")
    listing.add_argument("--all", action="store_true", help="show the sent messages too")
    listing.set_defaults(handler=list_command)

    flushing = commands.add_parser("flush", help="deliver the messages that are due")
    flushing.add_argument("names", nargs="*", metavar="NAME", help="deliver these now, due or not")
    flushing.set_defaults(handler=flush_command)

    retrying = commands.add_parser("retry", help="make a failed or pending message due now")
    retrying.add_argument("names", nargs="+", metavar="NAME")
    retrying.set_defaults(handler=retry_command)

    sending = commands.add_parser(
        "send", help="queue the message of a written document (after fixing an address)"
    )
    sending.add_argument("incident", metavar="INCIDENT", help="the incident id, INC-YYYY-NNNN")
    sending.add_argument("kind", choices=sorted(notices.RECORDED_KINDS), metavar="KIND",
                         help="isp-ticket or completion-notice")  # fmt: skip
    sending.add_argument("--lang", choices=notifications.LANGUAGES, help="default: [notify] lang")
    sending.set_defaults(handler=send_command)


def list_command(args: argparse.Namespace) -> int:
    """Print the outbox as a table; return 0.

    Raises:
        ConfigError: the configuration is bad.
        OutboxError: the outbox cannot be read.
    """
    config = notifications.load_config()
    outbox = notifications.outbox_for(config)
    entries = outbox.entries(include_sent=args.all)
    # Piped into a file or grep, the table keeps whole names rather than folding at 80.
    console = Console(width=None if sys.stdout.isatty() else 200)
    if not entries:
        console.print(f"The outbox {outbox.root} is empty.")
        return 0
    console.print(_table(entries, datetime.now(UTC)))
    if not config.smtp.enabled:
        console.print(f"Delivery is off: no [smtp] host in {config.path}.")
    return 0


def _table(entries: list[Message], now: datetime) -> Table:
    table = Table(title="Outbox", show_lines=False)
    for column in ("name", "state", "to", "subject", "attempts", "next attempt", "why"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        # Text() keeps a subject such as "[bold]" from being read as rich markup.
        table.add_row(
            Text(entry.name),
            Text(entry.state, style=_STYLE.get(entry.state, "")),
            Text(", ".join(entry.recipients)),
            Text(entry.subject),
            str(entry.attempts),
            _next_attempt(entry, now),
            Text(_why(entry)),
        )
    return table


def _next_attempt(entry: Message, now: datetime) -> str:
    if entry.state == SENT:
        return f"sent {entry.sent_at:%Y-%m-%d %H:%M}" if entry.sent_at else "sent"
    if entry.state == FAILED:
        return "never (gave up)"
    if entry.next_attempt_at is None or entry.next_attempt_at <= now:
        return "due now"
    return entry.next_attempt_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _why(entry: Message) -> str:
    if entry.state == SENT:
        refused = ", ".join(entry.refused)
        return f"refused for {refused}" if refused else ""
    if entry.last_error:
        return f"{entry.error_kind}: {entry.last_error}"
    return "not tried yet"


def flush_command(args: argparse.Namespace) -> int:
    """Deliver the due messages (or the named ones); return 0 when none is left failing.

    Raises:
        ConfigError: the configuration is bad or the SMTP password is missing.
        OutboxError: the outbox cannot be read or written.
    """
    report = notifications.flush(names=args.names)
    for entry in report.sent:
        print(f"sent     {entry.name} to {', '.join(entry.recipients)}")
    for entry in report.failed:
        print(f"{entry.state:<8} {entry.name}: {entry.last_error}")
    print(report.summary())
    return 1 if report.failed else 0


def retry_command(args: argparse.Namespace) -> int:
    """Make the named messages due now with their attempts reset; return 0.

    Raises:
        OutboxError: a name is not in the outbox or its message is already sent.
    """
    outbox = notifications.outbox_for(notifications.load_config())
    now = datetime.now(UTC)
    for name in args.names:
        outbox.requeue(name, now)
        print(f"{name}: due now; deliver with `runbook outbox flush`")
    return 0


def send_command(args: argparse.Namespace) -> int:
    """Queue the message of an incident's written document, then deliver what is due; return 0.

    Raises:
        RecordsError: the incident is not in the records.
        OutboxError: the document is not written, or the outbox cannot be written.
        RecipientError: the inventory or the configuration holds no address for it.
        ConfigError: the configuration is bad.
    """
    config = notifications.load_config()
    with open_records() as records:
        incident = records.get_incident(args.incident)
        documents = records.documents(args.incident)
    entry = notices.send_recorded(incident, documents, args.kind, lang=args.lang, config=config)
    print(f"{entry.name}: {entry.state}, to {', '.join(entry.recipients)}")
    print(notifications.flush_due(config).summary())
    return 0
