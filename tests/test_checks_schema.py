"""The check record: the shared builder and the schema agree, and bad records are named."""

import datetime
from typing import Any

import pytest
from helpers import MODULE_UTILS, load_module

from runbook_runner import checks
from runbook_runner.errors import RunbookError

load_module(MODULE_UTILS / "batiknet_check.py")
from ansible.module_utils import batiknet_check  # noqa: E402  (made importable just above)


def good_check(**changes: Any) -> dict[str, Any]:
    record = batiknet_check.make_check(
        "devices",
        "icmp",
        "ops",
        "core",
        "ok",
        "core answers ICMP.",
        "core",
        values={"loss": 0},
        time="2026-12-03T08:00:00+00:00",
    )
    record.update(changes)
    return record


def test_builder_and_schema_share_their_words() -> None:
    assert batiknet_check.STEPS == checks.STEPS
    assert batiknet_check.STATUSES == checks.STATUSES
    assert batiknet_check.SEGMENTS == checks.SEGMENTS


def test_make_check_stamps_utc_time_and_validates() -> None:
    record = batiknet_check.make_check("dns", "dns_query", "ops", "dns1/x", "ok", "fine.", "dns")

    stamp = datetime.datetime.fromisoformat(record["time"])
    assert stamp.utcoffset() == datetime.timedelta(0)
    assert record["site"] is None and record["values"] == {}
    checks.validate_checks([record])


@pytest.mark.parametrize(
    ("field", "value"),
    [("step", "physical"), ("status", "broken"), ("segment", "wan"), ("target", "")],
)
def test_make_check_refuses_words_outside_the_contract(field: str, value: str) -> None:
    arguments = {
        "step": "devices",
        "check": "icmp",
        "vantage": "ops",
        "target": "core",
        "status": "ok",
        "message": "m.",
        "segment": "core",
    }
    arguments[field] = value

    with pytest.raises(ValueError, match=field):
        batiknet_check.make_check(**arguments)


def test_worst_status_orders_failed_over_degraded_over_unknown() -> None:
    assert batiknet_check.worst_status(["ok", "unknown", "degraded"]) == "degraded"
    assert batiknet_check.worst_status(["ok", "failed", "degraded"]) == "failed"
    assert batiknet_check.worst_status([]) == "ok"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        pytest.param(good_check(status="fine"), "status", id="unknown-status"),
        pytest.param(good_check(segment="internet"), "segment", id="unknown-segment"),
        pytest.param(good_check(step="step4"), "step", id="unknown-step"),
        pytest.param(good_check(time="2026-12-03 08:00"), "time", id="time-without-offset"),
        pytest.param(good_check(values=[1, 2]), "values", id="values-not-a-mapping"),
        pytest.param(good_check(site=""), "site", id="empty-site"),
        pytest.param(good_check(extra=1), "extra", id="unknown-field"),
        pytest.param(
            {k: v for k, v in good_check().items() if k != "message"}, "message", id="missing"
        ),
    ],
)
def test_validate_checks_names_the_bad_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(checks.InvalidCheckError) as caught:
        checks.validate_checks([good_check(), record])

    assert caught.value.field == field
    assert caught.value.index == 1
    assert field in caught.value.message
    assert isinstance(caught.value, RunbookError)


def test_validate_checks_refuses_what_is_not_a_list_of_mappings() -> None:
    with pytest.raises(checks.InvalidCheckError):
        checks.validate_checks({"step": "devices"})  # type: ignore[arg-type]
    with pytest.raises(checks.InvalidCheckError) as caught:
        checks.validate_checks(["not a record"])
    assert caught.value.field is None


def test_a_check_with_a_site_and_z_time_is_valid() -> None:
    checks.validate_checks([good_check(site="opd1", time="2026-12-03T08:00:00Z")])
