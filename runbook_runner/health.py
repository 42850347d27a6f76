"""The scheduled health sweep: every device, DNS server and site, checked from the ops host.

``runbook health`` runs ``playbooks/health.yml`` (the checks of SOP steps 4, 6
and 7 over the whole inventory) through the runner's execution wrapper, then:

- writes the results as Prometheus text-format metrics for node_exporter's
  textfile collector, and a JSON summary, each atomically (a temporary file
  in the same directory, fsync, rename), so a reader never sees half a file
  and a run killed at any point leaves the last good files in place;
- opens an incident (channel ``monitoring``) for each site that fails, with
  the site's checks attached, unless the site has an open incident already,
  and records the recovery of a monitoring incident when its site works again.

One sweep at a time: a second one is refused while the lock file names the
holder. Only a complete sweep (every step reached, the run successful)
touches the metrics and the incidents; an incomplete one is reported in the
summary only, so a broken run never reads as a recovery.
"""

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from runbook_runner import execution, files, inventory_check, settings
from runbook_runner.config import load_config
from runbook_runner.errors import RunbookError
from runbook_runner.records import Records, now, open_records
from runbook_runner.steps import step

log = logging.getLogger(__name__)

PLAYBOOK = "health.yml"
RUN_KEY = "health"
METRICS_FILE = "batiknet_health.prom"
SUMMARY_FILE = "summary.json"
CHANNEL = "monitoring"
HEALTH_STEPS = (step(4), step(6), step(7))
OFFICE_ZONE = ZoneInfo("Asia/Jakarta")
# The numeric code of a status in the metrics: the higher, the worse.
STATUS_CODES = {"ok": 0, "degraded": 1, "unknown": 2, "failed": 3}
# A site recovers only on evidence that it works; "unknown" is no evidence.
WORKING = ("ok", "degraded")
_MAX_COMPLAINT = 3900


class HealthBusyError(RunbookError):
    """Another sweep holds the health lock; ``holder`` says who (pid, host, user, since)."""

    exit_code = 75  # EX_TEMPFAIL: a scheduler may simply try again at the next tick

    def __init__(self, lock_file: Path, holder: Mapping[str, Any]) -> None:
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
            f" (user {holder.get('user', '?')}, since {holder.get('since', '?')})"
        )
        super().__init__(
            f"a health sweep is running already: {who} holds {lock_file}",
            hint="let it finish (a sweep takes seconds); if the timer overlaps, lengthen its"
            " interval",
        )
        self.lock_file = lock_file
        self.holder = dict(holder)


@dataclass(frozen=True)
class HealthSettings:
    """The ``[health]`` section of the office configuration, resolved."""

    metrics_file: Path
    summary_file: Path
    timeout: int = 300
    keep_runs: int = 10
    assignee: str = "on-duty technician"
    inventories: tuple[Path, ...] = ()
    max_new_incidents: int = 50


@dataclass(frozen=True)
class SiteHealth:
    """What the sweep saw of one site: its worst status and its checks."""

    site: str
    status: str
    checks: tuple[dict[str, Any], ...]

    @property
    def failing(self) -> list[dict[str, Any]]:
        """Return the checks of the site that failed."""
        return [check for check in self.checks if check["status"] == "failed"]


@dataclass
class Sweep:
    """One sweep's outcome: its run, its checks judged per site and what it did."""

    run_id: str
    status: str
    complete: bool
    started_at: str
    seconds: float
    checks: list[dict[str, Any]]
    sites: dict[str, SiteHealth]
    shared: dict[str, str]
    steps: dict[str, dict[str, Any]]
    incidents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


# -- Settings and the lock -------------------------------------------------------------------


def health_settings(data_dir: Path | None = None) -> HealthSettings:
    """Return the ``[health]`` settings; paths default under the data directory.

    Raises:
        ConfigError: a key of ``[health]`` holds a bad value.
    """
    reader = load_config().reader("health")
    reader.reject_unknown(
        {
            "textfile_dir",
            "summary_file",
            "timeout_seconds",
            "keep_runs",
            "assignee",
            "inventories",
            "max_new_incidents",
        }
    )
    base = data_dir or settings.data_dir()
    textfile_dir = Path(reader.string("textfile_dir", str(base / "metrics")))
    summary = Path(reader.string("summary_file", str(base / "health" / SUMMARY_FILE)))
    timeout = reader.number("timeout_seconds", Fraction(300), low=Fraction(0))
    keep = reader.number("keep_runs", Fraction(10), low=Fraction(0), high=Fraction(1000))
    inventories = reader.string_list("inventories", ())
    cap = reader.number("max_new_incidents", Fraction(50), low=Fraction(0), high=Fraction(10000))
    return HealthSettings(
        metrics_file=textfile_dir / METRICS_FILE,
        summary_file=summary,
        timeout=int(timeout),
        keep_runs=int(keep),
        assignee=reader.string("assignee", "on-duty technician"),
        inventories=tuple(_from_config_dir(reader.path, Path(p)) for p in inventories),
        max_new_incidents=int(cap),
    )


