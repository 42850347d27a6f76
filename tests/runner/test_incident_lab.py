"""The runner on the lab: every catalog fault, the healthy lab, the ISP story, a killed run.

Each test runs the real ``runbook`` command against the lab with a data
directory of its own and asserts on its ``--json`` output, with the output
as the assertion message. Expected outcomes are LAB.md's table.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import Any

import pytest

RUNBOOK = Path(sys.executable).parent / "runbook"
Fault = Callable[[str], AbstractContextManager[None]]

LETTER = ["--letter-no", "005/123/2026", "--letter-date", "2026-12-03", "--assignee", "Budi"]


def runbook(data_dir: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNBOOK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [str(RUNBOOK), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def run_json(data_dir: Path, *args: str) -> dict[str, Any]:
    result = runbook(data_dir, *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(result.stdout))


def open_incident(data_dir: Path, site: str, *extra: str) -> dict[str, Any]:
    return run_json(
        data_dir, "incident", "--site", site, *LETTER, "--complaint", "Jaringan mati", *extra
    )


def outcome(result: dict[str, Any]) -> str:
    summary = {k: result[k] for k in ("incident", "state", "connected", "segments", "branch")}
    findings = [f"{f['segment']}: {f['summary']}" for f in result["findings"]]
    return json.dumps(summary) + "\n" + "\n".join(findings)


def _observed(device: str, note: str) -> tuple[str, ...]:
    return ("--physical-check", "confirmed", "--observed", f"{device}={note}")


WAN_DARK = "powered, WAN link light off"
# fault, site, technician's physical check, connected, degraded, segment, branch
CATALOG = [
    pytest.param("uplink-down", "opd1", (), False, False, "isp_upstream", "isp_ticket",
                 id="uplink-down"),
    pytest.param("uplink-loss", "opd1", (), True, True, "isp_upstream", "isp_ticket",
                 id="uplink-loss"),
    pytest.param("opd1-access-down", "opd1", _observed("bn-opd1-gw", WAN_DARK),
                 False, False, "opd_access", "isp_ticket", id="opd1-access-down"),
    pytest.param("opd2-access-down", "opd2", _observed("bn-opd2-gw", WAN_DARK),
                 False, False, "opd_access", "internal_action", id="opd2-access-down"),
    pytest.param("opd3-gw-down", "opd3", _observed("bn-opd3-gw", "no power, all lights off"),
                 False, False, "opd_gateway", "internal_action", id="opd3-gw-down"),
    pytest.param("core-port-admin-down", "opd2", (), False, False, "core", "internal_action",
                 id="core-port-admin-down"),
    pytest.param("dns1-down", "opd1", (), True, False, "dns", "internal_action", id="dns1-down"),
    pytest.param("dns-all-down", "opd1", (), True, False, "dns", "internal_action",
                 id="dns-all-down"),
    pytest.param("dns1-wrong-answer", "opd1", (), True, False, "dns", "internal_action",
                 id="dns1-wrong-answer"),
    pytest.param("app1-down", "opd1", (), True, False, "server", "internal_action",
                 id="app1-down"),
    pytest.param("opd1-lan-down", "opd1", (), False, False, "user_lan", "internal_action",
                 id="opd1-lan-down"),
]  # fmt: skip


@pytest.mark.lab
@pytest.mark.parametrize(
    ("fault", "site", "physical", "connected", "degraded", "segment", "branch"), CATALOG
)
def test_incident_under_each_catalog_fault_gives_lab_md_diagnosis(  # noqa: PLR0917
    lab: object,
    lab_fault: Fault,
    tmp_path: Path,
    fault: str,
    site: str,
    physical: tuple[str, ...],
    connected: bool,
    degraded: bool,
    segment: str,
    branch: str,
) -> None:
    with lab_fault(fault):
        result = open_incident(tmp_path, site, "--no-notify", *physical)
    got = (result["connected"], result["degraded"], result["segment"], result["branch"])
    assert got == (connected, degraded, segment, branch), outcome(result)
    assert segment in result["segments"], outcome(result)


@pytest.mark.lab
def test_incident_on_the_healthy_lab_is_connected_and_gets_a_report(
    lab: object, tmp_path: Path
) -> None:
    result = open_incident(tmp_path, "opd2", "--no-notify")
    assert (result["connected"], result["segment"]) == (True, "none"), outcome(result)
    assert (result["branch"], result["state"]) == ("completion_report", "resolved"), outcome(result)
    reports = [p for p in result["documents"] if "completion_report" in p]
    assert {Path(p).suffix for p in reports} == {".md", ".html"}, outcome(result)
    assert [s["step"] for s in result["steps"]] == [1, 2, 3, 4, 5, 6, 7, 9], outcome(result)


@pytest.mark.lab
def test_isp_story_ticket_heal_recheck_report_close(
    lab: object, lab_fault: Fault, tmp_path: Path
) -> None:
    with lab_fault("uplink-down"):
        opened = open_incident(tmp_path, "opd1", "--no-notify")
        incident = opened["incident"]
        assert (opened["state"], opened["branch"]) == ("waiting_isp", "isp_ticket"), outcome(opened)
        ticket = Path(next(p for p in opened["documents"] if p.endswith("isp_ticket.id.md")))
        text = ticket.read_text(encoding="utf-8")
        assert "LDP-PKL-2023-00042" in text  # the upstream's circuit, from the inventory
        assert "bn-core:uplink" in text  # the evidence: the core's port lost carrier
        refused = runbook(tmp_path, "close", incident)
        assert refused.returncode != 0 and "not connected" in refused.stderr, refused.stderr
        run_json(tmp_path, "isp", incident, "--ref", "LDP-77812", "--eta", "2026-12-03 14:00")

    rechecked = run_json(
        tmp_path, "recheck", incident, "--watch", "--interval", "3", "--max-wait", "30",
        "--no-notify",
    )  # fmt: skip
    assert (rechecked["state"], rechecked["connected"]) == ("resolved", True), outcome(rechecked)
    report = runbook(tmp_path, "report", incident, "--lang", "en", "--format", "html")
    assert report.returncode == 0, report.stderr
    html = Path(report.stdout.strip()).read_text(encoding="utf-8")
    assert "LDP-77812" in html and "Head of the Infrastructure" in html
    closed = run_json(tmp_path, "close", incident)
    assert closed["state"] == "closed", outcome(closed)

    shown = run_json(tmp_path, "show", incident)
    isp_steps = [s for s in shown["steps"] if s["step"] == 8]
    assert len(isp_steps) == 1, shown["steps"]
    assert [s["step"] for s in shown["steps"]].count(10) == 1, shown["steps"]


@pytest.mark.lab
def test_kill_during_step_6_then_resume_gives_a_complete_record(
    lab: object, tmp_path: Path
) -> None:
    env = {**os.environ, "RUNBOOK_DATA_DIR": str(tmp_path)}
    argv = [str(RUNBOOK), "incident", "--site", "opd1", *LETTER, "--complaint", "x", "--no-notify"]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        stdin=subprocess.DEVNULL,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("6. ") and ":" not in line:
                break  # step 6 has started
        incident = _only_incident(tmp_path)
        busy = runbook(tmp_path, "recheck", incident)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert busy.returncode != 0 and f"pid {process.pid}" in busy.stderr, busy.stderr + "".join(seen)

    resumed = run_json(tmp_path, "incident", "--resume", incident, "--no-notify")
    completed = [s["step"] for s in resumed["steps"] if s["outcome"] != "interrupted"]
    assert [completed.count(number) for number in range(1, 8)] == [1] * 7, resumed["steps"]
    assert resumed["connected"] is not None, outcome(resumed)
    assert not _processes_naming(tmp_path), "a process of the killed run outlived it"


def _only_incident(data_dir: Path) -> str:
    # The incident is recorded before step 4 starts, long before step 6.
    with closing(sqlite3.connect(data_dir / "runbook.db")) as db:
        rows = db.execute("SELECT id FROM incidents").fetchall()
    assert len(rows) == 1, rows
    return str(rows[0][0])


def _processes_naming(path: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(int(entry.name))
    return found
