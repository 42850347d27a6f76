"""Unit tests of the pure judging in the step-4 module (no network, no Ansible run)."""

from typing import Any

import pytest
from helpers import REPO, load_module

from runbook_runner.checks import validate_checks

poll = load_module(REPO / "roles" / "device_check" / "library" / "batiknet_snmp_poll.py")

SITES = {
    "opd1": {"gateway": "opd1-gw", "access": {"core_device": "core", "core_interface": "opd1"}},
    "opd2": {"gateway": "opd2-gw", "access": {"core_device": "core", "core_interface": "opd2"}},
}
UPSTREAM = {"core_device": "core", "core_interface": "uplink"}
PARAMS: dict[str, Any] = {
    "vantage": "ops",
    "sites": SITES,
    "upstream": UPSTREAM,
    "restart_window": 3600,
}
CORE = {
    "name": "core",
    "address": "192.0.2.254",
    "kind": "core",
    "required_interfaces": ["opd1", "opd2", "uplink"],
}
GATEWAY = {
    "name": "opd1-gw",
    "address": "192.0.2.2",
    "kind": "gateway",
    "site": "opd1",
    "wan_interface": "wan",
    "lan_interface": "lan",
    "required_interfaces": ["wan", "lan"],
}


def interface(name: str, admin: str = "up", oper: str = "up", **counters: int) -> dict[str, Any]:
    record = {"index": 3, "name": name, "admin": admin, "oper": oper, "speed_mbps": 1000}
    record.update(dict.fromkeys(poll.COUNTER_COLUMNS, 0), **counters)
    return record


@pytest.mark.parametrize(
    ("device", "ifname", "expected"),
    [
        pytest.param(CORE, "opd1", ("opd_access", "opd1"), id="core-port-to-a-site"),
        pytest.param(CORE, "uplink", ("isp_upstream", None), id="core-port-to-the-isp"),
        pytest.param(CORE, "srv", ("core", None), id="other-core-port"),
        pytest.param(GATEWAY, "wan", ("opd_access", "opd1"), id="gateway-wan"),
        pytest.param(GATEWAY, "lan", ("user_lan", "opd1"), id="gateway-lan"),
        pytest.param(GATEWAY, "lo", ("opd_gateway", "opd1"), id="gateway-other"),
    ],
)
def test_link_place_follows_the_inventory(
    device: dict[str, Any], ifname: str, expected: tuple[str, str | None]
) -> None:
    assert poll.link_place(device, ifname, SITES, UPSTREAM) == expected


def test_link_place_ignores_a_site_served_by_another_core() -> None:
    sites = {"opd9": {"access": {"core_device": "core-2", "core_interface": "opd1"}}}
    assert poll.link_place(CORE, "opd1", sites, {}) == ("core", None)


@pytest.mark.parametrize(
    ("device", "record", "status", "segment", "site"),
    [
        pytest.param(CORE, interface("opd1"), "ok", "opd_access", "opd1", id="up-up"),
        pytest.param(
            CORE, interface("opd2", oper="lowerLayerDown"), "failed", "opd_access", "opd2",
            id="oper-down-concerns-the-link",
        ),
        pytest.param(
            CORE, interface("opd2", admin="down", oper="down"), "failed", "core", "opd2",
            id="required-admin-down-is-the-core-config",
        ),
        pytest.param(
            CORE, interface("spare", admin="down", oper="down"), "ok", "core", None,
            id="admin-down-not-required",
        ),
        pytest.param(
            CORE, interface("uplink", oper="down"), "failed", "isp_upstream", None,
            id="uplink-oper-down",
        ),
        pytest.param(
            GATEWAY, interface("lan", oper="down"), "failed", "user_lan", "opd1",
            id="gateway-lan-down",
        ),
        pytest.param(
            GATEWAY, interface("wan", admin="down", oper="down"), "failed", "opd_gateway",
            "opd1", id="gateway-required-wan-admin-down",
        ),
    ],
)  # fmt: skip
def test_judge_interface_gives_status_and_segment(
    device: dict[str, Any], record: dict[str, Any], status: str, segment: str, site: str | None
) -> None:
    check = poll.judge_interface(device, record, PARAMS)

    assert (check["status"], check["segment"], check["site"]) == (status, segment, site)
    assert check["target"] == f"{device['name']}:{record['name']}"
    validate_checks([check])


