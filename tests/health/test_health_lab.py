"""The health sweep on the lab: real playbook, real devices, real faults, real records.

Each test runs ``runbook health --json`` as the timer would, with a private
data directory, and asserts on its summary, its metrics file and the
incident records, with the command's output as the assertion message.
"""

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lab.helpers import RUNBOOK
from prometheus_client.parser import text_string_to_metric_families

from runbook_runner import execution
from runbook_runner.records import open_records

Fault = Callable[[str], contextlib.AbstractContextManager[None]]
LAB_SITES = {"opd1", "opd2", "opd3"}


def sweep(data_dir: Path) -> tuple[dict[str, Any], str]:
    """Run one sweep; return its JSON summary and its whole output."""
    result = subprocess.run(
        [str(RUNBOOK), "health", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RUNBOOK_DATA_DIR": str(data_dir)},
        check=False,
    )
    output = f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, output
    return json.loads(result.stdout), output


def site_up(metrics_file: Path) -> dict[str, float]:
    text = metrics_file.read_text(encoding="utf-8")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {s.labels["site"]: s.value for s in families["batiknet_health_site_up"].samples}


@pytest.mark.lab
def test_sweep_of_the_healthy_lab_writes_metrics_the_prometheus_parser_reads(
    lab: object, tmp_path: Path
) -> None:
    summary, output = sweep(tmp_path)

    assert summary["complete"], output
    assert summary["sites"]["total"] == 3 and summary["sites"]["failed"] == 0, output
    assert {step: info["checks"] > 0 for step, info in summary["steps"].items()} == {
        "devices": True,
        "dns": True,
        "connectivity": True,
    }, output
    metrics = Path(summary["metrics_file"])
    assert metrics == tmp_path / "metrics" / "batiknet_health.prom"
    assert site_up(metrics) == dict.fromkeys(LAB_SITES, 1.0), output
    assert json.loads(Path(summary["summary_file"]).read_text()) == summary


@pytest.mark.lab
def test_a_failing_site_opens_one_incident_and_its_recovery_closes_the_loop(
    lab: object, lab_fault: Fault, tmp_path: Path
) -> None:
    with lab_fault("opd2-access-down"):
        first, output = sweep(tmp_path)
        second, output2 = sweep(tmp_path)

    assert [s["site"] for s in first["failing_sites"]] == ["opd2"], output
    assert [i["site"] for i in first["incidents"]["opened"]] == ["opd2"], output
    assert second["incidents"]["opened"] == [], output2
    assert [i["site"] for i in second["incidents"]["still_open"]] == ["opd2"], output2
    assert site_up(Path(second["metrics_file"]))["opd2"] == 0, output2

    healed, output3 = sweep(tmp_path)

    incident_id = first["incidents"]["opened"][0]["incident"]
    assert healed["incidents"]["recovered"] == [{"site": "opd2", "incident": incident_id}], output3
    assert site_up(Path(healed["metrics_file"]))["opd2"] == 1, output3
    with open_records(tmp_path) as records:
        incidents = records.list_incidents()
        events = records.events(incident_id)
    assert len(incidents) == 1, incidents
    incident = incidents[0]
    assert (incident["site"], incident["channel"]) == ("opd2", "monitoring")
    assert incident["state"] == "resolved" and incident["resolved_at"] >= incident["received_at"]
    intake, resolved = events[0], events[-1]
    assert intake["kind"] == "intake" and resolved["kind"] == "resolved", events
    evidence = intake["data"]["checks"]
    assert any(c["target"] == "bn-opd2-gw" and c["status"] == "failed" for c in evidence)
    assert all(c["status"] != "failed" for c in resolved["data"]["checks"])


@pytest.mark.lab
def test_a_killed_sweep_leaves_the_last_good_metrics_in_place(lab: object, tmp_path: Path) -> None:
    good, output = sweep(tmp_path)
    metrics = Path(good["metrics_file"])
    before = metrics.read_bytes()
    artifacts = execution.run_dir("health", tmp_path) / "artifacts"
    known = set(artifacts.iterdir())

    process = subprocess.Popen(
        [str(RUNBOOK), "health", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RUNBOOK_DATA_DIR": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 60
        while not any((run / "job_events").is_dir() for run in set(artifacts.iterdir()) - known):
            assert process.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the second sweep never started its playbook"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        execution.end_leftover_runs("health", tmp_path)

    assert metrics.read_bytes() == before
    assert site_up(metrics) == dict.fromkeys(LAB_SITES, 1.0)
    assert [p.name for p in metrics.parent.iterdir()] == [metrics.name]
    after, output = sweep(tmp_path)
    assert after["complete"] and metrics.read_bytes() != before, output
