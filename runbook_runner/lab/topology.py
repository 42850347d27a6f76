"""The lab's topology: ``lab/topology.yml`` read into plain objects.

The file is the lab; this module only reads it and checks that it holds
together (names, addresses, references). Nothing here touches the system.
The scale lab's extra sites are added as data by ``scale.extend``.
"""

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook_runner.errors import ConfigError
from runbook_runner.settings import PROJECT_DIR

log = logging.getLogger(__name__)

DEFAULT_TOPOLOGY = PROJECT_DIR / "lab" / "topology.yml"
LAB_NETWORK = ipaddress.ip_network("198.18.0.0/15")
MAX_IFNAME = 15
FAULT_ACTIONS = ("link_down", "loss", "stop", "wrong_record")
SERVICES = ("sshd", "snmpd", "named", "http")


@dataclass(frozen=True)
class Endpoint:
    """One end of a link, or the place of an action: an interface in a namespace."""

    namespace: str
    interface: str

    @classmethod
    def parse(cls, text: str) -> "Endpoint":
        """Read ``namespace:interface``.

        Raises:
            ConfigError: the text has no colon.
        """
        namespace, sep, interface = str(text).partition(":")
        if not sep or not namespace or not interface:
            raise ConfigError(
                f"lab topology: {text!r} is not namespace:interface",
                hint="Write link ends and fault targets as bn-core:uplink.",
            )
        return cls(namespace, interface)

    def __str__(self) -> str:
        return f"{self.namespace}:{self.interface}"


@dataclass(frozen=True)
class Route:
    """A route in a namespace: ``to`` a prefix ``via`` a next hop."""

    to: str
    via: str


@dataclass(frozen=True)
class Namespace:
    """A lab host: a network namespace with its addresses, routes and daemons."""

    name: str
    role: str
    site: str | None
    forwarding: bool
    addresses: Mapping[str, tuple[str, ...]]
    bridges: Mapping[str, tuple[str, ...]]
    routes: tuple[Route, ...]
    services: Mapping[str, Mapping[str, Any]]
    resolvers: tuple[str, ...]

    @property
    def management_address(self) -> str:
        """Return the first address not on ``lo``, without its prefix length."""
        for interface, addresses in self.addresses.items():
            if interface != "lo" and addresses:
                return addresses[0].split("/")[0]
        raise ConfigError(f"lab topology: {self.name} has no address outside lo")

    def interfaces(self) -> list[str]:
        """Return the interfaces the lab makes here (bridges first, then the rest)."""
        names = [*self.bridges, *self.addresses]
        for ports in self.bridges.values():
            names.extend(ports)
        return list(dict.fromkeys(name for name in names if name != "lo"))


@dataclass(frozen=True)
class FaultAction:
    """One thing a fault does: ``kind`` at ``target`` with ``params``."""

    kind: str
    target: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Return what the action acts on; two faults with the same key share it."""
        return f"{self.kind}:{self.target}"


@dataclass(frozen=True)
class Fault:
    """A fault of the catalog: a name, what happens and the actions that make it."""

    name: str
    description: str
    actions: tuple[FaultAction, ...]


@dataclass(frozen=True)
class Ops:
    """The ops host: the root namespace's side of the lab."""

    interface: str
    address: str
    peer: Endpoint
    routes: tuple[Route, ...]
    unreachable_to: str
    unreachable_metric: int


@dataclass(frozen=True)
class Topology:
    """The whole lab as the topology file describes it."""

    ops: Ops
    resolvers: tuple[str, ...]
    search_domain: str
    namespaces: Mapping[str, Namespace]
    links: tuple[tuple[Endpoint, Endpoint], ...]
    dns: Mapping[str, Any]
    faults: Mapping[str, Fault]

    def services(self) -> list[tuple[str, str]]:
        """Return every (namespace, service) pair of the lab."""
        return [(ns.name, service) for ns in self.namespaces.values() for service in ns.services]

    def bridge_of(self, endpoint: Endpoint) -> str | None:
        """Return the bridge the interface is a port of, if any."""
        bridges = self.namespaces[endpoint.namespace].bridges
        for bridge, ports in bridges.items():
            if endpoint.interface in ports:
                return bridge
        return None