@pytest.mark.parametrize(
    ("before", "after", "growth"),
    [
        pytest.param({"in_errors": 5}, {"in_errors": 5}, {"in_errors": 0}, id="still"),
        pytest.param({"in_errors": 5}, {"in_errors": 9}, {"in_errors": 4}, id="grew"),
        pytest.param(
            {"out_discards": 2**32 - 2}, {"out_discards": 3}, {"out_discards": 5}, id="wrapped"
        ),
        pytest.param({"in_errors": 1}, {}, {}, id="missing-second-value"),
    ],
)
def test_counter_growth_survives_a_wrap(
    before: dict[str, int], after: dict[str, int], growth: dict[str, int]
) -> None:
    assert poll.counter_growth(before, after) == growth


def test_judge_counters_is_degraded_when_errors_grow_on_the_uplink() -> None:
    record = interface("uplink", in_errors=10)
    after = {"in_errors": 14, "out_errors": 0, "in_discards": 0, "out_discards": 0}

    check = poll.judge_counters(CORE, record, after, 2.0, PARAMS)

    assert (check["status"], check["segment"]) == ("degraded", "isp_upstream")
    assert check["values"]["growth"]["in_errors"] == 4
    assert "in_errors +4" in check["message"]


def test_judge_counters_is_unknown_without_a_second_poll() -> None:
    check = poll.judge_counters(CORE, interface("opd1"), None, 2.0, PARAMS)

    assert check["status"] == "unknown"


def test_parse_fping_reads_answering_and_silent_hosts() -> None:
    output = (
        "192.0.2.1   : xmt/rcv/%loss = 2/2/0%, min/avg/max = 0.04/0.05/0.06\n"
        "192.0.2.2   : xmt/rcv/%loss = 2/0/100%\n"
        "ICMP Host Unreachable from 192.0.2.254 for ICMP Echo sent to 192.0.2.3\n"
        "192.0.2.3   : xmt/rcv/%loss = 2/1/50%, min/avg/max = 1.00/1.00/1.00\n"
    )

    results = poll.parse_fping(output)

    assert results["192.0.2.1"] == {"sent": 2, "received": 2, "loss": 0, "rtt_ms": 0.05}
    assert results["192.0.2.2"] == {"sent": 2, "received": 0, "loss": 100, "rtt_ms": None}
    assert results["192.0.2.3"]["loss"] == 50


def answered(received: int) -> dict[str, Any]:
    return {"sent": 2, "received": received, "loss": 100 - 50 * received, "rtt_ms": 0.1}


@pytest.mark.parametrize(
    ("icmp", "snmp_error", "statuses", "wording"),
    [
        pytest.param(answered(2), None, ("ok", "ok"), "answers SNMP", id="healthy"),
        pytest.param(
            answered(2), "No SNMP response received before timeout", ("ok", "failed"),
            "answers ICMP but not SNMP", id="agent-down-or-wrong-credentials",
        ),
        pytest.param(
            answered(0), "No SNMP response received before timeout", ("failed", "failed"),
            "answers neither ICMP nor SNMP", id="answers-nothing",
        ),
        pytest.param(answered(1), None, ("degraded", "ok"), "answers SNMP", id="icmp-loss"),
        pytest.param(None, None, ("unknown", "ok"), "answers SNMP", id="no-fping"),
    ],
)  # fmt: skip
def test_judge_reachability_tells_icmp_from_snmp(
    icmp: dict[str, Any] | None, snmp_error: str | None, statuses: tuple[str, str], wording: str
) -> None:
    device_poll = poll.DevicePoll(icmp=icmp, snmp_error=snmp_error, system={"sys_name": "gw"})

    icmp_check, snmp_check = poll.judge_reachability(GATEWAY, device_poll, "ops")

    assert (icmp_check["status"], snmp_check["status"]) == statuses
    assert wording in snmp_check["message"]
    assert {icmp_check["segment"], snmp_check["segment"]} == {"opd_gateway"}
    validate_checks([icmp_check, snmp_check])


