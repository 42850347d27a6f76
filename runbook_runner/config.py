"""The office configuration file, ``config/runbook.toml``, read into typed sections.

:func:`load_config` reads the file :func:`settings.config_path` names once and
returns a :class:`Config`. Its typed sections (``.calendar``, ``.sla``,
``.escalation``) are parsed on first use, so a bad value in one section only
stops the commands that need it. Any other area reads its own section with
:meth:`Config.section` (the raw table) or :meth:`Config.reader` (typed getters
whose errors name the file, the key and the fix), without touching this module.
Every key of the typed sections is optional; the defaults are the service
standard's.
"""

import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runbook_runner import settings
from runbook_runner.errors import ConfigError

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

DEFAULT_HOURS: Mapping[str, tuple[str, ...]] = {
    "monday": ("08:00-12:00", "12:30-15:45"),
    "tuesday": ("08:00-12:00", "12:30-15:45"),
    "wednesday": ("08:00-12:00", "12:30-15:45"),
    "thursday": ("08:00-12:00", "12:30-15:45"),
    "friday": ("08:00-11:00",),
    "saturday": (),
    "sunday": (),
}

_PERIOD = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Period:
    """One stretch of service hours inside a day, ``start`` included, ``end`` excluded."""

    start: time
    end: time

    def minutes(self) -> int:
        """Return the length of the period in minutes."""
        return (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class DayOverride:
    """A day the office closes or opens against the weekday and the holiday list."""

    day: date
    reason: str
    hours: tuple[Period, ...] | None = None


@dataclass(frozen=True)
class CalendarConfig:
    """The ``[calendar]`` section: service hours, time zone and closed days."""

    timezone: str = "Asia/Jakarta"
    holiday_country: str = "ID"
    holiday_categories: tuple[str, ...] = ("public", "government")
    confirmed_years: frozenset[int] = frozenset()
    hours: Mapping[int, tuple[Period, ...]] = field(
        default_factory=lambda: {
            index: tuple(_default_period(text) for text in DEFAULT_HOURS[name])
            for index, name in enumerate(WEEKDAYS)
        }
    )
    closed: tuple[DayOverride, ...] = ()
    opened: tuple[DayOverride, ...] = ()
    source: Path | None = None

    @property
    def zone(self) -> ZoneInfo:
        """Return the time zone as a :class:`ZoneInfo`."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SlaConfig:
    """The ``[sla]`` section: the resolution target and the service limit."""

    target_working_days: Fraction = Fraction(2)
    limit_working_days: Fraction = Fraction(5)
    at_risk_share: Fraction = Fraction(3, 4)


@dataclass(frozen=True)
class EscalationConfig:
    """The ``[escalation]`` section: the complaints official and the sender."""

    official_name: str = "Pejabat Pengaduan Diskominfo Kota Pekalongan"
    official_email: str = "pengaduan@diskominfo.example"
    sender_name: str = "Runbook Batik.Net"
    sender_email: str = "runbook@diskominfo.example"
    lang: str = "id"

    def official(self) -> dict[str, str]:
        """Return the official as ``write_escalation_message`` takes it."""
        return {"name": self.official_name, "email": self.official_email}

    def sender(self) -> dict[str, str]:
        """Return the sender as ``write_escalation_message`` takes it."""
        return {"name": self.sender_name, "email": self.sender_email}


class SectionReader:
    """Typed access to one section; every error names the file, the key and the fix."""

    def __init__(self, path: Path, name: str, table: Mapping[str, Any]) -> None:
        self.path = path
        self.name = name
        self.table = table

    def error(self, key: str, problem: str, fix: str) -> ConfigError:
        """Return the error for a bad ``key``: where it is, what is wrong, what to write."""
        return ConfigError(f"{self.path}: [{self.name}] {key}: {problem}", hint=fix)

    def reject_unknown(self, known: set[str]) -> None:
        """Refuse keys this section does not have, so a typo does not go unnoticed.

        Raises:
            ConfigError: a key is not one of ``known``.
        """
        for key in self.table:
            if key not in known:
                raise self.error(
                    key, "unknown key", f"use one of {', '.join(sorted(known))}, or remove it"
                )

    def string(self, key: str, default: str, *, choices: tuple[str, ...] = ()) -> str:
        """Return a non-empty string, ``default`` when the key is absent.

        Raises:
            ConfigError: the value is not a non-empty string or not one of ``choices``.
        """
        value = self.table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"{value!r} is not a text", f'write it as {key} = "{default}"')
        if choices and value not in choices:
            raise self.error(key, f"{value!r} is not allowed", f"use one of {', '.join(choices)}")
        return value

    def number(
        self, key: str, default: Fraction, *, low: Fraction, high: Fraction | None = None
    ) -> Fraction:
        """Return a number in ``(low, high]`` as an exact fraction, ``default`` when absent.

        Raises:
            ConfigError: the value is not a number or out of range.
        """
        value = self.table.get(key)
        if value is None:
            return default
        upper = "" if high is None else f" and at most {float(high):g}"
        fix = f"write a number above {float(low):g}{upper}, e.g. {key} = {float(default):g}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"{value!r} is not a number", fix)
        exact = Fraction(str(value))
        if exact <= low or (high is not None and exact > high):
            raise self.error(key, f"{value!r} is out of range", fix)
        return exact

    def string_list(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """Return a list of strings, ``default`` when absent.

        Raises:
            ConfigError: the value is not a list of strings.
        """
        value = self.table.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            example = ", ".join(f'"{item}"' for item in default)
            raise self.error(key, f"{value!r} is not a list of texts", f"write {key} = [{example}]")
        return tuple(value)

    def table_list(self, key: str) -> list[Mapping[str, Any]]:
        """Return a list of tables, empty when absent.

        Raises:
            ConfigError: the value is not a list of tables.
        """
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(
                key, "is not a list of tables", f'write {key} = [{{ date = "YYYY-MM-DD", ... }}]'
            )
        return value

    def subtable(self, key: str) -> "SectionReader":
        """Return a reader of the sub-table ``[name.key]``, empty when absent.

        Raises:
            ConfigError: the key holds something other than a table.
        """
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, "is not a table", f"write it as a [{self.name}.{key}] section")
        return SectionReader(self.path, f"{self.name}.{key}", value)


class Config:
    """The office configuration: raw sections plus the typed ones of the SLA clock."""

    def __init__(self, path: Path, raw: Mapping[str, Any]) -> None:
        self.path = path
        self.raw = raw

    def section(self, name: str) -> dict[str, Any]:
        """Return the raw table ``[name]``, empty when the file has none.

        Raises:
            ConfigError: ``name`` holds a value rather than a table.
        """
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(
                f"{self.path}: {name} is not a section",
                hint=f"write it as a [{name}] section with its keys below",
            )
        return dict(value)

    def reader(self, name: str) -> SectionReader:
        """Return typed getters over ``[name]``.

        Raises:
            ConfigError: ``name`` holds a value rather than a table.
        """
        return SectionReader(self.path, name, self.section(name))

    @cached_property
    def calendar(self) -> CalendarConfig:
        """Return the ``[calendar]`` section.

        Raises:
            ConfigError: a value of the section is bad.
        """
        return _calendar(self.reader("calendar"))

    @cached_property
    def sla(self) -> SlaConfig:
        """Return the ``[sla]`` section.

        Raises:
            ConfigError: a value of the section is bad.
        """
        return _sla(self.reader("sla"))

    @cached_property
    def escalation(self) -> EscalationConfig:
        """Return the ``[escalation]`` section.

        Raises:
            ConfigError: a value of the section is bad.
        """
        return _escalation(self.reader("escalation"))


def load_config(path: Path | None = None) -> Config:
    """Read the configuration file: ``path``, else ``RUNBOOK_CONFIG``, else the shipped one.

    The shipped file may be missing (every value then has its default); a file
    named on purpose must exist.

    Raises:
        ConfigError: the file named on purpose is missing, or cannot be read or parsed.
    """
    path = path if path is not None else settings.config_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        if path == settings.DEFAULT_CONFIG:
            log.info("%s: no configuration file, using the defaults", path)
            return Config(path, {})
        raise ConfigError(
            f"the configuration file {path} does not exist",
            hint="point RUNBOOK_CONFIG at an existing file, or unset it to use the shipped one",
        ) from error
    except OSError as error:
        raise ConfigError(
            f"cannot read the configuration file {path}: {error.strerror}",
            hint="check the file's permissions",
        ) from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"{path} is not valid TOML: {error}",
            hint="fix the line named; strings need double quotes, tables [brackets]",
        ) from error
    log.debug("%s: configuration read", path)
    return Config(path, raw)


def _calendar(reader: SectionReader) -> CalendarConfig:
    reader.reject_unknown(
        {
            "timezone",
            "holiday_country",
            "holiday_categories",
            "confirmed_years",
            "hours",
            "overrides",
        }
    )
    timezone = reader.string("timezone", "Asia/Jakarta")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise reader.error(
            "timezone",
            f"{timezone!r} is not a known time zone",
            'write an IANA name: "Asia/Jakarta"',
        ) from error
    country = reader.string("holiday_country", "ID")
    categories = reader.string_list("holiday_categories", ("public", "government"))
    _check_holiday_source(reader, country, categories)
    overrides = reader.subtable("overrides")
    overrides.reject_unknown({"closed", "open"})
    hours = _hours(reader.subtable("hours"))
    closed = tuple(
        _override(overrides, "closed", item, hours) for item in overrides.table_list("closed")
    )
    opened = tuple(
        _override(overrides, "open", item, hours) for item in overrides.table_list("open")
    )
    _check_no_day_twice(overrides, closed, opened)
    return CalendarConfig(
        timezone=timezone,
        holiday_country=country,
        holiday_categories=categories,
        confirmed_years=_years(reader),
        hours=hours,
        closed=closed,
        opened=opened,
        source=reader.path,
    )


def _check_holiday_source(reader: SectionReader, country: str, categories: tuple[str, ...]) -> None:
    import holidays

    try:
        supported = holidays.country_holidays(country).supported_categories
    except NotImplementedError as error:
        raise reader.error(
            "holiday_country", f"{country!r} is not a country of the holidays package", 'write "ID"'
        ) from error
    unknown = [category for category in categories if category not in supported]
    if unknown:
        raise reader.error(
            "holiday_categories",
            f"{', '.join(unknown)} not among the package's categories for {country}",
            f"use some of {', '.join(sorted(supported))}",
        )


def _years(reader: SectionReader) -> frozenset[int]:
    value = reader.table.get("confirmed_years", [])
    if not isinstance(value, list) or not all(
        isinstance(year, int) and not isinstance(year, bool) for year in value
    ):
        raise reader.error(
            "confirmed_years", f"{value!r} is not a list of years", "write confirmed_years = [2026]"
        )
    return frozenset(value)


def _hours(reader: SectionReader) -> dict[int, tuple[Period, ...]]:
    reader.reject_unknown(set(WEEKDAYS))
    return {
        index: _periods(reader, name, reader.string_list(name, DEFAULT_HOURS[name]))
        for index, name in enumerate(WEEKDAYS)
    }


def _periods(reader: SectionReader, key: str, texts: tuple[str, ...]) -> tuple[Period, ...]:
    periods: list[Period] = []
    for text in texts:
        period = _period(text)
        if period is None:
            raise reader.error(
                key,
                f"{text!r} is not a period of service hours",
                'write "HH:MM-HH:MM" with the start before the end, e.g. "08:00-12:00"',
            )
        if periods and period.start < periods[-1].end:
            raise reader.error(
                key,
                f"{text!r} starts before {periods[-1]} ends",
                "list the periods of a day in order, without overlap",
            )
        periods.append(period)
    return tuple(periods)


def _period(text: str) -> Period | None:
    match = _PERIOD.match(text.strip())
    if not match:
        return None
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if max(start_h, end_h) > 23 or max(start_m, end_m) > 59:
        return None
    period = Period(time(start_h, start_m), time(end_h, end_m))
    return period if period.start < period.end else None


def _default_period(text: str) -> Period:
    period = _period(text)
    if period is None:
        raise ValueError(f"bad default period {text!r}")
    return period


def _override(
    reader: SectionReader,
    key: str,
    item: Mapping[str, Any],
    hours: Mapping[int, tuple[Period, ...]],
) -> DayOverride:
    example = '{ date = "2026-04-01", reason = "Cuti tambahan (SE Wali Kota)" }'
    allowed = {"date", "reason", "hours"} if key == "open" else {"date", "reason"}
    unknown = set(item) - allowed
    if unknown:
        raise reader.error(
            key, f"unknown key {sorted(unknown)[0]!r} in {item!r}", f"write {example}"
        )
    day = _date(item.get("date"))
    reason = item.get("reason")
    if day is None or not isinstance(reason, str) or not reason.strip():
        raise reader.error(
            key, f"{item!r} needs a date and a reason", f"write {example}, dates as YYYY-MM-DD"
        )
    if key == "closed":
        return DayOverride(day, reason)
    if "hours" not in item:
        if not hours[day.weekday()]:
            raise reader.error(
                key,
                f"{day} is a {WEEKDAYS[day.weekday()]}, which has no service hours",
                'give its hours: { date = "...", reason = "...", hours = ["08:00-12:00"] }',
            )
        return DayOverride(day, reason)
    texts = item["hours"]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise reader.error(
            key, f"the hours of {day} are not a list of periods", 'write ["08:00-12:00"]'
        )
    return DayOverride(day, reason, _periods(reader, f"{key} ({day})", tuple(texts)))


def _date(value: object) -> date | None:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _check_no_day_twice(
    reader: SectionReader, closed: tuple[DayOverride, ...], opened: tuple[DayOverride, ...]
) -> None:
    seen: set[date] = set()
    for override in (*closed, *opened):
        if override.day in seen:
            raise reader.error(
                "closed/open",
                f"{override.day} is listed twice",
                "keep one entry per day, in closed or in open",
            )
        seen.add(override.day)


def _sla(reader: SectionReader) -> SlaConfig:
    reader.reject_unknown({"target_working_days", "limit_working_days", "at_risk_share"})
    target = reader.number("target_working_days", Fraction(2), low=Fraction(0), high=Fraction(60))
    limit = reader.number("limit_working_days", Fraction(5), low=Fraction(0), high=Fraction(60))
    share = reader.number("at_risk_share", Fraction(3, 4), low=Fraction(0), high=Fraction(1))
    if limit < target:
        raise reader.error(
            "limit_working_days",
            f"{float(limit):g} is shorter than the target of {float(target):g} working days",
            "make the service limit at least the resolution target",
        )
    return SlaConfig(target, limit, share)


def _escalation(reader: SectionReader) -> EscalationConfig:
    defaults = EscalationConfig()
    reader.reject_unknown(
        {"official_name", "official_email", "sender_name", "sender_email", "lang"}
    )
    for key in ("official_email", "sender_email"):
        value = reader.string(key, getattr(defaults, key))
        local, _, domain = value.partition("@")
        if not local or "." not in domain or any(char.isspace() for char in value):
            raise reader.error(
                key, f"{value!r} is not an email address", f'write {key} = "name@domain"'
            )
    return EscalationConfig(
        official_name=reader.string("official_name", defaults.official_name),
        official_email=reader.string("official_email", defaults.official_email),
        sender_name=reader.string("sender_name", defaults.sender_name),
        sender_email=reader.string("sender_email", defaults.sender_email),
        lang=reader.string("lang", defaults.lang, choices=("id", "en")),
    )
