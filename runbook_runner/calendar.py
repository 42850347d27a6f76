"""The office's working calendar: which days it serves, and its service hours on each.

A day is a working day unless it is closed, in this order of precedence:

1. an ``open`` override of the configuration opens it (a holiday the office
   works anyway, a Saturday duty), with its own hours or the weekday's;
2. a ``closed`` override closes it (a decree moving a holiday, an extra day
   off, a regional holiday);
3. the ``holidays`` package closes it: an Indonesian public holiday
   (category ``public``) or a joint leave day, cuti bersama (``government``);
4. its weekday has no service hours (Saturday, Sunday).

The package signals what it does not know in two ways, and each becomes a
:class:`CalendarWarning` rather than a silent assumption: a year outside its
range (1946-2100 in holidays 0.109) has no holidays at all, and a year whose
joint leave decree (SKB) it does not carry yet has no ``government`` days
(2028 and later in 0.109). It also marks Islamic holidays it computed rather
than read from a decree with "(perkiraan)"; the calendar warns when a
computation crosses such a date. A year listed in ``confirmed_years``, and a
date named in the overrides, are the office's word and raise no warning.
"""

import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from zoneinfo import ZoneInfo

from runbook_runner.config import CalendarConfig, DayOverride, Period
from runbook_runner.errors import RunbookError

log = logging.getLogger(__name__)

# A longer run of closed days is a broken override list, not a calendar.
MAX_CLOSED_RUN = 60

_CATEGORY_KINDS = {"public": "public_holiday", "government": "joint_leave"}


class CalendarWarning(UserWarning):
    """The calendar counts on dates the holidays package does not know for sure."""


class CalendarError(RunbookError):
    """The calendar has no working day where one is needed."""


@dataclass(frozen=True)
class ClosedDay:
    """A day the office does not serve, and why.

    ``kind`` is ``weekend``, ``public_holiday``, ``joint_leave`` or ``override``.
    """

    day: date
    kind: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """Return the day as JSON data."""
        return {"date": self.day.isoformat(), "kind": self.kind, "reason": self.reason}


@dataclass(frozen=True)
class HolidayYear:
    """The closed days a holiday source knows for one year.

    ``days`` maps a date to its kind and name; ``estimated`` holds the dates
    the source computed rather than took from a decree; ``gaps`` says, one
    sentence each, what the source does not know about the year.
    """

    days: Mapping[date, tuple[str, str]]
    estimated: frozenset[date] = frozenset()
    gaps: tuple[str, ...] = ()


HolidaySource = Callable[[int], HolidayYear]


def package_holidays(country: str, categories: tuple[str, ...]) -> HolidaySource:
    """Return a holiday source reading the ``holidays`` package."""
    import holidays

    package = f"holidays {version('holidays')}"

    def for_year(year: int) -> HolidayYear:
        days: dict[date, tuple[str, str]] = {}
        estimated: set[date] = set()
        gaps: list[str] = []
        for category in categories:
            found = holidays.country_holidays(country, years=year, categories=(category,))
            suffix = str(getattr(found, "estimated_label", "%s")).replace("%s", "").strip()
            first, last = getattr(found, "start_year", year), getattr(found, "end_year", year)
            if not first <= year <= last:
                gaps.append(f"{package} knows no {country} holidays outside {first}-{last}")
                break
            if not found:
                gaps.append(f"{package} lists no {country} {category} days (e.g. cuti bersama)")
            for day, name in found.items():
                days[day] = (_CATEGORY_KINDS.get(category, category), name)
                if suffix and suffix in name:
                    estimated.add(day)
        return HolidayYear(days, frozenset(estimated), tuple(gaps))

    return for_year


