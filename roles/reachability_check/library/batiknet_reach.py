#!/usr/bin/python3
"""Probe reachability from one vantage point: ping, names, HTTP and the path."""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.batiknet_check import make_check, utc_now

DOCUMENTATION = r"""
---
module: batiknet_reach
short_description: Check connectivity from one vantage point (SOP step 7)
description:
  - Runs on the vantage point itself (a user probe host or a server) and asks, in one
    invocation, whether packets reach the site gateway, the core, the DNS servers, the
    application servers, the ISP edge and the Internet.
  - Pings every target with one C(fping) call (loss and round-trip times per target),
    resolves names through the host's own resolver (getaddrinfo) and through each
    nameserver of its C(resolv.conf), fetches the application's HTTP page and, for every
    target that does not answer, runs a bounded C(traceroute) to show where the path stops.
  - All probes run concurrently and every one is bounded in time.
  - Read-only; returns check records of the result contract (docs/result-contract.md).
version_added: "0.1.0"
author: Batik.Net runbook team
options:
  vantage:
    description: The inventory name of the host the module runs on.
    type: str
    required: true
  vantage_segment:
    description: The segment the vantage point belongs to (user_lan, dns, server).
    type: str
    required: true
  site:
    description: The site of the vantage point, for a site's probe host.
    type: str
  address:
    description:
      - The address the ops host reached the vantage point at; the module's first check
        records that the ops host reached it (over SSH, or locally).
    type: str
  targets:
    description: The hosts to ping.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The inventory name (or the address) of the target.
        type: str
        required: true
      address:
        description: The address to ping; empty with O(targets[].next_hop_to).
        type: str
      next_hop_to:
        description:
          - Ping the next hop of the vantage's route towards this address (for a user host,
            its LAN gateway), read from its routing table.
        type: str
      role:
        description: What the target stands for.
        type: str
        required: true
        choices: [gateway, core, dns, server, isp_edge, internet]
      segment:
        description: The segment a failure of this target points to.
        type: str
        required: true
      site:
        description: The site the target belongs to.
        type: str
  names:
    description: Names to resolve, with the addresses expected.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The name to resolve.
        type: str
        required: true
      expect:
        description: The addresses the answer must hold; empty accepts any answer.
        type: list
        elements: str
        default: []
      type:
        description: The record type; only A records are asked.
        type: str
        default: A
        choices: [A]
  resolvers:
    description:
      - Inventory names of the nameservers by address, to name them in the checks.
      - A nameserver of C(resolv.conf) missing here is named by its address.
    type: dict
    default: {}
  http:
    description: Pages to fetch.
    type: list
    elements: dict
    default: []
    suboptions:
      url:
        description: The page's URL.
        type: str
        required: true
      address:
        description: Connect to this address, with the URL's host name as Host header.
        type: str
      expect_status:
        description: The HTTP status the page answers with when it works.
        type: int
        default: 200
      host:
        description: The inventory name of the server behind the page.
        type: str
  count:
    description: Echo requests per target.
    type: int
    default: 20
  period_ms:
    description: Milliseconds between two echo requests to one target.
    type: int
    default: 20
  timeout_ms:
    description: Milliseconds to wait for an echo reply.
    type: int
    default: 300
  loss_threshold:
    description: Loss in percent from which a reachable target is degraded.
    type: float
    default: 10.0
  resolve_timeout:
    description: Seconds a name resolution may take.
    type: float
    default: 2.0
  http_timeout:
    description: Seconds an HTTP fetch may take.
    type: float
    default: 3.0
  traceroute_max_hops:
    description: Hops a traceroute goes at most.
    type: int
    default: 8
  traceroute_wait:
    description: Seconds a traceroute waits for each hop.
    type: float
    default: 1.0
  resolv_conf:
    description: The resolver configuration of the vantage point.
    type: path
    default: /etc/resolv.conf
"""

EXAMPLES = r"""
- name: Check connectivity from the user host of opd1
  batiknet_reach:
    vantage: opd1-pc
    vantage_segment: user_lan
    site: opd1
    targets:
      - {name: opd1-gw, next_hop_to: 192.0.2.80, role: gateway, segment: user_lan, site: opd1}
      - {name: app1, address: 192.0.2.80, role: server, segment: server}
      - {name: 203.0.113.1, address: 203.0.113.1, role: internet, segment: isp_upstream}
    names:
      - {name: portal.example.test, expect: [192.0.2.80]}
    http:
      - {url: "http://portal.example.test/", address: 192.0.2.80, expect_status: 200}
"""

