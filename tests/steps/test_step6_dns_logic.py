"""Unit tests of the pure judging in the step-6 module (no resolver, no Ansible run)."""

from typing import Any

import pytest
from helpers import REPO, load_module

from runbook_runner.checks import validate_checks

query = load_module(REPO / "roles" / "dns_check" / "library" / "batiknet_dns_query.py")
Answer = query.Answer

PARAMS: dict[str, Any] = {"vantage": "ops", "zone": "example.test", "slow_ms": 500}
PRIMARY = {"name": "dns1", "address": "192.0.2.53", "role": "primary"}
SECONDARY = {"name": "dns2", "address": "192.0.2.54", "role": "secondary"}
PORTAL = {"name": "portal.example.test", "type": "A", "expect": ["192.0.2.80"]}
EXTERNAL = {"name": "www.elsewhere.test", "type": "A", "expect": ["203.0.113.1"]}


@pytest.mark.parametrize(
    ("answer", "status", "wording"),
    [
        pytest.param(Answer("NOERROR", ["192.0.2.80"], 3.0), "ok", "as expected", id="right"),
        pytest.param(
            Answer("NOERROR", ["192.0.2.99"], 3.0), "failed", "got 192.0.2.99; expected 192.0.2.80",
            id="wrong-answer",
        ),
        pytest.param(Answer("SERVFAIL", [], 3.0), "failed", "SERVFAIL", id="servfail"),
        pytest.param(Answer("REFUSED", [], 3.0), "failed", "REFUSED", id="refused"),
        pytest.param(Answer("NXDOMAIN", [], 3.0), "failed", "NXDOMAIN", id="nxdomain"),
        pytest.param(
            Answer(error="no answer within 2 s"), "failed", "no answer within 2 s", id="timeout"
        ),
        pytest.param(Answer("NOERROR", ["192.0.2.80"], 900.0), "degraded", "slow", id="slow"),
    ],
)  # fmt: skip
def test_judge_query_names_server_name_and_expectation(
    answer: Any, status: str, wording: str
) -> None:
    check = query.judge_query(PRIMARY, PORTAL, answer, False, PARAMS)

    assert (check["status"], check["segment"]) == (status, "dns")
    assert wording in check["message"]
    assert "dns1" in check["message"] and "portal.example.test" in check["message"]
    assert check["target"] == "dns1/portal.example.test"
    validate_checks([check])


def test_judge_query_blames_the_upstream_when_only_recursion_fails() -> None:
    check = query.judge_query(PRIMARY, EXTERNAL, Answer("SERVFAIL", [], 3.0), True, PARAMS)

    assert (check["status"], check["segment"]) == ("failed", "isp_upstream")
    assert check["values"]["recursive"] is True


def test_judge_query_blames_the_server_when_its_zone_fails_too() -> None:
    check = query.judge_query(PRIMARY, EXTERNAL, Answer(error="no answer"), False, PARAMS)

    assert (check["status"], check["segment"]) == ("failed", "dns")


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        pytest.param([Answer("NOERROR", ["192.0.2.80"]), Answer("SERVFAIL")], True, id="zone-ok"),
        pytest.param([Answer("NOERROR", ["192.0.2.99"]), Answer("SERVFAIL")], False, id="wrong"),
        pytest.param([Answer(error="timeout"), Answer(error="timeout")], False, id="silent"),
    ],
)
def test_answers_own_zone(answers: list[Any], expected: bool) -> None:
    assert query.answers_own_zone([PORTAL, EXTERNAL], answers, "example.test") is expected


@pytest.mark.parametrize(
    ("name", "zone", "inside"),
    [
        ("portal.example.test", "example.test", True),
        ("Portal.Example.Test.", "example.test.", True),
        ("example.test", "example.test", True),
        ("badexample.test", "example.test", False),
        ("www.elsewhere.test", "example.test", False),
    ],
)
def test_in_zone(name: str, zone: str, inside: bool) -> None:
    assert query.in_zone(name, zone) is inside


@pytest.mark.parametrize(
    ("primary", "secondary", "statuses"),
    [
        pytest.param(Answer("NOERROR", ["7"]), Answer("NOERROR", ["7"]), ("ok", "ok"), id="same"),
        pytest.param(
            Answer("NOERROR", ["8"]), Answer("NOERROR", ["7"]), ("ok", "degraded"), id="lagging"
        ),
        pytest.param(
            Answer("NOERROR", ["3"]), Answer("NOERROR", [str(2**32 - 5)]), ("ok", "degraded"),
            id="lagging-across-the-wrap",
        ),
        pytest.param(
            Answer("NOERROR", ["7"]), Answer(error="no answer within 2 s"), ("ok", "failed"),
            id="secondary-silent",
        ),
        pytest.param(
            Answer(error="no answer within 2 s"), Answer("NOERROR", ["7"]), ("failed", "unknown"),
            id="primary-silent",
        ),
    ],
)  # fmt: skip
def test_judge_serials_compares_the_secondary_with_the_primary(
    primary: Any, secondary: Any, statuses: tuple[str, str]
) -> None:
    checks = query.judge_serials([PRIMARY, SECONDARY], [primary, secondary], PARAMS)

    assert tuple(check["status"] for check in checks) == statuses
    assert [check["target"] for check in checks] == ["dns1/example.test", "dns2/example.test"]
    assert {check["segment"] for check in checks} == {"dns"}
    validate_checks(checks)


def test_serial_behind_uses_serial_arithmetic() -> None:
    assert query.serial_behind(1, 2)
    assert not query.serial_behind(2, 1)
    assert not query.serial_behind(5, 5)
    assert query.serial_behind(2**32 - 1, 0)
