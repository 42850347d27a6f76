"""The scale lab: hundreds of lightweight sites, to measure the health sweep at city size.

``runbook lab up --sites N`` adds N sites to the lab, each a namespace
``bn-s0001``... holding only a gateway that answers ICMP and SNMP v2c (one
snmpd each). They hang off the core through an aggregation switch, the
namespace ``bn-scale``, with one bridge per :data:`SITES_PER_BRIDGE` sites,
so the core gains one port per bridge rather than one per site: bridge ``b``
is the subnet ``198.19.b.0/24`` (inside 198.19.0.0/17, clear of LAB.md's
addresses), the core ``198.19.b.1`` and the sites ``.2`` upwards.

:func:`extend` adds them to a topology as data; :func:`build` makes them
on a lab that is up, starting the snmpd processes at once (each start is a
spawn that does not wait) and then waiting for all of them together.
:func:`write_inventory` writes the Ansible inventory of the scale sites into
the lab directory (``inventory/scale.yml``), to use beside ``inventory/lab``.
``runbook lab down`` removes everything: the scale namespaces are lab
namespaces (``bn-``), their daemons are tracked by pid file and live in them.
"""

import dataclasses
import ipaddress
import logging
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jinja2
import yaml

from runbook_runner.errors import ConfigError
from runbook_runner.lab import _system, network, services
from runbook_runner.lab.state import LabDir
from runbook_runner.lab.topology import Endpoint, Namespace, Route, Topology

log = logging.getLogger(__name__)

SCALE_NETWORK = ipaddress.ip_network("198.19.0.0/17")
SITES_PER_BRIDGE = 200
MAX_SITES = 2000
SWITCH = "bn-scale"
CORE = "bn-core"
ROLE = "scale site gateway"
INVENTORY_FILE = Path("inventory") / "scale.yml"
READY_TIMEOUT = 60.0
# `ip` batches run in parallel threads: each is its own process.
BUILD_WORKERS = 8


def site_key(number: int) -> str:
    """Return the site key of scale site ``number`` (1-based): ``s0001``."""
    return f"s{number:04d}"


def namespace_of(number: int) -> str:
    """Return the namespace (and inventory name) of scale site ``number``: ``bn-s0001``."""
    return f"bn-{site_key(number)}"


def address_of(number: int) -> str:
    """Return the gateway address of scale site ``number``, with its prefix length."""
    bridge, slot = divmod(number - 1, SITES_PER_BRIDGE)
    return f"{SCALE_NETWORK.network_address + bridge * 256 + slot + 2}/24"


def _core_address(bridge: int) -> str:
    return str(SCALE_NETWORK.network_address + bridge * 256 + 1)


def _check_count(count: int) -> None:
    if not 0 <= count <= MAX_SITES:
        raise ConfigError(
            f"lab: {count} scale sites do not fit the address plan",
            hint=f"Ask for 0 to {MAX_SITES} sites.",
        )


def extend(topology: Topology, count: int) -> Topology:
    """Return ``topology`` with ``count`` scale sites, their switch and the core's ports.

    Raises:
        ConfigError: ``count`` is negative or beyond :data:`MAX_SITES`.
    """
    _check_count(count)
    if count == 0:
        return topology
    bridges = (count + SITES_PER_BRIDGE - 1) // SITES_PER_BRIDGE
    namespaces = dict(topology.namespaces)
    core = namespaces[CORE]
    core_addresses = dict(core.addresses)
    switch_ports: dict[str, list[str]] = {f"br{b}": [f"core{b}"] for b in range(bridges)}
    links = list(topology.links)
    for b in range(bridges):
        core_addresses[f"scale{b}"] = (f"{_core_address(b)}/24",)
        links.append((Endpoint(CORE, f"scale{b}"), Endpoint(SWITCH, f"core{b}")))
    for number in range(1, count + 1):
        name, bridge = namespace_of(number), (number - 1) // SITES_PER_BRIDGE
        namespaces[name] = _site_namespace(number, _core_address(bridge))
        switch_ports[f"br{bridge}"].append(site_key(number))
        links.append((Endpoint(SWITCH, site_key(number)), Endpoint(name, "wan")))
    namespaces[CORE] = dataclasses.replace(core, addresses=core_addresses)
    namespaces[SWITCH] = Namespace(
        name=SWITCH,
        role="scale aggregation switch",
        site=None,
        forwarding=False,
        addresses={},
        bridges={bridge: tuple(ports) for bridge, ports in switch_ports.items()},
        routes=(),
        services={},
        resolvers=topology.resolvers,
    )
    return dataclasses.replace(topology, namespaces=namespaces, links=tuple(links))


