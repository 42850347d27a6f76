"""The verdict rules over tables of step results.

Each row builds the checks the step playbooks would hand back for a site in
a given state of the network (healthy, then changed by the faults named in
the row), and states the expected connected flag, segments and branch. The
builders follow the shapes of docs/result-contract.md and the step modules;
addresses are RFC 5737 ones.
"""

from collections.abc import Callable
from typing import Any

import pytest

from runbook_runner.verdict import OBSERVATIONS, PhysicalCheck, SiteFacts, decide

T = "2026-12-03T07:00:00+00:00"

SITES = {
    "opd1": {
        "name": "Dinas Satu",
        "gateway": "gw1",
        "probe_host": "pc1",
        "access": {
            "type": "leased",
            "provider": "isp_a",
            "circuit_id": "A-1",
            "core_device": "core",
            "core_interface": "p1",
        },
    },
    "opd2": {
        "name": "Dinas Dua",
        "gateway": "gw2",
        "probe_host": "pc2",
        "access": {"type": "own_fibre", "core_device": "core", "core_interface": "p2"},
    },
}
UPSTREAM = {
    "provider": "isp_a",
    "circuit_id": "UP-1",
    "core_device": "core",
    "core_interface": "up",
}


def check(spec: str, segment: str, site: str | None, **values: Any) -> dict[str, Any]:
    """Return a check from "step kind vantage target" and its segment, site and values."""
    step, kind, vantage, target = spec.split()
    status = values.pop("status", "ok")
    return {
        "step": step,
        "check": kind,
        "vantage": vantage,
        "target": target,
        "status": status,
        "values": values,
        "message": f"{kind} {target} {status}",
        "segment": segment,
        "site": site,
        "time": T,
    }


def healthy(site: str) -> list[dict[str, Any]]:
    """Return the checks of a healthy network for an incident at ``site``."""
    n = site[-1]
    gw, pc = f"gw{n}", f"pc{n}"
    return [
        check("devices icmp ops core", "core", None, answers_snmp=True),
        check("devices snmp ops core", "core", None, answers_icmp=True),
        check("devices uptime ops core", "core", None),
        check("devices interface ops core:up", "isp_upstream", None, admin="up", oper="up"),
        check("devices interface ops core:srv", "core", None, admin="up", oper="up"),
        check("devices counters ops core:p1", "opd_access", "opd1"),
        check("devices interface ops core:p1", "opd_access", "opd1", admin="up", oper="up"),
        check("devices interface ops core:p2", "opd_access", "opd2", admin="up", oper="up"),
        check(f"devices icmp ops {gw}", "opd_gateway", site, answers_snmp=True),
        check(f"devices snmp ops {gw}", "opd_gateway", site, answers_icmp=True),
        check(f"devices interface ops {gw}:wan", "opd_access", site, admin="up", oper="up"),
        check(f"devices interface ops {gw}:lan", "user_lan", site, admin="up", oper="up"),
        check("monitoring monitoring_api ops prometheus", "core", None),
        check(f"monitoring alert ops {gw}", "opd_gateway", site),
        check("monitoring alert ops internet", "isp_upstream", None),
        check("dns dns_query ops dns1/portal.test", "dns", None, name="portal.test"),
        check("dns dns_query ops dns2/portal.test", "dns", None, name="portal.test"),
        check(
            "dns dns_query ops dns1/www.example",
            "dns",
            None,
            name="www.example",
            recursive=True,
        ),
        check(
            "dns dns_query ops dns2/www.example",
            "dns",
            None,
            name="www.example",
            recursive=True,
        ),
        check("dns soa_serial ops dns2/test", "dns", None),
        check(f"connectivity ssh ops {pc}", "user_lan", site),
        check(f"connectivity reach {pc} dns1", "server", site),
        check(f"connectivity reach {pc} app1", "server", site),
        check(f"connectivity reach {pc} 192.0.2.1", "isp_upstream", site, internet=True),
        check(f"connectivity resolve {pc} dns1/portal.test", "dns", site, name="portal.test"),
        check(f"connectivity resolve {pc} dns2/www.example", "dns", site, name="www.example"),
        check(f"connectivity http {pc} http://portal.test/", "server", site),
        check("connectivity http ops http://198.51.100.80/", "server", None),
        check(f"connectivity reach dns1 {gw}", "opd_gateway", site),
        check("connectivity reach dns1 192.0.2.1", "isp_upstream", None, internet=True),
    ]


