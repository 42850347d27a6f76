"""Two incidents on different sites and a health sweep at once, on one database.

All three must complete, none may see "database is locked", and the
database must pass SQLite's integrity check afterwards.
"""

import json
import subprocess
from pathlib import Path

import pytest

from reliability.support import LETTER, RUNBOOK, environment, query


@pytest.mark.lab
def test_two_incidents_and_a_sweep_at_once_complete_without_lock_errors(
    lab: object, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    commands = {
        site: [str(RUNBOOK), "incident", "--site", site, *LETTER, "--complaint", "Lambat",
               "--json", "--no-notify"]
        for site in ("opd2", "opd3")
    }  # fmt: skip
    commands["health"] = [str(RUNBOOK), "health", "--json"]
    running = {
        name: subprocess.Popen(
            argv, env=environment(data_dir), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, argv in commands.items()
    }  # fmt: skip
    outputs = {name: process.communicate(timeout=240) for name, process in running.items()}

    for name, process in running.items():
        stdout, stderr = outputs[name]
        assert process.returncode == 0, f"{name}: {stderr[-3000:]}"
        assert "database is locked" not in stdout + stderr, f"{name}: {stderr[-3000:]}"
    for site in ("opd2", "opd3"):
        summary = json.loads(outputs[site][0])
        assert (summary["site"], summary["connected"]) == (site, True), summary["findings"]
    assert json.loads(outputs["health"][0])["complete"] is True
    assert query(data_dir, "PRAGMA integrity_check") == [("ok",)]
    steps = query(data_dir, "SELECT COUNT(DISTINCT incident_id) FROM step_attempts WHERE step = 7")
    assert steps == [(2,)]