def _site_namespace(number: int, core_address: str) -> Namespace:
    return Namespace(
        name=namespace_of(number),
        role=ROLE,
        site=site_key(number),
        forwarding=False,
        addresses={"wan": (address_of(number),)},
        bridges={},
        routes=(Route(to="198.18.0.0/15", via=core_address),),
        services={"snmpd": {}},
        resolvers=(),
    )


def scale_namespaces(topology: Topology) -> list[Namespace]:
    """Return the scale sites' namespaces of ``topology``, in site order."""
    return [ns for ns in topology.namespaces.values() if ns.role == ROLE]


# -- Building on a running lab ---------------------------------------------------------------


def build(lab: LabDir, base: Topology, count: int) -> Topology:
    """Add ``count`` scale sites to the lab built from ``base``; return the extended topology.

    Records every namespace in the lab's journal before making it, so
    ``lab down`` removes a build that stops halfway.

    Raises:
        ConfigError: ``count`` does not fit the address plan.
        LabCommandError: an ``ip`` command fails.
        ServiceError: an snmpd does not start or answer in time.
    """
    topology = extend(base, count)
    if count == 0:
        return topology
    started = time.monotonic()
    sites = scale_namespaces(topology)
    for name in [SWITCH, *(ns.name for ns in sites)]:
        lab.record("netns", name)
    _system.ip_batch(_root_lines(topology, base))
    _configure(topology, [topology.namespaces[SWITCH], *sites])
    core_lines = [
        line
        for interface in topology.namespaces[CORE].addresses
        if interface not in base.namespaces[CORE].addresses
        for line in (
            f"address replace {topology.namespaces[CORE].addresses[interface][0]} dev {interface}",
            f"link set {interface} up",
        )
    ]
    _system.ip_batch(core_lines, namespace=CORE)
    built = time.monotonic()
    pids = _start_snmpd(lab, sites)
    write_inventory(lab.root / INVENTORY_FILE, count)
    memory = memory_kib(pids)
    lab.write_state(scale_sites=count, scale_snmpd_kib=memory)
    log.info(
        "lab: %d scale sites: network %.1f s, %d snmpd %.1f s, RSS %d MiB, PSS %d MiB",
        count,
        built - started,
        len(pids),
        time.monotonic() - built,
        memory["rss"] // 1024,
        memory["pss"] // 1024,
    )
    return topology


def _root_lines(topology: Topology, base: Topology) -> list[str]:
    new = [name for name in topology.namespaces if name not in base.namespaces]
    lines = [f"netns add {name}" for name in new]
    for a, b in topology.links[len(base.links) :]:
        lines.append(
            f"link add name {a.interface} netns {a.namespace} type veth"
            f" peer name {b.interface} netns {b.namespace}"
        )
    return lines


def _configure(topology: Topology, namespaces: list[Namespace]) -> None:
    with ThreadPoolExecutor(BUILD_WORKERS) as pool:
        list(pool.map(_configure_one, namespaces))


