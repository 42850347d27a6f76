"""The ``runbook`` command: one sub-command per job of the office.

Each area of the runbook registers its own sub-commands; this module only
assembles them, configures logging and turns a :class:`RunbookError` into one
message and an exit code.
"""

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from runbook_runner import __version__
from runbook_runner.errors import RunbookError

# Each module has ``register(subparsers)``, which adds its sub-commands and
# sets ``handler`` on each parser: a callable taking the parsed arguments and
# returning the exit code.
COMMAND_MODULES = (
    "runbook_runner.lab.commands",
    "runbook_runner.outbox_commands",
    "runbook_runner.sla_commands",
    "runbook_runner.incident_commands",
    "runbook_runner.evaluation_commands",
    "runbook_runner.health_commands",
    "runbook_runner.inventory_commands",
)

# The commands after which whatever the outbox holds and is due goes out, so
# that a message left pending by a mail server that was down is retried by the
# technician's next command without anyone remembering `runbook outbox flush`.
OUTBOX_FLUSHING_COMMANDS = frozenset(
    {"incident", "isp", "recheck", "report", "close", "escalate", "health"}
)

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the whole command line."""
    parser = argparse.ArgumentParser(
        prog="runbook",
        description="Handle a disruption of Batik.Net the way the service standard says.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _flush_outbox() -> None:
    from runbook_runner.notifications import flush_due

    report = flush_due()
    if report.error:
        print(f"runbook: the outbox was not flushed: {report.error}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        status = int(args.handler(args))
        if args.command in OUTBOX_FLUSHING_COMMANDS:
            _flush_outbox()
        return status
    except RunbookError as error:
        print(f"runbook: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"  {error.hint}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("runbook: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`runbook list | head`): nothing more to say,
        # and nothing for the interpreter to flush into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
