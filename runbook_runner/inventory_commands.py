"""``runbook inventory check``: the infra team's check of the inventory before a commit."""

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from runbook_runner import inventory_check, settings

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add ``runbook inventory check`` to the ``runbook`` parser."""
    parser = subparsers.add_parser(
        "inventory", help="check the inventory the infra team keeps", description=__doc__
    )
    commands = parser.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    check = commands.add_parser(
        "check",
        help="check addresses, duplicates, SNMP settings and sites; exit 2 on a problem",
        description="Check an inventory as the runbook does before it touches any device.",
        epilog="example:\n  runbook inventory check -i inventory/lab -i /run/batiknet-lab/"
        "inventory/scale.yml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "-i",
        "--inventory",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="inventory file or directory, repeatable (default: RUNBOOK_INVENTORY or the lab's)",
    )
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Print every problem of the inventory, one a line; return 0 when there is none."""
    sources = args.inventory or [settings.inventory_path()]
    problems = inventory_check.check_inventory(sources)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"runbook: {len(problems)} problem(s) in the inventory", file=sys.stderr)
        return inventory_check.InventoryError.exit_code
    print(f"{', '.join(str(s) for s in sources)}: no problem found")
    return 0
