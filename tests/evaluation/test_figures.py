"""The figures of 2026Q3 from the fixed records, against a hand computation.

Per incident (see fixture_records.py), time to resolve in hours:

    id    site  segment      cause     service  wall   target  note
    A     opd1  opd_access   isp_a       5.5     6.0   yes     repeat of P2 (7 d)
    B     opd2  core         internal   15.5    49.0   no      escalated twice
    C     opd1  opd_access   isp_a       2.5     2.5   yes     repeat of A
    D     opd3  opd_access   isp_b       9.25   95.0   yes
    E     opd2  dns          internal    0.75    1.75  yes
    G     opd1  user_lan     internal    1.5    24.5   yes     forced close
    F     opd3  opd_gateway  internal   (19.75) (62)   -       open at the quarter's end

Recovered: 6. Service: sum 35 -> mean 35/6 = 5 h 50 min; sorted 0.75 1.5 2.5 5.5
9.25 15.5 -> median (2.5 + 5.5)/2 = 4 h. Wall: sum 178.75 -> mean 29 h 47 min 30 s;
sorted 1.75 2.5 6 24.5 49 95 -> median (6 + 24.5)/2 = 15.25 h. Within target 5/6,
within limit 6/6.
"""

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from evaluation.fixture_records import write_records
from runbook_runner.config import Config
from runbook_runner.errors import UsageError
from runbook_runner.evaluation import (
    Evaluation,
    days_period,
    evaluate_period,
    load_incidents,
    quarter_period,
)
from runbook_runner.records import open_records
from runbook_runner.sla import SlaClock

