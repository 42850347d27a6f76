"""The SLA clock: service time elapsed since a letter was received, due times, status.

Every function here is a pure function of the instants it is given and of the
:class:`~runbook_runner.calendar.WorkingCalendar`; none reads the system clock,
so the caller passes ``at`` ("now"). Instants must be aware; results are in
the office's time zone (WIB), whole minutes for due times.

Definitions (docs/sla.md explains them with examples):

- **Service time** is the time inside the service hours of working days:
  Monday-Thursday 08:00-12:00 and 12:30-15:45 (7 h 15 min), Friday
  08:00-11:00 (3 h), nothing on closed days.
- **The clock starts** at the receipt of the letter, or at the next opening
  when the letter arrives outside service hours (after closing, in the lunch
  break, on a closed day).
- **A working day is a day, whatever its length.** "N working days after an
  instant" is the same point of the service day, N working days later: the
  share of the day's service time already spent at the start is carried over
  to the target day. Within a day, time counts in proportion to that day's
  service hours, so an hour on Friday is a third of a working day and an hour
  on Monday 4/29 of one. This keeps the service standard's words true: five
  working days from a Monday's opening end at Friday's closing, not on the
  next Monday, as counting 7 h 15 min per day would make them.
- **A due time is the earliest instant** at which the time is used up, rounded
  up to the whole minute: a target that ends exactly at a day's end is that
  day's closing time (Friday 11:00), never the next opening (Monday 08:00).
- **Resolution target** (``target_due``): ``target_working_days`` (2) working
  days after the clock starts. **Service limit** (``limit_due``):
  ``limit_working_days`` (5) working days. **At risk from**
  (``at_risk_from``): ``at_risk_share`` (0.75) of the target.
- **Status at an instant**: ``breached`` after ``target_due``, ``at_risk`` from
  ``at_risk_from`` on, ``on_track`` before; ``limit_exceeded`` after
  ``limit_due``. The comparisons are on the wall clock, so an incident whose
  target passed on Friday at 11:00 is breached over the weekend too.
- **Elapsed**: the service time (minutes and hours) and the wall-clock time
  from receipt to the instant, and the working days (fractional) from the
  clock's start.
"""

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any

from runbook_runner.calendar import ClosedDay, WorkingCalendar, elapsed
from runbook_runner.config import Config, SlaConfig, load_config

_MINUTE = timedelta(minutes=1)


class SlaStatus(StrEnum):
    """Where an incident stands against its resolution target."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"

    def label(self, lang: str = "en") -> str:
        """Return the status for a person, in Bahasa Indonesia or English."""
        return _STATUS_LABELS[self][0 if lang == "id" else 1]


_STATUS_LABELS = {
    SlaStatus.ON_TRACK: ("sesuai target", "on track"),
    SlaStatus.AT_RISK: ("berisiko melewati target", "at risk"),
    SlaStatus.BREACHED: ("melewati target", "breached"),
}


@dataclass(frozen=True)
class SlaPolicy:
    """The targets, in working days, and the share of the target that makes a risk."""

    target_working_days: Fraction = Fraction(2)
    limit_working_days: Fraction = Fraction(5)
    at_risk_share: Fraction = Fraction(3, 4)

    @classmethod
    def from_config(cls, section: SlaConfig) -> "SlaPolicy":
        """Return the policy of the ``[sla]`` section."""
        return cls(section.target_working_days, section.limit_working_days, section.at_risk_share)


@dataclass(frozen=True)
class DueTimes:
    """The due times of a letter, all in office time."""

    received: datetime
    clock_start: datetime
    at_risk_from: datetime
    target_due: datetime
    limit_due: datetime


@dataclass(frozen=True)
class SlaReport:
    """The due times of an incident and, at an instant, where it stands.

    The fields after ``at`` are None when no instant was given.
    """

    policy: SlaPolicy
    due: DueTimes
    target_service_time: timedelta
    limit_service_time: timedelta
    closed_days: tuple[ClosedDay, ...]
    at: datetime | None = None
    elapsed_service: timedelta | None = None
    elapsed_wall: timedelta | None = None
    elapsed_working_days: Fraction | None = None
    status: SlaStatus | None = None
    limit_exceeded: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON data: times ISO 8601 with offset, durations in minutes."""
        due = self.due
        data: dict[str, Any] = {
            "timezone": str(due.received.tzinfo),
            "received": due.received.isoformat(),
            "clock_start": due.clock_start.isoformat(),
            "target_working_days": _number(self.policy.target_working_days),
            "limit_working_days": _number(self.policy.limit_working_days),
            "at_risk_share": _number(self.policy.at_risk_share),
            "at_risk_from": due.at_risk_from.isoformat(),
            "target_due": due.target_due.isoformat(),
            "limit_due": due.limit_due.isoformat(),
            "target_service_minutes": self.target_service_time // _MINUTE,
            "limit_service_minutes": self.limit_service_time // _MINUTE,
            "closed_days": [day.to_dict() for day in self.closed_days],
            "at": None,
            "elapsed_service_minutes": None,
            "elapsed_service_hours": None,
            "elapsed_wall_minutes": None,
            "elapsed_wall_hours": None,
            "elapsed_working_days": None,
            "share_of_target": None,
            "status": None,
            "limit_exceeded": None,
        }
        if self.at is None or self.elapsed_service is None or self.elapsed_wall is None:
            return data
        data.update(
            at=self.at.isoformat(),
            elapsed_service_minutes=self.elapsed_service // _MINUTE,
            elapsed_service_hours=round(self.elapsed_service / timedelta(hours=1), 2),
            elapsed_wall_minutes=self.elapsed_wall // _MINUTE,
            elapsed_wall_hours=round(self.elapsed_wall / timedelta(hours=1), 2),
            elapsed_working_days=_number(self.elapsed_working_days),
            share_of_target=_number(self.share_of_target()),
            status=str(self.status),
            limit_exceeded=self.limit_exceeded,
        )
        return data

    def share_of_target(self) -> Fraction | None:
        """Return the share of the resolution target spent, None without an instant."""
        if self.elapsed_working_days is None:
            return None
        return self.elapsed_working_days / self.policy.target_working_days


