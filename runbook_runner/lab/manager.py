"""Bring the lab up and down, report on it, inject and heal its faults.

Every public function here takes the lab's command lock, so two ``runbook
lab`` commands never interleave. ``up`` writes down what it makes before it
makes it; ``down`` works from that record and from a sweep of what exists,
so it also cleans up after an ``up`` that crashed halfway.
"""

import contextlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runbook_runner.errors import ConfigError, RunbookError
from runbook_runner.lab import _system, faults, monitoring, network, scale, services
from runbook_runner.lab.state import LabDir, lab_dir
from runbook_runner.lab.topology import Topology, load

log = logging.getLogger(__name__)

SSHD_RUNTIME_DIR = Path("/run/sshd")


class LabNotUpError(RunbookError):
    """The command needs the lab and the lab is not up."""


class LabEnvironmentError(RunbookError):
    """This machine cannot run the lab: not root, or no network namespaces."""


def _lab() -> LabDir:
    return LabDir(lab_dir())


def _preflight() -> None:
    if os.geteuid() != 0:
        raise LabEnvironmentError(
            "lab: must run as root (it makes network namespaces and starts daemons)",
            hint="Run it again with sudo, or as root.",
        )
    if not Path("/proc/self/ns/net").exists():
        raise LabEnvironmentError(
            "lab: this kernel has no network namespaces",
            hint="Run the lab on a Linux machine with CONFIG_NET_NS.",
        )


def is_up(lab: LabDir | None = None) -> bool:
    """Tell whether the lab is up: built completely and its namespaces there."""
    lab = lab or _lab()
    state = lab.read_state()
    return state.get("phase") == "up" and "bn-core" in network.lab_namespaces()


def topology_of(lab: LabDir) -> Topology:
    """Return the topology of the running lab, without the scale sites.

    Faults, heal and status need only these; ``down`` sweeps the scale
    sites with every other ``bn-`` namespace.

    Raises:
        ConfigError: the topology file cannot be read.
    """
    return load()


def up(extra_sites: int = 0) -> bool:
    """Build the lab and start its daemons; return False when it was up already.

    Raises:
        LabEnvironmentError: not root, or network namespaces cannot be made.
        ConfigError: the topology file is wrong.
        LabCommandError: a system command fails (run ``lab down`` to clean up).
        ServiceError: a daemon does not become ready.
    """
    _preflight()
    lab = _lab()
    with lab.locked():
        if is_up(lab):
            log.info("lab: already up")
            return False
        # Extra sites are the scale lab's lightweight ones (lab/scale.py), built on top.
        topology = load()
        if _leftovers(lab):
            log.warning("lab: removing what a previous lab left behind")
            _down(lab)
        started = time.monotonic()
        _build(lab, topology)
        scale.build(lab, topology, extra_sites)
        log.info("lab: up in %.2f s", time.monotonic() - started)
    return True


def _leftovers(lab: LabDir) -> bool:
    return (
        lab.root.exists()
        or bool(network.lab_namespaces())
        or Path("/sys/class/net/bn-ops").exists()
    )


