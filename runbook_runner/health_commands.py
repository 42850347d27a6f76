"""``runbook health``: one sweep of every device, DNS server and site (docs/health.md).

    runbook health [--json] [-i INVENTORY]...   run a sweep, print its summary
    runbook health --last [--json]              print the last sweep's summary

The exit code tells a scheduler whether the sweep itself worked: 0 it was
complete (failing sites are findings, reported in the summary, the metrics
and the incidents, not errors of the sweep), 3 it was incomplete (the last
good metrics were kept), 75 another sweep holds the lock, 2 a bad
configuration or command line.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from runbook_runner import health
from runbook_runner.errors import RunbookError, UsageError

EXIT_INCOMPLETE = 3
# Lines of failing sites and incidents printed before the rest is counted.
SHOWN = 20


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the ``health`` sub-command."""
    parser = subparsers.add_parser(
        "health",
        help="sweep every device, DNS server and site; write metrics, open incidents",
        description=(
            "Run the checks of SOP steps 4, 6 and 7 across the whole inventory from the ops "
            "host, write Prometheus metrics for node_exporter's textfile collector and a JSON "
            "summary, open an incident (channel monitoring) for each failing site and record "
            "the recovery of the sites that work again."
        ),
        epilog="example: runbook health --json",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "-i",
        "--inventory",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="inventory source, repeatable (default: [health] inventories, else the lab's)",
    )
    parser.add_argument(
        "--last", action="store_true", help="print the last sweep's summary; run nothing"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run a sweep (or read the last one) and print its summary; return the exit code.

    Raises:
        UsageError: ``--last`` with ``--inventory``, a missing inventory, or no sweep yet.
        HealthBusyError: another sweep is running.
        ConfigError: the ``[health]`` section is wrong.
        RunbookError: the data directory cannot be written (read-only, disk full).
    """
    if args.last:
        if args.inventory:
            raise UsageError("--last runs nothing", hint="leave out --inventory with --last")
        summary = health.last_summary()
        if summary is None:
            raise UsageError("no health sweep has run yet", hint="run `runbook health` first")
    else:
        for path in args.inventory:
            if not path.exists():
                raise UsageError(
                    f"inventory {path} does not exist",
                    hint="give an inventory file or directory, e.g. -i inventory/lab",
                )
        try:
            summary = health.run_health(inventories=[path.resolve() for path in args.inventory])
        except OSError as error:
            raise RunbookError(
                f"{error.filename or 'the data directory'}: cannot write: {error.strerror}",
                hint="check that the data directory is writable and the disk has room"
                " (set RUNBOOK_DATA_DIR to move it)",
            ) from error
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print(summary)
    return exit_code(summary)


def exit_code(summary: dict[str, Any]) -> int:
    """Return 3 for an incomplete sweep, else 0: a failing site is a finding, not an error."""
    return 0 if summary["complete"] else EXIT_INCOMPLETE


def _print(summary: dict[str, Any]) -> None:
    sites = summary["sites"]
    state = "complete" if summary["complete"] else f"INCOMPLETE ({summary['status']})"
    print(f"Health sweep {summary['run_id']}: {state} in {summary['seconds']} s.")
    print(
        f"Sites: {sites['total']} ({sites['ok']} ok, {sites['degraded']} degraded,"
        f" {sites['unknown']} unknown, {sites['failed']} failed)."
    )
    bad_shared = {k: v for k, v in summary["shared"].items() if v != "ok"}
    if bad_shared:
        print("Shared parts: " + ", ".join(f"{k} {v}" for k, v in bad_shared.items()) + ".")
    failing = summary["failing_sites"]
    for site in failing[:SHOWN]:
        print(f"  {site['site']} FAILED ({', '.join(site['segments'])}): {site['messages'][0]}")
    if len(failing) > SHOWN:
        print(f"  ... and {len(failing) - SHOWN} more failing sites (see --json).")
    incidents = summary.get("incidents") or {}
    for key, verb in (("opened", "opened"), ("recovered", "recovery recorded for")):
        items = incidents.get(key, [])
        for item in items[:SHOWN]:
            print(f"Incident {item['incident']} {verb} site {item['site']}.")
        if len(items) > SHOWN:
            print(f"... and {len(items) - SHOWN} more incidents {verb.split()[0]}.")
    if incidents.get("withheld"):
        print(
            f"{len(incidents['withheld'])} failing sites got no incident yet: more than"
            " [health] max_new_incidents failed at once; the next sweeps open theirs."
        )
    written = "written" if summary["metrics_written"] else "kept from the last complete sweep"
    print(f"Metrics: {summary['metrics_file']} ({written}).")
    print(f"Summary: {summary['summary_file']}")
