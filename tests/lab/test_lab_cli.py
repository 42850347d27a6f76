"""The `runbook lab` commands on bad input and on a running lab."""

import json
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from lab.helpers import LabAccess, runbook

pytestmark = pytest.mark.lab


def test_unknown_fault_lists_the_known_ones(lab: LabAccess) -> None:
    result = runbook("lab", "fault", "core-on-fire")
    assert result.returncode == 2
    assert "unknown fault 'core-on-fire'" in result.stderr
    assert "uplink-down" in result.stderr and "opd1-lan-down" in result.stderr


def test_heal_of_an_unknown_fault_lists_the_known_ones(lab: LabAccess) -> None:
    result = runbook("lab", "heal", "core-on-fire")
    assert result.returncode == 2
    assert "dns1-wrong-answer" in result.stderr


def test_up_while_up_says_so_and_changes_nothing(lab: LabAccess) -> None:
    before = json.loads(runbook("lab", "status", "--json").stdout)
    result = runbook("lab", "up")
    after = json.loads(runbook("lab", "status", "--json").stdout)
    assert result.returncode == 0
    assert "up already" in result.stdout
    assert after == before


def test_status_shows_the_faults_that_are_on(
    lab: LabAccess, lab_fault: Callable[[str], AbstractContextManager[None]]
) -> None:
    with lab_fault("app1-down"):
        status = json.loads(runbook("lab", "status", "--json").stdout)
        text = runbook("lab", "status").stdout
    assert status["faults"] == ["app1-down"]
    assert status["services"]["bn-app1:http"] == {"running": False}
    assert "Faults on: app1-down" in text
    assert json.loads(runbook("lab", "status", "--json").stdout)["faults"] == []


def test_a_fault_twice_and_a_heal_of_nothing_change_nothing(lab: LabAccess) -> None:
    try:
        assert runbook("lab", "fault", "opd2-access-down").returncode == 0
        again = runbook("lab", "fault", "opd2-access-down")
        assert (again.returncode, "on already" in again.stdout) == (0, True)
    finally:
        assert runbook("lab", "heal").returncode == 0
    nothing = runbook("lab", "heal")
    assert (nothing.returncode, nothing.stdout.strip()) == (0, "No fault was on; nothing changed.")


def test_fault_without_a_name_lists_the_catalog(lab: LabAccess) -> None:
    result = runbook("lab", "fault")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 11


def test_exec_runs_the_command_as_the_lab_host(lab: LabAccess) -> None:
    result = runbook("lab", "exec", "bn-opd1-pc", "--", "sh", "-c", "hostname; ip -br addr")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "bn-opd1-pc"
    assert "198.18.101.10/24" in result.stdout


def test_exec_on_an_unknown_host_names_the_known_ones(lab: LabAccess) -> None:
    result = runbook("lab", "exec", "bn-nowhere", "--", "true")
    assert result.returncode == 1
    assert "bn-opd3-pc" in result.stderr
