"""The office configuration file: defaults, typed sections, and errors that name the fix."""

from datetime import date, time
from fractions import Fraction
from pathlib import Path

import pytest

from runbook_runner import settings
from runbook_runner.config import (
    CalendarConfig,
    Config,
    EscalationConfig,
    Period,
    SlaConfig,
    load_config,
)
from runbook_runner.errors import ConfigError


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "runbook.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_the_shipped_file_holds_the_defaults() -> None:
    config = load_config(settings.DEFAULT_CONFIG)
    assert config.calendar.hours == CalendarConfig().hours
    assert config.calendar.hours[0] == (
        Period(time(8), time(12)), Period(time(12, 30), time(15, 45)),
    )  # fmt: skip
    assert config.calendar.hours[4] == (Period(time(8), time(11)),)
    assert (config.calendar.timezone, config.calendar.holiday_categories) == (
        "Asia/Jakarta", ("public", "government"),
    )  # fmt: skip
    assert config.sla == SlaConfig()
    assert config.escalation == EscalationConfig()


def test_an_empty_file_gives_every_default(tmp_path: Path) -> None:
    config = _load(tmp_path, "")
    assert config.calendar.hours == CalendarConfig().hours
    assert config.sla == SlaConfig(Fraction(2), Fraction(5), Fraction(3, 4))
    assert config.escalation.official() == {
        "name": "Pejabat Pengaduan Diskominfo Kota Pekalongan",
        "email": "pengaduan@diskominfo.example",
    }


def test_runbook_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "office.toml"
    path.write_text("[sla]\ntarget_working_days = 1\n", encoding="utf-8")
    monkeypatch.setenv("RUNBOOK_CONFIG", str(path))
    config = load_config()
    assert (config.path, config.sla.target_working_days) == (path, Fraction(1))


def test_a_file_named_on_purpose_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"missing\.toml does not exist") as caught:
        load_config()
    assert "RUNBOOK_CONFIG" in (caught.value.hint or "")


def test_other_sections_are_read_raw_or_typed_without_this_module(tmp_path: Path) -> None:
    config = _load(tmp_path, '[smtp]\nhost = "192.0.2.25"\nport = 587\n')
    assert config.section("smtp") == {"host": "192.0.2.25", "port": 587}
    assert config.section("absent") == {}
    reader = config.reader("smtp")
    assert reader.string("host", "localhost") == "192.0.2.25"
    with pytest.raises(ConfigError, match=r"\[smtp\] port: 587 is not a text"):
        reader.string("port", "25")


