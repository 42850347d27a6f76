"""The figures of the quarterly performance evaluation (evaluasi kinerja).

:func:`compute_figures` is a pure function: from the incident records (as
:func:`load_incidents` reads them), a reporting period, the SLA clock and the
instant the figures stand at, it returns a :class:`Figures`. Nothing here reads
the system clock or writes a file; the report (``evaluation_report``) and the
charts (``charts``) only present what this module computed.

Definitions (``docs/evaluation.md`` explains them with an example):

- An incident belongs to a period when its letter was received in it
  (``received_at``, in office time). The period ends at midnight after its
  last day; the figures stand at that end, or at ``now`` when earlier.
- **The recovery** is ``resolved_at``, else ``closed_at`` (a close without a
  recovery, normally a forced one). A recovery after the instant the figures
  stand at has not happened yet: such an incident is **open**, and its age
  (service and wall-clock time since the letter) is given instead.
- **Time to resolve** is counted from the letter's receipt to the recovery,
  in service hours (:func:`~runbook_runner.sla.service_time_between`) and in
  wall-clock hours. **Within the target / the limit**: the recovery is not
  after ``target_due`` / ``limit_due``; the shares are of the incidents
  recovered.
- **Repeat incident**: an earlier incident of the same site with the same
  main segment was received at most :data:`REPEAT_WINDOW` before, in this
  period or the one before.
- **ISP estimate**: the ISP's ``isp_eta`` against the recovery; the error is
  recovery minus estimate (positive: later than promised). Estimate and
  actual are also given as hours from the ISP ticket.
"""

import logging
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from runbook_runner.errors import UsageError
from runbook_runner.records import Records, RecordsError
from runbook_runner.sla import SlaClock, SlaPolicy, due_times, service_time_between

log = logging.getLogger(__name__)

REPEAT_WINDOW = timedelta(days=30)
UNKNOWN = "unknown"

_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")


@dataclass(frozen=True)
class ReportPeriod:
    """The days a report covers, ``first`` to ``last`` included, in office time."""

    first: date
    last: date
    label: str

    @property
    def quarter(self) -> tuple[int, int] | None:
        """Return ``(year, quarter)`` when the period is exactly a calendar quarter."""
        match = _QUARTER.match(self.label)
        return (int(match[1]), int(match[2])) if match else None

    def start(self, clock: SlaClock) -> datetime:
        """Return the first instant of the period, in office time."""
        return datetime.combine(self.first, time(), tzinfo=clock.calendar.zone)

    def end(self, clock: SlaClock) -> datetime:
        """Return the instant just after the period: midnight after its last day."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=clock.calendar.zone)

    def previous(self) -> "ReportPeriod":
        """Return the quarter before a quarter; for other periods, as many days just before."""
        if self.quarter is not None:
            year, number = self.quarter
            return quarter_period(f"{year - 1}Q4" if number == 1 else f"{year}Q{number - 1}")
        length = self.last - self.first
        last = self.first - timedelta(days=1)
        return days_period(last - length, last)

    def weeks(self) -> list[date]:
        """Return the Mondays of the weeks the period touches, in order."""
        monday = self.first - timedelta(days=self.first.weekday())
        mondays = []
        while monday <= self.last:
            mondays.append(monday)
            monday += timedelta(days=7)
        return mondays


def quarter_period(text: str) -> ReportPeriod:
    """Return the calendar quarter named like ``2026Q4``.

    Raises:
        UsageError: ``text`` does not name a quarter.
    """
    match = _QUARTER.match(text)
    if not match:
        raise UsageError(
            f"{text!r} is not a quarter", hint="write the year and the quarter, e.g. 2026Q4"
        )
    year, number = int(match[1]), int(match[2])
    first = date(year, 3 * number - 2, 1)
    last = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return ReportPeriod(first, last - timedelta(days=1), f"{year}Q{number}")


def days_period(first: date, last: date) -> ReportPeriod:
    """Return the period from ``first`` to ``last`` included.

    Raises:
        UsageError: ``last`` is before ``first``.
    """
    if last < first:
        raise UsageError(
            f"the period ends ({last}) before it starts ({first})",
            hint="give --from a day on or before --to",
        )
    return ReportPeriod(first, last, f"{first.isoformat()}_{last.isoformat()}")


@dataclass(frozen=True)
class IncidentOutcome:
    """One incident as the evaluation sees it at the instant the figures stand at.

    ``recovered`` is None while the incident is open; ``service`` and ``wall``
    are then its age. ``within_target`` and ``within_limit`` are None while open.
    """

    incident_id: str
    site: str
    opd_name: str
    channel: str
    segment: str
    branch: str
    isp_provider: str | None
    received: datetime
    recovered: datetime | None
    forced_close: bool
    service: timedelta
    wall: timedelta
    target_due: datetime
    limit_due: datetime
    within_target: bool | None
    within_limit: bool | None
    past_target: bool
    escalations: tuple[str, ...]

    @property
    def is_open(self) -> bool:
        """Return whether the incident had no recovery yet."""
        return self.recovered is None


@dataclass(frozen=True)
class DurationStats:
    """Mean and median time to resolve of some recovered incidents; None without any."""

    count: int
    mean_service: timedelta | None
    median_service: timedelta | None
    mean_wall: timedelta | None
    median_wall: timedelta | None


@dataclass(frozen=True)
class EtaComparison:
    """An ISP's recovery estimate against the actual recovery of one incident."""

    incident_id: str
    provider: str
    ticket_at: datetime
    eta: datetime
    recovered: datetime

    @property
    def estimate(self) -> timedelta:
        """Return the time from the ticket to the estimate."""
        return self.eta - self.ticket_at

    @property
    def actual(self) -> timedelta:
        """Return the time from the ticket to the recovery."""
        return self.recovered - self.ticket_at

    @property
    def error(self) -> timedelta:
        """Return the recovery minus the estimate: positive when later than promised."""
        return self.recovered - self.eta


