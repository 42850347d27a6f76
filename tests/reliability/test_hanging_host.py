"""A host that hangs and a device that never answers: unknown checks within the bound.

The probe host of opd1 is replaced by an sshd in its namespace, on another
port, whose every command sleeps (SSH accepts, the command never returns);
the gateway of opd1 is asked with a community it does not know, so its SNMP
agent never answers. The run must cut both at their configured bounds, finish
every other check, and say in the verdict what could not be checked.
"""

import json
import socket
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from reliability.support import (
    LETTER,
    copy_inventory,
    edit_yaml,
    query,
    run_json,
    started,
    wait_for,
)

HANG_PORT = 2299
PROBE_HOST, PROBE_ADDRESS = "bn-opd1-pc", "198.18.101.10"
GATEWAY = "bn-opd1-gw"
VANTAGE_BOUND = 8  # reachability_check_vantage_timeout, seconds
SLACK = 8  # "plus a few seconds": Ansible's own start and teardown of the task


def _hanging_sshd(lab: Any, directory: Path) -> list[str]:
    text = (lab.root / "hosts" / PROBE_HOST / "sshd_config").read_text(encoding="utf-8")
    config = directory / "sshd_config"
    config.write_text(
        text.replace("Port 22\n", f"Port {HANG_PORT}\n") + "ForceCommand sleep 600\n",
        encoding="utf-8",
    )
    return ["ip", "netns", "exec", PROBE_HOST, "/usr/sbin/sshd", "-D", "-e", "-f", str(config)]


def _listening() -> bool:
    try:
        with socket.create_connection((PROBE_ADDRESS, HANG_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def _inventory(directory: Path, community: str) -> Path:
    inventory = copy_inventory(directory / "inventory")
    (inventory / "host_vars").mkdir()
    (inventory / "host_vars" / f"{PROBE_HOST}.yml").write_text(
        f"ansible_port: {HANG_PORT}\n"
        # The lab's known_hosts names the host by address, on port 22.
        f"ansible_ssh_extra_args: -o HostKeyAlias={PROBE_ADDRESS}\n",
        encoding="utf-8",
    )
    (inventory / "host_vars" / f"{GATEWAY}.yml").write_text(
        f"batiknet_snmp_community: {community}\n", encoding="utf-8"
    )
    edit_yaml(
        inventory / "group_vars" / "all" / "device_check.yml",
        lambda doc: doc.update(reachability_check_vantage_timeout=VANTAGE_BOUND),
    )
    return inventory


def _attempts(data_dir: Path, incident: str) -> dict[int, dict[str, Any]]:
    rows = query(
        data_dir,
        "SELECT step, started_at, ended_at, evidence FROM step_attempts WHERE incident_id = ?",
        incident,
    )

    return {
        step: {
            "seconds": (
                datetime.fromisoformat(ended) - datetime.fromisoformat(started)
            ).total_seconds(),
            "checks": json.loads(evidence),
        }
        for step, started, ended, evidence in rows
    }


@pytest.mark.lab
def test_hanging_probe_host_and_silent_gateway_give_unknown_checks_within_the_bound(
    lab: Any, tmp_path: Path
) -> None:
    community = f"bn-wrong-{uuid.uuid4().hex[:12]}"
    inventory = _inventory(tmp_path, community)
    data_dir = tmp_path / "data"
    with started(_hanging_sshd(lab, tmp_path)):
        wait_for(_listening, 10, "the hanging sshd")
        result = run_json(
            data_dir, "incident", "--site", "opd1", *LETTER, "--complaint", "Lambat",
            "--no-notify", RUNBOOK_INVENTORY=str(inventory),
        )  # fmt: skip
    steps = _attempts(data_dir, result["incident"])
    shown = str(result["unchecked"]) + "\n" + str(steps)

    hung = [c for c in steps[7]["checks"] if c["check"] == "ssh" and c["target"] == PROBE_HOST]
    assert [c["status"] for c in hung] == ["unknown"], shown
    assert hung[0]["values"]["timed_out"] is True, shown
    assert steps[7]["seconds"] <= VANTAGE_BOUND + SLACK, shown

    silent = [c for c in steps[4]["checks"] if c["target"] == GATEWAY and "snmp" in c["check"]]
    assert silent and all(c["status"] in ("unknown", "failed") for c in silent), shown
    assert steps[4]["seconds"] <= 20, shown

    others = [c for c in steps[7]["checks"] if c["vantage"] in ("bn-dns1", "bn-app1")]
    assert others and all(c["status"] == "ok" for c in others), shown
    assert all(c["status"] == "ok" for c in steps[6]["checks"]), shown
    assert any(PROBE_HOST in str(item) for item in result["unchecked"]), shown