Fault = Callable[[dict[str, Any]], dict[str, Any] | None]


def _set(status: str, **values: Any) -> Fault:
    def change(c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "status": status, "values": {**c["values"], **values}}

    return change


def _apply(checks: list[dict[str, Any]], rules: list[tuple[Callable[..., bool], Fault]]):
    result = []
    for c in checks:
        changed = c
        for matches, change in rules:
            if matches(changed):
                changed = change(changed)
        result.append(changed)
    return result


def on(
    kind: str | None = None,
    target: str | None = None,
    vantage: str | None = None,
    segment: str | None = None,
) -> Callable[[dict[str, Any]], bool]:
    def matches(c: dict[str, Any]) -> bool:
        return (
            (kind is None or c["check"] == kind)
            and (target is None or c["target"].startswith(target))
            and (vantage is None or c["vantage"] == vantage)
            and (segment is None or c["segment"] == segment)
        )

    return matches


def _cut_site(n: str, port_admin: str = "up") -> list[tuple[Callable[..., bool], Fault]]:
    """The gateway and the user host behind it answer nothing."""
    return [
        (on("interface", f"core:p{n}"), _set("failed", admin=port_admin, oper="down")),
        (on("icmp", f"gw{n}"), _set("failed", answers_snmp=False, core_port_oper="down")),
        (on("snmp", f"gw{n}"), _set("failed", answers_icmp=False, core_port_oper="down")),
        (on("interface", f"gw{n}:"), lambda c: {**c, "status": "unknown"}),
        (on("alert", f"gw{n}"), _set("failed")),
        (on("ssh", f"pc{n}"), _set("failed")),
        (on(vantage=f"pc{n}"), _set("unknown")),
        (on("reach", f"gw{n}", "dns1"), _set("failed")),
    ]


FAULTS: dict[str, list[tuple[Callable[..., bool], Fault]]] = {
    "uplink-down": [
        (on("interface", "core:up"), _set("failed", oper="down")),
        (on(segment="isp_upstream", kind="reach"), _set("failed", loss=100)),
        (
            on(kind="dns_query", target="dns1/www"),
            lambda c: {**_set("failed")(c), "segment": "isp_upstream"},
        ),
        (
            on(kind="dns_query", target="dns2/www"),
            lambda c: {**_set("failed")(c), "segment": "isp_upstream"},
        ),
        (on(kind="resolve", target="dns2/www"), _set("failed", error="SERVFAIL")),
        (on("alert", "internet"), _set("failed")),
    ],
    "uplink-loss": [
        (on(segment="isp_upstream", kind="reach"), _set("degraded", loss=30)),
    ],
    "opd1-access-down": _cut_site("1"),
    "opd2-access-down": _cut_site("2"),
    "gw-down": _cut_site("1"),
    "core-port-admin-down": [
        *_cut_site("2", port_admin="down"),
        (on("interface", "core:p2"), lambda c: {**c, "segment": "core", "site": None}),
    ],
    "dns1-down": [
        (on("dns_query", "dns1/"), _set("failed", error="timeout")),
        (on("resolve", "dns1/"), _set("failed", error="timeout")),
    ],
    "dns-all-down": [
        (on("dns_query"), _set("failed", error="timeout")),
        (on("soa_serial"), _set("failed", error="timeout")),
        (on("resolve"), _set("failed", error="timeout")),
        (on("http", "http://portal"), _set("failed", error="Name or service not known")),
    ],
    "dns1-wrong-answer": [
        (on("dns_query", "dns1/portal"), _set("failed", answer=["203.0.113.9"])),
    ],
    "app1-down": [
        (on("http"), _set("failed", error="connection refused")),
    ],
    "opd1-lan-down": [
        (on("interface", "gw1:lan"), _set("failed", oper="down")),
        (on("ssh", "pc1"), _set("failed")),
        (on(vantage="pc1"), _set("unknown")),
    ],
    "user-host-cut-behind-a-bridge": [
        (on("ssh", "pc1"), _set("failed", error="No route to host")),
        (on(vantage="pc1"), _set("unknown")),
    ],
    "dns2-down": [
        (on("dns_query", "dns2/"), _set("failed", error="timeout")),
        (on("soa_serial", "dns2/"), _set("failed", error="timeout")),
        (on("resolve", "dns2/"), _set("failed", error="timeout")),
    ],
    "gw-snmp-agent-down": [
        (on("snmp", "gw1"), _set("failed", answers_icmp=True)),
    ],
    "user-host-route-missing": [
        (on("reach", vantage="pc1"), _set("failed")),
    ],
    "counters-noise": [
        (on("counters"), _set("degraded", growth={"out_discards": 2})),
    ],
    "availability-below-99-after-heal": [
        (on("alert", "internet"), lambda c: {**c, "check": "availability", "status": "degraded"}),
    ],
    "monitoring-lags-after-heal": [
        (on("alert", "internet"), _set("failed")),
    ],
}


