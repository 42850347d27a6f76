"""The monitoring system's target lists (Prometheus file_sd), made from the lab's topology.

Every target carries the labels the alerting rules and the step-5 playbook
rely on: ``name`` (the inventory name of the host, or the address of the
Internet target), ``role``, ``segment`` (docs/result-contract.md's words) and, for a
site's hosts, ``site``. The jobs of ``monitoring/prometheus.yml`` read
``targets/icmp*.yml``, ``targets/dns*.yml`` and ``targets/http*.yml``.
"""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from runbook_runner.lab.topology import Topology

log = logging.getLogger(__name__)

# The topology's host roles, as the monitoring labels them: (role, segment).
ROLES = {
    "core router": ("core", "core"),
    "site gateway": ("gateway", "opd_gateway"),
    "user host": ("user_host", "user_lan"),
    "primary DNS server": ("dns_server", "dns"),
    "secondary DNS server": ("dns_server", "dns"),
    "application server": ("app_server", "server"),
    "upstream ISP edge": ("isp_edge", "isp_upstream"),
}

Group = dict[str, Any]


def group(target: str, name: str, role: str, segment: str, site: str | None = None) -> Group:
    """Return one file_sd target group of one target."""
    labels = {"name": name, "role": role, "segment": segment}
    if site:
        labels["site"] = site
    return {"targets": [target], "labels": labels}


def lab_targets(topology: Topology) -> dict[str, list[Group]]:
    """Return the target groups of the lab by probe kind: ``icmp``, ``dns`` and ``http``."""
    icmp = [*_hosts(topology), *_internet(topology)]
    dns = [
        group(ns.management_address, ns.name, "dns_server", "dns")
        for ns in topology.namespaces.values()
        if ROLES.get(ns.role, ("", ""))[0] == "dns_server" and "named" in ns.services
    ]
    http = [
        group(f"http://{ns.services['http']['listen']}/", ns.name, "app_server", "server")
        for ns in topology.namespaces.values()
        if ROLES.get(ns.role, ("", ""))[0] == "app_server" and "http" in ns.services
    ]
    return {"icmp": icmp, "dns": dns, "http": http}


def _hosts(topology: Topology) -> Iterator[Group]:
    for ns in topology.namespaces.values():
        if ns.role in ROLES:
            role, segment = ROLES[ns.role]
            yield group(ns.management_address, ns.name, role, segment, ns.site)
        else:
            log.warning("%s: role %r has no monitoring label; not probed", ns.name, ns.role)


def _internet(topology: Topology) -> Iterator[Group]:
    for ns in topology.namespaces.values():
        if ns.role == "upstream ISP edge" and "http" in ns.services:
            address = str(ns.services["http"]["listen"])
            yield group(address, address, "internet", "isp_upstream")


def write_targets(directory: Path, targets: dict[str, list[Group]]) -> list[Path]:
    """Write one file_sd file per probe kind under ``directory``; return the paths.

    Each file is written beside and then renamed over the old one, so
    Prometheus never reads half a file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, groups in targets.items():
        path = directory / f"{kind}.yml"
        temporary = path.with_suffix(".tmp")
        text = yaml.safe_dump(groups, sort_keys=False, default_flow_style=False)
        temporary.write_text(f"# {kind} targets, written by `runbook lab up`\n{text}", "utf-8")
        temporary.replace(path)
        written.append(path)
    return written