RETURN = r"""
checks:
  description: The check records, the C(ssh) one first.
  returned: always
  type: list
  elements: dict
connected:
  description: Whether packets reach every server and the Internet from the vantage point.
  returned: always
  type: bool
quality:
  description: ok, degraded (reached with loss) or failed (not connected).
  returned: always
  type: str
seconds:
  description: How long the probes took.
  returned: always
  type: float
"""

STEP = "connectivity"
SERVER_ROLES = ("dns", "server")
_FPING_LINE = re.compile(r"^(\S+)\s+:\s+((?:[\d.]+|-)(?:\s+(?:[\d.]+|-))*)\s*$")
_HOP_LINE = re.compile(r"^\s*(\d+)\s+(.*)$")
_HOP_REPLY = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})\s+([\d.]+)\s*ms")


# --- pure parsing and judging -------------------------------------------------------------


def parse_fping(text: str) -> dict[str, list[float | None]]:
    """Return the per-target round-trip times of ``fping -C`` output (None for a loss)."""
    samples: dict[str, list[float | None]] = {}
    for line in text.splitlines():
        match = _FPING_LINE.match(line.strip())
        if match:
            fields = match.group(2).split()
            samples[match.group(1)] = [None if f == "-" else float(f) for f in fields]
    return samples


def summarize_samples(samples: list[float | None]) -> dict[str, Any]:
    """Return loss in percent and min/avg/max round-trip in ms of one target's samples."""
    answered = [s for s in samples if s is not None]
    sent = len(samples)
    loss = round(100.0 * (sent - len(answered)) / sent, 1) if sent else 100.0
    values: dict[str, Any] = {"sent": sent, "received": len(answered), "loss": loss}
    if answered:
        values["rtt_min"] = round(min(answered), 3)
        values["rtt_avg"] = round(sum(answered) / len(answered), 3)
        values["rtt_max"] = round(max(answered), 3)
    return values


def reach_status(loss: float, threshold: float) -> str:
    """Return failed (nothing came back), degraded (loss from ``threshold`` on) or ok."""
    if loss >= 100.0:
        return "failed"
    return "degraded" if loss >= threshold else "ok"


def parse_traceroute(text: str) -> list[dict[str, Any]]:
    """Return the hops of ``traceroute -n -q 1`` output: number, address or None, rtt."""
    hops = []
    for line in text.splitlines()[1:] if text.startswith("traceroute") else text.splitlines():
        match = _HOP_LINE.match(line)
        if not match:
            continue
        reply = _HOP_REPLY.search(match.group(2))
        hops.append(
            {
                "hop": int(match.group(1)),
                "address": reply.group(1) if reply else None,
                "rtt": float(reply.group(2)) if reply else None,
                "note": _hop_note(match.group(2)),
            }
        )
    return hops


def _hop_note(text: str) -> str | None:
    # traceroute flags ICMP errors after the time: !H host, !N network, !X prohibited.
    flag = re.search(r"!([A-Z]\w*)", text)
    return f"!{flag.group(1)}" if flag else None


def last_answering_hop(hops: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the farthest hop that answered, None when none did."""
    answered = [hop for hop in hops if hop["address"]]
    return answered[-1] if answered else None


def parse_resolv_conf(text: str) -> list[str]:
    """Return the nameserver addresses of a ``resolv.conf`` text, in order."""
    servers = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


def next_hop(route_table: str, address: str) -> str | None:
    """Return the gateway of the best route to ``address`` in ``/proc/net/route`` text.

    None when no route leads there, or the best one is on-link (no gateway).
    """
    wanted = struct.unpack("!L", socket.inet_aton(address))[0]
    best: tuple[int, str | None] | None = None
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        destination, gateway, mask = (_route_field(fields[i]) for i in (1, 2, 7))
        if wanted & mask != destination:
            continue
        length = bin(mask).count("1")
        if best is None or length > best[0]:
            best = (length, socket.inet_ntoa(struct.pack("!L", gateway)) if gateway else None)
    return best[1] if best else None


def _route_field(text: str) -> int:
    # /proc/net/route prints addresses as host-order (little-endian) hex.
    return struct.unpack("!L", struct.pack("<L", int(text, 16)))[0]


def dns_query_packet(name: str, query_id: int) -> bytes:
    """Return a recursive DNS query for the A records of ``name``."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(
        bytes([len(part)]) + part.encode("ascii") for part in name.rstrip(".").split(".")
    )
    return header + labels + b"\x00" + struct.pack("!HH", 1, 1)


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def parse_dns_answer(packet: bytes, query_id: int) -> tuple[str, list[str]]:
    """Return the rcode name and the A addresses of a DNS response.

    Raises:
        ValueError: the packet is truncated or answers another query.
    """
    if len(packet) < 12:
        raise ValueError("DNS response shorter than its header")
    rid, flags, qdcount, ancount, _ns, _ar = struct.unpack("!HHHHHH", packet[:12])
    if rid != query_id:
        raise ValueError("DNS response to another query")
    offset = 12
    for _ in range(qdcount):
        offset = _skip_name(packet, offset) + 4
    addresses = []
    for _ in range(ancount):
        offset = _skip_name(packet, offset)
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", packet[offset : offset + 10])
        offset += 10
        if rtype == 1 and length == 4:
            addresses.append(socket.inet_ntoa(packet[offset : offset + 4]))
        offset += length
    return RCODES.get(flags & 0x000F, str(flags & 0x000F)), addresses