def clock_start(moment: datetime, calendar: WorkingCalendar) -> datetime:
    """Return the first instant of service at or after ``moment``.

    Raises:
        ValueError: ``moment`` is naive.
        CalendarError: no working day follows within the calendar's bound.
    """
    return next(_service_periods(moment, calendar))[0]


def service_time_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> timedelta:
    """Return the service time from ``start`` to ``end``; zero when ``end`` is not later.

    Raises:
        ValueError: an instant is naive.
        CalendarError: no working day follows within the calendar's bound.
    """
    end = _aware(end, calendar)
    total = timedelta()
    for period_start, period_end in _service_periods(start, calendar):
        if period_start >= end:
            break
        total += elapsed(period_start, min(period_end, end))
    return total


def add_service_time(start: datetime, amount: timedelta, calendar: WorkingCalendar) -> datetime:
    """Return the earliest instant at which ``amount`` of service time has passed since ``start``.

    Raises:
        ValueError: ``start`` is naive.
        CalendarError: no working day follows within the calendar's bound.
    """
    start = _aware(start, calendar)
    if amount <= timedelta():
        return start
    remaining = amount
    for period_start, period_end in _service_periods(start, calendar):
        length = elapsed(period_start, period_end)
        if remaining <= length:
            return calendar.localize(period_start + remaining)
        remaining -= length
    raise AssertionError("the service periods never end")


def add_service_minutes(start: datetime, minutes: float, calendar: WorkingCalendar) -> datetime:
    """Return the earliest instant at which ``minutes`` of service time have passed.

    Raises:
        ValueError: ``start`` is naive.
        CalendarError: no working day follows within the calendar's bound.
    """
    return add_service_time(start, timedelta(minutes=minutes), calendar)


def add_working_days(start: datetime, days: Fraction | int, calendar: WorkingCalendar) -> datetime:
    """Return the instant ``days`` working days after ``start``, rounded up to the minute.

    The same point of the service day, ``days`` working days later (see the
    module's definitions); ``start`` itself when ``days`` is not positive.

    Raises:
        ValueError: ``start`` is naive.
        CalendarError: no working day follows within the calendar's bound.
    """
    start = _aware(start, calendar)
    if days <= 0:
        return start
    day, spent = _position(start, calendar)
    whole, rest = divmod(spent + Fraction(days), 1)
    if rest == 0:
        target_day = _advance(day, int(whole) - 1, calendar)
        return calendar.periods(target_day)[-1][1]
    target_day = _advance(day, int(whole), calendar)
    length = calendar.service_time(target_day) // timedelta(microseconds=1)
    offset = timedelta(microseconds=math.ceil(rest * length))
    first_opening = calendar.periods(target_day)[0][0]
    return _ceil_minute(add_service_time(first_opening, offset, calendar))


def working_days_between(start: datetime, end: datetime, calendar: WorkingCalendar) -> Fraction:
    """Return the working days, fractional, from ``start`` to ``end``; zero if not later.

    Raises:
        ValueError: an instant is naive.
        CalendarError: no working day follows within the calendar's bound.
    """
    if _aware(end, calendar) <= _aware(start, calendar):
        return Fraction(0)
    first_day, first_spent = _position(start, calendar)
    last_day, last_spent = _position(end, calendar)
    days = 0
    day = first_day
    while day < last_day:
        day = calendar.next_working_day(day)
        days += 1
    return days + last_spent - first_spent


def due_times(received: datetime, calendar: WorkingCalendar, policy: SlaPolicy) -> DueTimes:
    """Return the due times of a letter received at ``received``.

    Raises:
        ValueError: ``received`` is naive.
        CalendarError: no working day follows within the calendar's bound.
    """
    received = _aware(received, calendar)
    return DueTimes(
        received=received,
        clock_start=clock_start(received, calendar),
        at_risk_from=add_working_days(
            received, policy.target_working_days * policy.at_risk_share, calendar
        ),
        target_due=add_working_days(received, policy.target_working_days, calendar),
        limit_due=add_working_days(received, policy.limit_working_days, calendar),
    )