def _build(lab: LabDir, topology: Topology) -> None:
    lab.make()
    lab.write_state(
        phase="building",
        zone_serial=services.zone_serial(),
        since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    if not SSHD_RUNTIME_DIR.exists():
        lab.record("dir", str(SSHD_RUNTIME_DIR))
        SSHD_RUNTIME_DIR.mkdir(mode=0o755)
    try:
        network.build(lab, topology)
    except _system.LabCommandError as error:
        if not network.lab_namespaces():
            _down(lab)
            raise LabEnvironmentError(
                f"lab: cannot make network namespaces here: {_first_line(error.stderr)}",
                hint="Run as root on a host (or a privileged container) that allows them.",
            ) from error
        raise
    credentials = services.make_credentials(lab)
    services.write_files(lab, topology, credentials)
    _start_services(lab, topology)
    monitoring.start(lab.root, topology)
    lab.write_state(phase="up")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no message")


def _start_services(lab: LabDir, topology: Topology) -> None:
    first, second = [], []
    for namespace, service in topology.services():
        options = topology.namespaces[namespace].services[service]
        stage = second if options.get("role") == "secondary" else first
        stage.append((namespace, service))
    for batch in (first, second):
        for namespace, service in batch:
            services.start(lab, topology.namespaces[namespace], service)
        services.wait_ready(lab, topology, batch)


def down() -> list[str]:
    """Remove everything the lab made; return what could not be removed.

    Raises:
        LabEnvironmentError: not root.
    """
    _preflight()
    lab = _lab()
    with lab.locked():
        started = time.monotonic()
        left = _down(lab)
        log.info("lab: down in %.2f s", time.monotonic() - started)
    return left


def _down(lab: LabDir) -> list[str]:
    topology: Topology | None
    try:
        topology = topology_of(lab)
    except ConfigError:
        topology = None
    try:
        monitoring.stop(lab.root)
    except Exception:
        log.exception("lab: the monitoring system did not stop cleanly")
    _end_lab_processes(lab)
    left = network.teardown(lab, topology)
    for kind, name in lab.recorded():
        if kind == "dir":
            with contextlib.suppress(OSError):
                Path(name).rmdir()
    shutil.rmtree(lab.root, ignore_errors=True)
    if lab.root.exists():
        left.append(str(lab.root))
    return left


def _end_lab_processes(lab: LabDir) -> None:
    pids = set(network.namespace_pids(network.lab_namespaces()))
    for path, pid in lab.pids().items():
        service = path.name.split(".")[-2]
        if services.pid_of(lab, path.name.rsplit(".", 2)[0], service) == pid:
            pids.add(pid)
    pids.discard(os.getpid())
    _system.end_processes(sorted(pids))


def status() -> dict[str, Any]:
    """Return what is up: the namespaces, each daemon, the active faults."""
    lab = _lab()
    state = lab.read_state()
    present = network.lab_namespaces()
    report: dict[str, Any] = {
        "up": is_up(lab),
        "phase": state.get("phase", "down"),
        "since": state.get("since"),
        "lab_dir": str(lab.root),
        "scale_sites": int(state.get("scale_sites", 0)),
        "namespaces": present,
        "faults": lab.active_faults(),
        "services": {},
    }
    if not present and not lab.root.exists():
        return report
    try:
        topology = topology_of(lab)
    except ConfigError:
        return report
    for namespace, service in topology.services():
        pid = services.pid_of(lab, namespace, service)
        report["services"][f"{namespace}:{service}"] = (
            {"running": True, "pid": pid} if pid else {"running": False}
        )
    return report


def fault(name: str) -> bool:
    """Inject the fault ``name``; return False when it was on already.

    Raises:
        UnknownFaultError: the catalog has no such fault.
        LabNotUpError: the lab is not up.
    """
    _preflight()
    lab = _lab()
    with lab.locked():
        topology = _running_topology(lab)
        return faults.inject(lab, topology, faults.lookup(topology, name))


def heal(name: str | None = None) -> list[str]:
    """Heal the fault ``name``, or every fault; return the names healed.

    Raises:
        UnknownFaultError: the catalog has no such fault.
        LabNotUpError: the lab is not up.
    """
    _preflight()
    lab = _lab()
    with lab.locked():
        topology = _running_topology(lab)
        names = lab.active_faults() if name is None else [faults.lookup(topology, name).name]
        return faults.heal(lab, topology, names)


def fault_catalog() -> dict[str, str]:
    """Return the catalog: each fault's name and what happens."""
    return {name: fault.description for name, fault in load().faults.items()}


def _running_topology(lab: LabDir) -> Topology:
    if not is_up(lab):
        raise LabNotUpError("lab: the lab is not up", hint="Bring it up with `runbook lab up`.")
    return topology_of(lab)


def host_command(host: str, argv: Sequence[str]) -> list[str]:
    """Return the command line running ``argv`` as lab host ``host``.

    Raises:
        LabNotUpError: the host's namespace does not exist.
    """
    lab = _lab()
    if host not in network.lab_namespaces() or not lab.host(host).is_dir():
        raise LabNotUpError(
            f"lab: no lab host {host!r}",
            hint=f"Lab hosts: {', '.join(network.lab_namespaces()) or 'none, the lab is down'}.",
        )
    return _system.host_argv(host, host, lab.host(host), argv)


def execute(host: str, argv: Sequence[str]) -> int:
    """Run ``argv`` as lab host ``host`` with this terminal; return its exit code.

    Raises:
        LabNotUpError: the host's namespace does not exist.
    """
    _preflight()
    return subprocess.call(host_command(host, argv))