def _configure_one(ns: Namespace) -> None:
    # IPv4 only: without it, the neighbour discovery of hundreds of hosts on
    # one bridge shows up as discards on every site's port.
    with network.entered(ns.name):
        for scope in ("all", "default"):
            Path(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6").write_text("1\n")
    _system.ip_batch(network.namespace_lines(ns), namespace=ns.name)


def _snmpd_config(template: jinja2.Template, ns: Namespace, creds: services.Credentials) -> str:
    return template.render(
        namespace=ns,
        community=creds.community,
        v3_user=creds.v3_user,
        v3_auth_key=creds.v3_auth_key,
        v3_priv_key=creds.v3_priv_key,
    )


def _start_snmpd(lab: LabDir, sites: list[Namespace]) -> list[int]:
    creds = services.read_credentials(lab)
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(services.TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    ).get_template("snmpd.conf.j2")
    pids = {}
    for ns in sites:
        host_dir = lab.host(ns.name)
        (host_dir / "snmp").mkdir(mode=0o700, parents=True, exist_ok=True)
        config = host_dir / "snmpd.conf"
        config.write_text(_snmpd_config(template, ns, creds), encoding="utf-8")
        config.chmod(0o600)
        # nsenter only enters the network namespace: lighter than `ip netns
        # exec` and the private /etc of the full lab hosts, which snmpd with
        # its own configuration file does not need.
        argv = [
            "nsenter", f"--net={_system.NETNS_DIR / ns.name}", "--",
            "/usr/sbin/snmpd", "-f", "-Lo", "-C", "-c", str(config),
        ]  # fmt: skip
        env = {"SNMP_PERSISTENT_DIR": str(host_dir / "snmp"), "MIBS": ""}
        pid = _system.spawn(argv, lab.log_file(ns.name, "snmpd"), env)
        lab.pid_file(ns.name, "snmpd").write_text(f"{pid}\n", encoding="utf-8")
        pids[ns.name] = pid
    _wait_listening(lab, pids)
    return list(pids.values())


def _wait_listening(lab: LabDir, pids: Mapping[str, int]) -> None:
    pending = dict(pids)
    deadline = time.monotonic() + READY_TIMEOUT
    delay = 0.01
    while pending:
        dead = [name for name, pid in pending.items() if _system.process_name(pid) is None]
        if dead:
            raise services.ServiceError(
                f"lab: snmpd exited on start in {', '.join(dead[:5])}",
                [f"{name}:snmpd" for name in dead],
                hint=f"See the logs under {lab.logs}, then `runbook lab down`.",
            )
        pending = {
            name: pid for name, pid in pending.items() if not _system.listening(pid, "udp", 161)
        }
        if not pending:
            return
        if time.monotonic() > deadline:
            raise services.ServiceError(
                f"lab: {len(pending)} scale snmpd not listening after {READY_TIMEOUT:.0f} s",
                [f"{name}:snmpd" for name in pending],
                hint=f"See the logs under {lab.logs}, then `runbook lab down`.",
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def memory_kib(pids: Iterable[int]) -> dict[str, int]:
    """Return the summed RSS and PSS (KiB) of ``pids``, read from ``/proc``; gone ones count 0."""
    total = {"rss": 0, "pss": 0}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss"):
                total[key.lower()] += int(rest.split()[0])
    return total


# -- The inventory ---------------------------------------------------------------------------


def inventory(count: int) -> dict[str, Any]:
    """Return the Ansible inventory of the first ``count`` scale sites.

    Their gateways join ``site_gateways`` (and so ``network_devices``); the
    lab inventory's group variables give them the SNMP v2c community.

    Raises:
        ConfigError: ``count`` does not fit the address plan.
    """
    _check_count(count)
    hosts = {
        namespace_of(n): {
            "ansible_host": address_of(n).split("/")[0],
            "batiknet_site": site_key(n),
            "batiknet_required_interfaces": ["wan"],
        }
        for n in range(1, count + 1)
    }
    return {
        "all": {
            "children": {
                "network_devices": {"children": {"site_gateways": {"hosts": hosts}}},
            }
        }
    }


def write_inventory(path: Path, count: int) -> Path:
    """Write the inventory of the first ``count`` scale sites to ``path``; return it.

    Raises:
        ConfigError: ``count`` does not fit the address plan.
        OSError: the file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# The scale sites of the lab (`runbook lab up --sites N`); use it beside the\n"
        "# lab inventory: -i inventory/lab -i this file.\n"
    )
    text = header + yaml.safe_dump(inventory(count), sort_keys=False)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path
