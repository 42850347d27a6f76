"""SOP step 4 on the lab: the real playbook, the real devices, real faults.

Each test runs playbooks/step4_devices.yml through ansible-runner and asserts
on the checks it published with set_stats, with the run's output as the
assertion message.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from helpers import run_output, run_step

from runbook_runner.checks import validate_checks

PLAYBOOK = "step4_devices.yml"
DEVICES = {"bn-core", "bn-opd1-gw", "bn-opd2-gw", "bn-opd3-gw"}

Fault = Callable[[str], AbstractContextManager[None]]


def not_ok(checks: list[dict[str, Any]]) -> list[str]:
    return [f"{c['status']} {c['check']} {c['target']}: {c['message']}" for c in checks
            if c["status"] != "ok"]  # fmt: skip


def device_of(check: dict[str, Any]) -> str:
    return check["target"].split(":")[0]


@pytest.mark.lab
def test_step4_healthy_lab_gives_every_check_ok(lab: object, tmp_path: Path) -> None:
    checks, runner = run_step(PLAYBOOK, {}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    assert {device_of(c) for c in checks} == DEVICES, output
    assert not not_ok(checks), output
    kinds = {c["check"] for c in checks}
    assert kinds == {"icmp", "snmp", "uptime", "interface", "counters"}, output
    assert all(c["step"] == "devices" and c["vantage"] == "ops" for c in checks), output


@pytest.mark.lab
def test_step4_with_a_site_polls_the_core_and_that_gateway(lab: object, tmp_path: Path) -> None:
    checks, runner = run_step(PLAYBOOK, {"site": "opd2"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    assert {device_of(c) for c in checks} == {"bn-core", "bn-opd2-gw"}, output
    assert not not_ok(checks), output


@pytest.mark.lab
def test_step4_reports_a_recent_restart_as_degraded(lab: object, tmp_path: Path) -> None:
    # The lab's devices all started with `lab up`; a window of ten years makes that recent.
    extravars = {"device_check_restart_window": 315_360_000}
    checks, runner = run_step(PLAYBOOK, extravars, private_dir=tmp_path)
    output = run_output(runner)

    uptimes = {c["target"]: c for c in checks if c["check"] == "uptime"}
    assert set(uptimes) == DEVICES, output
    assert {c["status"] for c in uptimes.values()} == {"degraded"}, output
    assert uptimes["bn-core"]["segment"] == "core", output
    assert uptimes["bn-opd1-gw"]["segment"] == "opd_gateway", output


@pytest.mark.lab
def test_step4_check_mode_still_gathers_and_changes_nothing(lab: object, tmp_path: Path) -> None:
    checks, runner = run_step(PLAYBOOK, {"site": "opd1"}, private_dir=tmp_path, check_mode=True)
    output = run_output(runner)

    assert runner.rc == 0, output
    assert {device_of(c) for c in checks} == {"bn-core", "bn-opd1-gw"}, output
    assert runner.stats["changed"] == {}, output


def test_step4_unknown_site_fails_early_naming_the_known_sites(tmp_path: Path) -> None:
    checks, runner = run_step(PLAYBOOK, {"site": "opd99"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc != 0, output
    assert checks == [], output
    assert "Unknown site 'opd99'" in output and "opd1, opd2, opd3" in output, output


# Per fault: the checks that must fail, as (check, target, segment, site), and the
# devices or ports whose checks may be touched; every other check stays ok.
FAULTS = [
    pytest.param(
        "uplink-down",
        [("interface", "bn-core:uplink", "isp_upstream", None)],
        {"bn-core:uplink"},
        id="uplink-down",
    ),
    pytest.param(
        "opd1-access-down",
        [
            ("interface", "bn-core:opd1", "opd_access", "opd1"),
            ("icmp", "bn-opd1-gw", "opd_gateway", "opd1"),
            ("snmp", "bn-opd1-gw", "opd_gateway", "opd1"),
        ],
        {"bn-core:opd1", "bn-opd1-gw"},
        id="opd1-access-down",
    ),
    pytest.param(
        "opd2-access-down",
        [("interface", "bn-core:opd2", "opd_access", "opd2")],
        {"bn-core:opd2", "bn-opd2-gw"},
        id="opd2-access-down",
    ),
    pytest.param(
        "opd3-gw-down",
        [
            ("icmp", "bn-opd3-gw", "opd_gateway", "opd3"),
            ("snmp", "bn-opd3-gw", "opd_gateway", "opd3"),
        ],
        {"bn-core:opd3", "bn-opd3-gw"},
        id="opd3-gw-down",
    ),
    pytest.param(
        "core-port-admin-down",
        [("interface", "bn-core:opd2", "core", "opd2")],
        {"bn-core:opd2", "bn-opd2-gw"},
        id="core-port-admin-down",
    ),
    pytest.param(
        "opd1-lan-down",
        [("interface", "bn-opd1-gw:lan", "user_lan", "opd1")],
        {"bn-opd1-gw:lan"},
        id="opd1-lan-down",
    ),
]


@pytest.mark.lab
@pytest.mark.parametrize(("fault", "failing", "touched"), FAULTS)
def test_step4_reports_the_fault_on_its_segment(
    lab_fault: Fault,
    tmp_path: Path,
    fault: str,
    failing: list[tuple[str, str, str, str | None]],
    touched: set[str],
) -> None:
    with lab_fault(fault):
        checks, runner = run_step(PLAYBOOK, {}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    by_key = {(c["check"], c["target"]): c for c in checks}
    for check, target, segment, site in failing:
        found = by_key.get((check, target))
        assert found is not None, f"no {check} check of {target}\n{output}"
        assert found["status"] == "failed", f"{found}\n{output}"
        assert (found["segment"], found["site"]) == (segment, site), f"{found}\n{output}"
    untouched = [c for c in checks if c["target"] not in touched]
    assert not not_ok(untouched), output
