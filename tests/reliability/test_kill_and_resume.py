"""``kill -9`` of the runbook during step 6, then ``--resume``: nothing orphaned, lost or doubled.

The runbook runs as a subprocess in a session of its own, under a fault with
an ISP branch (uplink-down), and only its own pid gets SIGKILL once the
records show step 6 running. Its children (ansible-playbook, its workers, SSH
masters, the probes) must end with it; the resumed run must complete without
touching a step recorded before, and the ISP ticket must exist once, however
often the incident is resumed.
"""

import json
import os
import signal
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from reliability.support import (
    LETTER,
    RUNBOOK,
    environment,
    processes,
    query,
    run_json,
    wait_for,
)

Fault = Callable[[str], AbstractContextManager[None]]
CANARY = "bn-canary-env-5f2c81"


def _step_6_started(data_dir: Path) -> bool:
    if not (data_dir / "runbook.db").exists():
        return False
    rows = query(data_dir, "SELECT message FROM events WHERE kind = 'step_started'")
    return any(message.startswith("step 6 ") for (message,) in rows)


def _recorded(data_dir: Path) -> list[tuple[Any, ...]]:
    return query(data_dir, "SELECT * FROM step_attempts ORDER BY id")


def _of_this_test(data_dir: Path) -> list[str]:
    # Everything the runbook starts inherits RUNBOOK_DATA_DIR; its runs name it too.
    marker = str(data_dir)
    return processes(lambda cmdline, environ: marker in cmdline or marker in environ)


@pytest.mark.lab
def test_kill_during_step_6_leaves_no_process_and_resume_completes_with_one_isp_ticket(
    lab: object, lab_fault: Fault, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir, BATIKNET_MONITORING_PASSWORD=CANARY)
    argv = [str(RUNBOOK), "incident", "--site", "opd1", *LETTER, "--complaint", "Internet mati"]
    with lab_fault("uplink-down"):
        process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            wait_for(lambda: _step_6_started(data_dir), 60, "step 6 to start")
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        before = _recorded(data_dir)
        incident = query(data_dir, "SELECT id FROM incidents")[0][0]
        wait_for(lambda: not _of_this_test(data_dir), 15, "the killed run's processes to end")

        resumed = run_json(data_dir, "incident", "--resume", incident, **env)
        again = run_json(data_dir, "incident", "--resume", incident, **env)

    assert not _of_this_test(data_dir), _of_this_test(data_dir)
    after = _recorded(data_dir)
    assert after[: len(before)] == before, "a step recorded before the kill was changed"
    completed = [s["step"] for s in again["steps"] if s["outcome"] != "interrupted"]
    assert sorted(completed) == [1, 2, 3, 4, 5, 6, 7, 8], again["steps"]
    assert (resumed["branch"], again["state"]) == ("isp_ticket", "waiting_isp"), resumed
    assert resumed["isp"]["ticket_at"] == again["isp"]["ticket_at"], again["isp"]
    tickets = query(data_dir, "SELECT COUNT(*) FROM events WHERE kind = 'isp_ticket'")
    assert tickets == [(1,)], again["steps"]
    queued = sorted((data_dir / "outbox").rglob("*isp-ticket*.json"))
    assert len(queued) == 1, queued
    leaked = [
        str(p) for p in data_dir.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()
    ]
    assert not leaked, f"the environment's secret is on disk: {leaked}"
    assert json.dumps(again).count(CANARY) == 0
