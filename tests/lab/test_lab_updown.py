"""The lab comes up and down twice leaving nothing behind, also after a crash mid-up."""

import signal
import subprocess
import time
from pathlib import Path

import pytest

from lab.helpers import (
    RUNBOOK,
    SYS_NAME,
    LabAccess,
    dns_answer,
    http_status,
    leftovers,
    runbook,
    snmp_get,
    ssh,
)
from runbook_runner.lab._system import process_name

pytestmark = pytest.mark.lab


def _daemon_pids(lab: LabAccess) -> list[int]:
    return [int(path.read_text()) for path in (lab.root / "run").glob("*.pid")]


def _made_dirs(lab: LabAccess) -> list[Path]:
    journal = (lab.root / "journal").read_text().splitlines()
    return [Path(line.split(" ", 1)[1]) for line in journal if line.startswith("dir ")]


def _down_leaves_nothing(lab: LabAccess) -> None:
    pids = _daemon_pids(lab) if (lab.root / "run").is_dir() else []
    dirs = _made_dirs(lab) if (lab.root / "journal").exists() else []
    result = runbook("lab", "down")
    assert result.returncode == 0, result.stdout + result.stderr
    assert leftovers(lab.root) == []
    # A daemon that ended may stay a zombie until init reaps it: it is gone.
    assert [pid for pid in pids if process_name(pid)] == []
    assert [path for path in dirs if path.exists()] == []


def _up_answers(lab: LabAccess) -> None:
    result = runbook("lab", "up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ssh(lab, "198.18.101.10", "hostname").stdout.strip() == "bn-opd1-pc"
    assert snmp_get(lab, "198.18.0.254", SYS_NAME, version="3") == "bn-core"
    assert dns_answer("198.18.10.54", "portal.batiknet.test") == ["198.18.10.80"]
    assert http_status("http://198.18.10.80/") == 200


def _crash_halfway_through_up() -> None:
    process = subprocess.Popen(
        [str(RUNBOOK), "lab", "up"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_lab_comes_up_and_down_twice_leaving_nothing_behind(lab: LabAccess) -> None:
    try:
        _down_leaves_nothing(lab)
        _up_answers(lab)
        _down_leaves_nothing(lab)
        _crash_halfway_through_up()
        _down_leaves_nothing(lab)
    finally:
        _up_answers(lab)


def test_lab_up_without_namespace_rights_fails_with_one_message(lab: LabAccess) -> None:
    down = runbook("lab", "down")
    assert down.returncode == 0, down.stderr
    try:
        result = subprocess.run(
            ["setpriv", "--bounding-set=-all", "--inh-caps=-all", str(RUNBOOK), "lab", "up"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 1, result.stdout + result.stderr
        assert "cannot make network namespaces" in result.stderr
        assert "Traceback" not in result.stderr
        assert leftovers(lab.root) == []
    finally:
        _up_answers(lab)
