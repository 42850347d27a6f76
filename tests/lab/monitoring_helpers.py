"""Probes of the lab's Prometheus for the tests: readiness, alerts, series.

Each wait is bounded and polls with a growing, capped delay; they read the
real Prometheus on 127.0.0.1 only.
"""

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from runbook_runner.lab import monitoring
from runbook_runner.lab.manager import topology_of
from runbook_runner.lab.state import LabDir


def api(path: str, **params: str) -> Any:
    """Return the ``data`` of a GET to the lab Prometheus's API."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{monitoring.PROMETHEUS_URL}{path}{query}", timeout=2) as reply:
        return json.loads(reply.read())["data"]


def alerts(state: str = "firing") -> list[dict[str, Any]]:
    """Return the alerts in ``state`` (``firing``, ``pending`` or ``any``)."""
    found = api("/api/v1/alerts")["alerts"]
    return [a for a in found if state == "any" or a["state"] == state]


def poll(condition: Any, within: float, what: str) -> Any:
    """Return the first truthy value of ``condition()`` within ``within`` seconds.

    Raises:
        AssertionError: the condition never held; the message says what was awaited.
    """
    deadline = time.monotonic() + within
    delay = 0.1
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() + delay > deadline:
            raise AssertionError(f"waited {within:g} s for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def ensure_running(root: Path) -> None:
    """Start the lab's monitoring system if the running lab has none (a lab older than it)."""
    if not monitoring.is_ready() and not any(monitoring.running(root).values()):
        monitoring.start(root, topology_of(LabDir(root)))
    poll(monitoring.is_ready, 10, "Prometheus to be ready")


def all_targets_probed() -> bool:
    """Return whether every target has been probed at least once."""
    targets = api("/api/v1/targets", state="active")["activeTargets"]
    return bool(targets) and all(t["health"] != "unknown" for t in targets)


def firing(rule: str, name: str) -> dict[str, Any] | None:
    """Return the firing alert ``rule`` about the target ``name``, None when it does not fire."""
    for alert in alerts():
        labels = alert["labels"]
        if labels.get("alertname") == rule and labels.get("name") == name:
            return alert
    return None
