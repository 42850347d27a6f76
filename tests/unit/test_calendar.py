"""The working calendar: service hours, the holidays package, the overrides, the warnings."""

import warnings
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from runbook_runner.calendar import (
    CalendarError,
    CalendarWarning,
    HolidayYear,
    WorkingCalendar,
    collect_calendar_warnings,
    package_holidays,
)
from runbook_runner.config import CalendarConfig, load_config

WIB = ZoneInfo("Asia/Jakarta")


def _calendar(tmp_path: Path, text: str) -> WorkingCalendar:
    path = tmp_path / "runbook.toml"
    path.write_text(text, encoding="utf-8")
    return WorkingCalendar(load_config(path).calendar)


@pytest.mark.parametrize(
    ("day", "kind", "reason_part"),
    [
        # The week of the letter of Tuesday 2026-03-17, as holidays 0.109 has it
        # (SKB 3 Menteri 2026): Nyepi on Thursday with a joint leave day before
        # it, Idul Fitri on the weekend with joint leave days around it. The
        # office is closed from Wednesday 18 to Tuesday 24 and opens again on
        # Wednesday 25.
        (date(2026, 3, 17), None, None),
        (date(2026, 3, 18), "joint_leave", "Cuti Bersama Hari Suci Nyepi"),
        (date(2026, 3, 19), "public_holiday", "Hari Suci Nyepi"),
        (date(2026, 3, 20), "joint_leave", "Cuti Bersama Hari Raya Idul Fitri"),
        (date(2026, 3, 21), "public_holiday", "Hari Raya Idul Fitri"),
        (date(2026, 3, 22), "public_holiday", "Hari kedua dari Hari Raya Idul Fitri"),
        (date(2026, 3, 23), "joint_leave", "Cuti Bersama Hari Raya Idul Fitri"),
        (date(2026, 3, 24), "joint_leave", "Cuti Bersama Hari Raya Idul Fitri"),
        (date(2026, 3, 25), None, None),
        # The year end: Christmas with its joint leave day, New Year, and Isra
        # Mikraj on Tuesday 2027-01-05.
        (date(2026, 12, 24), "joint_leave", "Cuti Bersama Hari Raya Natal"),
        (date(2026, 12, 25), "public_holiday", "Hari Raya Natal"),
        (date(2026, 12, 31), None, None),
        (date(2027, 1, 1), "public_holiday", "Tahun Baru Masehi"),
        (date(2027, 1, 2), "weekend", "Saturday"),
        (date(2027, 1, 4), None, None),
        (date(2027, 1, 5), "public_holiday", "Isra Mikraj"),
    ],
    ids=str,
)
def test_closure_follows_the_holidays_package(
    day: date, kind: str | None, reason_part: str | None
) -> None:
    closure = WorkingCalendar().closure(day)
    if kind is None:
        assert closure is None
        return
    assert closure is not None
    assert (closure.kind, reason_part in closure.reason) == (kind, True)


def test_holidays_package_supports_public_and_government_for_indonesia() -> None:
    import holidays

    assert set(holidays.country_holidays("ID").supported_categories) >= {"public", "government"}


def test_service_hours_are_seven_and_a_quarter_hours_monday_to_thursday_three_on_friday() -> None:
    calendar = WorkingCalendar()
    week = [date(2026, 3, 9) + timedelta(days=offset) for offset in range(7)]
    assert [calendar.service_time(day) // timedelta(minutes=1) for day in week] == [
        435, 435, 435, 435, 180, 0, 0,
    ]  # fmt: skip
    assert calendar.periods(date(2026, 3, 9)) == (
        (datetime(2026, 3, 9, 8, tzinfo=WIB), datetime(2026, 3, 9, 12, tzinfo=WIB)),
        (datetime(2026, 3, 9, 12, 30, tzinfo=WIB), datetime(2026, 3, 9, 15, 45, tzinfo=WIB)),
    )


def test_next_working_day_after_tuesday_17_march_2026_is_wednesday_25() -> None:
    assert WorkingCalendar().next_working_day(date(2026, 3, 17)) == date(2026, 3, 25)


def test_closed_days_lists_the_holidays_without_weekends_unless_asked() -> None:
    calendar = WorkingCalendar()
    days = calendar.closed_days(date(2026, 3, 13), date(2026, 3, 16))
    assert days == []
    with_weekends = calendar.closed_days(date(2026, 3, 13), date(2026, 3, 16), weekends=True)
    assert [day.day.day for day in with_weekends] == [14, 15]