@dataclass(frozen=True)
class IspFigures:
    """The outages of one ISP in the period."""

    provider: str
    outages: int
    open: int
    total_wall: timedelta
    total_service: timedelta
    resolution: DurationStats
    estimates: tuple[EtaComparison, ...]

    @property
    def on_time(self) -> int:
        """Return how many recoveries came no later than the ISP's estimate."""
        return sum(1 for item in self.estimates if item.error <= timedelta())

    @property
    def mean_error(self) -> timedelta | None:
        """Return the mean of recovery minus estimate, None without estimates."""
        return _mean([item.error for item in self.estimates])


@dataclass(frozen=True)
class RepeatIncident:
    """An incident of a site and segment that had another one shortly before."""

    incident_id: str
    previous_id: str
    site: str
    opd_name: str
    segment: str
    apart: timedelta


@dataclass(frozen=True)
class Figures:
    """Every figure of a period, as :func:`compute_figures` computes it."""

    period: ReportPeriod
    as_of: datetime
    incidents: tuple[IncidentOutcome, ...]
    by_opd: tuple[tuple[str, int], ...]
    by_segment: tuple[tuple[str, int], ...]
    by_branch: tuple[tuple[str, int], ...]
    by_segment_branch: tuple[tuple[str, str, int], ...]
    by_isp: tuple[tuple[str, int], ...]
    by_channel: tuple[tuple[str, int], ...]
    per_week: tuple[tuple[date, int], ...]
    resolution: DurationStats
    resolution_by_segment: tuple[tuple[str, DurationStats], ...]
    within_target: int
    within_limit: int
    escalations_by_reason: tuple[tuple[str, int], ...]
    isps: tuple[IspFigures, ...]
    repeats: tuple[RepeatIncident, ...]

    @property
    def total(self) -> int:
        """Return the number of incidents received in the period."""
        return len(self.incidents)

    @property
    def recovered(self) -> tuple[IncidentOutcome, ...]:
        """Return the incidents recovered by the instant the figures stand at."""
        return tuple(item for item in self.incidents if not item.is_open)

    @property
    def open(self) -> tuple[IncidentOutcome, ...]:
        """Return the incidents still open at that instant."""
        return tuple(item for item in self.incidents if item.is_open)

    @property
    def forced_closes(self) -> int:
        """Return how many incidents were closed without a recovery."""
        return sum(1 for item in self.recovered if item.forced_close)

    @property
    def open_past_target(self) -> int:
        """Return how many open incidents had passed their resolution target."""
        return sum(1 for item in self.open if item.past_target)

    @property
    def share_within_target(self) -> float | None:
        """Return the share of recovered incidents within the target, None without any."""
        return self.within_target / len(self.recovered) if self.recovered else None

    @property
    def share_within_limit(self) -> float | None:
        """Return the share of recovered incidents within the limit, None without any."""
        return self.within_limit / len(self.recovered) if self.recovered else None

    @property
    def escalated_incidents(self) -> int:
        """Return how many incidents were escalated at least once."""
        return sum(1 for item in self.incidents if item.escalations)

    @property
    def escalations(self) -> int:
        """Return the number of escalations of the period's incidents."""
        return sum(len(item.escalations) for item in self.incidents)

    @property
    def estimates(self) -> tuple[EtaComparison, ...]:
        """Return every ISP estimate compared with its recovery."""
        return tuple(item for isp in self.isps for item in isp.estimates)


