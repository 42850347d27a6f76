#!/usr/bin/python
"""Poll the network devices over ICMP and SNMP, all at once, and judge them.

The Ansible module of SOP step 4 ("physical check of the active devices").
It pings every device once with fping, polls every device over SNMP (v2c or
v3) concurrently with pysnmp's asyncio API, polls the error and discard
counters a second time a few seconds later, and returns the evidence as
check records of docs/result-contract.md. A device that is down is a failed
check, never a failed task.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import math
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.batiknet_check import make_check

try:
    from pysnmp.hlapi.v3arch import asyncio as snmp
except ImportError:  # reported by main() with the library's name
    snmp = None

DOCUMENTATION = r"""
---
module: batiknet_snmp_poll
short_description: Poll network devices over ICMP and SNMP and return check records
description:
  - Pings every device once with C(fping) and polls each one over SNMP v2c or v3,
    all concurrently, with a bounded timeout and retries.
  - Reads sysName, sysDescr, sysUpTime and, for every interface, ifName, admin and
    oper status, ifHighSpeed, in/out errors and discards; reads the counters a
    second time after O(poll_interval) seconds.
  - Returns one check record (docs/result-contract.md) per question asked. A device
    that does not answer is a failed check, not a failed task.
  - Read-only; never changes anything, also not in check mode.