def _from_config_dir(config_file: Path, path: Path) -> Path:
    return path if path.is_absolute() else config_file.parent / path


def lock_path(data_dir: Path | None = None) -> Path:
    """Return the lock file of the sweep, under the data directory's ``locks/``."""
    return (data_dir or settings.data_dir()) / "locks" / f"{RUN_KEY}.lock"


@contextmanager
def health_lock(data_dir: Path | None = None) -> Iterator[None]:
    """Hold the sweep's lock for the block; the lock file names the holder.

    The lock is an ``flock`` on the file, so it goes with the process: a
    killed sweep never leaves it held.

    Raises:
        HealthBusyError: another process holds it.
    """
    path = lock_path(data_dir)
    try:
        with files.holding_lock(path):
            yield
    except files.LockHeld as held:
        raise HealthBusyError(path, held.holder) from None


# -- Judging the checks (pure) ---------------------------------------------------------------


def worst(statuses: Sequence[str]) -> str:
    """Return the worst of ``statuses`` (failed > unknown > degraded > ok), ``ok`` when none."""
    return max(statuses, key=lambda status: STATUS_CODES.get(status, 2), default="ok")


def judge_sites(checks: Sequence[Mapping[str, Any]]) -> dict[str, SiteHealth]:
    """Return each site's health from the checks that name it, sites in sorted order."""
    by_site: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        if check.get("site"):
            by_site.setdefault(str(check["site"]), []).append(dict(check))
    return {
        site: SiteHealth(site, worst([c["status"] for c in found]), tuple(found))
        for site, found in sorted(by_site.items())
    }