@pytest.mark.parametrize(
    ("uptime", "window", "status"),
    [
        pytest.param(600, 3600, "degraded", id="restarted-ten-minutes-ago"),
        pytest.param(7200, 3600, "ok", id="up-two-hours"),
        pytest.param(600, 0, "ok", id="finding-turned-off"),
    ],
)
def test_judge_uptime_flags_a_recent_restart(uptime: int, window: int, status: str) -> None:
    check = poll.judge_uptime(CORE, uptime, window, "ops")

    assert check["status"] == status
    assert check["values"]["uptime_seconds"] == uptime


def test_judge_device_reports_a_missing_required_interface() -> None:
    device_poll = poll.DevicePoll(
        icmp=answered(2),
        system={"sys_name": "core", "sys_descr": "Linux", "uptime_seconds": 99999},
        interfaces={1: interface("opd1") | {"index": 1}},
        counters_after={1: dict.fromkeys(poll.COUNTER_COLUMNS, 0)},
        interval=2.0,
    )

    checks = poll.judge_device(CORE, device_poll, PARAMS)

    missing = {c["target"]: c for c in checks if "no such interface" in c["message"]}
    assert set(missing) == {"core:opd2", "core:uplink"}
    assert missing["core:opd2"]["site"] == "opd2"
    validate_checks(checks)


def test_unreachable_gateway_carries_the_core_port_state() -> None:
    core_poll = poll.DevicePoll(
        icmp=answered(2),
        interfaces={7: interface("opd1", oper="lowerLayerDown") | {"index": 7}},
    )
    gateway_poll = poll.DevicePoll(icmp=answered(0), snmp_error="timeout")
    checks = poll.judge_reachability(GATEWAY, gateway_poll, "ops")

    ports = poll.access_ports([CORE, GATEWAY], [core_poll, gateway_poll], PARAMS)
    poll.annotate_unreachable_gateways(checks, ports)

    assert checks[1]["values"]["core_port"] == "core:opd1"
    assert checks[1]["values"]["core_port_oper"] == "lowerLayerDown"
    validate_checks(checks)


def test_interfaces_from_prefers_ifname_and_maps_states() -> None:
    tables = {
        "descr": {1: "eth-descr"},
        "name": {1: "opd1"},
        "admin": {1: 1},
        "oper": {1: 7},
        "speed_mbps": {1: 10000},
        "in_errors": {1: 3},
    }

    records = poll.interfaces_from(tables)

    assert records[1]["name"] == "opd1"
    assert (records[1]["admin"], records[1]["oper"]) == ("up", "lowerLayerDown")
    assert records[1]["in_errors"] == 3


def test_split_columns_files_interleaved_rows_and_ends_each_column() -> None:
    columns = {"admin": "1.3.6.1.2.1.2.2.1.7", "name": "1.3.6.1.2.1.31.1.1.1.1"}
    rows: dict[str, dict[int, Any]] = {"admin": {}, "name": {}}
    answer = [
        ("1.3.6.1.2.1.2.2.1.7.1", 1),
        ("1.3.6.1.2.1.31.1.1.1.1.1", "lo"),
        ("1.3.6.1.2.1.2.2.1.7.2", 2),
        ("1.3.6.1.2.1.31.1.1.1.1.2", "opd1"),
        ("1.3.6.1.2.1.2.2.1.8.1", 1),  # the admin column has ended
        ("1.3.6.1.2.1.31.1.1.1.1.3", "opd2"),
    ]

    pending = poll.split_columns(columns, dict(columns), answer, rows)

    assert rows == {"admin": {1: 1, 2: 2}, "name": {1: "lo", 2: "opd1", 3: "opd2"}}
    assert pending == {"name": "1.3.6.1.2.1.31.1.1.1.1.3"}