class WorkingCalendar:
    """The service days and hours of the office, in its time zone."""

    def __init__(
        self, config: CalendarConfig | None = None, holiday_source: HolidaySource | None = None
    ) -> None:
        self.config = config or CalendarConfig()
        self.zone = ZoneInfo(self.config.timezone)
        self._holiday_source = holiday_source or package_holidays(
            self.config.holiday_country, self.config.holiday_categories
        )
        self._closed: dict[date, DayOverride] = {o.day: o for o in self.config.closed}
        self._opened: dict[date, DayOverride] = {o.day: o for o in self.config.opened}
        self._years: dict[int, HolidayYear] = {}
        self._warned_days: set[date] = set()

    def localize(self, moment: datetime) -> datetime:
        """Return ``moment`` in the office's time zone; a naive one is read as office time."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            return moment.replace(tzinfo=self.zone)
        return moment.astimezone(self.zone)

    def closure(self, day: date) -> ClosedDay | None:
        """Return why the office is closed on ``day``, or None when it serves.

        Warns (:class:`CalendarWarning`) when the answer rests on what the
        holiday source does not know for sure.
        """
        if day in self._opened:
            return None
        if day in self._closed:
            return ClosedDay(day, "override", self._closed[day].reason)
        holiday = self._holidays(day.year).days.get(day)
        self._warn_if_estimated(day, holiday)
        if holiday is not None:
            return ClosedDay(day, holiday[0], holiday[1])
        if not self.config.hours[day.weekday()]:
            return ClosedDay(day, "weekend", day.strftime("%A"))
        return None

    def is_working_day(self, day: date) -> bool:
        """Return whether the office serves on ``day``."""
        return self.closure(day) is None

    def hours(self, day: date) -> tuple[Period, ...]:
        """Return the service periods of ``day``, none when it is closed."""
        if self.closure(day) is not None:
            return ()
        override = self._opened.get(day)
        if override is not None and override.hours is not None:
            return override.hours
        return self.config.hours[day.weekday()]

    def periods(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """Return the service periods of ``day`` as aware start and end instants."""
        return tuple(
            (
                datetime.combine(day, period.start, tzinfo=self.zone),
                datetime.combine(day, period.end, tzinfo=self.zone),
            )
            for period in self.hours(day)
        )

    def service_time(self, day: date) -> timedelta:
        """Return the length of the service hours of ``day``, zero when closed."""
        return sum((elapsed(start, end) for start, end in self.periods(day)), timedelta())

    def next_working_day(self, day: date) -> date:
        """Return the first working day after ``day``.

        Raises:
            CalendarError: no working day in the next :data:`MAX_CLOSED_RUN` days.
        """
        candidate = day
        for _ in range(MAX_CLOSED_RUN):
            candidate += timedelta(days=1)
            if self.is_working_day(candidate):
                return candidate
        raise CalendarError(
            f"no working day in the {MAX_CLOSED_RUN} days after {day}",
            hint=f"check the closed days and the hours in {self.config.source or 'the config'}",
        )

    def closed_days(self, first: date, last: date, *, weekends: bool = False) -> list[ClosedDay]:
        """Return the closed days from ``first`` to ``last`` included, weekends if asked."""
        found = []
        day = first
        while day <= last:
            closure = self.closure(day)
            if closure is not None and (weekends or closure.kind != "weekend"):
                found.append(closure)
            day += timedelta(days=1)
        return found

    def _holidays(self, year: int) -> HolidayYear:
        if year not in self._years:
            self._years[year] = self._holiday_source(year)
            if year not in self.config.confirmed_years:
                for gap in self._years[year].gaps:
                    self._warn(
                        f"{year}: {gap}; such days count as working days. Add them to "
                        "[calendar.overrides] closed, then list the year in confirmed_years"
                    )
        return self._years[year]

    def _warn_if_estimated(self, day: date, holiday: tuple[str, str] | None) -> None:
        estimated = self._years[day.year].estimated
        if (
            day in estimated
            and day not in self._warned_days
            and day.year not in self.config.confirmed_years
        ):
            self._warned_days.add(day)
            name = holiday[1] if holiday else "a holiday"
            self._warn(
                f"{day}: {name} is the holidays package's estimate, not a decreed date. "
                "Confirm it: add the real date to [calendar.overrides], then list the year "
                "in confirmed_years"
            )

    def _warn(self, message: str) -> None:
        where = self.config.source or "the configuration"
        log.info("calendar: %s (%s)", message, where)
        warnings.warn(f"{message} ({where})", CalendarWarning, stacklevel=4)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Return the real time from ``start`` to ``end``, whatever their zones."""
    return end.astimezone(UTC) - start.astimezone(UTC)


@contextmanager
def collect_calendar_warnings() -> Iterator[list[str]]:
    """Catch every :class:`CalendarWarning` inside the block; yield their messages.

    The list is filled when the block ends; other warnings are passed on. A
    command uses it to show the warnings in its own output (and its JSON).
    """
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalendarWarning)
        yield messages
    for item in caught:
        if issubclass(item.category, CalendarWarning):
            messages.append(str(item.message))
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