def _skip_name(packet: bytes, offset: int) -> int:
    while True:
        if offset >= len(packet):
            raise ValueError("DNS name runs past the packet")
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            return offset + 2
        if length == 0:
            return offset + 1
        offset += length + 1


# --- probes ---------------------------------------------------------------------------------


class Jobs:
    """Probes running in daemon threads, collected with one deadline.

    Daemon threads, not an executor: a resolver stuck past its bound must not
    hold the module's exit.
    """

    def __init__(self, jobs: dict[str, Callable[[], Any]]) -> None:
        self.results: dict[str, Any] = {}
        self.threads = [
            threading.Thread(target=self._run, args=(key, job), daemon=True)
            for key, job in jobs.items()
        ]
        for thread in self.threads:
            thread.start()
        self.keys = list(jobs)

    def _run(self, key: str, job: Callable[[], Any]) -> None:
        try:
            self.results[key] = job()
        except Exception as error:  # every probe failure is data, never a crash
            self.results[key] = error

    def collect(self, deadline: float) -> dict[str, Any]:
        """Wait until ``deadline`` (monotonic) at most; late jobs give a TimeoutError."""
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        late = TimeoutError("no result in time")
        return {key: self.results.get(key, late) for key in self.keys}


def fping(addresses: list[str], count: int, period_ms: int, timeout_ms: int) -> str:
    """Ping every address in one fping call; return its summary text.

    Raises:
        OSError: fping is not installed.
        subprocess.TimeoutExpired: fping ran past its bound.
    """
    binary = shutil.which("fping") or "/usr/bin/fping"
    command = [binary, "-q", "-C", str(count), "-p", str(period_ms), "-t", str(timeout_ms)]
    command += ["-i", "1", *addresses]
    bound = count * period_ms / 1000.0 + timeout_ms / 1000.0 + 5.0
    done = subprocess.run(command, capture_output=True, text=True, timeout=bound, check=False)
    return done.stderr + done.stdout


def traceroute(address: str, max_hops: int, wait: float) -> str:
    """Trace the path to ``address``, bounded in hops and time; return its text.

    Raises:
        OSError: traceroute is not installed.
        subprocess.TimeoutExpired: traceroute ran past its bound.
    """
    binary = shutil.which("traceroute") or "/usr/sbin/traceroute"
    command = [binary, "-n", "-q", "1", "-w", f"{wait:g}", "-m", str(max_hops)]
    command += ["-N", str(max_hops), address]
    bound = wait * 3 + 3.0
    done = subprocess.run(command, capture_output=True, text=True, timeout=bound, check=False)
    return done.stdout


def resolve(name: str) -> list[str]:
    """Resolve ``name`` to IPv4 addresses through the host's own resolver."""
    infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def ask_nameserver(server: str, name: str, timeout: float) -> tuple[str, list[str]]:
    """Ask one nameserver for the A records of ``name``; return rcode and addresses.

    Raises:
        OSError: the server refused (port unreachable) or the network failed.
        TimeoutError: no answer within ``timeout``.
        ValueError: the answer is malformed.
    """
    query_id = random.randint(0, 0xFFFF)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((server, 53))
        sock.send(dns_query_packet(name, query_id))
        deadline = time.monotonic() + timeout
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                return parse_dns_answer(sock.recv(4096), query_id)
            except ValueError:
                if time.monotonic() >= deadline:
                    raise


