"""The lab's monitoring system: Prometheus and the blackbox exporter as `lab up` runs them."""

import subprocess
from pathlib import Path

import pytest

from lab.helpers import LabAccess
from lab.monitoring_helpers import all_targets_probed, api, ensure_running, poll
from runbook_runner.lab import monitoring
from runbook_runner.lab.manager import topology_of
from runbook_runner.lab.state import LabDir
from runbook_runner.monitoring.config import BLACKBOX_JOBS

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def prometheus(lab: LabAccess) -> LabAccess:
    """Yield the lab with its monitoring system running and every target probed."""
    ensure_running(lab.root)
    poll(all_targets_probed, 15, "every target to be probed once")
    return lab


def _listeners(port: int) -> list[str]:
    result = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    )
    return [line.split()[3] for line in result.stdout.splitlines()]


def test_monitoring_listens_on_loopback_only(prometheus: LabAccess) -> None:
    assert _listeners(monitoring.PROMETHEUS_PORT) == [f"127.0.0.1:{monitoring.PROMETHEUS_PORT}"]
    assert _listeners(monitoring.BLACKBOX_PORT) == [f"127.0.0.1:{monitoring.BLACKBOX_PORT}"]


def test_every_lab_host_is_probed_with_its_labels_and_up(prometheus: LabAccess) -> None:
    def healthy() -> list[dict[str, str]] | None:
        targets = api("/api/v1/targets", state="active")["activeTargets"]
        probes = [t for t in targets if t["labels"]["job"] in BLACKBOX_JOBS]
        return [t["labels"] for t in probes] if all(t["health"] == "up" for t in probes) else None

    labels = poll(healthy, 15, "every probe target to be up")
    names = {(label["job"], label["name"]) for label in labels if "name" in label}
    for host in ("bn-core", "bn-opd1-gw", "bn-opd1-pc", "bn-isp", "bn-app1", "198.19.255.1"):
        assert ("blackbox_icmp", host) in names, names
    assert {("blackbox_dns", "bn-dns1"), ("blackbox_dns", "bn-dns2")} <= names, names
    assert ("blackbox_http", "bn-app1") in names, names
    assert all(label["segment"] for label in labels), labels
    rules = api("/api/v1/rules")["groups"][0]["rules"]
    assert {rule["duration"] for rule in rules} <= {4, 6}, rules


def test_stop_ends_both_daemons_and_removes_the_data(prometheus: LabAccess) -> None:
    root = prometheus.root
    pids = monitoring.running(root)
    assert all(pids.values()), pids
    monitoring.stop(root)
    try:
        assert monitoring.running(root) == {"prometheus": None, "blackbox": None}
        assert not monitoring.home(root).exists()
        assert not monitoring.is_ready()
        assert all(
            not Path(f"/proc/{pid}/cmdline").read_bytes()
            for pid in pids.values()
            if Path(f"/proc/{pid}").exists()
        )
    finally:
        monitoring.start(root, topology_of(LabDir(root)))
    assert monitoring.is_ready()
