"""Every fault of the catalog is seen by a direct probe while on, and gone after heal."""

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from lab.helpers import (
    IF_ADMIN_STATUS,
    SYS_NAME,
    LabAccess,
    dns_answer,
    http_status,
    ping,
    run_in,
    snmp_get,
    soa_serial,
)

pytestmark = pytest.mark.lab

INTERNET = "198.19.255.1"
PORTAL = "portal.batiknet.test"
DNS1, DNS2 = "198.18.10.53", "198.18.10.54"
CORE = "198.18.0.254"
CORE_OPD2_IFINDEX_NAME = "opd2"


def _reaches(address: str) -> bool:
    return ping(address, count=2) > 0


def _uplink_loss_seen(lab: LabAccess) -> bool:
    answered = ping(INTERNET, count=60, interval_ms=10)
    return answered <= 57


def _core_port_admin_status(lab: LabAccess, name: str) -> str | None:
    result = run_in("bn-core", "cat", f"/sys/class/net/{name}/ifindex")
    return snmp_get(lab, CORE, f"{IF_ADMIN_STATUS}.{result.stdout.strip()}", version="3")


# Each row: the fault, and a probe that tells whether the fault shows.
FAULT_PROBES: dict[str, Callable[[LabAccess], bool]] = {
    "uplink-down": lambda lab: not _reaches(INTERNET),
    "uplink-loss": _uplink_loss_seen,
    "opd1-access-down": lambda lab: not _reaches("198.18.1.2"),
    "opd2-access-down": lambda lab: not _reaches("198.18.2.2"),
    "opd3-gw-down": lambda lab: (
        snmp_get(lab, "198.18.3.2", SYS_NAME) is None and not _reaches("198.18.103.10")
    ),
    "core-port-admin-down": lambda lab: (
        _core_port_admin_status(lab, "opd2") in ("2", "down(2)") and not _reaches("198.18.2.2")
    ),
    "dns1-down": lambda lab: (
        dns_answer(DNS1, PORTAL) is None and dns_answer(DNS2, PORTAL) == ["198.18.10.80"]
    ),
    "dns-all-down": lambda lab: (
        dns_answer(DNS1, PORTAL) is None and dns_answer(DNS2, PORTAL) is None
    ),
    "dns1-wrong-answer": lambda lab: (
        dns_answer(DNS1, PORTAL) not in (None, ["198.18.10.80"])
        and dns_answer(DNS2, PORTAL) == ["198.18.10.80"]
    ),
    "app1-down": lambda lab: http_status("http://198.18.10.80/") is None,
    "opd1-lan-down": lambda lab: not _reaches("198.18.101.10") and _reaches("198.18.1.2"),
}


def _healthy(lab: LabAccess) -> list[str]:
    problems = []
    for address in (INTERNET, "198.18.1.2", "198.18.2.2", "198.18.101.10", "198.18.103.10"):
        if ping(address, count=3) != 3:
            problems.append(f"ping {address}")
    if snmp_get(lab, "198.18.3.2", SYS_NAME) != "bn-opd3-gw":
        problems.append("snmp bn-opd3-gw")
    for server in (DNS1, DNS2):
        if dns_answer(server, PORTAL) != ["198.18.10.80"]:
            problems.append(f"dns {server}")
    if soa_serial(DNS1, "batiknet.test") != soa_serial(DNS2, "batiknet.test"):
        problems.append("soa serials differ")
    if http_status("http://198.18.10.80/") != 200:
        problems.append("http bn-app1")
    if _core_port_admin_status(lab, "opd2") not in ("1", "up(1)"):
        problems.append("core opd2 admin status")
    return problems


def test_fault_catalog_matches_the_probes() -> None:
    from runbook_runner.lab.manager import fault_catalog

    assert sorted(fault_catalog()) == sorted(FAULT_PROBES)


@pytest.mark.parametrize("name", sorted(FAULT_PROBES))
def test_fault_is_seen_while_on_and_gone_after_heal(
    lab: LabAccess,
    lab_fault: Callable[[str], AbstractContextManager[None]],
    name: str,
) -> None:
    assert FAULT_PROBES[name](lab) is False, f"{name} shows before it is injected"
    with lab_fault(name):
        assert FAULT_PROBES[name](lab), f"{name} is on but a direct probe does not see it"
    assert _healthy(lab) == [], f"after healing {name}"
