"""The lab's faults: inject one from the catalog, heal one or all.

A fault is a list of actions (``lab/topology.yml``). Healing undoes them in
reverse order, except those another fault that stays on also holds: with
``dns1-down`` and ``dns-all-down`` on, healing ``dns1-down`` leaves bn-dns1's
named stopped.
"""

import logging
import os
import signal
import time
from collections.abc import Iterable

import dns.rdatatype

from runbook_runner.errors import UsageError
from runbook_runner.lab import _system, network, services
from runbook_runner.lab.state import LabDir
from runbook_runner.lab.topology import Endpoint, Fault, FaultAction, Topology

log = logging.getLogger(__name__)

LOSS_TABLE = "batiknet_loss"
RELOAD_TIMEOUT = 5.0


class UnknownFaultError(UsageError):
    """The fault name is not in the catalog; ``known`` lists the names that are."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"lab: unknown fault {name!r}",
            hint=f"Known faults: {', '.join(known)}.",
        )
        self.name = name
        self.known = known


def lookup(topology: Topology, name: str) -> Fault:
    """Return the fault of the catalog called ``name``.

    Raises:
        UnknownFaultError: there is none.
    """
    fault = topology.faults.get(name)
    if fault is None:
        raise UnknownFaultError(name, sorted(topology.faults))
    return fault


def inject(lab: LabDir, topology: Topology, fault: Fault) -> bool:
    """Turn ``fault`` on and record it; return False when it was on already.

    Raises:
        LabCommandError: a system command fails.
    """
    active = lab.active_faults()
    if fault.name in active:
        return False
    lab.write_faults([*active, fault.name])
    for action in fault.actions:
        _do(lab, topology, action)
    network.wait_links(topology, _link_ends(fault.actions), up=False)
    log.info("lab: fault %s injected", fault.name)
    return True


def heal(lab: LabDir, topology: Topology, names: list[str]) -> list[str]:
    """Turn the named faults off; return those that were on.

    Raises:
        LabCommandError: a system command fails.
        ServiceError: a restarted daemon does not become ready.
    """
    active = lab.active_faults()
    healing = [name for name in active if name in names]
    staying = [name for name in active if name not in names]
    held = {
        action.key
        for name in staying
        if name in topology.faults
        for action in topology.faults[name].actions
    }
    undo: list[FaultAction] = []
    for name in reversed(healing):
        if name in topology.faults:
            undo.extend(a for a in reversed(topology.faults[name].actions) if a.key not in held)
    # Links, rules and zones first, daemons last: a daemon starts into the
    # healed state, and no reload signal reaches a named still starting.
    undo = sorted(_unique(undo), key=lambda action: action.kind == "stop")
    started: list[tuple[str, str]] = []
    for action in undo:
        started.extend(_undo(lab, topology, action))
    if _link_ends(undo):
        network.reapply_routes(topology)
        network.wait_links(topology, _link_ends(undo), up=True)
        network.forget_neighbours(topology, _link_ends(undo))
    lab.write_faults(staying)
    services.wait_ready(lab, topology, started)
    log.info("lab: healed %s", ", ".join(healing) or "nothing")
    return healing


def _link_ends(actions: Iterable[FaultAction]) -> list[Endpoint]:
    return [Endpoint.parse(a.target) for a in actions if a.kind == "link_down"]


def _unique(actions: list[FaultAction]) -> list[FaultAction]:
    seen: set[str] = set()
    unique = []
    for action in actions:
        if action.key not in seen:
            seen.add(action.key)
            unique.append(action)
    return unique


def _do(lab: LabDir, topology: Topology, action: FaultAction) -> None:
    if action.kind == "link_down":
        end = Endpoint.parse(action.target)
        _system.ip_batch([f"link set {end.interface} down"], namespace=end.namespace)
    elif action.kind == "loss":
        end = Endpoint.parse(action.target)
        _system.run(
            ["ip", "netns", "exec", end.namespace, "nft", "-f", "-"],
            stdin=_loss_rules(end.interface, int(action.params["percent"])),
        )
    elif action.kind == "stop":
        end = Endpoint.parse(action.target)
        services.stop(lab, end.namespace, end.interface)
    else:
        records = {**topology.dns["records"], action.params["name"]: action.params["address"]}
        _reload_zone(lab, topology, records, action.params["name"], action.params["address"])


def _undo(lab: LabDir, topology: Topology, action: FaultAction) -> list[tuple[str, str]]:
    if action.kind == "link_down":
        end = Endpoint.parse(action.target)
        _system.ip_batch([f"link set {end.interface} up"], namespace=end.namespace)
    elif action.kind == "loss":
        end = Endpoint.parse(action.target)
        _system.run(
            ["ip", "netns", "exec", end.namespace, "nft", "delete", "table", "inet", LOSS_TABLE],
            check=False,
        )
    elif action.kind == "stop":
        end = Endpoint.parse(action.target)
        services.start(lab, topology.namespaces[end.namespace], end.interface)
        return [(end.namespace, end.interface)]
    else:
        name = action.params["name"]
        _reload_zone(lab, topology, topology.dns["records"], name, topology.dns["records"][name])
    return []


def _loss_rules(interface: str, percent: int) -> str:
    # Only packets arriving on the interface are dropped, so a ping across
    # the link loses about `percent` % of its round trips, as a user sees it.
    return (
        f"table inet {LOSS_TABLE} {{\n"
        "  chain ingress_loss {\n"
        "    type filter hook prerouting priority -300; policy accept;\n"
        f'    iifname "{interface}" numgen random mod 100 < {percent} drop\n'
        "  }\n"
        "}\n"
    )


def _reload_zone(
    lab: LabDir, topology: Topology, records: dict[str, str], name: str, address: str
) -> None:
    """Rewrite the primary's zone keeping its serial, and reload it if named runs.

    The serial stays as it was, like a hand edit that forgot to raise it: the
    secondary keeps its copy and the serials stay equal.
    """
    primary = topology.namespaces[topology.dns["primary"]]
    server = primary.services["named"]["listen"]
    zone = topology.dns["zone"]
    serial = int(lab.read_state().get("zone_serial") or services.zone_serial())
    path = services.write_zone(lab, topology, records, serial)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    pid = services.pid_of(lab, primary.name, "named")
    if pid is None:
        return
    os.kill(pid, signal.SIGHUP)
    _wait_for_answer(server, f"{name}.{zone}", address)


def _wait_for_answer(server: str, name: str, address: str) -> None:
    deadline = time.monotonic() + RELOAD_TIMEOUT
    delay = 0.01
    while time.monotonic() < deadline:
        answer = services.dns_query(server, name, dns.rdatatype.A, timeout=0.3)
        if answer is not None and any(
            rdata.to_text() == address for rrset in answer.answer for rdata in rrset
        ):
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    log.warning("%s: still no %s -> %s after the zone reload", server, name, address)
