"""The health sweep's own logic, without the lab: judging sites, metrics, atomic files,
the lock and the incidents it opens and recovers (on a real SQLite file)."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runbook_runner import health
from runbook_runner.records import open_records

RUNBOOK = Path(sys.executable).parent / "runbook"


def check(site: str | None, status: str, **extra: Any) -> dict[str, Any]:
    """Return a check record of the sweep, as the playbook publishes it."""
    record = {
        "step": "devices",
        "check": "icmp",
        "vantage": "ops",
        "target": f"gw-{site or 'core'}",
        "status": status,
        "values": {},
        "message": f"gw-{site} is {status}.",
        "segment": "opd_gateway" if site else "core",
        "site": site,
        "time": "2026-12-03T08:00:00+00:00",
    }
    return record | extra


def sweep_of(checks: list[dict[str, Any]], run_id: str = "run-1") -> health.Sweep:
    return health.Sweep(
        run_id=run_id,
        status="successful",
        complete=True,
        started_at="2026-12-03T08:00:00+00:00",
        seconds=4.5,
        checks=checks,
        sites=health.judge_sites(checks),
        shared=health.judge_shared(checks),
        steps={},
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param(["ok", "ok"], "ok", id="all-ok"),
        pytest.param(["ok", "degraded"], "degraded", id="loss-is-degraded"),
        pytest.param(["degraded", "unknown"], "unknown", id="unknown-beats-degraded"),
        pytest.param(["unknown", "failed", "ok"], "failed", id="failed-wins"),
        pytest.param([], "ok", id="nothing-is-ok"),
    ],
)
def test_worst_status_orders_failed_unknown_degraded_ok(statuses: list[str], expected: str) -> None:
    assert health.worst(statuses) == expected


def test_judge_sites_keeps_shared_checks_apart_from_the_sites() -> None:
    checks = [check("opd1", "ok"), check("opd1", "failed"), check("opd2", "ok"), check(None, "ok")]

    sites = health.judge_sites(checks)

    assert {s: h.status for s, h in sites.items()} == {"opd1": "failed", "opd2": "ok"}
    assert len(sites["opd1"].failing) == 1
    assert health.judge_shared(checks) == {"core": "ok"}


def test_metrics_parse_with_the_prometheus_parser_and_escape_labels() -> None:
    tricky = 'gw "quoted" \\ back\nslash'
    checks = [
        check("opd1", "failed", target=tricky),
        check("opd2", "ok"),
        check(
            "opd2",
            "degraded",
            step="connectivity",
            check="reach",
            values={"loss": 30.0, "rtt_avg": 0.5},
        ),
        check(None, "ok"),
    ]

    text = health.render_metrics(sweep_of(checks), open_incidents=1)
    families = {f.name: f for f in text_string_to_metric_families(text)}

    up = {s.labels["site"]: s.value for s in families["batiknet_health_site_up"].samples}
    assert up == {"opd1": 0, "opd2": 1}
    targets = {s.labels["target"] for s in families["batiknet_health_check_status"].samples}
    assert tricky in targets
    loss = families["batiknet_health_reach_loss_ratio"].samples[0]
    assert loss.value == pytest.approx(0.3)
    assert families["batiknet_health_incidents_open"].samples[0].value == 1
    stamp = families["batiknet_health_sweep_timestamp_seconds"].samples[0].value
    ended = datetime(2026, 12, 3, 8, 0, tzinfo=UTC).timestamp() + 4.5
    assert stamp == ended


def test_write_atomic_replaces_the_file_and_removes_a_dead_writers_leftover(
    tmp_path: Path,
) -> None:
    target = tmp_path / "metrics" / "batiknet_health.prom"
    health.write_atomic(target, "old 1\n")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    leftover = target.parent / f".{target.name}.{dead.stdout.strip()}.abc123.tmp"
    leftover.write_text("half a fi", encoding="utf-8")

    health.write_atomic(target, "new 2\n")

    assert target.read_text(encoding="utf-8") == "new 2\n"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_second_sweep_is_refused_while_the_lock_names_the_first(tmp_path: Path) -> None:
    with health.health_lock(tmp_path):
        with pytest.raises(health.HealthBusyError) as refused, health.health_lock(tmp_path):
            pass
        result = subprocess.run(
            [str(RUNBOOK), "health", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "RUNBOOK_DATA_DIR": str(tmp_path)},
            check=False,
        )

    assert refused.value.holder["pid"] == os.getpid()
    assert result.returncode == 75, result.stdout + result.stderr
    assert f"pid {os.getpid()}" in result.stderr, result.stderr
    assert not (tmp_path / "runs").exists(), "the refused sweep must not run anything"
    with health.health_lock(tmp_path):
        pass  # released: the next sweep may run


def test_a_failing_site_gets_one_incident_and_its_recovery_is_recorded(tmp_path: Path) -> None:
    failing = [check("opd1", "failed"), check("opd2", "ok")]
    working = [check("opd1", "degraded"), check("opd2", "ok")]

    with open_records(tmp_path) as records:
        first = health.reconcile_incidents(records, sweep_of(failing, "run-1"), "tech")
        second = health.reconcile_incidents(records, sweep_of(failing, "run-2"), "tech")
        third = health.reconcile_incidents(records, sweep_of(working, "run-3"), "tech")
        incidents = records.list_incidents()
        events = records.events(incidents[0]["id"])

    assert [item["site"] for item in first["opened"]] == ["opd1"]
    assert second["opened"] == [] and second["still_open"][0]["site"] == "opd1"
    assert [item["site"] for item in third["recovered"]] == ["opd1"]
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["channel"] == "monitoring"
    assert incident["state"] == "resolved" and incident["resolved_at"]
    assert [e["kind"] for e in events] == ["intake", "resolved"]
    assert events[0]["data"]["checks"][0]["status"] == "failed"
    assert events[0]["data"]["run_id"] == "run-1"


def test_an_unknown_site_is_not_a_recovery_and_a_letter_incident_is_left_alone(
    tmp_path: Path,
) -> None:
    with open_records(tmp_path) as records:
        health.reconcile_incidents(records, sweep_of([check("opd1", "failed")]), "tech")
        records.create_incident(
            {
                "site": "opd2", "opd_name": "Dinas Kesehatan", "letter_no": "005/12",
                "letter_date": "2026-12-03", "complaint": "Tidak bisa akses internet",
                "channel": "letter", "assignee": "Budi",
                "received_at": "2026-12-03T01:00:00+00:00",
                "disposed_at": "2026-12-03T01:05:00+00:00",
            }
        )  # fmt: skip
        changes = health.reconcile_incidents(
            records, sweep_of([check("opd1", "unknown"), check("opd2", "failed")]), "tech"
        )
        later = health.reconcile_incidents(records, sweep_of([check("opd2", "ok")]), "tech")
        by_site = {i["site"]: i for i in records.list_incidents()}

    assert changes["opened"] == [] and changes["recovered"] == []
    assert later["recovered"] == []
    assert by_site["opd1"]["resolved_at"] is None
    assert by_site["opd2"]["channel"] == "letter" and by_site["opd2"]["resolved_at"] is None


def test_one_sweep_opens_at_most_the_cap_and_withholds_the_rest(tmp_path: Path) -> None:
    checks = [check(f"s{n:04d}", "failed") for n in range(1, 6)]

    with open_records(tmp_path) as records:
        first = health.reconcile_incidents(records, sweep_of(checks), "tech", max_new=2)
        second = health.reconcile_incidents(records, sweep_of(checks), "tech", max_new=2)

    assert [i["site"] for i in first["opened"]] == ["s0001", "s0002"]
    assert [i["site"] for i in first["withheld"]] == ["s0003", "s0004", "s0005"]
    assert [i["site"] for i in second["opened"]] == ["s0003", "s0004"]


def test_health_settings_default_under_the_data_directory(tmp_path: Path) -> None:
    config = health.health_settings(tmp_path)

    assert config.metrics_file == tmp_path / "metrics" / "batiknet_health.prom"
    assert config.summary_file == tmp_path / "health" / "summary.json"
    assert config.max_new_incidents == 50