def evaluate(
    received: datetime,
    at: datetime | None,
    calendar: WorkingCalendar,
    policy: SlaPolicy,
) -> SlaReport:
    """Return the due times of a letter and, when ``at`` is given, where it stands then.

    An ``at`` before ``received`` counts as no time elapsed.

    Raises:
        ValueError: an instant is naive.
        CalendarError: no working day follows within the calendar's bound.
    """
    due = due_times(received, calendar, policy)
    report = SlaReport(
        policy=policy,
        due=due,
        target_service_time=service_time_between(due.clock_start, due.target_due, calendar),
        limit_service_time=service_time_between(due.clock_start, due.limit_due, calendar),
        closed_days=tuple(calendar.closed_days(due.received.date(), due.limit_due.date())),
    )
    if at is None:
        return report
    at = _aware(at, calendar)
    if at > due.target_due:
        status = SlaStatus.BREACHED
    elif at >= due.at_risk_from:
        status = SlaStatus.AT_RISK
    else:
        status = SlaStatus.ON_TRACK
    return replace(
        report,
        at=at,
        elapsed_service=service_time_between(due.received, at, calendar),
        elapsed_wall=max(elapsed(due.received, at), timedelta()),
        elapsed_working_days=working_days_between(due.received, at, calendar),
        status=status,
        limit_exceeded=at > due.limit_due,
    )


@dataclass(frozen=True)
class SlaClock:
    """The calendar and the policy together, as the runner and the reports use them."""

    calendar: WorkingCalendar
    policy: SlaPolicy

    @classmethod
    def from_config(cls, config: Config | None = None) -> "SlaClock":
        """Return the clock of the office configuration (:func:`load_config` by default).

        Raises:
            ConfigError: the ``[calendar]`` or ``[sla]`` section holds a bad value.
        """
        config = config or load_config()
        return cls(WorkingCalendar(config.calendar), SlaPolicy.from_config(config.sla))

    def evaluate(self, received: datetime, at: datetime | None = None) -> SlaReport:
        """Return :func:`evaluate` for this calendar and policy.

        Raises:
            ValueError: an instant is naive.
            CalendarError: no working day follows within the calendar's bound.
        """
        return evaluate(received, at, self.calendar, self.policy)

    def evaluate_incident(self, incident: Mapping[str, Any], now: datetime) -> SlaReport:
        """Return the SLA report of an incident record (a row of ``incidents``).

        The clock runs from ``received_at`` and stops at the recovery
        (``resolved_at``), else at a close (``closed_at``), else runs until
        ``now``. Times are ISO 8601 text or aware datetimes.

        Raises:
            ValueError: ``received_at`` is missing, or a time is malformed or naive.
            CalendarError: no working day follows within the calendar's bound.
        """
        received = _instant(incident.get("received_at"))
        if received is None:
            raise ValueError(f"incident {incident.get('id')!r} has no received_at")
        stop = _instant(incident.get("resolved_at")) or _instant(incident.get("closed_at"))
        return self.evaluate(received, stop or now)


def format_duration(duration: timedelta, *, lang: str = "en", with_days: bool = False) -> str:
    """Return ``duration`` for a person: "11 h 05 min", or "7 d 18 h 20 min" with days.

    Service time is given without days, since service days differ in length.
    """
    minutes = max(duration // _MINUTE, 0)
    days, minutes = divmod(minutes, 24 * 60) if with_days else (0, minutes)
    hours, minutes = divmod(minutes, 60)
    units = ("hari", "jam", "menit") if lang == "id" else ("d", "h", "min")
    text = f"{hours} {units[1]} {minutes:02d} {units[2]}"
    return f"{days} {units[0]} {text}" if days else text


def _service_periods(
    moment: datetime, calendar: WorkingCalendar
) -> Iterator[tuple[datetime, datetime]]:
    moment = _aware(moment, calendar)
    day = moment.date()
    while True:
        for start, end in calendar.periods(day):
            if end > moment:
                yield max(start, moment), end
        day = calendar.next_working_day(day)


def _position(moment: datetime, calendar: WorkingCalendar) -> tuple[date, Fraction]:
    """Return the working day the clock is in at ``moment`` and the share of it spent."""
    start = clock_start(moment, calendar)
    day = start.date()
    opening = calendar.periods(day)[0][0]
    spent = service_time_between(opening, start, calendar)
    return day, Fraction(
        spent // timedelta(microseconds=1), calendar.service_time(day) // timedelta(microseconds=1)
    )


def _advance(day: date, count: int, calendar: WorkingCalendar) -> date:
    for _ in range(count):
        day = calendar.next_working_day(day)
    return day


def _aware(moment: datetime, calendar: WorkingCalendar) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; give an aware instant")
    return calendar.localize(moment)


def _instant(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _ceil_minute(moment: datetime) -> datetime:
    if moment.second == 0 and moment.microsecond == 0:
        return moment
    return moment.replace(second=0, microsecond=0) + _MINUTE


def _number(value: Fraction | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.denominator == 1 else round(float(value), 4)
