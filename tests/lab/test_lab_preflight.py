"""The lab refuses to start where it cannot work, with one clear message (no lab needed)."""

import pytest

from runbook_runner.lab import manager
from runbook_runner.lab.faults import UnknownFaultError, lookup
from runbook_runner.lab.topology import load


def test_lab_up_as_a_normal_user_says_it_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager.os, "geteuid", lambda: 1000)
    with pytest.raises(manager.LabEnvironmentError, match="must run as root") as raised:
        manager.up()
    assert raised.value.hint == "Run it again with sudo, or as root."


def test_unknown_fault_error_carries_the_known_names() -> None:
    with pytest.raises(UnknownFaultError) as raised:
        lookup(load(), "core-on-fire")
    assert raised.value.name == "core-on-fire"
    assert "uplink-down" in raised.value.known
    assert raised.value.exit_code == 2