@dataclass(frozen=True)
class Evaluation:
    """The figures of a period and of the period before, for the comparison."""

    current: Figures
    previous: Figures
    policy: SlaPolicy


def load_incidents(records: Records) -> list[dict[str, Any]]:
    """Return every incident of the records, each with its ``escalations`` attached.

    Raises:
        RecordsError: the records cannot be read.
    """
    incidents = records.list_incidents()
    escalations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        rows = records.connection.execute(
            "SELECT incident_id, time, reason, level FROM escalations ORDER BY time, id"
        ).fetchall()
    except sqlite3.Error as error:
        raise RecordsError(
            f"{records.path}: cannot read the escalations: {error}",
            hint="check that the records are readable and not damaged",
        ) from error
    for row in rows:
        escalations[row["incident_id"]].append(dict(row))
    for incident in incidents:
        incident["escalations"] = escalations.get(incident["id"], [])
    log.info("%s: %d incidents read for the evaluation", records.path, len(incidents))
    return incidents


def evaluate_period(
    incidents: Sequence[Mapping[str, Any]], period: ReportPeriod, clock: SlaClock, now: datetime
) -> Evaluation:
    """Return the figures of ``period`` and of the period before it.

    Raises:
        ValueError: a time of the records is not ISO 8601 with an offset, or ``now`` is naive.
        CalendarError: the calendar has no working day where one is needed.
    """
    return Evaluation(
        current=compute_figures(incidents, period, clock, now),
        previous=compute_figures(incidents, period.previous(), clock, now),
        policy=clock.policy,
    )


def compute_figures(
    incidents: Sequence[Mapping[str, Any]], period: ReportPeriod, clock: SlaClock, now: datetime
) -> Figures:
    """Return the figures of the incidents received in ``period``, standing at its end or ``now``.

    ``incidents`` holds incident records as :func:`load_incidents` returns
    them (any order, any period: those outside are only used to find repeats).

    Raises:
        ValueError: a time of the records is not ISO 8601 with an offset, or ``now`` is naive.
        CalendarError: the calendar has no working day where one is needed.
    """
    start, end = period.start(clock), period.end(clock)
    as_of = min(end, clock.calendar.localize(_aware(now)))
    chosen = sorted(
        (item for item in incidents if _received_in(item, clock, start, end, as_of)),
        key=lambda item: (item["received_at"], item["id"]),
    )
    outcomes = tuple(_outcome(item, clock, as_of) for item in chosen)
    recovered = [item for item in outcomes if not item.is_open]

    segments = _counts(item.segment for item in outcomes)
    return Figures(
        period=period,
        as_of=as_of,
        incidents=outcomes,
        by_opd=_counts(item.opd_name for item in outcomes),
        by_segment=segments,
        by_branch=_counts(item.branch for item in outcomes),
        by_segment_branch=tuple(
            (segment, branch, count)
            for (segment, branch), count in sorted(
                Counter((item.segment, item.branch) for item in outcomes).items(),
                key=lambda pair: (-pair[1], pair[0]),
            )
        ),
        by_isp=_counts(item.isp_provider for item in outcomes if item.isp_provider),
        by_channel=_counts(item.channel for item in outcomes),
        per_week=_per_week(period, outcomes),
        resolution=_stats(recovered),
        resolution_by_segment=tuple(
            (segment, _stats([item for item in recovered if item.segment == segment]))
            for segment, _ in segments
            if any(item.segment == segment for item in recovered)
        ),
        within_target=sum(1 for item in recovered if item.within_target),
        within_limit=sum(1 for item in recovered if item.within_limit),
        escalations_by_reason=_counts(reason for item in outcomes for reason in item.escalations),
        isps=_isps(chosen, outcomes, clock),
        repeats=_repeats(incidents, outcomes, clock, start),
    )


def _received_in(
    record: Mapping[str, Any], clock: SlaClock, start: datetime, end: datetime, as_of: datetime
) -> bool:
    received = _time(record["received_at"], clock)
    return start <= received < end and received <= as_of


def _outcome(record: Mapping[str, Any], clock: SlaClock, as_of: datetime) -> IncidentOutcome:
    received = _time(record["received_at"], clock)
    recovered = _recovery(record, clock)
    if recovered is not None and recovered > as_of:
        recovered = None
    until = recovered or as_of
    due = due_times(received, clock.calendar, clock.policy)
    escalations = tuple(
        item["reason"]
        for item in record.get("escalations", ())
        if _time(item["time"], clock) <= as_of
    )
    return IncidentOutcome(
        incident_id=record["id"],
        site=record["site"],
        opd_name=record["opd_name"],
        channel=record["channel"],
        segment=record.get("segment") or UNKNOWN,
        branch=record.get("branch") or UNKNOWN,
        isp_provider=record.get("isp_provider"),
        received=received,
        recovered=recovered,
        forced_close=recovered is not None and not record.get("resolved_at"),
        service=service_time_between(received, until, clock.calendar),
        wall=max(until - received, timedelta()),
        target_due=due.target_due,
        limit_due=due.limit_due,
        within_target=None if recovered is None else recovered <= due.target_due,
        within_limit=None if recovered is None else recovered <= due.limit_due,
        past_target=until > due.target_due,
        escalations=escalations,
    )


