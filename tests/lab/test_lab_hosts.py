"""Every lab host answers where LAB.md says: SSH, SNMP v2c and v3, DNS, HTTP, ICMP."""

import subprocess

import pytest

from lab.helpers import (
    IF_NAME,
    IF_OPER_STATUS,
    SYS_NAME,
    LabAccess,
    dns_answer,
    http_status,
    ping,
    snmp_get,
    snmp_walk,
    soa_serial,
    ssh,
)

pytestmark = pytest.mark.lab

SSH_HOSTS = {
    "bn-dns1": "198.18.10.53",
    "bn-dns2": "198.18.10.54",
    "bn-app1": "198.18.10.80",
    "bn-opd1-pc": "198.18.101.10",
    "bn-opd2-pc": "198.18.102.10",
    "bn-opd3-pc": "198.18.103.10",
}
SNMP_AGENTS = {
    "bn-core": ("198.18.0.254", {"ops", "uplink", "srv", "opd1", "opd2", "opd3"}),
    "bn-opd1-gw": ("198.18.1.2", {"wan", "lan"}),
    "bn-opd2-gw": ("198.18.2.2", {"wan", "lan"}),
    "bn-opd3-gw": ("198.18.3.2", {"wan", "lan"}),
}
DNS_SERVERS = ["198.18.10.53", "198.18.10.54"]


@pytest.mark.parametrize("host", sorted(SSH_HOSTS))
def test_ssh_with_the_lab_key_reaches_the_host_by_its_own_name(lab: LabAccess, host: str) -> None:
    result = ssh(lab, SSH_HOSTS[host], "hostname; grep -c nameserver /etc/resolv.conf")
    assert result.returncode == 0, result.stderr
    name, resolvers = result.stdout.split()
    assert (name, resolvers) == (host, "2")


def test_ssh_refuses_a_password_login(lab: LabAccess) -> None:
    result = ssh(lab, "198.18.10.53", "true")
    assert result.returncode == 0, result.stderr
    config = (lab.root / "hosts" / "bn-dns1" / "sshd_config").read_text()
    assert "PasswordAuthentication no" in config
    assert "PermitRootLogin prohibit-password" in config


@pytest.mark.parametrize("version", ["2c", "3"])
@pytest.mark.parametrize("agent", sorted(SNMP_AGENTS))
def test_snmp_sysname_is_the_device_name(lab: LabAccess, agent: str, version: str) -> None:
    address, _ = SNMP_AGENTS[agent]
    assert snmp_get(lab, address, SYS_NAME, version=version) == agent


@pytest.mark.parametrize("agent", sorted(SNMP_AGENTS))
def test_snmp_if_mib_names_every_interface_up(lab: LabAccess, agent: str) -> None:
    address, expected = SNMP_AGENTS[agent]
    names = snmp_walk(lab, address, IF_NAME)
    oper = snmp_walk(lab, address, IF_OPER_STATUS)
    up = {name for index, name in names.items() if oper.get(index) in ("1", "up(1)")}
    assert expected <= up, f"names {names}, oper status {oper}"


def test_snmp_secrets_are_private_and_a_wrong_community_gets_nothing(lab: LabAccess) -> None:
    for secret in (lab.root / "secrets").iterdir():
        assert secret.stat().st_mode & 0o077 == 0, secret
    result = subprocess.run(
        ["snmpget", "-v2c", "-c", "public", "-t", "0.3", "-r", "0", "198.18.0.254", SYS_NAME],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "bn-core" not in result.stdout


@pytest.mark.parametrize("server", DNS_SERVERS)
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("portal.batiknet.test", ["198.18.10.80"]),
        ("ns1.batiknet.test", ["198.18.10.53"]),
        ("ns2.batiknet.test", ["198.18.10.54"]),
        ("www.internet.test", ["198.19.255.1"]),
    ],
)
def test_dns_servers_answer_internal_and_recursive_names(
    lab: LabAccess, server: str, name: str, expected: list[str]
) -> None:
    assert dns_answer(server, name) == expected


def test_dns_secondary_has_the_primary_serial(lab: LabAccess) -> None:
    primary = soa_serial("198.18.10.53", "batiknet.test")
    assert primary is not None
    assert soa_serial("198.18.10.54", "batiknet.test") == primary


def test_user_host_resolves_through_the_city_resolvers(lab: LabAccess) -> None:
    result = ssh(lab, SSH_HOSTS["bn-opd1-pc"], "getent hosts portal.batiknet.test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "198.18.10.80"


@pytest.mark.parametrize("url", ["http://198.18.10.80/", "http://198.19.255.1/"])
def test_http_answers(lab: LabAccess, url: str) -> None:
    assert http_status(url) == 200


@pytest.mark.parametrize("address", ["198.18.0.254", "198.18.9.2", "198.19.255.1", "198.18.103.10"])
def test_ops_host_reaches_the_lab(lab: LabAccess, address: str) -> None:
    assert ping(address, count=2) == 2


def test_user_host_reaches_the_servers_and_the_internet(lab: LabAccess) -> None:
    for address in ("198.18.10.53", "198.18.10.80", "198.19.255.1"):
        assert ping(address, count=2, namespace="bn-opd2-pc") == 2, address