options:
  devices:
    description: The devices to poll.
    type: list
    elements: dict
    required: true
    suboptions:
      name: {description: Inventory name of the device., type: str, required: true}
      address: {description: Management address., type: str, required: true}
      port: {description: SNMP port., type: int, default: 161}
      kind:
        description: Role of the device in the network.
        type: str
        choices: [core, gateway]
        required: true
      site: {description: Site key of a gateway., type: str}
      version: {description: SNMP version., type: str, choices: ["2c", "3"], default: "2c"}
      community: {description: SNMP v2c community (secret)., type: str}
      v3_user: {description: SNMPv3 user name., type: str}
      v3_auth_protocol:
        description: SNMPv3 authentication protocol.
        type: str
        choices: [MD5, SHA, SHA256, SHA512]
        default: SHA
      v3_auth_key: {description: SNMPv3 authentication key (secret)., type: str}
      v3_priv_protocol:
        description: SNMPv3 privacy protocol.
        type: str
        choices: [AES, DES, none]
        default: AES
      v3_priv_key: {description: SNMPv3 privacy key (secret)., type: str}
      required_interfaces:
        description: Interfaces that must be admin up.
        type: list
        elements: str
        default: []
      wan_interface: {description: The gateway's port to the core., type: str, default: wan}
      lan_interface: {description: The gateway's port to the LAN., type: str, default: lan}
  sites:
    description: The inventory's C(batiknet_sites), to tell which core port serves which site.
    type: dict
    default: {}
  upstream:
    description: The inventory's C(batiknet_upstream), to tell the core's port to the ISP.
    type: dict
    default: {}
  poll_interval: {description: Seconds between the two counter polls., type: float, default: 2.0}
  timeout: {description: Seconds to wait for one SNMP answer., type: float, default: 1.0}
  retries: {description: SNMP retries after a timeout., type: int, default: 1}
  restart_window:
    description: An uptime below this many seconds is a recent restart; 0 disables the finding.
    type: int
    default: 3600
  icmp_count: {description: Echo requests per device., type: int, default: 2}
  vantage: {description: Where the checks are made from., type: str, default: ops}
requirements: [pysnmp >= 7.1, fping]
author: [Batik.Net runbook team]
"""

EXAMPLES = r"""
- name: Poll the core and the opd1 gateway
  batiknet_snmp_poll:
    devices:
      - {name: core, address: 198.18.0.254, kind: core, community: "{{ community }}"}
      - name: opd1-gw
        address: 198.18.1.2
        kind: gateway
        site: opd1
        community: "{{ community }}"
    sites: "{{ batiknet_sites }}"
    upstream: "{{ batiknet_upstream }}"
  no_log: true
  register: poll
"""

RETURN = r"""
checks:
  description: The check records, in device order.
  type: list
  elements: dict
  returned: always
"""

STEP = "devices"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
# Interface columns: ifTable (1.3.6.1.2.1.2.2.1) and ifXTable (1.3.6.1.2.1.31.1.1.1).
IF_COLUMNS = {
    "descr": "1.3.6.1.2.1.2.2.1.2",
    "admin": "1.3.6.1.2.1.2.2.1.7",
    "oper": "1.3.6.1.2.1.2.2.1.8",
    "name": "1.3.6.1.2.1.31.1.1.1.1",
    "speed_mbps": "1.3.6.1.2.1.31.1.1.1.15",
}
COUNTER_COLUMNS = {
    "in_discards": "1.3.6.1.2.1.2.2.1.13",
    "in_errors": "1.3.6.1.2.1.2.2.1.14",
    "out_discards": "1.3.6.1.2.1.2.2.1.19",
    "out_errors": "1.3.6.1.2.1.2.2.1.20",
}
ADMIN_STATES = {1: "up", 2: "down", 3: "testing"}
OPER_STATES = {
    1: "up",
    2: "down",
    3: "testing",
    4: "unknown",
    5: "dormant",
    6: "notPresent",
    7: "lowerLayerDown",
}
COUNTER32_MODULO = 2**32
# Rows asked per GETBULK request, and a bound on the requests of one table
# walk, so that a misbehaving agent cannot hold the task.
BULK_ROWS = 32
MAX_WALK_CALLS = 50
# The first GETBULK of a walk asks this many rows, each further one four
# times as many, up to BULK_ROWS: most devices have a handful of interfaces,
# and decoding long answers is what a poll of hundreds of devices spends its
# time on (docs/health.md).
FIRST_BULK_ROWS = 4
# SNMP requests in flight at once over all devices: beyond this, answers wait
# in the socket while the event loop decodes others, and time out.
MAX_IN_FLIGHT = 64
FPING_LINE = re.compile(
    r"^(?P<address>\S+)\s*:\s*xmt/rcv/%loss = (?P<sent>\d+)/(?P<received>\d+)/(?P<loss>\d+)%"
    r"(?:, min/avg/max = [\d.]+/(?P<avg>[\d.]+)/[\d.]+)?"
)


class SnmpError(Exception):
    """An SNMP request got no usable answer (timeout, auth failure, PDU error)."""


@dataclass
class DevicePoll:
    """What one device told over ICMP and SNMP."""

    icmp: dict[str, Any] | None = None
    snmp_error: str | None = None
    system: dict[str, Any] = field(default_factory=dict)
    interfaces: dict[int, dict[str, Any]] = field(default_factory=dict)
    counters_after: dict[int, dict[str, int]] | None = None
    counters_error: str | None = None
    interval: float = 0.0


# -- The segment a finding concerns ------------------------------------------------------


def own_place(device: dict[str, Any]) -> tuple[str, str | None]:
    """Return the segment and site of the device itself."""
    if device["kind"] == "core":
        return "core", None
    return "opd_gateway", device.get("site")


def link_place(
    device: dict[str, Any], ifname: str, sites: dict[str, Any], upstream: dict[str, Any]
) -> tuple[str, str | None]:
    """Return the segment and site of the link behind interface ``ifname`` of ``device``.

    A core port listed as a site's ``access.core_interface`` is that site's access link;
    the upstream's ``core_interface`` is the ISP upstream; a gateway's WAN is its
    access link and its LAN the user LAN. Anything else belongs to the device.
    """
    name = device["name"]
    if device["kind"] == "core":
        for site_key, site in sites.items():
            access = site.get("access") or {}
            if access.get("core_interface") == ifname and access.get("core_device", name) == name:
                return "opd_access", site_key
        if upstream.get("core_interface") == ifname and upstream.get("core_device", name) == name:
            return "isp_upstream", None
        return "core", None
    if ifname == device.get("wan_interface", "wan"):
        return "opd_access", device.get("site")
    if ifname == device.get("lan_interface", "lan"):
        return "user_lan", device.get("site")
    return own_place(device)


# -- Judging what was seen ---------------------------------------------------------------


def parse_fping(output: str) -> dict[str, dict[str, Any]]:
    """Return loss (percent) and average rtt (ms) per address from fping's ``-q -c`` summary."""
    results: dict[str, dict[str, Any]] = {}
    for line in output.splitlines():
        match = FPING_LINE.match(line.strip())
        if match is None:
            continue
        avg = match.group("avg")
        results[match.group("address")] = {
            "sent": int(match.group("sent")),
            "received": int(match.group("received")),
            "loss": int(match.group("loss")),
            "rtt_ms": float(avg) if avg is not None else None,
        }
    return results


def judge_reachability(
    device: dict[str, Any], poll: DevicePoll, vantage: str
) -> list[dict[str, Any]]:
    """Return the ``icmp`` and ``snmp`` checks of one device.

    Together they tell "answers ICMP but not SNMP" (agent down, wrong
    credentials, an ACL) apart from "answers nothing".
    """
    name, address = device["name"], device["address"]
    segment, site = own_place(device)
    icmp, snmp_ok = poll.icmp, poll.snmp_error is None
    icmp_ok = bool(icmp and icmp["received"] > 0)
    if icmp is None:
        status, message = "unknown", f"{name}: could not ping {address} (fping is missing)."
    elif not icmp_ok:
        also = "but answers SNMP" if snmp_ok else "nor SNMP: it answers nothing"
        status, message = "failed", f"{name} ({address}) does not answer ICMP {also}."
    elif icmp["loss"] > 0:
        status, message = "degraded", f"{name} answers ICMP with {icmp['loss']}% loss."
    else:
        status, message = "ok", f"{name} answers ICMP in {icmp['rtt_ms']} ms."
    icmp_values = {"address": address, "answers_snmp": snmp_ok, **(icmp or {})}
    icmp_check = make_check(
        STEP, "icmp", vantage, name, status, message, segment, site, icmp_values
    )

    snmp_values = {"address": address, "version": device.get("version", "2c"), **poll.system}
    snmp_values["answers_icmp"] = icmp_ok
    if snmp_ok:
        status = "ok"
        message = f"{name} answers SNMP as {poll.system.get('sys_name') or name}."
    elif icmp_ok:
        status, snmp_values["error"] = "failed", poll.snmp_error
        message = (
            f"{name} answers ICMP but not SNMP ({poll.snmp_error}): the agent is down, "
            "the credentials are wrong or an ACL drops the requests."
        )
    else:
        status, snmp_values["error"] = "failed", poll.snmp_error
        message = f"{name} ({address}) answers neither ICMP nor SNMP."
    snmp_check = make_check(
        STEP, "snmp", vantage, name, status, message, segment, site, snmp_values
    )
    return [icmp_check, snmp_check]


def judge_uptime(
    device: dict[str, Any], uptime_seconds: float, restart_window: int, vantage: str
) -> dict[str, Any]:
    """Return the ``uptime`` check: degraded when the device restarted within the window."""
    name = device["name"]
    segment, site = own_place(device)
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=uptime_seconds)
    since = started.isoformat(timespec="seconds")
    values = {"uptime_seconds": int(uptime_seconds), "since": since, "window": restart_window}
    if restart_window and uptime_seconds < restart_window:
        status = "degraded"
        message = f"{name} restarted {int(uptime_seconds // 60)} min ago (at {since})."
    else:
        status, message = "ok", f"{name} has been up since {since}."
    return make_check(STEP, "uptime", vantage, name, status, message, segment, site, values)


def judge_interface(
    device: dict[str, Any], interface: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Return the ``interface`` check of one interface.

    Admin down on a required interface is the device's own configuration, so
    it concerns the device's segment; admin up with oper down concerns the
    link behind the interface.
    """
    target = f"{device['name']}:{interface['name']}"
    required = interface["name"] in device.get("required_interfaces", [])
    admin, oper = interface["admin"], interface["oper"]
    segment, site = link_place(device, interface["name"], params["sites"], params["upstream"])
    values = {key: interface.get(key) for key in ("index", "admin", "oper", "speed_mbps")}
    values.update({key: interface.get(key) for key in COUNTER_COLUMNS}, required=required)
    if admin != "up" and required:
        status = "failed"
        message = f"{target} is administratively {admin} but is required to be up."
        segment = own_place(device)[0]
    elif admin == "up" and oper != "up":
        status, message = "failed", f"{target} is admin up but oper {oper}: the link is down."
    elif admin != "up":
        status, message = "ok", f"{target} is administratively {admin} and not required."
    else:
        status, message = "ok", f"{target} is up at {interface.get('speed_mbps')} Mb/s."
    return make_check(
        STEP, "interface", params["vantage"], target, status, message, segment, site, values
    )


def counter_growth(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Return how much each error/discard counter grew, across a Counter32 wrap."""
    growth = {}
    for key in COUNTER_COLUMNS:
        if key in before and key in after:
            growth[key] = (after[key] - before[key]) % COUNTER32_MODULO
    return growth


def judge_counters(
    device: dict[str, Any],
    interface: dict[str, Any],
    after: dict[str, int] | None,
    interval: float,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Return the ``counters`` check of one interface: degraded when errors or discards grow."""
    target = f"{device['name']}:{interface['name']}"
    segment, site = link_place(device, interface["name"], params["sites"], params["upstream"])
    growth = counter_growth(interface, after or {})
    grown = {key: delta for key, delta in sorted(growth.items()) if delta}
    values = {"interval_seconds": round(interval, 2), "growth": growth}
    if after is None:
        status, message = "unknown", f"{target}: the second counter poll got no answer."
    elif grown:
        listed = ", ".join(f"{key} +{delta}" for key, delta in grown.items())
        status, message = "degraded", f"{target}: counters grew in {interval:.1f} s ({listed})."
    else:
        status, message = "ok", f"{target}: no new errors or discards in {interval:.1f} s."
    return make_check(
        STEP, "counters", params["vantage"], target, status, message, segment, site, values
    )


def judge_missing(device: dict[str, Any], ifname: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return the failed ``interface`` check of a required interface the device lacks."""
    target = f"{device['name']}:{ifname}"
    site = link_place(device, ifname, params["sites"], params["upstream"])[1]
    return make_check(
        STEP,
        "interface",
        params["vantage"],
        target,
        "failed",
        f"{target} is required but the device has no such interface.",
        own_place(device)[0],
        site,
        {"required": True},
    )


def judge_device(
    device: dict[str, Any], poll: DevicePoll, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Return every check of one device from what it told."""
    checks = judge_reachability(device, poll, params["vantage"])
    if poll.snmp_error is not None:
        return checks
    uptime = poll.system["uptime_seconds"]
    checks.append(judge_uptime(device, uptime, params["restart_window"], params["vantage"]))
    for index, interface in sorted(poll.interfaces.items()):
        after = None if poll.counters_after is None else poll.counters_after.get(index)
        checks.append(judge_interface(device, interface, params))
        checks.append(judge_counters(device, interface, after, poll.interval, params))
    present = {interface["name"] for interface in poll.interfaces.values()}
    for ifname in sorted(set(device.get("required_interfaces", [])) - present):
        checks.append(judge_missing(device, ifname, params))
    return checks


def access_ports(
    devices: list[dict[str, Any]], polls: list[DevicePoll], params: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Return, per site, the core's port towards it as the core reported it."""
    ports: dict[str, dict[str, Any]] = {}
    for device, poll in zip(devices, polls, strict=True):
        if device["kind"] != "core":
            continue
        for interface in poll.interfaces.values():
            segment, site = link_place(
                device, interface["name"], params["sites"], params["upstream"]
            )
            if segment == "opd_access" and site:
                ports[site] = {
                    "core_port": f"{device['name']}:{interface['name']}",
                    "core_port_admin": interface["admin"],
                    "core_port_oper": interface["oper"],
                }
    return ports


def annotate_unreachable_gateways(
    checks: list[dict[str, Any]], ports: dict[str, dict[str, Any]]
) -> None:
    """Add the core's view of the access port to an unreachable gateway's checks.

    There is no out-of-band path: a gateway behind a dead access link cannot be
    reached, so the state of the core's port towards its site is the evidence
    that goes with "answers nothing".
    """
    for check in checks:
        unreachable = check["check"] in ("icmp", "snmp") and check["status"] == "failed"
        if unreachable and check["segment"] == "opd_gateway" and check["site"] in ports:
            check["values"].update(ports[check["site"]])


# -- Talking to the devices --------------------------------------------------------------


def auth_data(device: dict[str, Any]) -> Any:
    """Return the pysnmp credentials of ``device``.

    Raises:
        ValueError: a v2c device has no community, or a v3 device no user.
    """
    if device.get("version", "2c") == "2c":
        if not device.get("community"):
            raise ValueError(f"{device['name']}: SNMP v2c needs a community")
        return snmp.CommunityData(device["community"], mpModel=1)
    if not device.get("v3_user"):
        raise ValueError(f"{device['name']}: SNMPv3 needs v3_user")
    auth_protocols = {
        "MD5": snmp.USM_AUTH_HMAC96_MD5,
        "SHA": snmp.USM_AUTH_HMAC96_SHA,
        "SHA256": snmp.USM_AUTH_HMAC192_SHA256,
        "SHA512": snmp.USM_AUTH_HMAC384_SHA512,
    }
    priv_protocols = {
        "AES": snmp.USM_PRIV_CFB128_AES,
        "DES": snmp.USM_PRIV_CBC56_DES,
        "none": snmp.USM_PRIV_NONE,
    }
    auth_key = device.get("v3_auth_key")
    priv_key = device.get("v3_priv_key")
    priv = device.get("v3_priv_protocol", "AES")
    return snmp.UsmUserData(
        device["v3_user"],
        authKey=auth_key,
        privKey=priv_key if priv != "none" else None,
        authProtocol=auth_protocols[device.get("v3_auth_protocol", "SHA")]
        if auth_key
        else snmp.USM_AUTH_NONE,
        privProtocol=priv_protocols[priv] if priv_key else snmp.USM_PRIV_NONE,
    )


class SnmpSession:
    """One device's SNMP credentials and transport on a shared engine."""

    def __init__(
        self, engine: Any, auth: Any, transport: Any, limit: asyncio.Semaphore | None = None
    ) -> None:
        self.engine = engine
        self.auth = auth
        self.transport = transport
        self.limit = limit or contextlib.nullcontext()

    async def get(self, oids: list[str]) -> dict[str, Any]:
        """Return the values of scalar ``oids``.

        Raises:
            SnmpError: no answer, an authentication failure or a PDU error.
        """
        async with self.limit:
            error, status, _, var_binds = await snmp.get_cmd(
                self.engine,
                self.auth,
                self.transport,
                snmp.ContextData(),
                *(snmp.ObjectType(snmp.ObjectIdentity(oid)) for oid in oids),
                lookupMib=False,
            )
        if error:
            raise SnmpError(str(error))
        if status:
            raise SnmpError(status.prettyPrint())
        return {str(name): value for name, value in var_binds}

    async def walk_columns(self, columns: dict[str, str]) -> dict[str, dict[int, Any]]:
        """Walk several table columns side by side with GETBULK; return them by key.

        One request carries every column still being walked, so a small
        interface table takes one or two round trips instead of one walk per
        column.

        Raises:
            SnmpError: no answer, an authentication failure or a PDU error.
        """
        rows: dict[str, dict[int, Any]] = {key: {} for key in columns}
        pending = dict(columns)
        repetitions = FIRST_BULK_ROWS
        for _ in range(MAX_WALK_CALLS):
            if not pending:
                break
            async with self.limit:
                error, status, _, var_binds = await snmp.bulk_cmd(
                    self.engine,
                    self.auth,
                    self.transport,
                    snmp.ContextData(),
                    0,
                    repetitions,
                    *(snmp.ObjectType(snmp.ObjectIdentity(oid)) for oid in pending.values()),
                    lookupMib=False,
                )
            repetitions = min(repetitions * 4, BULK_ROWS)
            if error:
                raise SnmpError(str(error))
            if status:
                raise SnmpError(status.prettyPrint())
            pending = split_columns(columns, pending, list(var_binds), rows)
        return rows


def split_columns(
    columns: dict[str, str],
    pending: dict[str, str],
    var_binds: list[tuple[Any, Any]],
    rows: dict[str, dict[int, Any]],
) -> dict[str, str]:
    """File one GETBULK answer into ``rows``; return the columns to walk on and where from.

    The answer interleaves the requested columns row by row. A column ends at
    the first name outside it or at an exception value (end of the MIB).
    """
    keys = list(pending)
    ended: set[str] = set()
    last: dict[str, str] = {}
    for position, (name, value) in enumerate(var_binds):
        key = keys[position % len(keys)]
        oid = str(name)
        if key in ended:
            continue
        if _is_exception_value(value) or not oid.startswith(columns[key] + "."):
            ended.add(key)
            continue
        rows[key][int(oid.rsplit(".", 1)[1])] = value
        last[key] = oid
    return {key: last[key] for key in keys if key not in ended and key in last}


def _is_exception_value(value: Any) -> bool:
    return type(value).__name__ in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null")


def interfaces_from(tables: dict[str, dict[int, Any]]) -> dict[int, dict[str, Any]]:
    """Return one record per interface index from walked columns."""
    interfaces = {}
    for index in sorted(tables["admin"]):
        name = str(tables["name"].get(index) or tables["descr"].get(index) or f"if{index}")
        record: dict[str, Any] = {
            "index": index,
            "name": name,
            "admin": ADMIN_STATES.get(int(tables["admin"][index]), "unknown"),
            "oper": OPER_STATES.get(int(tables["oper"].get(index, 4)), "unknown"),
            "speed_mbps": int(tables["speed_mbps"][index])
            if index in tables["speed_mbps"]
            else None,
        }
        for key in COUNTER_COLUMNS:
            if index in tables.get(key, {}):
                record[key] = int(tables[key][index])
        interfaces[index] = record
    return interfaces


def counters_from(tables: dict[str, dict[int, Any]]) -> dict[int, dict[str, int]]:
    """Return the error/discard counters per interface index."""
    counters: dict[int, dict[str, int]] = {}
    for key, column in tables.items():
        for index, value in column.items():
            counters.setdefault(index, {})[key] = int(value)
    return counters


async def poll_device(
    engine: Any,
    device: dict[str, Any],
    params: dict[str, Any],
    limit: asyncio.Semaphore | None = None,
) -> DevicePoll:
    """Poll one device twice over SNMP; an unanswered poll is recorded, never raised."""
    poll = DevicePoll()
    transport = await snmp.UdpTransportTarget.create(
        (device["address"], device.get("port") or 161),
        timeout=params["timeout"],
        retries=params["retries"],
    )
    session = SnmpSession(engine, auth_data(device), transport, limit)
    try:
        system = await session.get([SYS_NAME, SYS_DESCR, SYS_UPTIME])
        tables = await session.walk_columns({**IF_COLUMNS, **COUNTER_COLUMNS})
    except SnmpError as error:
        poll.snmp_error = str(error)
        return poll
    first = time.monotonic()
    poll.system = {
        "sys_name": str(system.get(SYS_NAME, "")),
        "sys_descr": str(system.get(SYS_DESCR, "")),
        "uptime_seconds": int(system.get(SYS_UPTIME, 0)) / 100,
    }
    poll.interfaces = interfaces_from(tables)
    await asyncio.sleep(params["poll_interval"])
    try:
        poll.counters_after = counters_from(await session.walk_columns(COUNTER_COLUMNS))
    except SnmpError as error:
        poll.counters_error = str(error)
    poll.interval = time.monotonic() - first
    return poll


async def bounded_poll(
    engine: Any,
    device: dict[str, Any],
    params: dict[str, Any],
    limit: asyncio.Semaphore | None = None,
    queued: float = 0.0,
) -> DevicePoll:
    """Poll one device within a time bound; an agent that stalls past it is a failed poll.

    Each request is bounded by pysnmp's timeout and retries; the bound here
    covers a walk that keeps answering slowly, page after page, plus
    ``queued`` seconds of waiting for a free slot among the requests in flight.
    """
    per_request = params["timeout"] * (params["retries"] + 1)
    bound = params["poll_interval"] + 4 * per_request + 2 + queued
    try:
        return await asyncio.wait_for(poll_device(engine, device, params, limit), bound)
    except TimeoutError:
        return DevicePoll(snmp_error=f"the poll took longer than {bound:.0f} s")


async def ping_all(addresses: list[str], count: int) -> dict[str, dict[str, Any]] | None:
    """Ping every address with one fping run; ``None`` when fping is not installed."""
    fping = shutil.which("fping")
    if fping is None or not addresses:
        return None
    process = await asyncio.create_subprocess_exec(
        fping,
        "-q",
        "-c",
        str(count),
        "-p",
        "100",
        "-t",
        "500",
        # 1 ms between any two packets instead of fping's 10: hundreds of
        # devices are pinged in a second rather than ten.
        "-i",
        "1",
        "-r",
        "0",
        *addresses,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # fping exits non-zero when a host is unreachable; the summary says which.
    _, stderr = await process.communicate()
    return parse_fping(stderr.decode(errors="replace"))


async def poll_all(devices: list[dict[str, Any]], params: dict[str, Any]) -> list[DevicePoll]:
    """Ping and poll every device concurrently; return one poll per device, in order."""
    engine = snmp.SnmpEngine()
    limit = asyncio.Semaphore(MAX_IN_FLIGHT)
    # Each device waits at most for the requests of the devices queued before it.
    queued = math.ceil(len(devices) / MAX_IN_FLIGHT) * params["timeout"]
    try:
        icmp_task = asyncio.ensure_future(
            ping_all([device["address"] for device in devices], params["icmp_count"])
        )
        polls = await asyncio.gather(
            *(bounded_poll(engine, d, params, limit, queued) for d in devices)
        )
        icmp = await icmp_task
    finally:
        with contextlib.suppress(Exception):
            engine.close_dispatcher()
    for device, poll in zip(devices, polls, strict=True):
        poll.icmp = None if icmp is None else icmp.get(device["address"], _silent(params))
    return list(polls)


def _silent(params: dict[str, Any]) -> dict[str, Any]:
    count = params["icmp_count"]
    return {"sent": count, "received": 0, "loss": 100, "rtt_ms": None}


def run(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Poll the devices of ``params`` and return their checks.

    Raises:
        ValueError: a device lacks the credentials of its SNMP version.
    """
    devices = params["devices"]
    for device in devices:
        auth_data(device)
    polls = asyncio.run(poll_all(devices, params))
    checks = []
    for device, poll in zip(devices, polls, strict=True):
        checks.extend(judge_device(device, poll, params))
    annotate_unreachable_gateways(checks, access_ports(devices, polls, params))
    return checks


DEVICE_OPTIONS = {
    "name": {"type": "str", "required": True},
    "address": {"type": "str", "required": True},
    "port": {"type": "int", "default": 161},
    "kind": {"type": "str", "required": True, "choices": ["core", "gateway"]},
    "site": {"type": "str"},
    "version": {"type": "str", "default": "2c", "choices": ["2c", "3"]},
    "community": {"type": "str", "no_log": True},
    "v3_user": {"type": "str"},
    "v3_auth_protocol": {
        "type": "str",
        "default": "SHA",
        "choices": ["MD5", "SHA", "SHA256", "SHA512"],
    },
    "v3_auth_key": {"type": "str", "no_log": True},
    "v3_priv_protocol": {"type": "str", "default": "AES", "choices": ["AES", "DES", "none"]},
    "v3_priv_key": {"type": "str", "no_log": True},
    "required_interfaces": {"type": "list", "elements": "str", "default": []},
    "wan_interface": {"type": "str", "default": "wan"},
    "lan_interface": {"type": "str", "default": "lan"},
}

ARGUMENT_SPEC = {
    "devices": {"type": "list", "elements": "dict", "required": True, "options": DEVICE_OPTIONS},
    "sites": {"type": "dict", "default": {}},
    "upstream": {"type": "dict", "default": {}},
    "poll_interval": {"type": "float", "default": 2.0},
    "timeout": {"type": "float", "default": 1.0},
    "retries": {"type": "int", "default": 1},
    "restart_window": {"type": "int", "default": 3600},
    "icmp_count": {"type": "int", "default": 2},
    "vantage": {"type": "str", "default": "ops"},
}


def main() -> None:
    """Run the module."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if snmp is None:
        module.fail_json(msg=missing_required_lib("pysnmp"))
    try:
        checks = run(module.params)
    except ValueError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, checks=checks)


if __name__ == "__main__":
    main()
