"""SOP step 7 on the lab: the real playbook from the user hosts and the servers, real faults.

Each test runs playbooks/step7_connectivity.yml through ansible-runner and
asserts on the checks it published with set_stats, with the run's output as
the assertion message.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import run_output, run_step

from runbook_runner.checks import validate_checks

PLAYBOOK = "step7_connectivity.yml"
SERVERS = ("bn-dns1", "bn-dns2", "bn-app1")
USER_HOSTS = {"opd1": "bn-opd1-pc", "opd2": "bn-opd2-pc", "opd3": "bn-opd3-pc"}
UPSTREAM = ("bn-isp", "198.19.255.1")

Fault = Callable[[str], AbstractContextManager[None]]
Check = dict[str, Any]

pytestmark = pytest.mark.lab


def not_ok(checks: list[Check]) -> list[str]:
    return [
        f"{c['status']} {c['check']} {c['vantage']}->{c['target']} ({c['segment']}): {c['message']}"
        for c in checks
        if c["status"] != "ok"
    ]


def connected(checks: list[Check]) -> dict[str, bool]:
    """Return the connected answer per vantage point."""
    return {c["vantage"]: c["values"]["connected"] for c in checks if c["check"] == "connected"}


def find(checks: list[Check], kind: str, vantage: str, target: str) -> Check:
    found = [
        c for c in checks if (c["check"], c["vantage"], c["target"]) == (kind, vantage, target)
    ]
    assert len(found) == 1, f"{kind} {vantage}->{target}: {len(found)} checks"
    return found[0]


def test_step7_healthy_lab_every_vantage_is_connected_and_every_check_ok(
    lab: object, tmp_path: Path
) -> None:
    checks, runner = run_step(PLAYBOOK, {}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    assert not not_ok(checks), output
    assert connected(checks) == dict.fromkeys([*USER_HOSTS.values(), *SERVERS], True), output
    for host in [*USER_HOSTS.values(), *SERVERS]:
        kinds = {c["check"] for c in checks if c["vantage"] == host}
        assert kinds == {"reach", "resolve", "http", "connected"}, output
        assert find(checks, "ssh", "ops", host)["status"] == "ok", output
    opd1 = [c for c in checks if c["vantage"] == "bn-opd1-pc"]
    assert {c["site"] for c in opd1} == {"opd1"}, output
    gateway = find(checks, "reach", "bn-opd1-pc", "bn-opd1-gw")
    assert gateway["values"]["address"] == "198.18.101.1", output
    assert gateway["segment"] == "user_lan", output
    from_server = find(checks, "reach", "bn-app1", "bn-opd1-gw")
    assert (from_server["values"]["address"], from_server["segment"]) == (
        "198.18.1.2",
        "opd_gateway",
    ), output


def test_step7_with_a_site_runs_from_that_site_only_and_the_servers(
    lab: object, tmp_path: Path
) -> None:
    checks, runner = run_step(PLAYBOOK, {"site": "opd2"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    assert set(connected(checks)) == {"bn-opd2-pc", *SERVERS}, output
    gateways = {c["target"] for c in checks if c["check"] == "reach" and c["vantage"] in SERVERS}
    assert "bn-opd2-gw" in gateways and "bn-opd1-gw" not in gateways, output


def test_step7_check_mode_still_probes(lab: object, tmp_path: Path) -> None:
    checks, runner = run_step(PLAYBOOK, {"site": "opd1"}, private_dir=tmp_path, check_mode=True)
    output = run_output(runner)

    assert runner.rc == 0, output
    assert len([c for c in checks if c["check"] == "reach"]) >= 24, output
    assert "changed=1" not in output, output


@dataclass(frozen=True)
class Expect:
    """What step 7 must report under a fault.

    ``must``: (check, status, segment, vantage, target) rows that must be
    there (vantage ``servers`` means from each server); ``segments``: the
    only segments a non-ok check may name; ``connected``: the user host's
    answer.
    """

    site: str
    connected: bool
    segments: set[str]
    must: list[tuple[str, str, str, str, str]] = field(default_factory=list)


def _cut_site(site: str, segments: set[str] | None = None) -> Expect:
    pc, gw = USER_HOSTS[site], f"bn-{site}-gw"
    return Expect(
        site,
        False,
        segments or {"user_lan", "opd_gateway"},
        [
            ("ssh", "failed", "user_lan", "ops", pc),
            ("connected", "failed", "user_lan", pc, pc),
            ("reach", "failed", "opd_gateway", "servers", gw),
            ("traceroute", "failed", "opd_gateway", "servers", gw),
        ],
    )


FAULTS = {
    "uplink-down": Expect(
        "opd1",
        False,
        # Names outside the city's zone no longer resolve: recursion needs the upstream.
        {"isp_upstream", "dns"},
        [
            *[
                ("reach", "failed", "isp_upstream", v, t)
                for v in ("bn-opd1-pc", "servers")
                for t in UPSTREAM
            ],
            ("traceroute", "failed", "isp_upstream", "bn-opd1-pc", "198.19.255.1"),
            ("connected", "failed", "isp_upstream", "servers", "self"),
        ],
    ),
    "opd1-access-down": _cut_site("opd1"),
    "opd2-access-down": _cut_site("opd2"),
    "opd3-gw-down": _cut_site("opd3"),
    "core-port-admin-down": _cut_site("opd2"),
    "opd1-lan-down": Expect(
        "opd1",
        False,
        {"user_lan"},
        [
            ("ssh", "failed", "user_lan", "ops", "bn-opd1-pc"),
            ("reach", "ok", "opd_gateway", "servers", "bn-opd1-gw"),
        ],
    ),
    "dns1-down": Expect(
        "opd1",
        True,
        {"dns"},
        [
            ("resolve", "failed", "dns", v, f"bn-dns1/{name}")
            for v in ("bn-opd1-pc", "servers")
            for name in ("portal.batiknet.test", "www.internet.test")
        ]
        + [("resolve", "ok", "dns", "bn-opd1-pc", "portal.batiknet.test")],
    ),
    "dns-all-down": Expect(
        "opd1",
        True,
        {"dns"},
        [
            ("resolve", "failed", "dns", v, name)
            for v in ("bn-opd1-pc", "servers")
            for name in ("portal.batiknet.test", "www.internet.test")
        ]
        + [("http", "ok", "server", "bn-opd1-pc", "http://198.18.10.80/")],
    ),
    "dns1-wrong-answer": Expect(
        "opd1",
        True,
        {"dns"},
        [("resolve", "failed", "dns", "bn-opd1-pc", "bn-dns1/portal.batiknet.test")],
    ),
    "app1-down": Expect(
        "opd1",
        True,
        {"server"},
        [("http", "failed", "server", v, "http://198.18.10.80/") for v in ("bn-opd1-pc", "servers")]
        + [("reach", "ok", "server", "bn-opd1-pc", "bn-app1")],
    ),
}


def _rows(expect: Expect) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for check, status, segment, vantage, target in expect.must:
        for one in SERVERS if vantage == "servers" else (vantage,):
            if one == target:
                continue  # a server does not ping or trace itself
            rows.append((check, status, segment, one, one if target == "self" else target))
    return rows


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_step7_reports_the_fault_on_its_segment(
    lab: object, lab_fault: Fault, tmp_path: Path, fault: str
) -> None:
    expect = FAULTS[fault]
    with lab_fault(fault):
        checks, runner = run_step(PLAYBOOK, {"site": expect.site}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    for check, status, segment, vantage, target in _rows(expect):
        found = find(checks, check, vantage, target)
        assert (found["status"], found["segment"]) == (status, segment), f"{found}\n{output}"
    stray = not_ok([c for c in checks if c["segment"] not in expect.segments])
    assert not stray, "\n".join(stray) + "\n" + output
    pc = USER_HOSTS[expect.site]
    assert connected(checks)[pc] is expect.connected, "\n".join(not_ok(checks)) + output


def test_step7_uplink_loss_is_degraded_not_cut(
    lab: object, lab_fault: Fault, tmp_path: Path
) -> None:
    with lab_fault("uplink-loss"):
        checks, runner = run_step(PLAYBOOK, {"site": "opd1"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    upstream = [c for c in checks if c["check"] == "reach" and c["target"] in UPSTREAM]
    assert any(c["status"] == "degraded" for c in upstream), output
    assert all(c["status"] != "failed" for c in checks if c["check"] == "reach"), output
    assert {c["segment"] for c in upstream if c["status"] != "ok"} == {"isp_upstream"}, output
    # Recursion through a lossy uplink may time out: names are judged apart.
    stray = not_ok([c for c in checks if c["segment"] not in ("isp_upstream", "dns")])
    assert not stray, "\n".join(stray) + "\n" + output
    assert connected(checks)["bn-opd1-pc"] is True, output