def scenario(site: str, *faults: str, summary: bool = True) -> list[dict[str, Any]]:
    checks = healthy(site)
    for fault in faults:
        checks = _apply(checks, FAULTS[fault])
    return [*checks, _connected_summary(checks, site)] if summary else checks


def _connected_summary(checks: list[dict[str, Any]], site: str) -> dict[str, Any]:
    """Return the "connected" check step 7 makes of the user host's own probes."""
    pc = f"pc{site[-1]}"
    if any(c["check"] == "ssh" and c["target"] == pc and c["status"] == "failed" for c in checks):
        values = {"connected": False, "quality": "failed", "reason": "ssh"}
        return check(
            f"connectivity connected {pc} {pc}", "user_lan", site, status="failed", **values
        )
    reach = [c for c in checks if c["check"] == "reach" and c["vantage"] == pc]
    unreached = [c for c in reach if c["status"] in ("failed", "unknown")]
    lossy = [c for c in reach if c["status"] == "degraded"]
    quality = "failed" if unreached else ("degraded" if lossy else "ok")
    values = {"connected": not unreached, "quality": quality}
    return check(f"connectivity connected {pc} {pc}", "user_lan", site, status=quality, **values)


def facts(site: str) -> SiteFacts:
    return SiteFacts.from_inventory(site, SITES, UPSTREAM)


CONFIRMED_NO_POWER = PhysicalCheck("confirmed", None, {"gw1": "no power, all lights off"})
CONFIRMED_WAN_DARK = PhysicalCheck("confirmed", None, {"gw1": "powered, WAN link light off"})
CONFIRMED_WAN_DARK_2 = PhysicalCheck("confirmed", None, {"gw2": "powered, WAN link light off"})

