"""The ``runbook lab`` sub-commands: up, down, status, fault, heal, exec.

The handlers import the lab on use, so that building the parser stays cheap
for every other command.
"""

import argparse
import json
import sys
import time
from typing import Any

from runbook_runner.errors import UsageError


def register(subparsers: Any) -> None:
    """Add ``lab`` and its sub-commands to the ``runbook`` parser."""
    lab = subparsers.add_parser(
        "lab",
        help="the Batik.Net lab network on this machine",
        description="Build, inspect and break the Batik.Net lab (network namespaces).",
    )
    commands = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", required=True)

    up = commands.add_parser("up", help="build the lab and start its daemons")
    up.add_argument(
        "--sites", type=int, default=0, metavar="N", help="add N lightweight sites (bn-s0001...)"
    )
    up.set_defaults(handler=_up)

    down = commands.add_parser("down", help="remove everything the lab made")
    down.set_defaults(handler=_down)

    status = commands.add_parser("status", help="show what is up and which faults are on")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=_status)

    fault = commands.add_parser("fault", help="inject a fault of the catalog")
    fault.add_argument("name", nargs="?", help="the fault; without it, list the catalog")
    fault.set_defaults(handler=_fault)

    heal = commands.add_parser("heal", help="heal one fault, or all")
    heal.add_argument("name", nargs="?", help="the fault to heal; all when left out")
    heal.set_defaults(handler=_heal)

    execute = commands.add_parser(
        "exec", help="run a command as a lab host", usage="runbook lab exec HOST -- CMD..."
    )
    execute.add_argument("host", help="the lab host (namespace), e.g. bn-opd1-pc")
    execute.add_argument("argv", nargs=argparse.REMAINDER, help="the command and its arguments")
    execute.set_defaults(handler=_exec)


def _up(args: argparse.Namespace) -> int:
    from runbook_runner.lab import manager

    if args.sites < 0:
        raise UsageError(f"lab: --sites {args.sites} is negative", hint="Give 0 or more.")
    started = time.monotonic()
    if not manager.up(extra_sites=args.sites):
        print("The lab is up already; nothing changed. `runbook lab down` removes it.")
        return 0
    print(f"The lab is up ({time.monotonic() - started:.1f} s).")
    return 0


def _down(args: argparse.Namespace) -> int:
    from runbook_runner.lab import manager

    started = time.monotonic()
    left = manager.down()
    if left:
        print(f"runbook: could not remove: {', '.join(left)}", file=sys.stderr)
        return 1
    print(f"The lab is down ({time.monotonic() - started:.1f} s).")
    return 0


def _status(args: argparse.Namespace) -> int:
    from runbook_runner.lab import manager

    report = manager.status()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if not report["up"]:
        print(f"The lab is down (phase: {report['phase']}).")
        if report["namespaces"]:
            print(f"Left behind: {', '.join(report['namespaces'])}; `runbook lab down` clears.")
        return 0
    print(f"The lab is up since {report['since']} ({report['lab_dir']}).")
    for name, service in report["services"].items():
        state = f"running, pid {service['pid']}" if service["running"] else "stopped"
        print(f"  {name:<22} {state}")
    print(f"Faults on: {', '.join(report['faults']) or 'none'}")
    return 0


def _fault(args: argparse.Namespace) -> int:
    from runbook_runner.lab import manager

    if not args.name:
        for name, description in manager.fault_catalog().items():
            print(f"{name:<22} {description}")
        return 0
    if manager.fault(args.name):
        print(f"Fault {args.name} is on. `runbook lab heal {args.name}` undoes it.")
    else:
        print(f"Fault {args.name} was on already; nothing changed.")
    return 0


def _heal(args: argparse.Namespace) -> int:
    from runbook_runner.lab import manager

    healed = manager.heal(args.name)
    if healed:
        print(f"Healed: {', '.join(healed)}.")
    elif args.name:
        print(f"Fault {args.name} was not on; nothing changed.")
    else:
        print("No fault was on; nothing changed.")
    return 0


def _exec(args: argparse.Namespace) -> int:
    from runbook_runner.lab import manager

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UsageError("lab exec: no command given", hint="Write runbook lab exec HOST -- CMD...")
    return manager.execute(args.host, argv)