def _recovery(record: Mapping[str, Any], clock: SlaClock) -> datetime | None:
    text = record.get("resolved_at") or record.get("closed_at")
    return None if not text else _time(text, clock)


def _stats(outcomes: Sequence[IncidentOutcome]) -> DurationStats:
    service = [item.service for item in outcomes]
    wall = [item.wall for item in outcomes]
    return DurationStats(
        len(outcomes), _mean(service), _median(service), _mean(wall), _median(wall)
    )


def _per_week(
    period: ReportPeriod, outcomes: Iterable[IncidentOutcome]
) -> tuple[tuple[date, int], ...]:
    counts = Counter(
        item.received.date() - timedelta(days=item.received.weekday()) for item in outcomes
    )
    return tuple((monday, counts.get(monday, 0)) for monday in period.weeks())


def _isps(
    records: Sequence[Mapping[str, Any]], outcomes: Sequence[IncidentOutcome], clock: SlaClock
) -> tuple[IspFigures, ...]:
    by_provider: dict[str, list[tuple[Mapping[str, Any], IncidentOutcome]]] = defaultdict(list)
    for record, outcome in zip(records, outcomes, strict=True):
        if outcome.isp_provider:
            by_provider[outcome.isp_provider].append((record, outcome))
    figures = []
    for provider, pairs in sorted(by_provider.items(), key=lambda pair: (-len(pair[1]), pair[0])):
        recovered = [outcome for _, outcome in pairs if not outcome.is_open]
        figures.append(
            IspFigures(
                provider=provider,
                outages=len(pairs),
                open=len(pairs) - len(recovered),
                total_wall=sum((item.wall for item in recovered), timedelta()),
                total_service=sum((item.service for item in recovered), timedelta()),
                resolution=_stats(recovered),
                estimates=tuple(
                    comparison
                    for record, outcome in pairs
                    if (comparison := _estimate(record, outcome, clock)) is not None
                ),
            )
        )
    return tuple(figures)


def _estimate(
    record: Mapping[str, Any], outcome: IncidentOutcome, clock: SlaClock
) -> EtaComparison | None:
    if outcome.recovered is None or not record.get("isp_eta"):
        return None
    ticket = record.get("isp_ticket_at") or record["received_at"]
    return EtaComparison(
        incident_id=outcome.incident_id,
        provider=outcome.isp_provider or UNKNOWN,
        ticket_at=_time(ticket, clock),
        eta=_time(record["isp_eta"], clock),
        recovered=outcome.recovered,
    )


def _repeats(
    incidents: Sequence[Mapping[str, Any]],
    outcomes: Sequence[IncidentOutcome],
    clock: SlaClock,
    start: datetime,
) -> tuple[RepeatIncident, ...]:
    earlier: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    for record in incidents:
        segment = record.get("segment")
        received = _time(record["received_at"], clock)
        if segment and segment != "none" and received >= start - REPEAT_WINDOW:
            earlier[(record["site"], segment)].append((received, record["id"]))
    repeats = []
    for outcome in outcomes:
        candidates = [
            (received, incident_id)
            for received, incident_id in earlier.get((outcome.site, outcome.segment), [])
            if (received, incident_id) < (outcome.received, outcome.incident_id)
            and outcome.received - received <= REPEAT_WINDOW
        ]
        if candidates:
            received, previous_id = max(candidates)
            repeats.append(
                RepeatIncident(
                    incident_id=outcome.incident_id,
                    previous_id=previous_id,
                    site=outcome.site,
                    opd_name=outcome.opd_name,
                    segment=outcome.segment,
                    apart=outcome.received - received,
                )
            )
    return tuple(repeats)


def _counts(values: Iterable[str | None]) -> tuple[tuple[str, int], ...]:
    counts = Counter(value or UNKNOWN for value in values)
    return tuple(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))


def _mean(values: Sequence[timedelta]) -> timedelta | None:
    return sum(values, timedelta()) / len(values) if values else None


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _time(text: str, clock: SlaClock) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{text!r} is not an ISO 8601 time") from error
    return clock.calendar.localize(_aware(moment))


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; the records keep UTC offsets")
    return moment