# fmt: off
# site, faults, physical check, connected, degraded, segments, branch
CASES = [
    pytest.param("opd1", (), None,
                 True, False, [], "completion_report", id="healthy"),
    pytest.param("opd1", ("uplink-down",), None,
                 False, False, ["isp_upstream"], "isp_ticket", id="uplink-down"),
    pytest.param("opd1", ("uplink-loss",), None,
                 True, True, ["isp_upstream"], "isp_ticket",
                 id="uplink-loss-connected-but-degraded"),
    pytest.param("opd1", ("opd1-access-down",), CONFIRMED_WAN_DARK,
                 False, False, ["opd_access"], "isp_ticket",
                 id="leased-access-down-technician-sees-dark-wan"),
    pytest.param("opd1", ("opd1-access-down",), None,
                 False, False, ["opd_access"], "isp_ticket",
                 id="leased-access-down-no-physical-check-yet"),
    pytest.param("opd2", ("opd2-access-down",), CONFIRMED_WAN_DARK_2,
                 False, False, ["opd_access"], "internal_action", id="own-fibre-access-down"),
    pytest.param("opd1", ("gw-down",), CONFIRMED_NO_POWER,
                 False, False, ["opd_gateway"], "internal_action",
                 id="gateway-dead-technician-sees-no-power"),
    pytest.param("opd2", ("core-port-admin-down",), None,
                 False, False, ["core"], "internal_action", id="core-port-admin-down"),
    pytest.param("opd1", ("dns1-down",), None,
                 True, False, ["dns"], "internal_action", id="primary-dns-down"),
    pytest.param("opd1", ("dns-all-down",), None,
                 True, False, ["dns"], "internal_action",
                 id="all-dns-down-http-by-name-explained"),
    pytest.param("opd1", ("dns1-wrong-answer",), None,
                 True, False, ["dns"], "internal_action", id="dns-wrong-answer"),
    pytest.param("opd1", ("app1-down",), None,
                 True, False, ["server"], "internal_action", id="application-down"),
    pytest.param("opd1", ("opd1-lan-down",), None,
                 False, False, ["user_lan"], "internal_action", id="user-lan-down"),
    pytest.param("opd1", ("user-host-cut-behind-a-bridge",), None,
                 False, False, ["user_lan"], "internal_action",
                 id="user-host-unreachable-gateway-answers"),
    pytest.param("opd1", ("dns2-down",), None,
                 True, False, ["dns"], "internal_action", id="secondary-dns-down-not-in-catalog"),
    pytest.param("opd1", ("gw-snmp-agent-down",), None,
                 True, False, ["opd_gateway"], "internal_action",
                 id="snmp-agent-down-device-forwards"),
    pytest.param("opd1", ("dns1-down", "app1-down"), None,
                 True, False, ["dns", "server"], "internal_action",
                 id="two-city-faults-both-reported"),
    pytest.param("opd1", ("dns1-down", "uplink-loss"), None,
                 True, True, ["isp_upstream", "dns"], "isp_ticket",
                 id="isp-fault-wins-the-branch"),
    pytest.param("opd2", ("opd2-access-down", "uplink-down"), CONFIRMED_WAN_DARK_2,
                 False, False, ["isp_upstream", "opd_access"], "isp_ticket",
                 id="own-access-and-upstream-down"),
    pytest.param("opd2", ("opd1-access-down",), None,
                 True, False, [], "completion_report",
                 id="another-sites-fault-not-this-incidents"),
    pytest.param("opd1", ("user-host-route-missing",), None,
                 False, False, ["user_lan"], "internal_action", id="user-side-only-contradiction"),
    pytest.param("opd1", ("counters-noise",), None,
                 True, False, [], "completion_report", id="a-few-discards-alone-make-no-finding"),
]
# fmt: on


@pytest.mark.parametrize(
    ("site", "faults", "physical", "expected"),
    [pytest.param(*case.values[:3], case.values[3:], id=case.id) for case in CASES],
)
def test_verdict_gives_connected_segments_and_branch(site, faults, physical, expected):
    verdict = decide(scenario(site, *faults), facts(site), physical)
    got = (verdict["connected"], verdict["degraded"], verdict["segments"], verdict["branch"])
    assert got == expected, verdict


def test_verdict_names_segment_none_when_healthy():
    verdict = decide(scenario("opd1"), facts("opd1"))
    assert verdict["segment"] == "none"
    assert verdict["findings"] == []
    assert verdict["confidence"] == "high"


def test_verdict_tells_dead_gateway_from_cut_link_only_with_physical_check():
    checks = scenario("opd1", "gw-down")
    undecided = decide(checks, facts("opd1"), PhysicalCheck("pending"))
    dead = decide(checks, facts("opd1"), CONFIRMED_NO_POWER)
    assert undecided["segment"] == "opd_access"
    assert undecided["findings"][0]["alternatives"] == ["opd_gateway"]
    assert undecided["confidence"] == "low"
    assert dead["segment"] == "opd_gateway"
    assert dead["findings"][0]["evidence"][0]["check"] == "physical"
    assert dead["confidence"] == "high"