def judge_shared(checks: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Return the worst status of each shared segment (checks without a site)."""
    by_segment: dict[str, list[str]] = {}
    for check in checks:
        if not check.get("site"):
            by_segment.setdefault(str(check["segment"]), []).append(str(check["status"]))
    return {segment: worst(found) for segment, found in sorted(by_segment.items())}


# -- Metrics (pure rendering, atomic writing) ------------------------------------------------


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    # repr keeps every digit of a float (a Unix time in %g would lose its seconds).
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _sample(name: str, value: float, **labels: object) -> str:
    if not labels:
        return f"{name} {_number(value)}"
    text = ",".join(f'{key}="{_escape(item)}"' for key, item in labels.items())
    return f"{name}{{{text}}} {_number(value)}"


def _family(name: str, help_text: str, samples: list[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *samples]


def render_metrics(sweep: Sweep, open_incidents: int) -> str:
    """Return the sweep as Prometheus text exposition format (every metric a gauge)."""
    lines: list[str] = []
    finished = datetime.fromisoformat(sweep.started_at).timestamp() + sweep.seconds
    lines += _family(
        "batiknet_health_sweep_timestamp_seconds",
        "When the last complete health sweep ended (Unix time).",
        [_sample("batiknet_health_sweep_timestamp_seconds", round(finished, 3))],
    )
    lines += _family(
        "batiknet_health_sweep_duration_seconds",
        "How long the last complete health sweep took.",
        [_sample("batiknet_health_sweep_duration_seconds", round(sweep.seconds, 3))],
    )
    counts: dict[tuple[str, str], int] = {}
    for check in sweep.checks:
        key = (str(check["step"]), str(check["status"]))
        counts[key] = counts.get(key, 0) + 1
    lines += _family(
        "batiknet_health_checks",
        "Checks of the last sweep by step and status.",
        [
            _sample("batiknet_health_checks", counts.get((s.key, status), 0), step=s.key,
                    status=status)
            for s in HEALTH_STEPS
            for status in STATUS_CODES
        ],
    )  # fmt: skip
    site_counts = {status: 0 for status in STATUS_CODES}
    for health in sweep.sites.values():
        site_counts[health.status] = site_counts.get(health.status, 0) + 1
    lines += _family(
        "batiknet_health_sites",
        "Sites by their worst status in the last sweep.",
        [_sample("batiknet_health_sites", n, status=s) for s, n in site_counts.items()],
    )
    lines += _family(
        "batiknet_health_site_up",
        "1 when no check of the site failed in the last sweep, else 0.",
        [
            _sample("batiknet_health_site_up", int(h.status != "failed"), site=h.site)
            for h in sweep.sites.values()
        ],
    )
    lines += _family(
        "batiknet_health_site_status",
        "Worst status of the site's checks: 0 ok, 1 degraded, 2 unknown, 3 failed.",
        [
            _sample("batiknet_health_site_status", STATUS_CODES[h.status], site=h.site)
            for h in sweep.sites.values()
        ],
    )
    lines += _family(
        "batiknet_health_shared_status",
        "Worst status of a shared segment (core, DNS, servers, upstream): 0 ok ... 3 failed.",
        [
            _sample("batiknet_health_shared_status", STATUS_CODES[s], segment=segment)
            for segment, s in sweep.shared.items()
        ],
    )
    lines += _family(
        "batiknet_health_check_status",
        "Status of one check: 0 ok, 1 degraded, 2 unknown, 3 failed.",
        _check_samples(sweep.checks),
    )
    lines += _family(
        "batiknet_health_reach_loss_ratio",
        "Share of the echo requests from the ops host that got no answer.",
        _reach_samples(sweep.checks, "loss", 0.01),
    )
    lines += _family(
        "batiknet_health_reach_rtt_seconds",
        "Average round trip from the ops host.",
        _reach_samples(sweep.checks, "rtt_avg", 0.001),
    )
    lines += _family(
        "batiknet_health_incidents_open",
        "Open incidents the health sweep opened (channel monitoring).",
        [_sample("batiknet_health_incidents_open", open_incidents)],
    )
    return "\n".join(lines) + "\n"


def _check_samples(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    # One series per step, check and target: a repeated one keeps its worst status.
    worst_of: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for check in checks:
        key = (str(check["step"]), str(check["check"]), str(check["target"]))
        kept = worst_of.get(key)
        if kept is None or STATUS_CODES[check["status"]] > STATUS_CODES[kept["status"]]:
            worst_of[key] = check
    return [
        _sample(
            "batiknet_health_check_status",
            STATUS_CODES[check["status"]],
            step=check["step"],
            check=check["check"],
            target=check["target"],
            segment=check["segment"],
            site=check.get("site") or "",
        )
        for check in worst_of.values()
    ]


def _reach_samples(checks: Sequence[Mapping[str, Any]], key: str, scale: float) -> list[str]:
    samples = []
    for check in checks:
        value = (check.get("values") or {}).get(key)
        if check["check"] == "reach" and isinstance(value, int | float):
            samples.append(
                _sample(
                    f"batiknet_health_reach_{'loss_ratio' if key == 'loss' else 'rtt_seconds'}",
                    round(value * scale, 6),
                    target=check["target"],
                    site=check.get("site") or "",
                )
            )
    return samples


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` at once: temporary file, fsync, rename, fsync the directory.

    The temporary file starts with a dot and does not end in ``.prom``, so
    node_exporter's textfile collector never reads it; a killed writer
    leaves it behind at worst, and the next write removes it.

    Raises:
        OSError: the directory cannot be made or written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        _remove_if_dead(stale)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    files.fsync_directory(path.parent)


def _remove_if_dead(stale: Path) -> None:
    # The writer's pid is the second dot-separated part after the file name.
    try:
        pid = int(stale.name.split(".")[-3])
    except (ValueError, IndexError):
        return
    if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
        stale.unlink(missing_ok=True)


# -- Incidents -------------------------------------------------------------------------------


def _site_names(inventories: Sequence[Path]) -> dict[str, str]:
    """Return the agency's name of each site of the swept inventories (directories)."""
    from runbook_runner import recipients

    sites: dict[str, Any] = {}
    for inventory in [p for p in inventories if p.is_dir()] or [settings.inventory_path()]:
        try:
            found = recipients.load_inventory_vars(inventory).values.get("batiknet_sites")
        except RunbookError as error:
            log.warning("%s: the agencies' names are not readable: %s", inventory, error)
            continue
        sites.update(found or {})
    return {str(key): str((entry or {}).get("name") or key) for key, entry in sites.items()}


def _complaint(health: SiteHealth) -> str:
    messages = [check["message"] for check in health.failing]
    text = f"The health sweep finds site {health.site} failing: " + " ".join(messages)
    return text if len(text) <= _MAX_COMPLAINT else text[: _MAX_COMPLAINT - 3] + "..."


def _evidence(health: SiteHealth, sweep: Sweep) -> dict[str, Any]:
    return {
        "source": "health",
        "run_id": sweep.run_id,
        "status": health.status,
        "checks": list(health.checks),
        "shared": sweep.shared,
    }


def open_site_incident(
    records: Records, health: SiteHealth, sweep: Sweep, names: Mapping[str, str], assignee: str
) -> str:
    """Record a monitoring incident for a failing site with its checks; return its id.

    Step 1 is recorded as done by the sweep; steps 2 onwards are the
    technician's (``runbook incident --resume ID`` runs steps 4-7).

    Raises:
        RecordsError: the records cannot be written.
    """
    stamp = now()
    incident_id = records.create_incident(
        {
            "site": health.site,
            "opd_name": names.get(health.site, health.site),
            "letter_no": f"health sweep {sweep.run_id}",
            "letter_date": datetime.now(OFFICE_ZONE).date().isoformat(),
            "complaint": _complaint(health),
            "channel": CHANNEL,
            "assignee": assignee,
            "received_at": stamp,
            "disposed_at": stamp,
        }
    )
    note = f"detected by the health sweep {sweep.run_id}: {len(health.failing)} checks failed"
    records.record_step(incident_id, 1, "intake", "done", note=note, started_at=stamp)
    records.add_event(incident_id, "intake", note, _evidence(health, sweep), time=stamp)
    log.warning("%s: site %s fails; incident opened", incident_id, health.site)
    return incident_id


def record_recovery(records: Records, incident: Mapping[str, Any], health: SiteHealth,
                    sweep: Sweep) -> None:  # fmt: skip
    """Record that the site of an open monitoring incident works again (its recovery).

    Raises:
        RecordsError: the records cannot be written.
    """
    stamp = now()
    records.update_incident(incident["id"], resolved_at=stamp, state="resolved")
    records.add_event(
        incident["id"],
        "resolved",
        f"the health sweep {sweep.run_id} finds site {health.site} working ({health.status})",
        _evidence(health, sweep),
        time=stamp,
    )
    log.warning("%s: site %s works again; recovery recorded", incident["id"], health.site)


def reconcile_incidents(
    records: Records,
    sweep: Sweep,
    assignee: str,
    max_new: int = 50,
    inventories: Sequence[Path] = (),
) -> dict[str, list[dict[str, Any]]]:
    """Open an incident per newly failing site, record the recovery of those that work again.

    A site with any open incident (whatever its channel) gets no second one.
    At most ``max_new`` incidents are opened per sweep, in site order; the
    other failing sites are listed as ``withheld`` and get theirs at the next
    sweeps, so that a city-wide outage does not bury the office at once.
    Only the sweep's own incidents (channel ``monitoring``) are recovered by
    it; the others are the technician's to recheck.

    Raises:
        RecordsError: the records cannot be written.
    """
    open_by_site: dict[str, list[dict[str, Any]]] = {}
    for incident in records.list_incidents(open_only=True):
        open_by_site.setdefault(incident["site"], []).append(incident)
    changes: dict[str, list[dict[str, Any]]] = {
        "opened": [],
        "recovered": [],
        "still_open": [],
        "withheld": [],
    }
    failing = [h for h in sweep.sites.values() if h.status == "failed"]
    names = _site_names(inventories) if any(h.site not in open_by_site for h in failing) else {}
    for health in failing:
        known = open_by_site.get(health.site)
        if known:
            changes["still_open"].append({"site": health.site, "incident": known[0]["id"]})
            continue
        if len(changes["opened"]) >= max_new:
            changes["withheld"].append({"site": health.site, "incident": None})
            continue
        incident_id = open_site_incident(records, health, sweep, names, assignee)
        changes["opened"].append({"site": health.site, "incident": incident_id})
    for health in sweep.sites.values():
        if health.status not in WORKING:
            continue
        for incident in open_by_site.get(health.site, []):
            if incident["channel"] == CHANNEL and incident["resolved_at"] is None:
                record_recovery(records, incident, health, sweep)
                changes["recovered"].append({"site": health.site, "incident": incident["id"]})
    return changes


def _open_monitoring(records: Records) -> int:
    return sum(1 for i in records.list_incidents(open_only=True) if i["channel"] == CHANNEL)


# -- The sweep -------------------------------------------------------------------------------


def _prune_runs(data_dir: Path | None, keep: int) -> None:
    artifacts = execution.run_dir(RUN_KEY, data_dir) / "artifacts"
    if not artifacts.is_dir():
        return
    runs = sorted(artifacts.iterdir(), key=lambda path: path.stat().st_mtime)
    for old in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def _step_summary(result: execution.RunResult) -> dict[str, dict[str, Any]]:
    return {
        item.step.key: {
            "checks": len(item.checks),
            "outcome": item.outcome,
            "note": item.note,
        }
        for item in result.steps
    }


def sweep_from(result: execution.RunResult, started_at: str) -> Sweep:
    """Return the sweep a run of ``health.yml`` makes: checks judged per site and shared part."""
    checks = result.checks
    reached = all(item.checks for item in result.steps)
    return Sweep(
        run_id=result.run_id,
        status=result.status,
        complete=result.status == "successful" and reached,
        started_at=started_at,
        seconds=result.seconds,
        checks=checks,
        sites=judge_sites(checks),
        shared=judge_shared(checks),
        steps=_step_summary(result),
    )


def summary_of(sweep: Sweep, config: HealthSettings) -> dict[str, Any]:
    """Return the JSON summary of a sweep (what ``runbook health --json`` prints)."""
    statuses = [h.status for h in sweep.sites.values()]
    return {
        "run_id": sweep.run_id,
        "started_at": sweep.started_at,
        "seconds": round(sweep.seconds, 2),
        "status": sweep.status,
        "complete": sweep.complete,
        "metrics_file": str(config.metrics_file),
        "metrics_written": sweep.complete,
        "summary_file": str(config.summary_file),
        "steps": sweep.steps,
        "checks": {s: sum(1 for c in sweep.checks if c["status"] == s) for s in STATUS_CODES},
        "sites": {s: statuses.count(s) for s in STATUS_CODES} | {"total": len(statuses)},
        "shared": sweep.shared,
        "failing_sites": [
            {
                "site": h.site,
                "segments": sorted({c["segment"] for c in h.failing}),
                "messages": [c["message"] for c in h.failing],
            }
            for h in sweep.sites.values()
            if h.status == "failed"
        ],
        "incidents": sweep.incidents,
    }


def run_health(data_dir: Path | None = None, inventories: Sequence[Path] = ()) -> dict[str, Any]:
    """Run one sweep under the lock; write the metrics and the summary; return the summary.

    ``inventories`` replaces the configured ones (default: the settings'
    inventory). A complete sweep writes the metrics and reconciles the
    incidents; an incomplete one only writes the summary.

    Raises:
        HealthBusyError: another sweep is running.
        ConfigError: the ``[health]`` section is wrong.
        InventoryError: an inventory has a mistake; nothing was polled.
        ExecutionError: the playbook cannot be run at all.
        RecordsError: the incident records cannot be written.
        OSError: the metrics or the summary cannot be written.
    """
    config = health_settings(data_dir)
    sources = tuple(inventories) or config.inventories or (settings.inventory_path(),)
    inventory_check.ensure_valid(sources)
    with health_lock(data_dir):
        execution.end_leftover_runs(RUN_KEY, data_dir)
        started_at = now()
        began = time.monotonic()
        result = execution.run_steps(
            RUN_KEY,
            "",
            HEALTH_STEPS,
            timeout=config.timeout,
            data_dir=data_dir,
            playbook_name=PLAYBOOK,
            inventories=sources,
        )
        sweep = sweep_from(result, started_at)
        sweep.seconds = time.monotonic() - began
        if sweep.complete:
            with open_records(data_dir) as records:
                sweep.incidents = reconcile_incidents(
                    records, sweep, config.assignee, config.max_new_incidents, sources
                )
                open_count = _open_monitoring(records)
            write_atomic(config.metrics_file, render_metrics(sweep, open_count))
        else:
            log.error("health: sweep %s incomplete (%s); metrics kept", sweep.run_id, sweep.status)
        summary = summary_of(sweep, config)
        write_atomic(config.summary_file, json.dumps(summary, indent=2) + "\n", 0o640)
        _prune_runs(data_dir, config.keep_runs)
    log.info("health: sweep %s: %d sites, %.1f s", sweep.run_id, len(sweep.sites), sweep.seconds)
    return summary


def last_summary(data_dir: Path | None = None) -> dict[str, Any] | None:
    """Return the summary of the last sweep, ``None`` when there was none.

    Raises:
        ConfigError: the ``[health]`` section is wrong.
    """
    path = health_settings(data_dir).summary_file
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
