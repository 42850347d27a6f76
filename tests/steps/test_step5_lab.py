"""SOP step 5 on the lab: the real playbook against the lab's real Prometheus, real faults.

Each test runs playbooks/step5_monitoring.yml through ansible-runner and
asserts on the checks it published with set_stats, with the run's output as
the assertion message. Waiting for an alert is polling the real Prometheus,
bounded; the lab's rules fire 6 s after the first failed probe (2 s scrapes).
"""

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from helpers import run_output, run_step
from lab.helpers import LabAccess
from lab.monitoring_helpers import alerts, all_targets_probed, ensure_running, firing, poll

from runbook_runner.checks import validate_checks
from runbook_runner.lab import monitoring
from runbook_runner.lab.manager import topology_of
from runbook_runner.lab.state import LabDir

PLAYBOOK = "step5_monitoring.yml"
SCRAPE_INTERVAL = 2.0

Fault = Callable[[str], AbstractContextManager[None]]
Check = dict[str, Any]

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def prometheus(lab: LabAccess) -> LabAccess:
    """Yield the lab with its monitoring system running and every target probed."""
    ensure_running(lab.root)
    poll(all_targets_probed, 15, "every target to be probed once")
    return lab


def _one(checks: list[Check], kind: str, target: str) -> Check:
    found = [c for c in checks if c["check"] == kind and c["target"] == target]
    assert len(found) == 1, f"{kind} {target}: {len(found)} checks in {checks}"
    return found[0]


def test_step5_healthy_lab_gives_no_alert(prometheus: LabAccess, tmp_path: Path) -> None:
    # Alerts of faults healed by earlier tests clear within a rule window.
    poll(lambda: not alerts("any"), 45, "the alerts of earlier faults to clear")

    checks, runner = run_step(PLAYBOOK, {"site": "opd1"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    assert [(c["check"], c["status"]) for c in checks] == [("monitoring_api", "ok")], output
    assert checks[0]["values"]["alerts_firing"] == 0, output
    assert checks[0]["step"] == "monitoring", output


# Per fault: the site asked about, the alert, its target and segment.
ALERTS = {
    "opd3-gw-down": ("opd3", "BatiknetSiteDown", "bn-opd3-gw", "opd_gateway"),
    "opd1-lan-down": ("opd1", "BatiknetUserHostDown", "bn-opd1-pc", "user_lan"),
    "dns1-down": ("opd1", "BatiknetDnsServerDown", "bn-dns1", "dns"),
    "uplink-down": ("opd1", "BatiknetUpstreamDown", "198.19.255.1", "isp_upstream"),
}


@pytest.mark.parametrize("fault", sorted(ALERTS))
def test_step5_alert_of_a_held_fault_has_its_onset_at_the_injection(
    prometheus: LabAccess, lab_fault: Fault, tmp_path: Path, fault: str
) -> None:
    site, rule, target, segment = ALERTS[fault]
    before = time.time()
    with lab_fault(fault):
        injected = time.time()
        poll(lambda: firing(rule, target), 30, f"{rule} about {target}")
        checks, runner = run_step(PLAYBOOK, {"site": site}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    alert = _one(checks, "alert", target)
    assert (alert["status"], alert["segment"]) == ("failed", segment), output
    assert alert["values"]["alert"] == rule, output
    onset = alert["values"]["since_unix"]
    # A probe in flight when the fault lands fails too: its sample is stamped
    # at its start, up to one probe timeout before the injection.
    assert before - 1.0 <= onset <= injected + SCRAPE_INTERVAL, (before, injected, onset, output)
    assert alert["values"]["since_in_window"] is True, output
    availability = _one(checks, "availability", target)
    assert 0 < availability["values"]["availability"] < 100, output
    other_sites = {c["site"] for c in checks} - {site, None}
    assert not other_sites, output


def test_step5_uplink_loss_raises_the_loss_alert(
    prometheus: LabAccess, lab_fault: Fault, tmp_path: Path
) -> None:
    with lab_fault("uplink-loss"):
        poll(
            lambda: (
                firing("BatiknetHighLoss", "198.19.255.1") or firing("BatiknetHighLoss", "bn-isp")
            ),
            40,
            "BatiknetHighLoss on the upstream",
        )
        checks, runner = run_step(PLAYBOOK, {"site": "opd1"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    lossy = [
        c for c in checks if c["check"] == "alert" and c["values"]["alert"] == "BatiknetHighLoss"
    ]
    assert lossy, output
    assert {(c["status"], c["segment"]) for c in lossy} == {("degraded", "isp_upstream")}, output
    assert all(c["values"]["since"] for c in lossy), output


def test_step5_stopped_monitoring_is_a_finding_not_a_crash(
    prometheus: LabAccess, tmp_path: Path
) -> None:
    monitoring.stop(prometheus.root)
    try:
        started = time.monotonic()
        checks, runner = run_step(PLAYBOOK, {"site": "opd1"}, private_dir=tmp_path)
        seconds = time.monotonic() - started
    finally:
        monitoring.start(prometheus.root, topology_of(LabDir(prometheus.root)))
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    assert [(c["check"], c["status"]) for c in checks] == [("monitoring_api", "unknown")], output
    assert checks[0]["message"].startswith("Monitoring unreachable"), output
    assert checks[0]["values"]["reachable"] is False, output
    assert seconds < 30, output