def test_overrides_close_a_day_and_open_a_holiday_and_a_saturday(tmp_path: Path) -> None:
    calendar = _calendar(
        tmp_path,
        """
[calendar.overrides]
closed = [{ date = "2026-03-10", reason = "Cuti tambahan (SE Wali Kota)" }]
open = [
  { date = "2026-03-19", reason = "Piket Nyepi" },
  { date = "2026-03-14", reason = "Piket Sabtu", hours = ["08:00-10:00"] },
]
""",
    )
    closure = calendar.closure(date(2026, 3, 10))
    assert closure is not None
    assert (closure.kind, closure.reason) == ("override", "Cuti tambahan (SE Wali Kota)")
    assert calendar.service_time(date(2026, 3, 19)) == timedelta(minutes=435)
    assert calendar.service_time(date(2026, 3, 14)) == timedelta(hours=2)
    assert calendar.next_working_day(date(2026, 3, 17)) == date(2026, 3, 19)


def test_localize_reads_a_naive_time_as_wib_and_converts_an_aware_one() -> None:
    calendar = WorkingCalendar()
    assert calendar.localize(datetime(2026, 3, 17, 15, 40)) == datetime(
        2026, 3, 17, 15, 40, tzinfo=WIB
    )
    utc = datetime.fromisoformat("2026-03-17T08:40:00+00:00")
    assert calendar.localize(utc).isoformat() == "2026-03-17T15:40:00+07:00"


def test_a_year_beyond_the_package_warns_that_no_holiday_is_known() -> None:
    calendar = WorkingCalendar()
    with pytest.warns(CalendarWarning, match=r"2200: .*knows no ID holidays outside 1946-2100"):
        assert calendar.is_working_day(date(2200, 1, 1))


def test_a_year_without_joint_leave_days_warns_that_cuti_bersama_is_missing() -> None:
    calendar = WorkingCalendar()
    with pytest.warns(CalendarWarning, match=r"2099: .*no ID government days"):
        calendar.is_working_day(date(2099, 7, 7))


def test_a_confirmed_year_raises_no_warning(tmp_path: Path) -> None:
    calendar = _calendar(tmp_path, "[calendar]\nconfirmed_years = [2200]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert calendar.is_working_day(date(2200, 1, 1))


def test_the_package_marks_computed_islamic_dates_as_estimated() -> None:
    year = package_holidays("ID", ("public",))(2040)
    assert year.estimated
    assert all("perkiraan" in year.days[day][1] for day in year.estimated)


def _source_with_estimate(year: int) -> HolidayYear:
    estimated = date(year, 3, 10)
    return HolidayYear(
        {estimated: ("public_holiday", "Idul Fitri (perkiraan)")}, frozenset({estimated})
    )


def test_crossing_an_estimated_holiday_warns_once_and_an_override_settles_it() -> None:
    calendar = WorkingCalendar(holiday_source=_source_with_estimate)
    with pytest.warns(CalendarWarning, match=r"2027-03-10: Idul Fitri \(perkiraan\) is .*estimate"):
        assert not calendar.is_working_day(date(2027, 3, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calendar.is_working_day(date(2027, 3, 10))
        calendar.is_working_day(date(2027, 3, 11))


def test_collect_calendar_warnings_returns_the_messages() -> None:
    with collect_calendar_warnings() as notes:
        WorkingCalendar().is_working_day(date(2200, 6, 1))
    assert len(notes) == 1
    assert notes[0].startswith("2200: ")


def test_a_calendar_without_any_service_hours_raises_calendar_error(tmp_path: Path) -> None:
    hours = "\n".join(
        f"{day} = []"
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
    calendar = _calendar(tmp_path, f"[calendar.hours]\n{hours}\n")
    with pytest.raises(CalendarError, match="no working day in the 60 days after 2026-03-17"):
        calendar.next_working_day(date(2026, 3, 17))


def test_the_default_calendar_config_is_the_service_standard() -> None:
    config = CalendarConfig()
    assert config.timezone == "Asia/Jakarta"
    assert [len(config.hours[weekday]) for weekday in range(7)] == [2, 2, 2, 2, 1, 0, 0]


def test_an_open_override_with_hours_shortens_a_working_day(tmp_path: Path) -> None:
    calendar = _calendar(
        tmp_path,
        """
[calendar.overrides]
open = [{ date = "2027-02-15", reason = "Jam kerja Ramadan", hours = ["08:00-14:00"] }]
""",
    )
    assert calendar.service_time(date(2027, 2, 15)) == timedelta(hours=6)
    assert calendar.service_time(date(2027, 2, 16)) == timedelta(minutes=435)