def load(path: Path = DEFAULT_TOPOLOGY) -> Topology:
    """Read the topology file.

    Raises:
        ConfigError: the file is missing, is not YAML, or does not hold together.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(
            f"lab topology: cannot read {path}: {error}",
            hint="Restore lab/topology.yml from the repository.",
        ) from error
    if not isinstance(data, dict):
        raise ConfigError(f"lab topology: {path} is not a mapping")
    topology = _build(data)
    _check(topology)
    return topology


def _build(data: Mapping[str, Any]) -> Topology:
    try:
        resolvers = tuple(data["resolvers"])
        ops_data = data["ops"]
        ops = Ops(
            interface=ops_data["interface"],
            address=ops_data["address"],
            peer=Endpoint.parse(ops_data["peer"]),
            routes=tuple(Route(**route) for route in ops_data["routes"]),
            unreachable_to=ops_data["unreachable"]["to"],
            unreachable_metric=int(ops_data["unreachable"]["metric"]),
        )
        namespaces = {
            name: _namespace(name, spec, resolvers) for name, spec in data["namespaces"].items()
        }
        links = tuple((Endpoint.parse(a), Endpoint.parse(b)) for a, b in data["links"])
        faults = {name: _fault(name, spec) for name, spec in data["faults"].items()}
        return Topology(
            ops=ops,
            resolvers=resolvers,
            search_domain=data["search_domain"],
            namespaces=namespaces,
            links=links,
            dns=data["dns"],
            faults=faults,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(
            f"lab topology: missing or malformed entry: {error}",
            hint="Compare lab/topology.yml with the repository's version.",
        ) from error


def _namespace(name: str, spec: Mapping[str, Any], resolvers: tuple[str, ...]) -> Namespace:
    return Namespace(
        name=name,
        role=spec.get("role", ""),
        site=spec.get("site"),
        forwarding=bool(spec.get("forwarding", False)),
        addresses={dev: tuple(addrs) for dev, addrs in spec.get("addresses", {}).items()},
        bridges={dev: tuple(ports) for dev, ports in spec.get("bridges", {}).items()},
        routes=tuple(Route(**route) for route in spec.get("routes", [])),
        services={svc: dict(opts or {}) for svc, opts in spec.get("services", {}).items()},
        resolvers=tuple(spec.get("resolvers", resolvers)),
    )


def _fault(name: str, spec: Mapping[str, Any]) -> Fault:
    actions = []
    for item in spec["actions"]:
        kinds = [kind for kind in FAULT_ACTIONS if kind in item]
        if len(kinds) != 1:
            raise ConfigError(
                f"lab topology: fault {name}: action {item} names no single kind",
                hint=f"Use exactly one of {', '.join(FAULT_ACTIONS)}.",
            )
        kind = kinds[0]
        params = {key: value for key, value in item.items() if key != kind}
        actions.append(FaultAction(kind, str(item[kind]), params))
    return Fault(name, spec.get("description", ""), tuple(actions))


def _check(topology: Topology) -> None:
    for ns in topology.namespaces.values():
        _check_namespace(ns)
    for a, b in topology.links:
        for end in (a, b):
            _check_interface(topology, end)
    for fault in topology.faults.values():
        for action in fault.actions:
            _check_action(topology, fault, action)


def _check_namespace(ns: Namespace) -> None:
    if not ns.name.startswith("bn-"):
        raise ConfigError(f"lab topology: namespace {ns.name} does not start with bn-")
    for name in ns.interfaces():
        if len(name) > MAX_IFNAME:
            raise ConfigError(f"lab topology: interface name {ns.name}:{name} is too long")
    for addresses in ns.addresses.values():
        for address in addresses:
            if ipaddress.ip_interface(address).ip not in LAB_NETWORK:
                raise ConfigError(
                    f"lab topology: {ns.name} address {address} is outside {LAB_NETWORK}",
                    hint="Every lab address is in 198.18.0.0/15.",
                )
    unknown = set(ns.services) - set(SERVICES)
    if unknown:
        raise ConfigError(f"lab topology: {ns.name} has unknown services {sorted(unknown)}")


def _check_interface(topology: Topology, end: Endpoint) -> None:
    ns = topology.namespaces.get(end.namespace)
    if ns is None:
        raise ConfigError(f"lab topology: link end {end} names an unknown namespace")
    if len(end.interface) > MAX_IFNAME:
        raise ConfigError(f"lab topology: interface name {end} is too long")


def _check_action(topology: Topology, fault: Fault, action: FaultAction) -> None:
    if action.kind in ("link_down", "loss"):
        _check_interface(topology, Endpoint.parse(action.target))
    elif action.kind == "stop":
        end = Endpoint.parse(action.target)
        ns = topology.namespaces.get(end.namespace)
        if ns is None or end.interface not in ns.services:
            raise ConfigError(f"lab topology: fault {fault.name} stops unknown service {end}")
    elif action.target not in topology.namespaces:
        raise ConfigError(f"lab topology: fault {fault.name} names unknown {action.target}")
