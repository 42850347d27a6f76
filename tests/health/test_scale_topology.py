"""The scale lab as data: names, addresses and inventory of `runbook lab up --sites N`."""

import ipaddress
from pathlib import Path

import pytest
import yaml

from runbook_runner.errors import ConfigError
from runbook_runner.lab import scale
from runbook_runner.lab.topology import LAB_NETWORK, load


def test_scale_sites_hang_off_the_core_through_one_bridge_per_200_sites() -> None:
    base = load()
    topology = scale.extend(base, 401)

    sites = scale.scale_namespaces(topology)
    switch = topology.namespaces[scale.SWITCH]

    assert [ns.name for ns in sites[:2]] == ["bn-s0001", "bn-s0002"]
    assert sites[-1].name == "bn-s0401" and sites[-1].site == "s0401"
    assert sorted(switch.bridges) == ["br0", "br1", "br2"]
    assert len(switch.bridges["br0"]) == 201  # the core's port and 200 sites
    core_ports = set(topology.namespaces["bn-core"].addresses) - set(
        base.namespaces["bn-core"].addresses
    )
    assert core_ports == {"scale0", "scale1", "scale2"}
    assert all(ns.services == {"snmpd": {}} for ns in sites)
    assert len(topology.links) == len(base.links) + 3 + 401


def test_scale_addresses_are_lab_addresses_clear_of_the_lab_topology() -> None:
    base = load()
    used = {
        ipaddress.ip_interface(address).network
        for ns in base.namespaces.values()
        for addresses in ns.addresses.values()
        for address in addresses
    }
    topology = scale.extend(base, scale.MAX_SITES)
    addresses = [
        ipaddress.ip_interface(ns.addresses["wan"][0]) for ns in scale.scale_namespaces(topology)
    ]

    assert len({a.ip for a in addresses}) == scale.MAX_SITES
    assert all(a.ip in scale.SCALE_NETWORK and a.ip in LAB_NETWORK for a in addresses)
    assert not any(a.network.overlaps(net) for a in addresses for net in used)
    assert addresses[0] == ipaddress.ip_interface("198.19.0.2/24")
    assert addresses[200] == ipaddress.ip_interface("198.19.1.2/24")


@pytest.mark.parametrize("count", [-1, scale.MAX_SITES + 1], ids=["negative", "beyond-plan"])
def test_a_count_outside_the_address_plan_is_refused(count: int) -> None:
    with pytest.raises(ConfigError, match="address plan"):
        scale.extend(load(), count)


def test_the_scale_inventory_adds_gateways_to_the_site_gateways_group(tmp_path: Path) -> None:
    path = scale.write_inventory(tmp_path / "inventory" / "scale.yml", 3)

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    hosts = data["all"]["children"]["network_devices"]["children"]["site_gateways"]["hosts"]

    assert hosts["bn-s0003"] == {
        "ansible_host": "198.19.0.4",
        "batiknet_site": "s0003",
        "batiknet_required_interfaces": ["wan"],
    }
    assert list(hosts) == ["bn-s0001", "bn-s0002", "bn-s0003"]