def test_overrides_are_read_with_their_reasons_and_hours(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
[calendar]
confirmed_years = [2028]
[calendar.overrides]
closed = [{ date = 2028-01-03, reason = "Cuti bersama (SKB 2028)" }]
open = [{ date = "2026-03-14", reason = "Piket Sabtu", hours = ["08:00-10:00"] }]
""",
    )
    calendar = config.calendar
    assert calendar.confirmed_years == frozenset({2028})
    assert [(o.day, o.reason) for o in calendar.closed] == [
        (date(2028, 1, 3), "Cuti bersama (SKB 2028)"),
    ]  # fmt: skip
    assert calendar.opened[0].hours == (Period(time(8), time(10)),)


def test_a_bad_section_only_stops_its_own_readers(tmp_path: Path) -> None:
    config = _load(tmp_path, "[sla]\nat_risk_share = 3\n")
    assert config.calendar.timezone == "Asia/Jakarta"
    with pytest.raises(ConfigError):
        _ = config.sla


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        pytest.param(
            '[calendar]\ntimezone = "Asia/Pekalongan"\n',
            r"\[calendar\] timezone: 'Asia/Pekalongan' is not a known time zone",
            "Asia/Jakarta",
            id="unknown-time-zone",
        ),
        pytest.param(
            '[calendar.hours]\nmonday = ["8-12"]\n',
            r"\[calendar.hours\] monday: '8-12' is not a period",
            "HH:MM-HH:MM",
            id="malformed-period",
        ),
        pytest.param(
            '[calendar.hours]\nfriday = ["12:00-11:00"]\n',
            r"friday: '12:00-11:00' is not a period",
            "start before the end",
            id="period-ending-before-it-starts",
        ),
        pytest.param(
            '[calendar.hours]\nmonday = ["08:00-12:00", "11:30-15:45"]\n',
            r"monday: '11:30-15:45' starts before 08:00-12:00 ends",
            "without overlap",
            id="overlapping-periods",
        ),
        pytest.param(
            '[calendar.hours]\nmonday = "08:00-12:00"\n',
            r"monday: '08:00-12:00' is not a list of texts",
            "monday = [",
            id="hours-not-a-list",
        ),
        pytest.param(
            "[calendar.hours]\nmondy = []\n",
            r"\[calendar.hours\] mondy: unknown key",
            "monday",
            id="misspelt-weekday",
        ),
        pytest.param(
            '[calendar]\nholiday_categories = ["public", "religious"]\n',
            r"holiday_categories: religious not among the package's categories for ID",
            "government, public",
            id="unknown-holiday-category",
        ),
        pytest.param(
            '[calendar]\nholiday_country = "XX"\n',
            r"holiday_country: 'XX' is not a country",
            '"ID"',
            id="unknown-country",
        ),
        pytest.param(
            '[calendar]\nconfirmed_years = ["2026"]\n',
            r"confirmed_years: \['2026'\] is not a list of years",
            "[2026]",
            id="years-as-text",
        ),
        pytest.param(
            '[calendar.overrides]\nclosed = [{ date = "2026-04-01" }]\n',
            r"\[calendar.overrides\] closed: .* needs a date and a reason",
            "reason =",
            id="closed-day-without-reason",
        ),
        pytest.param(
            '[calendar.overrides]\nclosed = [{ date = "1 April", reason = "x" }]\n',
            r"closed: .* needs a date and a reason",
            "YYYY-MM-DD",
            id="closed-day-with-bad-date",
        ),
        pytest.param(
            '[calendar.overrides]\nopen = [{ date = "2026-03-14", reason = "Piket" }]\n',
            r"open: 2026-03-14 is a saturday, which has no service hours",
            "hours = [",
            id="open-saturday-without-hours",
        ),
        pytest.param(
            '[calendar.overrides]\nclosed = [{ date = "2026-04-01", reason = "a" }]\n'
            'open = [{ date = "2026-04-01", reason = "b" }]\n',
            r"2026-04-01 is listed twice",
            "one entry per day",
            id="day-both-closed-and-open",
        ),
        pytest.param(
            "[sla]\nat_risk_share = 1.5\n",
            r"\[sla\] at_risk_share: 1.5 is out of range",
            "at most 1",
            id="share-above-one",
        ),
        pytest.param(
            '[sla]\ntarget_working_days = "two"\n',
            r"\[sla\] target_working_days: 'two' is not a number",
            "target_working_days = 2",
            id="target-as-text",
        ),
        pytest.param(
            "[sla]\ntarget_working_days = 0\n",
            r"target_working_days: 0 is out of range",
            "above 0",
            id="target-zero",
        ),
        pytest.param(
            "[sla]\ntarget_working_days = 3\nlimit_working_days = 2\n",
            r"limit_working_days: 2 is shorter than the target of 3 working days",
            "at least the resolution target",
            id="limit-below-target",
        ),
        pytest.param(
            "[sla]\ntarget_days = 2\n",
            r"\[sla\] target_days: unknown key",
            "target_working_days",
            id="misspelt-sla-key",
        ),
        pytest.param(
            '[escalation]\nofficial_email = "pengaduan at kominfo"\n',
            r"\[escalation\] official_email: 'pengaduan at kominfo' is not an email address",
            "name@domain",
            id="malformed-email",
        ),
        pytest.param(
            '[escalation]\nlang = "fr"\n',
            r"\[escalation\] lang: 'fr' is not allowed",
            "id, en",
            id="unknown-language",
        ),
    ],
)
def test_a_bad_value_names_the_file_the_key_and_the_fix(
    tmp_path: Path, text: str, message: str, hint: str
) -> None:
    config = _load(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        _ = (config.calendar, config.sla, config.escalation)
    assert str(tmp_path / "runbook.toml") in caught.value.message
    assert hint in (caught.value.hint or "")


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"runbook.toml is not valid TOML: .*line 2"):
        _load(tmp_path, "[sla]\ntarget_working_days = = 2\n")


def test_a_section_that_is_a_value_is_refused(tmp_path: Path) -> None:
    config = _load(tmp_path, 'sla = "fast"\n')
    with pytest.raises(ConfigError, match="sla is not a section"):
        _ = config.sla