def test_verdict_keeps_the_user_host_unreachability_as_evidence():
    verdict = decide(scenario("opd1", "opd1-lan-down"), facts("opd1"))
    assert "connected-user-host-unreachable" in verdict["rules"]
    assert verdict["connected_evidence"][0]["check"] == "ssh"


def test_verdict_explains_dns_recursion_by_the_upstream():
    verdict = decide(scenario("opd1", "uplink-down"), facts("opd1"))
    explained = {(c["check"], c["target"]) for c in verdict["consequences"]}
    assert ("resolve", "dns2/www.example") in explained
    assert verdict["findings"][0]["provider"] == "isp_a"
    assert verdict["findings"][0]["circuit_id"] == "UP-1"


def test_verdict_reports_monitoring_alone_as_a_contradiction_not_a_finding():
    verdict = decide(scenario("opd1", "monitoring-lags-after-heal"), facts("opd1"))
    assert verdict["branch"] == "completion_report"
    assert [c["rule"] for c in verdict["contradictions"]] == ["monitoring-alone"]
    assert verdict["confidence"] == "medium"


def test_verdict_takes_the_last_hours_availability_as_history():
    verdict = decide(scenario("opd1", "availability-below-99-after-heal"), facts("opd1"))
    assert (verdict["branch"], verdict["contradictions"]) == ("completion_report", [])
    assert verdict["confidence"] == "high"


def test_verdict_reports_a_user_side_failure_with_a_healthy_network_as_a_contradiction():
    verdict = decide(scenario("opd1", "user-host-route-missing"), facts("opd1"))
    assert "user-side-only" in [c["rule"] for c in verdict["contradictions"]]


def test_verdict_takes_an_unreachable_user_host_as_evidence_not_a_contradiction():
    verdict = decide(scenario("opd1", "user-host-cut-behind-a-bridge"), facts("opd1"))
    assert verdict["contradictions"] == []
    assert verdict["findings"][0]["evidence"][0]["check"] == "ssh"


def test_verdict_with_missing_steps_is_not_high_confidence():
    verdict = decide(scenario("opd1"), facts("opd1"), steps_missing=["dns"])
    assert verdict["confidence"] == "medium"


def test_verdict_without_the_summary_check_reads_the_reach_checks():
    verdict = decide(scenario("opd1", "uplink-down", summary=False), facts("opd1"))
    assert (verdict["connected"], verdict["segment"]) == (False, "isp_upstream")
    assert "connected-reach-failed" in verdict["rules"]


def test_verdict_without_any_check_cannot_say_connected():
    verdict = decide([], facts("opd1"))
    assert verdict["connected"] is None
    assert verdict["branch"] == "internal_action"
    assert verdict["confidence"] == "low"


@pytest.mark.parametrize(
    ("note", "segment"),
    [
        pytest.param("no power / all lights off", "opd_gateway", id="en-no-power"),
        pytest.param("perangkat mati total, tidak menyala", "opd_gateway", id="id-dead"),
        pytest.param("powered, WAN link light off", "opd_access", id="en-wan-dark"),
        pytest.param("menyala, lampu WAN mati", "opd_access", id="id-wan-dark"),
        pytest.param("kabel fiber putus", "opd_access", id="id-fibre-cut"),
    ],
)
def test_physical_observation_table_reads_english_and_indonesian_notes(note, segment):
    row = next(row for row in OBSERVATIONS if row.pattern.search(note))
    assert row.segment == segment


def test_verdict_counts_monitoring_alerts_behind_a_cut_link_as_corroboration():
    verdict = decide(scenario("opd1", "opd1-access-down"), facts("opd1"), CONFIRMED_WAN_DARK)
    assert verdict["contradictions"] == []
    assert verdict["confidence"] == "high"
    corroborating = {(c["step"], c["target"]) for c in verdict["findings"][0]["corroboration"]}
    assert ("monitoring", "gw1") in corroborating