def fetch(url: str, address: str | None, timeout: float) -> int:
    """Fetch ``url`` (from ``address`` when given) and return the HTTP status.

    Raises:
        OSError: the connection failed or timed out.
    """
    parts = urllib.parse.urlsplit(url)
    headers = {"User-Agent": "batiknet-runbook/step7"}
    target = url
    if address:
        netloc = address if parts.port is None else f"{address}:{parts.port}"
        target = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        headers["Host"] = parts.netloc
    request = urllib.request.Request(target, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# --- the vantage point --------------------------------------------------------------------


class Vantage:
    """One vantage point's probes and the checks made of their results."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.name: str = params["vantage"]
        self.site: str | None = params["site"] or None
        self.time = utc_now()
        self.checks: list[dict[str, Any]] = []

    def check(
        self,
        kind: str,
        target: str,
        status: str,
        message: str,
        *,
        segment: str,
        values: dict[str, Any],
        site: str | None = None,
    ) -> dict[str, Any]:
        """Record one check; a probe host's checks belong to its site."""
        record = make_check(
            STEP,
            kind,
            self.name,
            target,
            status,
            message,
            segment,
            self.site or site,
            values,
            time=self.time,
        )
        self.checks.append(record)
        return record

    def run(self) -> dict[str, Any]:
        """Probe everything, concurrently; return checks, connected, quality and seconds."""
        started = time.monotonic()
        self._reached()
        targets = self._targets_with_addresses()
        nameservers = self._nameservers()
        background = Jobs(self._name_jobs(nameservers) | self._http_jobs())
        try:
            output: Any = self._ping(targets)
        except (OSError, subprocess.SubprocessError) as error:
            output = error
        traces = Jobs(self._trace_jobs(self._reach_checks(targets, output)))
        results = background.collect(started + self.params["http_timeout"] + 1.0)
        self._resolve_checks(results, nameservers)
        self._http_checks(results)
        bound = self.params["traceroute_wait"] * 3 + 3.0
        self._trace_checks(targets, traces.collect(time.monotonic() + bound))
        return self._verdict(targets) | {"seconds": round(time.monotonic() - started, 2)}

    def _reached(self) -> None:
        # The module runs on the vantage point: the ops host reached it.
        address = self.params["address"] or self.name
        self.checks.append(
            make_check(
                STEP,
                "ssh",
                "ops",
                self.name,
                "ok",
                f"The ops host reaches {self.name} ({address}) over SSH.",
                self.params["vantage_segment"],
                self.site,
                {"address": address},
                time=self.time,
            )
        )

    def _ping(self, targets: list[dict[str, Any]]) -> str:
        addresses = list(dict.fromkeys(t["address"] for t in targets if t["address"]))
        if not addresses:
            return ""
        params = self.params
        return fping(addresses, params["count"], params["period_ms"], params["timeout_ms"])

    def _name_jobs(self, nameservers: list[str]) -> dict[str, Callable[[], Any]]:
        jobs: dict[str, Callable[[], Any]] = {}
        timeout = self.params["resolve_timeout"]
        for entry in self.params["names"]:
            name = entry["name"]
            jobs[f"resolve:{name}"] = lambda n=name: resolve(n)
            for server in nameservers:
                jobs[f"ask:{server}:{name}"] = lambda s=server, n=name: ask_nameserver(
                    s, n, timeout
                )
        return jobs

    def _http_jobs(self) -> dict[str, Callable[[], Any]]:
        timeout = self.params["http_timeout"]
        return {
            f"http:{e['url']}": lambda e=e: fetch(e["url"], e.get("address"), timeout)
            for e in self.params["http"]
        }

    def _trace_jobs(self, failed: list[dict[str, Any]]) -> dict[str, Callable[[], Any]]:
        hops, wait = self.params["traceroute_max_hops"], self.params["traceroute_wait"]
        return {t["address"]: lambda a=t["address"]: traceroute(a, hops, wait) for t in failed}

    def _targets_with_addresses(self) -> list[dict[str, Any]]:
        table = _read("/proc/net/route")
        return [
            dict(t, address=next_hop(table, t["next_hop_to"]) if t["next_hop_to"] else t["address"])
            for t in self.params["targets"]
            if t["name"] != self.name
        ]

    def _nameservers(self) -> list[str]:
        if not self.params["names"]:
            return []
        return parse_resolv_conf(_read(self.params["resolv_conf"]))

    def _reach_checks(self, targets: list[dict[str, Any]], output: Any) -> list[dict[str, Any]]:
        samples = parse_fping(output) if isinstance(output, str) else {}
        failed = []
        for target in targets:
            record = self._reach_check(target, samples, output)
            target["status"] = record["status"]
            target["loss"] = record["values"].get("loss")
            if record["status"] == "failed" and target["address"]:
                failed.append(target)
        return failed

    def _reach_check(
        self, target: dict[str, Any], samples: dict[str, Any], output: Any
    ) -> dict[str, Any]:
        name, address = target["name"], target["address"]
        label = f"{name} ({address})" if address and address != name else name
        segment, site = target["segment"], target["site"]
        if not address:
            return self.check(
                "reach",
                name,
                "failed",
                f"{self.name} has no gateway towards {target['next_hop_to']}: no route "
                "through its LAN.",
                segment=segment,
                values={},
                site=site,
            )
        if address not in samples:
            why = output if isinstance(output, Exception) else "no fping summary for it"
            return self.check(
                "reach",
                name,
                "unknown",
                f"{self.name} could not ping {label}: {why}.",
                segment=segment,
                values={"address": address},
                site=site,
            )
        values = {"address": address, "role": target["role"], **summarize_samples(samples[address])}
        status = reach_status(values["loss"], self.params["loss_threshold"])
        message = {
            "ok": f"{self.name} reaches {label}: {values['loss']:g}% loss, "
            f"{values.get('rtt_avg', 0):g} ms on average.",
            "degraded": f"{self.name} reaches {label} with {values['loss']:g}% packet loss.",
            "failed": f"{self.name} gets no answer from {label}: all "
            f"{values['sent']} pings were lost.",
        }[status]
        return self.check("reach", name, status, message, segment=segment, values=values, site=site)

    def _trace_checks(self, targets: list[dict[str, Any]], results: dict[str, Any]) -> None:
        for target in targets:
            if target["address"] in results:
                self._trace_check(target, results[target["address"]])

    def _trace_check(self, target: dict[str, Any], output: Any) -> None:
        name, segment, site = target["name"], target["segment"], target["site"]
        if not isinstance(output, str):
            self.check(
                "traceroute",
                name,
                "unknown",
                f"{self.name} could not trace the path to {name}: {output}.",
                segment=segment,
                values={"address": target["address"]},
                site=site,
            )
            return
        hops = parse_traceroute(output)
        last = last_answering_hop(hops)
        reached = bool(last and last["address"] == target["address"])
        values = {
            "address": target["address"],
            "hops": hops,
            "reached": reached,
            "last_hop": last["address"] if last else None,
        }
        if reached:
            message = f"The path from {self.name} to {name} is complete, yet pings are lost."
        elif last:
            message = (
                f"The path from {self.name} to {name} stops after {last['address']} "
                f"(hop {last['hop']})."
            )
        else:
            message = f"The path from {self.name} to {name} stops at the first hop."
        status = "ok" if reached else "failed"
        self.check("traceroute", name, status, message, segment=segment, values=values, site=site)

    def _resolve_checks(self, results: dict[str, Any], nameservers: list[str]) -> None:
        for entry in self.params["names"]:
            name, expect = entry["name"], sorted(entry["expect"])
            self._resolve_check(name, name, expect, results[f"resolve:{name}"], None)
            for server in nameservers:
                label = self.params["resolvers"].get(server, server)
                self._resolve_check(
                    f"{label}/{name}", name, expect, results[f"ask:{server}:{name}"], server
                )

    def _resolve_check(
        self, target: str, name: str, expect: list[str], result: Any, server: str | None
    ) -> None:
        how = f"through its resolver {server}" if server else "through its own resolver"
        values: dict[str, Any] = {"name": name, "expect": expect, "resolver": server or "system"}
        if isinstance(result, Exception):
            values["error"] = _describe(result)
            self.check(
                "resolve",
                target,
                "failed",
                f"{self.name} cannot resolve {name} {how}: {values['error']}.",
                segment="dns",
                values=values,
            )
            return
        rcode, answer = result if server else ("NOERROR", result)
        values.update(rcode=rcode, answer=sorted(answer))
        if rcode != "NOERROR" or not answer:
            status, message = (
                "failed",
                f"{self.name} gets {rcode} with no address for {name} {how}.",
            )
        elif expect and not set(expect) & set(answer):
            status = "failed"
            message = (
                f"{self.name} resolves {name} {how} to {', '.join(sorted(answer))}, "
                f"expected {', '.join(expect)}."
            )
        else:
            status, message = "ok", f"{self.name} resolves {name} {how} to {', '.join(answer)}."
        self.check("resolve", target, status, message, segment="dns", values=values)

    def _http_checks(self, results: dict[str, Any]) -> None:
        for entry in self.params["http"]:
            url, result = entry["url"], results[f"http:{entry['url']}"]
            values: dict[str, Any] = {
                "expect_status": entry["expect_status"],
                "address": entry.get("address"),
                "host": entry.get("host"),
            }
            if isinstance(result, Exception):
                values["error"] = _describe(result)
                status = "failed"
                message = f"{self.name} cannot fetch {url}: {values['error']}."
            elif result == entry["expect_status"]:
                values["status_code"] = result
                status, message = "ok", f"{self.name} fetches {url}: HTTP {result}."
            else:
                values["status_code"] = result
                status = "failed"
                message = (
                    f"{self.name} fetches {url} with HTTP {result}, "
                    f"expected {entry['expect_status']}."
                )
            self.check("http", url, status, message, segment="server", values=values)

    def _verdict(self, targets: list[dict[str, Any]]) -> dict[str, Any]:
        servers = [t for t in targets if t["role"] in SERVER_ROLES]
        internet = [t for t in targets if t["role"] == "internet"]
        unreached = [t["name"] for t in servers if t["status"] in ("failed", "unknown")]
        if internet and all(t["status"] in ("failed", "unknown") for t in internet):
            unreached += [t["name"] for t in internet]
        lossy = [t["name"] for t in servers + internet if t["status"] == "degraded"]
        connected = not unreached
        quality = "failed" if unreached else ("degraded" if lossy else "ok")
        worst = [t for t in targets if t["name"] in unreached] or [
            t for t in targets if t["name"] in lossy
        ]
        segment = worst[0]["segment"] if worst else self.params["vantage_segment"]
        values = {
            "connected": connected,
            "quality": quality,
            "unreached": unreached,
            "lossy": lossy,
        }
        if unreached:
            message = (
                f"Not connected: from {self.name}, packets do not reach {', '.join(unreached)}."
            )
        elif lossy:
            message = (
                f"Connected, degraded: from {self.name}, packets reach the servers and "
                f"the Internet, with loss towards {', '.join(lossy)}."
            )
        else:
            message = f"Connected: from {self.name}, packets reach the servers and the Internet."
        self.check("connected", self.name, quality, message, segment=segment, values=values)
        return {"checks": self.checks, "connected": connected, "quality": quality}


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):
        return error.strerror or str(error)
    if isinstance(error, urllib.error.URLError):
        return (
            _describe(error.reason)
            if isinstance(error.reason, BaseException)
            else str(error.reason)
        )
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__


