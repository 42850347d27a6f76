"""The topology file holds together; extra sites come from its template (no lab needed)."""

import ipaddress
import re
from pathlib import Path

import pytest

from runbook_runner.errors import ConfigError
from runbook_runner.lab.topology import DEFAULT_TOPOLOGY, LAB_NETWORK, load


def test_topology_has_the_hosts_and_faults_of_lab_md() -> None:
    topology = load()
    assert set(topology.namespaces) == {
        "bn-core", "bn-isp", "bn-dns1", "bn-dns2", "bn-app1",
        "bn-opd1-gw", "bn-opd1-pc", "bn-opd2-gw", "bn-opd2-pc", "bn-opd3-gw", "bn-opd3-pc",
    }  # fmt: skip
    assert topology.namespaces["bn-core"].management_address == "198.18.0.254"
    assert topology.namespaces["bn-opd2-gw"].management_address == "198.18.2.2"
    assert len(topology.faults) == 11


def test_every_address_and_route_is_in_the_lab_range() -> None:
    topology = load()
    for ns in topology.namespaces.values():
        for addresses in ns.addresses.values():
            assert all(ipaddress.ip_interface(a).ip in LAB_NETWORK for a in addresses)
        for route in ns.routes:
            assert ipaddress.ip_network(route.to).subnet_of(LAB_NETWORK)  # type: ignore[arg-type]
            assert ipaddress.ip_address(route.via) in LAB_NETWORK


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("bn-core:uplink", "bn-isp:uplink"), None),
        (("bn-core:uplink", "bn-nowhere:uplink"), "unknown namespace"),
        (("bn-core:uplink", "bn-isp:an-interface-name-too-long"), "too long"),
    ],
    ids=["valid", "unknown-namespace", "long-interface-name"],
)
def test_a_broken_link_is_refused(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = DEFAULT_TOPOLOGY.read_text().replace(
        "- [bn-core:uplink, bn-isp:uplink]", f"- [{change[0]}, {change[1]}]"
    )
    path = tmp_path / "topology.yml"
    path.write_text(text)
    if message is None:
        load(path)
        return
    with pytest.raises(ConfigError, match=message):
        load(path)


def test_an_address_outside_the_lab_range_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "topology.yml"
    path.write_text(DEFAULT_TOPOLOGY.read_text().replace("198.18.9.2/30", "192.0.2.2/30"))
    with pytest.raises(ConfigError, match=re.escape("outside 198.18.0.0/15")):
        load(path)
