"""The words of the evaluation: both languages complete, numbers written the local way."""

from datetime import date, datetime, timedelta, timezone

import pytest

from runbook_runner import evaluation_texts as words
from runbook_runner.errors import UsageError


def test_both_languages_have_the_same_words() -> None:
    indonesian, english = words.TEXTS["id"], words.TEXTS["en"]
    assert set(indonesian) == set(english)
    for key, value in indonesian.items():
        if isinstance(value, dict):
            assert set(value) == set(english[key]), key


@pytest.mark.parametrize(
    ("value", "lang", "text"),
    [
        pytest.param(15.25, "id", "15,3", id="id-half-up-decimal-comma"),
        pytest.param(15.25, "en", "15.3", id="en-half-up"),
        pytest.param(1234.5, "id", "1.234,5", id="id-thousands-dot"),
        pytest.param(1234.5, "en", "1,234.5", id="en-thousands-comma"),
    ],
)
def test_numbers_are_written_the_way_the_language_writes_them(
    value: float, lang: str, text: str
) -> None:
    assert words.number(value, lang) == text


def test_days_and_instants_in_both_languages() -> None:
    wib = timezone(timedelta(hours=7))
    moment = datetime(2026, 10, 5, 9, 5, tzinfo=wib)
    assert words.day(date(2026, 10, 5), "id") == "5 Oktober 2026"
    assert words.moment(moment, "id") == "5 Okt 2026 09.05"
    assert words.moment(moment, "en", this_year=2026) == "5 Oct 09:05"
    assert words.quarter_name(2026, 4, "id") == "Triwulan IV 2026"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(UsageError, match="'fr'"):
        words.texts("fr")
