"""The lab's network: namespaces, veth pairs, bridges, addresses and routes.

Building batches the ``ip`` commands: one batch in the root namespace makes
the namespaces and every veth pair, then one batch per namespace gives it
its addresses and routes. Tearing down removes the namespaces (and with them
every interface in them) and the root namespace's side.
"""

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from runbook_runner.lab import _system
from runbook_runner.lab.state import LabDir
from runbook_runner.lab.topology import Endpoint, Namespace, Topology

log = logging.getLogger(__name__)

PREFIX = "bn-"


def build(lab: LabDir, topology: Topology) -> None:
    """Make the namespaces, links, addresses and routes, recording each first.

    Raises:
        LabCommandError: an ``ip`` command fails.
    """
    for name in topology.namespaces:
        lab.record("netns", name)
    lab.record("link", topology.ops.interface)
    _system.ip_batch(_root_lines(topology))
    for ns in topology.namespaces.values():
        _system.ip_batch(namespace_lines(ns), namespace=ns.name)
        if ns.forwarding:
            _set_forwarding(ns.name)
    _build_ops(lab, topology)
    log.info("lab: network of %d namespaces built", len(topology.namespaces))


def _root_lines(topology: Topology) -> list[str]:
    lines = [f"netns add {name}" for name in topology.namespaces]
    for a, b in topology.links:
        lines.append(
            f"link add name {a.interface} netns {a.namespace} type veth"
            f" peer name {b.interface} netns {b.namespace}"
        )
    ops = topology.ops
    lines.append(
        f"link add name {ops.interface} type veth"
        f" peer name {ops.peer.interface} netns {ops.peer.namespace}"
    )
    return lines


def namespace_lines(ns: Namespace) -> list[str]:
    """Return the ``ip`` batch that configures ``ns`` once its interfaces exist."""
    lines = ["link set lo up"]
    for bridge, ports in ns.bridges.items():
        lines.append(f"link add name {bridge} type bridge forward_delay 0 stp_state 0")
        lines.extend(f"link set {port} master {bridge}" for port in ports)
    for interface, addresses in ns.addresses.items():
        lines.extend(f"address replace {address} dev {interface}" for address in addresses)
    lines.extend(f"link set {interface} up" for interface in ns.interfaces())
    lines.extend(route_lines(ns))
    return lines


def route_lines(ns: Namespace) -> list[str]:
    """Return the ``ip`` batch lines that (re)make the routes of ``ns``."""
    return [f"route replace {route.to} via {route.via}" for route in ns.routes]


def _build_ops(lab: LabDir, topology: Topology) -> None:
    ops = topology.ops
    lines = [f"address add {ops.address} dev {ops.interface}", f"link set {ops.interface} up"]
    lines.extend(f"route replace {route.to} via {route.via}" for route in ops.routes)
    lines.append(_unreachable(topology))
    lab.record("route", _unreachable(topology))
    _system.ip_batch(lines)


def _unreachable(topology: Topology) -> str:
    ops = topology.ops
    return f"route add unreachable {ops.unreachable_to} metric {ops.unreachable_metric}"


def _set_forwarding(namespace: str) -> None:
    with entered(namespace):
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")


@contextlib.contextmanager
def entered(namespace: str) -> Iterator[None]:
    """Run the body with this thread inside the network namespace ``namespace``.

    Only ``/proc/sys/net`` and sockets opened in the body see the namespace;
    the thread returns to its own namespace afterwards, also on error.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(_system.NETNS_DIR / namespace, os.O_RDONLY)
    try:
        os.setns(target, os.CLONE_NEWNET)
        yield
    finally:
        os.setns(own, os.CLONE_NEWNET)
        os.close(target)
        os.close(own)


def reapply_routes(topology: Topology) -> None:
    """Make every route of the lab again; links that came back up lost theirs."""
    for ns in topology.namespaces.values():
        _system.ip_batch(route_lines(ns), namespace=ns.name, force=True)
    ops = topology.ops
    _system.ip_batch(
        [f"route replace {route.to} via {route.via}" for route in ops.routes], force=True
    )


def lab_namespaces() -> list[str]:
    """Return the existing namespaces whose names start with ``bn-``."""
    return [name for name in _system.namespaces() if name.startswith(PREFIX)]


def namespace_pids(names: list[str]) -> list[int]:
    """Return the processes living in any of the named network namespaces."""
    inodes = set()
    for name in names:
        with contextlib.suppress(OSError):
            inodes.add(os.stat(_system.NETNS_DIR / name).st_ino)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(entry / "ns" / "net").st_ino in inodes:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def teardown(lab: LabDir, topology: Topology | None) -> list[str]:
    """Remove the namespaces and the root side; return what could not be removed.

    Works from the journal and from a sweep of what exists, so a build that
    crashed halfway is undone too. Processes must be ended before.
    """
    names = sorted(
        {name for kind, name in lab.recorded() if kind == "netns"} | set(lab_namespaces())
    )
    interface = topology.ops.interface if topology else "bn-ops"
    routes = {name for kind, name in lab.recorded() if kind == "route"}
    if topology:
        routes.add(_unreachable(topology))
    lines = [f"link del {interface}"]
    lines.extend(route.replace("route add", "route del", 1) for route in sorted(routes))
    lines.extend(f"netns del {name}" for name in names)
    _system.ip_batch(lines, force=True)
    left = [name for name in names if name in _system.namespaces()]
    if Path(f"/sys/class/net/{interface}").exists():
        left.append(interface)
    return left


def forget_neighbours(topology: Topology, endpoints: list[Endpoint]) -> None:
    """Flush the neighbour entries of both ends of each link.

    While a link is down, addresses behind it end up INCOMPLETE, and the
    kernel retries them only once a second: without the flush, the first
    packets after a heal wait up to a second for an ARP answer.
    """
    by_namespace: dict[str, list[str]] = {}
    for endpoint in endpoints:
        for end in peers(topology, endpoint):
            by_namespace.setdefault(end.namespace, []).append(end.interface)
    for namespace, interfaces in by_namespace.items():
        lines = [f"neigh flush dev {name}" for name in dict.fromkeys(interfaces)]
        _system.ip_batch(lines, namespace=namespace, force=True)


def operstates(namespace: str) -> dict[str, str]:
    """Return each interface of ``namespace`` with its operational state (``UP``...)."""
    result = _system.run(["ip", "-n", namespace, "-j", "link", "show"], check=False)
    try:
        links = json.loads(result.stdout or "[]")
    except ValueError:
        return {}
    return {link["ifname"]: link.get("operstate", "UNKNOWN") for link in links}


def peers(topology: Topology, endpoint: Endpoint) -> list[Endpoint]:
    """Return ``endpoint`` and the other end of its link (nothing for the ops side)."""
    for a, b in topology.links:
        if endpoint in (a, b):
            return [a, b]
    return [endpoint]


def wait_links(
    topology: Topology, endpoints: list[Endpoint], *, up: bool, timeout: float = 3.0
) -> bool:
    """Wait until both ends of each link are operationally up (or not); tell if they are.

    The kernel reports a carrier change up to a second late after a recent
    one, and until then a link that was set up still drops every packet.
    """
    ends = {end for endpoint in endpoints for end in peers(topology, endpoint)}
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        states: dict[str, dict[str, str]] = {}
        for end in ends:
            if end.namespace not in states:
                states[end.namespace] = operstates(end.namespace)
        waiting = [end for end in ends if (states[end.namespace].get(end.interface) == "UP") != up]
        if not waiting:
            return True
        if time.monotonic() > deadline:
            log.warning("lab: links still not %s: %s", "up" if up else "down", waiting)
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
