"""``runbook sla``: the calendar checked on its own, the same in every process time zone."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runbook_runner.cli import main
from runbook_runner.settings import PROJECT_DIR

TUESDAY_LETTER = ["sla", "--received", "2026-03-17 15:40", "--at", "2026-03-26 12:00"]


@pytest.fixture(autouse=True)
def _shipped_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNBOOK_CONFIG", raising=False)


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert main(argv) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_json_of_the_tuesday_letter_across_nyepi_and_idul_fitri(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = _json(capsys, [*TUESDAY_LETTER, "--json"])
    # Tue 15:40-15:45 (5) + Wed 25 (435) + Thu 26 08:00-12:00 (240) = 680 min.
    assert data["elapsed_service_minutes"] == 680
    assert data["elapsed_wall_minutes"] == 8 * 1440 + 20 * 60 + 20
    assert data["target_due"] == "2026-03-26T15:40:00+07:00"
    assert data["limit_due"] == "2026-03-31T15:40:00+07:00"
    assert data["at_risk_from"] == "2026-03-26T11:33:00+07:00"
    assert data["status"] == "at_risk"
    assert data["warnings"] == []
    assert [day["date"] for day in data["closed_days"]] == [
        "2026-03-18", "2026-03-19", "2026-03-20", "2026-03-21", "2026-03-22", "2026-03-23",
        "2026-03-24",
    ]  # fmt: skip


def test_without_at_the_json_has_the_due_times_only(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["sla", "--received", "2026-03-13 14:00", "--json"])
    assert (data["clock_start"], data["target_due"], data["limit_due"]) == (
        "2026-03-16T08:00:00+07:00", "2026-03-17T15:45:00+07:00", "2026-03-27T11:00:00+07:00",
    )  # fmt: skip
    assert (data["status"], data["elapsed_service_minutes"]) == (None, None)


def test_a_time_with_an_offset_is_converted_to_wib(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["sla", "--received", "2026-03-17T08:40:00Z", "--json"])
    assert data["received"] == "2026-03-17T15:40:00+07:00"
    assert data["target_due"] == "2026-03-26T15:40:00+07:00"


def test_the_table_shows_due_times_closed_days_and_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(TUESDAY_LETTER) == 0
    out = capsys.readouterr().out
    for expected in (
        "Target due",
        "Thu 2026-03-26 15:40 WIB",
        "Tue 2026-03-31 15:40 WIB",
        "Hari Suci Nyepi",
        "11 h 20 min",
        "8 d 20 h 20 min",
        "at_risk",
    ):
        assert expected in out, out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["sla", "--received", "17/03/2026 15:40"],
            "--received '17/03/2026 15:40' is not a time",
            id="malformed-received",
        ),
        pytest.param(
            ["sla", "--received", "2026-03-17 15:40", "--at", "tomorrow"],
            "--at 'tomorrow' is not a time",
            id="malformed-at",
        ),
        pytest.param(
            ["sla", "--received", "2026-03-17 15:40", "--at", "2026-03-17 09:00"],
            "is before --received",
            id="at-before-received",
        ),
    ],
)
def test_a_bad_time_is_a_usage_error_naming_the_value_and_the_format(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    if "not a time" in message:
        assert "'YYYY-MM-DD HH:MM' (WIB) or ISO 8601 with an offset" in err


def test_a_year_the_package_does_not_know_warns_in_the_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sla", "--received", "2200-03-03 10:00", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert len(data["warnings"]) == 1
    assert data["warnings"][0].startswith("2200: holidays ")
    assert "warning: 2200: holidays " in captured.err


def test_a_bad_config_value_names_the_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "runbook.toml"
    config.write_text("[sla]\nat_risk_share = 2\n", encoding="utf-8")
    monkeypatch.setenv("RUNBOOK_CONFIG", str(config))
    assert main(["sla", "--received", "2026-03-17 15:40"]) == 2
    assert f"{config}: [sla] at_risk_share: 2 is out of range" in capsys.readouterr().err


def _run_in_zone(zone: str) -> dict[str, Any]:
    env = {**os.environ, "TZ": zone}
    env.pop("RUNBOOK_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "runbook_runner", *TUESDAY_LETTER, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_DIR,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_process_time_zone_does_not_change_the_result(
    capsys: pytest.CaptureFixture[str],
) -> None:
    in_process = _json(capsys, [*TUESDAY_LETTER, "--json"])
    results = {zone: _run_in_zone(zone) for zone in ("UTC", "America/New_York", "Asia/Jakarta")}
    assert results["UTC"] == in_process
    assert results["America/New_York"] == in_process
    assert results["Asia/Jakarta"] == in_process
    assert in_process["target_due"] == "2026-03-26T15:40:00+07:00"