def main() -> None:
    """Run the module."""
    target_options = {
        "name": {"type": "str", "required": True},
        "address": {"type": "str"},
        "next_hop_to": {"type": "str"},
        "role": {
            "type": "str",
            "required": True,
            "choices": ["gateway", "core", "dns", "server", "isp_edge", "internet"],
        },
        "segment": {"type": "str", "required": True},
        "site": {"type": "str"},
    }
    module = AnsibleModule(
        argument_spec={
            "vantage": {"type": "str", "required": True},
            "vantage_segment": {"type": "str", "required": True},
            "site": {"type": "str"},
            "address": {"type": "str"},
            "targets": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": target_options,
            },
            "names": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "expect": {"type": "list", "elements": "str", "default": []},
                    "type": {"type": "str", "default": "A", "choices": ["A"]},
                },
            },
            "resolvers": {"type": "dict", "default": {}},
            "http": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "url": {"type": "str", "required": True},
                    "address": {"type": "str"},
                    "expect_status": {"type": "int", "default": 200},
                    "host": {"type": "str"},
                },
            },
            "count": {"type": "int", "default": 20},
            "period_ms": {"type": "int", "default": 20},
            "timeout_ms": {"type": "int", "default": 300},
            "loss_threshold": {"type": "float", "default": 10.0},
            "resolve_timeout": {"type": "float", "default": 2.0},
            "http_timeout": {"type": "float", "default": 3.0},
            "traceroute_max_hops": {"type": "int", "default": 8},
            "traceroute_wait": {"type": "float", "default": 1.0},
            "resolv_conf": {"type": "path", "default": "/etc/resolv.conf"},
        },
        supports_check_mode=True,
    )
    os.environ.setdefault("LC_ALL", "C")
    try:
        result = Vantage(module.params).run()
    except ValueError as error:
        module.fail_json(msg=f"{module.params['vantage']}: bad check record: {error}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
