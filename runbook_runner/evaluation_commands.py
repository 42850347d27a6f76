"""``runbook evaluate``: the quarterly performance evaluation (evaluasi kinerja).

    runbook evaluate --quarter 2026Q4
    runbook evaluate --from 2026-10-01 --to 2026-12-31 --lang en --out /tmp/eval

It reads the incident records, computes the figures of the period and of the
period before it, and writes the report (HTML, PDF), the CSV files and the
charts; it prints where they are.
"""

import argparse
import logging
import sys
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import yaml

from runbook_runner import settings
from runbook_runner.calendar import collect_calendar_warnings
from runbook_runner.errors import UsageError
from runbook_runner.evaluation import (
    ReportPeriod,
    days_period,
    evaluate_period,
    load_incidents,
    quarter_period,
)
from runbook_runner.evaluation_texts import LANGS
from runbook_runner.records import RecordsError, open_records
from runbook_runner.sla import SlaClock

log = logging.getLogger(__name__)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the ``evaluate`` sub-command."""
    parser = subparsers.add_parser(
        "evaluate",
        help="write the performance evaluation of a quarter (HTML, PDF, CSV, charts)",
        description=(
            "Compute the figures of the incidents received in a quarter (or between two "
            "days) and of the period before it, and write the evaluation report: HTML and "
            "PDF with charts, the figures as CSV. Without a period, the last finished quarter."
        ),
        epilog="example: runbook evaluate --quarter 2026Q4 --lang en --out /tmp/evaluation",
    )
    parser.add_argument("--quarter", metavar="YYYYQN", help="the quarter, e.g. 2026Q4")
    parser.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="first day (WIB)")
    parser.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last day, included")
    parser.add_argument("--lang", choices=LANGS, default="id", help="language (default: id)")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write (default: <data dir>/evaluations/<period>)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the evaluation and print where its files are; return the exit code.

    Raises:
        UsageError: the period is malformed, incomplete or entirely in the future.
        ConfigError: the configuration holds a bad value.
        RecordsError: the records cannot be read, or hold a malformed time.
        ReportError: the report cannot be written.
    """
    clock = SlaClock.from_config()
    now = datetime.now(clock.calendar.zone)
    period = choose_period(args.quarter, args.first, args.last, now.date())
    if period.start(clock) > now:
        raise UsageError(
            f"the period {period.label} has not started yet",
            hint="give a quarter or days that have begun",
        )
    with open_records() as records:
        incidents = load_incidents(records)
    with collect_calendar_warnings() as notes:
        try:
            evaluation = evaluate_period(incidents, period, clock, now)
        except ValueError as error:
            raise RecordsError(
                f"the records hold a time the evaluation cannot read: {error}",
                hint="times in the records are ISO 8601 with an offset; fix the row named",
            ) from error
    # Imported here: the charts pull in matplotlib, which every other command
    # (the health sweep every few minutes among them) would load for nothing.
    from runbook_runner.evaluation_report import write_evaluation

    out_dir = args.out or settings.data_dir() / "evaluations" / period.label
    files = write_evaluation(
        evaluation,
        out_dir,
        lang=args.lang,
        generated_at=now,
        notes=notes,
        isp_names=isp_names(settings.inventory_path()),
    )
    current = evaluation.current
    print(
        f"{period.label}: {current.total} incidents, {len(current.open)} open at "
        f"{current.as_of:%Y-%m-%d %H:%M %Z}"
    )
    for path in files.all():
        print(path)
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def choose_period(
    quarter: str | None, first: str | None, last: str | None, today: date
) -> ReportPeriod:
    """Return the period the options name; the last finished quarter when none.

    Raises:
        UsageError: both a quarter and days are given, only one of --from/--to,
            or a value is malformed.
    """
    if quarter and (first or last):
        raise UsageError(
            "--quarter and --from/--to name two periods", hint="give either --quarter or both days"
        )
    if quarter:
        return quarter_period(quarter)
    if first or last:
        if not (first and last):
            raise UsageError(
                "a period of days needs both --from and --to",
                hint="give both, e.g. --from 2026-10-01 --to 2026-12-31",
            )
        return days_period(_day(first, "--from"), _day(last, "--to"))
    running = quarter_period(f"{today.year}Q{(today.month - 1) // 3 + 1}")
    return running.previous()


def isp_names(inventory: Path) -> Mapping[str, str]:
    """Return the ISPs' names by key, read from ``batiknet_isps`` in the inventory's group_vars.

    The names only dress the report: an inventory without them gives no
    names, and the report shows the keys.
    """
    names: dict[str, str] = {}
    for path in sorted((inventory / "group_vars" / "all").glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
            log.info("%s: no ISP names read: %s", path, error)
            continue
        isps = data.get("batiknet_isps") if isinstance(data, dict) else None
        if isinstance(isps, dict):
            names.update(
                {
                    str(key): str(value["name"])
                    for key, value in isps.items()
                    if isinstance(value, dict) and value.get("name")
                }
            )
    return names


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise UsageError(f"{option} {text!r} is not a day", hint="write YYYY-MM-DD") from error
