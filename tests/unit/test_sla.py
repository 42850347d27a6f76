"""The SLA clock, with a fake clock: every instant is given, nothing sleeps.

Service hours: Mon-Thu 08:00-12:00 + 12:30-15:45 (435 min), Fri 08:00-11:00
(180 min). "N working days" carries the share of the service day spent at the
start over to the N-th working day after; due times round up to the minute.
"""

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from runbook_runner.calendar import CalendarWarning, WorkingCalendar
from runbook_runner.sla import (
    SlaClock,
    SlaPolicy,
    SlaStatus,
    add_service_minutes,
    add_working_days,
    clock_start,
    due_times,
    evaluate,
    format_duration,
    service_time_between,
    working_days_between,
)

WIB = ZoneInfo("Asia/Jakarta")
CALENDAR = WorkingCalendar()
POLICY = SlaPolicy()


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


@pytest.mark.parametrize(
    ("received", "clock", "at_risk", "target", "limit"),
    [
        pytest.param(
            # Tuesday 15:40: 430 of Tuesday's 435 min spent. Closed Wed 18 (cuti
            # bersama Nyepi), Thu 19 (Nyepi), Fri 20 (cuti bersama Idul Fitri),
            # Sat 21-Sun 22 (Idul Fitri), Mon 23-Tue 24 (cuti bersama). Working
            # days after: Wed 25 (1), Thu 26 (2), Fri 27 (3), Mon 30 (4), Tue 31 (5).
            # Target: Thu 26 at 430/435 = 15:40. Limit: Tue 31 15:40. At risk:
            # 430/435 + 1.5 = 2 + 212.5/435 -> Thu 26, 08:00 + 212.5 min = 11:32:30 -> 11:33.
            "2026-03-17 15:40",
            "2026-03-17 15:40",
            "2026-03-26 11:33",
            "2026-03-26 15:40",
            "2026-03-31 15:40",
            id="tuesday-15:40-across-nyepi-cuti-bersama-idul-fitri",
        ),
        pytest.param(
            # Friday 14:00, after Friday's 11:00 closing: the clock starts Monday
            # 16 08:00 (0 spent). Target: Mon 16 + Tue 17 whole = Tue 17 15:45.
            # Limit: Mon 16, Tue 17, Wed 25, Thu 26, Fri 27 -> Fri 27 11:00.
            # At risk: 1.5 days -> Tue 17 at 0.5 = 217.5 min -> 11:37:30 -> 11:38.
            "2026-03-13 14:00",
            "2026-03-16 08:00",
            "2026-03-17 11:38",
            "2026-03-17 15:45",
            "2026-03-27 11:00",
            id="friday-afternoon-after-closing-before-nyepi",
        ),
        pytest.param(
            # Friday 16:00 in a week without holidays: clock Mon 9 08:00; target
            # end of Tue 10 (15:45); limit end of Fri 13 (11:00); at risk Tue 10 11:38.
            "2026-03-06 16:00",
            "2026-03-09 08:00",
            "2026-03-10 11:38",
            "2026-03-10 15:45",
            "2026-03-13 11:00",
            id="friday-afternoon-after-closing",
        ),
        pytest.param(
            # Monday 12:10, in the lunch break: the clock starts 12:30 with 240/435
            # spent. Target Wed 11 at 240 min = 12:00 (the earliest instant, not
            # 12:30). Limit: Tue 10, Wed 11, Thu 12, Fri 13, Mon 16 -> Mon 16 12:00.
            # At risk: 240/435 + 1.5 = 2 + 22.5/435 -> Wed 11 08:22:30 -> 08:23.
            "2026-03-09 12:10",
            "2026-03-09 12:30",
            "2026-03-11 08:23",
            "2026-03-11 12:00",
            "2026-03-16 12:00",
            id="monday-lunch-break",
        ),
        pytest.param(
            # Wednesday 12:10, lunch break, target on a Friday: 240/435 of Friday's
            # 180 min = 99.31 min -> 09:39:19 -> 09:40. At risk: 240/435 + 1.5 =
            # 2 + 22.5/435 -> Fri 13 at 9.31 min -> 08:09:19 -> 08:10. Limit: Thu 12,
            # Fri 13, Mon 16, Tue 17, Wed 25 (after the closed week) -> Wed 25 12:00.
            "2026-03-11 12:10",
            "2026-03-11 12:30",
            "2026-03-13 08:10",
            "2026-03-13 09:40",
            "2026-03-25 12:00",
            id="wednesday-lunch-break-target-on-friday",
        ),
        pytest.param(
            # Thursday 2026-12-31 14:00 (330/435). Closed Fri 1 Jan (New Year),
            # Sat-Sun, Tue 5 Jan (Isra Mikraj). Working days after: Mon 4 (1), Wed 6
            # (2), Thu 7, Fri 8, Mon 11 (5). Target Wed 6 14:00, limit Mon 11 14:00.
            # At risk: 330/435 + 1.5 = 2 + 112.5/435 -> Wed 6 09:52:30 -> 09:53.
            "2026-12-31 14:00",
            "2026-12-31 14:00",
            "2027-01-06 09:53",
            "2027-01-06 14:00",
            "2027-01-11 14:00",
            id="year-end",
        ),
        pytest.param(
            # Monday's opening: five working days end at Friday's closing, the
            # earliest instant of the same service position (not Monday 08:00).
            "2026-03-02 08:00",
            "2026-03-02 08:00",
            "2026-03-03 11:38",
            "2026-03-03 15:45",
            "2026-03-06 11:00",
            id="monday-opening-five-days-end-friday-closing",
        ),
        pytest.param(
            # Received on Nyepi itself: the clock starts Wed 25 08:00.
            "2026-03-19 10:00",
            "2026-03-25 08:00",
            "2026-03-26 11:38",
            "2026-03-26 15:45",
            "2026-03-31 15:45",
            id="received-on-a-holiday",
        ),
    ],
)
def test_due_times(received: str, clock: str, at_risk: str, target: str, limit: str) -> None:
    due = due_times(wib(received), CALENDAR, POLICY)
    assert (due.clock_start, due.at_risk_from, due.target_due, due.limit_due) == (
        wib(clock), wib(at_risk), wib(target), wib(limit),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("at", "service_minutes", "wall_minutes", "status", "limit_exceeded"),
    [
        # Tuesday 15:40-15:45 = 5 min, then nothing until Wednesday 25.
        ("2026-03-20 10:00", 5, 2 * 1440 + 18 * 60 + 20, SlaStatus.ON_TRACK, False),
        # 5 + Wed 25 08:00-10:00 (120) = 125; 7 d 18 h 20 min wall-clock.
        ("2026-03-25 10:00", 125, 7 * 1440 + 18 * 60 + 20, SlaStatus.ON_TRACK, False),
        ("2026-03-26 11:32", 5 + 435 + 212, 8 * 1440 + 19 * 60 + 52, SlaStatus.ON_TRACK, False),
        ("2026-03-26 11:33", 5 + 435 + 213, 8 * 1440 + 19 * 60 + 53, SlaStatus.AT_RISK, False),
        # 5 + 435 + 240 = 680 min; 8 d 20 h 20 min.
        ("2026-03-26 12:00", 680, 8 * 1440 + 20 * 60 + 20, SlaStatus.AT_RISK, False),
        # At the target due itself: 870 min = 2 x 435, not yet breached.
        ("2026-03-26 15:40", 870, 9 * 1440, SlaStatus.AT_RISK, False),
        ("2026-03-26 15:41", 871, 9 * 1440 + 1, SlaStatus.BREACHED, False),
        # Saturday after the target: breached; 5 + 435 + 435 + Fri 180 = 1055 min.
        ("2026-03-28 10:00", 1055, 10 * 1440 + 18 * 60 + 20, SlaStatus.BREACHED, False),
        # Limit: 5 + 435 + 435 + 180 + 435 + 430 = 1920 min at Tue 31 15:40; 1921 a minute on.
        ("2026-03-31 15:41", 1921, 14 * 1440 + 1, SlaStatus.BREACHED, True),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_status_of_the_tuesday_letter_across_nyepi_and_idul_fitri(
    at: str, service_minutes: int, wall_minutes: int, status: SlaStatus, limit_exceeded: bool
) -> None:
    report = evaluate(wib("2026-03-17 15:40"), wib(at), CALENDAR, POLICY)
    assert report.elapsed_service == timedelta(minutes=service_minutes)
    assert report.elapsed_wall == timedelta(minutes=wall_minutes)
    assert (report.status, report.limit_exceeded) == (status, limit_exceeded)


def test_report_of_the_year_end_incident() -> None:
    # Thu 31 Dec 14:00-15:45 = 105 min, Mon 4 Jan 08:00-09:00 = 60 min: 165 min
    # of service; 3 d 19 h wall-clock; (105 + 60) / 435 of a working day.
    report = evaluate(wib("2026-12-31 14:00"), wib("2027-01-04 09:00"), CALENDAR, POLICY)
    assert report.elapsed_service == timedelta(minutes=165)
    assert report.elapsed_wall == timedelta(days=3, hours=19)
    assert report.elapsed_working_days == Fraction(165, 435)
    assert report.status is SlaStatus.ON_TRACK
    assert [day.reason for day in report.closed_days] == [
        "Tahun Baru Masehi", "Isra Mikraj Nabi Muhammad",
    ]  # fmt: skip


def test_report_as_json_data_has_iso_times_with_offset() -> None:
    data = evaluate(wib("2026-03-17 15:40"), wib("2026-03-26 12:00"), CALENDAR, POLICY).to_dict()
    assert data["target_due"] == "2026-03-26T15:40:00+07:00"
    assert data["limit_due"] == "2026-03-31T15:40:00+07:00"
    assert data["elapsed_service_minutes"] == 680
    assert data["elapsed_wall_minutes"] == 12740
    assert data["elapsed_working_days"] == round(1 + 245 / 435, 4)
    assert (data["status"], data["target_service_minutes"], data["limit_service_minutes"]) == (
        "at_risk", 870, 1920,
    )  # fmt: skip


def test_a_working_day_on_friday_is_friday_s_share_of_the_day() -> None:
    # Thursday 14:00 is 330/435 of Thursday; one working day later is Friday
    # at 330/435 x 180 = 136.55 min = 10:16:33, rounded up to 10:17.
    assert add_working_days(wib("2026-03-12 14:00"), 1, CALENDAR) == wib("2026-03-13 10:17")
    assert add_working_days(wib("2026-03-12 14:00"), 2, CALENDAR) == wib("2026-03-16 14:00")


def test_service_time_skips_the_lunch_break_and_the_night() -> None:
    # 11:00-12:00 (60) + 12:30-13:00 (30) = 90 min.
    assert service_time_between(wib("2026-03-09 11:00"), wib("2026-03-09 13:00"), CALENDAR) == (
        timedelta(minutes=90)
    )
    # Thu 15:00-15:45 (45) + Fri 08:00-08:15 (15).
    assert add_service_minutes(wib("2026-03-12 15:00"), 60, CALENDAR) == wib("2026-03-13 08:15")


def test_service_time_ending_at_closing_gives_the_closing_time() -> None:
    assert add_service_minutes(wib("2026-03-13 10:00"), 60, CALENDAR) == wib("2026-03-13 11:00")


def test_clock_start_moves_to_the_next_opening() -> None:
    assert clock_start(wib("2026-03-09 07:00"), CALENDAR) == wib("2026-03-09 08:00")
    assert clock_start(wib("2026-03-09 12:00"), CALENDAR) == wib("2026-03-09 12:30")
    assert clock_start(wib("2026-03-09 15:45"), CALENDAR) == wib("2026-03-10 08:00")


def test_an_instant_in_another_zone_gives_the_same_due_times() -> None:
    in_utc = datetime.fromisoformat("2026-03-17T08:40:00+00:00")
    in_new_york = datetime.fromisoformat("2026-03-17T04:40:00-04:00")
    expected = due_times(wib("2026-03-17 15:40"), CALENDAR, POLICY)
    assert due_times(in_utc, CALENDAR, POLICY) == expected
    assert due_times(in_new_york, CALENDAR, POLICY) == expected
    assert expected.target_due.isoformat() == "2026-03-26T15:40:00+07:00"


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        due_times(datetime(2026, 3, 17, 15, 40), CALENDAR, POLICY)


def test_an_instant_before_receipt_counts_as_nothing_elapsed() -> None:
    report = evaluate(wib("2026-03-17 15:40"), wib("2026-03-17 09:00"), CALENDAR, POLICY)
    assert (report.elapsed_service, report.elapsed_wall) == (timedelta(), timedelta())
    assert report.status is SlaStatus.ON_TRACK


def test_the_due_time_is_where_the_working_days_are_used_up() -> None:
    # Every 53 minutes over three weeks around Nyepi: the target is reached
    # exactly, give or take the rounding up to the minute (at most 1/180 of a
    # day, on a Friday), and a later letter is never due earlier.
    received = wib("2026-03-02 07:00")
    previous = None
    while received < wib("2026-03-28 00:00"):
        due = due_times(received, CALENDAR, POLICY)
        spent = working_days_between(received, due.target_due, CALENDAR)
        assert Fraction(2) <= spent <= Fraction(2) + Fraction(1, 180), received
        assert previous is None or due.target_due >= previous, received
        previous = due.target_due
        received += timedelta(minutes=53)


def test_custom_policy_targets_one_working_day_with_half_for_risk() -> None:
    policy = SlaPolicy(Fraction(1), Fraction(5), Fraction(1, 2))
    due = due_times(wib("2026-03-09 08:00"), CALENDAR, policy)
    # Half of Monday is 217.5 min -> 11:37:30 -> 11:38; one day ends Monday 15:45.
    assert (due.at_risk_from, due.target_due) == (wib("2026-03-09 11:38"), wib("2026-03-09 15:45"))


def test_a_letter_in_a_year_without_cuti_bersama_warns() -> None:
    with pytest.warns(CalendarWarning, match="2098"):
        due_times(wib("2098-07-07 10:00"), WorkingCalendar(), POLICY)


def test_sla_clock_from_the_shipped_config_is_the_service_standard() -> None:
    clock = SlaClock.from_config()
    assert clock.policy == SlaPolicy(Fraction(2), Fraction(5), Fraction(3, 4))
    report = clock.evaluate(wib("2026-03-17 15:40"))
    assert report.status is None
    assert report.to_dict()["elapsed_service_minutes"] is None


@pytest.mark.parametrize(
    ("minutes", "lang", "with_days", "text"),
    [
        (680, "en", False, "11 h 20 min"),
        (680, "id", False, "11 jam 20 menit"),
        (12740, "en", True, "8 d 20 h 20 min"),
        (12740, "id", True, "8 hari 20 jam 20 menit"),
        (65, "en", True, "1 h 05 min"),
    ],
)
def test_format_duration(minutes: int, lang: str, with_days: bool, text: str) -> None:
    assert format_duration(timedelta(minutes=minutes), lang=lang, with_days=with_days) == text


def test_status_labels_in_both_languages() -> None:
    assert SlaStatus.BREACHED.label("id") == "melewati target"
    assert SlaStatus.AT_RISK.label("en") == "at risk"


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Tokyo"])
def process_timezone(request: pytest.FixtureRequest) -> Iterator[str]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_the_process_time_zone_changes_nothing(process_timezone: str) -> None:
    report = evaluate(wib("2026-03-17 15:40"), wib("2026-03-26 12:00"), CALENDAR, POLICY)
    assert time.localtime(0).tm_zone != "WIB", process_timezone
    assert report.to_dict()["target_due"] == "2026-03-26T15:40:00+07:00"
    assert report.elapsed_service == timedelta(minutes=680)
    assert report.status is SlaStatus.AT_RISK


def test_an_incident_record_stops_the_clock_at_its_recovery() -> None:
    clock = SlaClock(CALENDAR, POLICY)
    now = wib("2026-04-06 09:00")
    incident = {"id": "INC-2026-0007", "received_at": "2026-03-17T08:40:00+00:00"}
    running = clock.evaluate_incident(incident, now)
    resolved = clock.evaluate_incident(
        {**incident, "resolved_at": "2026-03-25T03:00:00+00:00"}, now
    )
    assert (running.at, running.status) == (now, SlaStatus.BREACHED)
    # Recovered Wed 25 10:00 WIB: 5 + 120 = 125 min of service, on track.
    assert (resolved.at, resolved.elapsed_service) == (
        wib("2026-03-25 10:00"),
        timedelta(minutes=125),
    )
    assert resolved.status is SlaStatus.ON_TRACK
    with pytest.raises(ValueError, match="no received_at"):
        clock.evaluate_incident({"id": "INC-2026-0008"}, now)