H = timedelta(hours=1)
LATER = datetime(2027, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def incidents(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    data_dir = tmp_path_factory.mktemp("records")
    write_records(data_dir)
    with open_records(data_dir) as records:
        return load_incidents(records)


@pytest.fixture(scope="module")
def clock() -> SlaClock:
    # The defaults of the service standard, whatever the shipped file says.
    return SlaClock.from_config(
        Config(Path("test.toml"), {"calendar": {"confirmed_years": [2026]}})
    )


@pytest.fixture(scope="module")
def q3(incidents: list[dict[str, object]], clock: SlaClock) -> Evaluation:
    return evaluate_period(incidents, quarter_period("2026Q3"), clock, LATER)


def test_quarter_counts_incidents_received_in_it_and_one_open_at_its_end(q3: Evaluation) -> None:
    figures = q3.current
    # A B C D E G F; P1, P2 (Q2) and H (Q4) are outside.
    assert figures.total == 7
    assert len(figures.recovered) == 6
    assert [item.incident_id for item in figures.open] == ["INC-2026-0009"]
    assert figures.forced_closes == 1  # G
    assert figures.as_of == datetime(2026, 10, 1, tzinfo=timezone(timedelta(hours=7)))


def test_time_to_resolve_matches_the_hand_computation(q3: Evaluation) -> None:
    stats = q3.current.resolution
    assert stats.count == 6
    assert stats.mean_service == 35 * H / 6 == timedelta(hours=5, minutes=50)
    assert stats.median_service == 4 * H
    assert stats.mean_wall == 178.75 * H / 6 == timedelta(hours=29, minutes=47, seconds=30)
    assert stats.median_wall == 15.25 * H
    assert (q3.current.within_target, q3.current.within_limit) == (5, 6)
    assert q3.current.share_within_target == pytest.approx(5 / 6)
    assert q3.current.share_within_limit == 1.0


def test_open_incident_is_counted_with_its_age_at_the_quarters_end(q3: Evaluation) -> None:
    (item,) = q3.current.open
    # Mon 28 Sep 10:00 -> Thu 1 Oct 00:00 WIB: 62 h; service 315 + 435 + 435 min.
    assert item.wall == 62 * H
    assert item.service == timedelta(minutes=1185) == 19.75 * H
    assert item.within_target is None
    assert item.past_target  # target Wed 30 Sep 10:00
    assert q3.current.open_past_target == 1
    # Its escalation of 2 Oct is after the quarter: only the one of 30 Sep counts.
    assert item.escalations == ("breached",)


def test_breakdowns_by_agency_segment_cause_isp_and_channel(q3: Evaluation) -> None:
    figures = q3.current
    assert dict(figures.by_opd) == {
        "Dinas Pendidikan": 3,  # A C G
        "Dinas Kesehatan": 2,  # B E
        "Bappeda & Litbang": 2,  # D F
    }
    assert dict(figures.by_segment) == {
        "opd_access": 3,
        "core": 1,
        "dns": 1,
        "opd_gateway": 1,
        "user_lan": 1,
    }
    assert dict(figures.by_branch) == {"internal_action": 4, "isp_ticket": 3}
    assert dict(figures.by_isp) == {"isp_a": 2, "isp_b": 1}
    assert dict(figures.by_channel) == {
        "letter": 2,  # A F
        "phone": 2,  # B G
        "whatsapp": 1,
        "email": 1,
        "monitoring": 1,
    }
    segments = dict(figures.resolution_by_segment)
    # opd_access: A 5.5, C 2.5, D 9.25 -> mean 17.25/3 = 5.75, median 5.5.
    assert segments["opd_access"].mean_service == 5.75 * H
    assert segments["opd_access"].median_service == 5.5 * H
    assert "opd_gateway" not in segments  # F is open: nothing recovered there


def test_escalations_and_repeats(q3: Evaluation) -> None:
    figures = q3.current
    assert figures.escalated_incidents == 2  # B and F
    assert figures.escalations == 3  # B twice, F once in the quarter
    assert dict(figures.escalations_by_reason) == {"breached": 2, "at_risk": 1}
    repeats = [(item.incident_id, item.previous_id, item.apart) for item in figures.repeats]
    assert repeats == [
        ("INC-2026-0003", "INC-2026-0002", timedelta(days=7)),  # A after P2, across quarters
        ("INC-2026-0005", "INC-2026-0003", timedelta(days=15, hours=23, minutes=30)),  # C after A
    ]


def test_isp_outages_and_estimates_against_actual_recovery(q3: Evaluation) -> None:
    isp_a, isp_b = q3.current.isps
    # isp_a: A (wall 6, service 5.5) and C (2.5, 2.5).
    assert (isp_a.provider, isp_a.outages, isp_a.open) == ("isp_a", 2, 0)
    assert (isp_a.total_wall, isp_a.total_service) == (8.5 * H, 8 * H)
    # A 1 h late, C 1 h early: one on time, mean difference zero.
    assert [item.error for item in isp_a.estimates] == [H, -H]
    assert (isp_a.on_time, isp_a.mean_error) == (1, timedelta())
    # isp_b: D, ticket Fri 10:30, ETA Mon 10:00 (71.5 h), recovered Tue 09:00 (94.5 h).
    (estimate,) = isp_b.estimates
    assert (estimate.estimate, estimate.actual, estimate.error) == (71.5 * H, 94.5 * H, 23 * H)
    assert (isp_b.total_wall, isp_b.on_time) == (95 * H, 0)


def test_incidents_per_week_cover_every_week_of_the_quarter(q3: Evaluation) -> None:
    weeks = dict(q3.current.per_week)
    assert min(weeks) == date(2026, 6, 29)  # the Monday before Wed 1 July
    assert max(weeks) == date(2026, 9, 28)
    assert len(weeks) == 14
    assert sum(weeks.values()) == 7
    assert weeks[date(2026, 7, 6)] == 2  # A B
    assert weeks[date(2026, 7, 20)] == 2  # C D


def test_previous_quarter_is_computed_the_same_way(q3: Evaluation) -> None:
    previous = q3.previous
    # P1 2 h, P2 3.5 h service; 2 h and 4 h wall.
    assert previous.period.label == "2026Q2"
    assert previous.total == 2
    assert previous.resolution.mean_service == 2.75 * H
    assert previous.resolution.mean_wall == 3 * H
    assert previous.share_within_target == 1.0


def test_recovery_after_the_figures_instant_leaves_the_incident_open(
    incidents: list[dict[str, object]], clock: SlaClock
) -> None:
    # Standing at Wed 8 Jul 12:00 WIB: A recovered on the 6th; B, received Tue 14:00, is
    # open: 22 h old, 105 + 240 min of service; its escalations of the 9th do not count.
    now = datetime(2026, 7, 8, 5, 0, tzinfo=UTC)
    figures = evaluate_period(incidents, quarter_period("2026Q3"), clock, now).current
    assert figures.as_of == now
    assert [item.incident_id for item in figures.incidents] == ["INC-2026-0003", "INC-2026-0004"]
    (item,) = figures.open
    assert (item.incident_id, item.wall, item.service) == ("INC-2026-0004", 22 * H, 5.75 * H)
    assert (item.escalations, item.past_target) == ((), False)


def test_empty_period_gives_zero_figures_not_an_error(
    incidents: list[dict[str, object]], clock: SlaClock
) -> None:
    figures = evaluate_period(incidents, quarter_period("2025Q1"), clock, LATER).current
    assert figures.total == 0
    assert figures.resolution.mean_service is None
    assert figures.share_within_target is None
    assert sum(count for _, count in figures.per_week) == 0


@pytest.mark.parametrize(
    ("text", "first", "last", "previous"),
    [
        pytest.param("2026Q4", date(2026, 10, 1), date(2026, 12, 31), "2026Q3", id="q4"),
        pytest.param("2027q1", date(2027, 1, 1), date(2027, 3, 31), "2026Q4", id="q1-lowercase"),
        pytest.param("2028-Q1", date(2028, 1, 1), date(2028, 3, 31), "2027Q4", id="dash"),
    ],
)
def test_quarter_names_give_their_days(text: str, first: date, last: date, previous: str) -> None:
    period = quarter_period(text)
    assert (period.first, period.last, period.previous().label) == (first, last, previous)


def test_a_period_of_days_is_compared_with_as_many_days_before() -> None:
    period = days_period(date(2026, 10, 1), date(2026, 10, 31))
    before = period.previous()
    assert (before.first, before.last) == (date(2026, 8, 31), date(2026, 9, 30))


@pytest.mark.parametrize("text", ["2026Q5", "Q4 2026", "2026"])
def test_a_malformed_quarter_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(UsageError, match="is not a quarter") as caught:
        quarter_period(text)
    assert caught.value.hint == "write the year and the quarter, e.g. 2026Q4"
