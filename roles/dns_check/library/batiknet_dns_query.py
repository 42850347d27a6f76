#!/usr/bin/python
"""Query every DNS server for every expected name, all at once, and judge the answers.

The Ansible module of SOP step 6 ("check the DNS server"). Every server is
asked every expected name and the SOA of the city's zone concurrently with
dnspython's asyncio API, each query bounded by a timeout; the answers come
back as check records of docs/result-contract.md. A server that does not
answer is a failed check, never a failed task.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.batiknet_check import make_check

try:
    import dns.asyncbackend
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.inet
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdatatype
except ImportError:  # reported by main() with the library's name
    dns = None

DOCUMENTATION = r"""
---
module: batiknet_dns_query
short_description: Query DNS servers for expected answers and compare SOA serials
description:
  - Asks every server every expected name (rcode, answer, latency) and the SOA
    of O(zone), all concurrently, each query bounded by O(timeout).
  - A timeout, REFUSED, SERVFAIL, NXDOMAIN or a wrong answer is a failed check
    naming the server, the name and what was expected; a slow answer is degraded.
  - A secondary whose SOA serial is behind the primary's is degraded; a server
    that does not answer the SOA query is failed.
  - A name outside O(zone) is resolved through recursion; when a server answers
    its own zone but not such a name, the check concerns the ISP upstream.
  - Read-only; never changes anything, also not in check mode.
options:
  servers:
    description: The DNS servers to ask.
    type: list
    elements: dict
    required: true
    suboptions:
      name: {description: Inventory name of the server., type: str, required: true}
      address: {description: Address the server listens on., type: str, required: true}
      port: {description: DNS port., type: int, default: 53}
      role:
        description: Role of the server for O(zone).
        type: str
        choices: [primary, secondary]
        default: secondary
  expectations:
    description: The names to ask and the answers expected.
    type: list
    elements: dict
    required: true
    suboptions:
      name: {description: Name to ask., type: str, required: true}
      type: {description: Record type., type: str, default: A}
      expect: {description: The expected answers (any order)., type: list, elements: str}
  zone: {description: The city's zone, whose SOA serials are compared., type: str, required: true}
  timeout: {description: Seconds to wait for one answer., type: float, default: 2.0}
  slow_ms: {description: An answer slower than this many ms is degraded., type: float, default: 500}
  vantage: {description: Where the queries are made from., type: str, default: ops}
requirements: [dnspython >= 2.7]
author: [Batik.Net runbook team]
"""

EXAMPLES = r"""
- name: Ask both servers for the portal
  batiknet_dns_query:
    servers:
      - {name: dns1, address: 198.18.10.53, role: primary}
      - {name: dns2, address: 198.18.10.54, role: secondary}
    expectations:
      - {name: portal.batiknet.test, type: A, expect: [198.18.10.80]}
    zone: batiknet.test
"""

RETURN = r"""
checks:
  description: The check records, per server the expectations then the SOA serial.
  type: list
  elements: dict
  returned: always
"""

STEP = "dns"


@dataclass
class Answer:
    """What one server said to one question, or why it said nothing."""

    rcode: str | None = None
    answers: list[str] | None = None
    latency_ms: float | None = None
    error: str | None = None


# -- Judging the answers -----------------------------------------------------------------


def in_zone(name: str, zone: str) -> bool:
    """Return whether ``name`` is ``zone`` or below it (case-insensitive, trailing dot optional)."""
    name, zone = name.rstrip(".").lower(), zone.rstrip(".").lower()
    return name == zone or name.endswith("." + zone)


def normalise(answers: list[str]) -> list[str]:
    """Return answers sorted and without trailing dots, so that they compare as sets."""
    return sorted({answer.rstrip(".").lower() for answer in answers})


def judge_query(
    server: dict[str, Any],
    expectation: dict[str, Any],
    answer: Answer,
    zone_answers: bool,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Return the ``dns_query`` check of one server and one expected name.

    ``zone_answers`` says whether the server answered its own zone correctly;
    when it did and only a name outside the zone fails, the fault lies beyond
    the server, on the way to the ISP's resolver.
    """
    server_name, name = server["name"], expectation["name"]
    rtype = expectation.get("type") or "A"
    expected = normalise(expectation.get("expect") or [])
    target = f"{server_name}/{name}"
    values: dict[str, Any] = {
        "server": server["address"],
        "name": name,
        "type": rtype,
        "expect": expected,
        "rcode": answer.rcode,
        "answer": answer.answers,
        "latency_ms": answer.latency_ms,
    }
    external = not in_zone(name, params["zone"])
    values["recursive"] = external
    asked = f"{server_name} ({server['address']}) for {name} {rtype}"
    if answer.error is not None:
        values["error"] = answer.error
        status, message = "failed", f"Asked {asked}: {answer.error}; expected {_listed(expected)}."
    elif answer.rcode != "NOERROR":
        status = "failed"
        message = f"Asked {asked}: {answer.rcode}; expected {_listed(expected)}."
    elif expected and normalise(answer.answers or []) != expected:
        got = _listed(normalise(answer.answers or []))
        status, message = "failed", f"Asked {asked}: got {got}; expected {_listed(expected)}."
    elif answer.latency_ms is not None and answer.latency_ms > params["slow_ms"]:
        status = "degraded"
        message = f"Asked {asked}: right answer, but slow ({answer.latency_ms:.0f} ms)."
    else:
        status = "ok"
        message = f"Asked {asked}: {_listed(normalise(answer.answers or []))}, as expected."
    segment = "dns"
    if status != "ok" and external and zone_answers:
        segment = "isp_upstream"
        message += " The server answers its own zone, so recursion beyond it fails."
    return make_check(
        STEP, "dns_query", params["vantage"], target, status, message, segment, None, values
    )


def _listed(answers: list[str]) -> str:
    return ", ".join(answers) if answers else "no records"


def judge_serials(
    servers: list[dict[str, Any]], serials: list[Answer], params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Return the ``soa_serial`` check of every server, the secondaries against the primary."""
    primary_serial = None
    for server, soa in zip(servers, serials, strict=True):
        if server.get("role") == "primary" and soa.error is None and soa.answers:
            primary_serial = int(soa.answers[0])
    return [
        judge_serial(server, soa, primary_serial, params)
        for server, soa in zip(servers, serials, strict=True)
    ]


def judge_serial(
    server: dict[str, Any], soa: Answer, primary_serial: int | None, params: dict[str, Any]
) -> dict[str, Any]:
    """Return the ``soa_serial`` check of one server."""
    zone, name = params["zone"], server["name"]
    target = f"{name}/{zone}"
    serial = int(soa.answers[0]) if soa.error is None and soa.answers else None
    values = {
        "server": server["address"],
        "role": server.get("role"),
        "serial": serial,
        "primary_serial": primary_serial,
        "rcode": soa.rcode,
        "latency_ms": soa.latency_ms,
    }
    if serial is None:
        why = soa.error or soa.rcode or "no SOA record"
        status, message = "failed", f"{name} does not give the SOA of {zone} ({why})."
    elif server.get("role") == "primary":
        status, message = "ok", f"{name}, the primary of {zone}, has serial {serial}."
    elif primary_serial is None:
        status = "unknown"
        message = f"{name} has serial {serial} of {zone}; the primary's is unknown to compare."
    elif serial_behind(serial, primary_serial):
        status = "degraded"
        message = f"{name} lags behind the primary on {zone}: serial {serial} < {primary_serial}."
    else:
        status, message = "ok", f"{name} has serial {serial} of {zone}, as the primary."
    return make_check(
        STEP, "soa_serial", params["vantage"], target, status, message, "dns", None, values
    )


def serial_behind(serial: int, reference: int) -> bool:
    """Return whether ``serial`` is behind ``reference`` in RFC 1982 serial arithmetic."""
    difference = (reference - serial) % 2**32
    return 0 < difference < 2**31


# -- Asking the servers ------------------------------------------------------------------


async def ask(server: dict[str, Any], name: str, rtype: str, timeout: float) -> Answer:
    """Ask ``server`` one question; a timeout or a network error is an answer too.

    The socket is connected to the server, so that "nothing listens on port
    53" (an ICMP port unreachable) comes back at once as a refused
    connection instead of waiting out the timeout.
    """
    query = dns.message.make_query(name, rtype)
    address, port = server["address"], server.get("port") or 53
    started = time.monotonic()
    try:
        backend = dns.asyncbackend.get_backend("asyncio")
        family = dns.inet.af_for_address(address)
        async with await backend.make_socket(
            family, socket.SOCK_DGRAM, 0, None, (address, port)
        ) as sock:
            response = await dns.asyncquery.udp(
                query, address, timeout=timeout, port=port, sock=sock
            )
    except dns.exception.Timeout:
        return Answer(error=f"no answer within {timeout:g} s")
    except ConnectionRefusedError:
        return Answer(error=f"connection refused: nothing listens on port {port}")
    except OSError as error:
        return Answer(error=f"network error: {error.strerror or error}")
    except dns.exception.DNSException as error:
        return Answer(error=f"bad answer: {error}")
    latency = round((time.monotonic() - started) * 1000, 1)
    wanted = dns.rdatatype.from_text(rtype)
    answers = [
        _rdata_text(rdata) for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset
    ]
    return Answer(dns.rcode.to_text(response.rcode()), answers, latency)


def _rdata_text(rdata: Any) -> str:
    if rdata.rdtype == dns.rdatatype.SOA:
        return str(rdata.serial)
    return rdata.to_text()


async def ask_all(params: dict[str, Any]) -> tuple[list[list[Answer]], list[Answer]]:
    """Ask every server every expectation and the zone's SOA, all at once."""
    servers, expectations, timeout = params["servers"], params["expectations"], params["timeout"]
    questions = [
        ask(server, expectation["name"], expectation.get("type") or "A", timeout)
        for server in servers
        for expectation in expectations
    ]
    questions += [ask(server, params["zone"], "SOA", timeout) for server in servers]
    answers = await asyncio.gather(*questions)
    per_server = len(expectations)
    grid = [list(answers[i * per_server : (i + 1) * per_server]) for i in range(len(servers))]
    return grid, list(answers[len(servers) * per_server :])


def answers_own_zone(expectations: list[dict[str, Any]], answers: list[Answer], zone: str) -> bool:
    """Return whether a server answered every expected name of its own zone rightly."""
    own = [
        (expectation, answer)
        for expectation, answer in zip(expectations, answers, strict=True)
        if in_zone(expectation["name"], zone)
    ]
    return bool(own) and all(
        answer.error is None
        and answer.rcode == "NOERROR"
        and normalise(answer.answers or []) == normalise(expectation.get("expect") or [])
        for expectation, answer in own
    )


def run(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Ask the servers of ``params`` and return their checks."""
    grid, serials = asyncio.run(ask_all(params))
    expectations = params["expectations"]
    checks = []
    for server, answers in zip(params["servers"], grid, strict=True):
        zone_answers = answers_own_zone(expectations, answers, params["zone"])
        checks.extend(
            judge_query(server, expectation, answer, zone_answers, params)
            for expectation, answer in zip(expectations, answers, strict=True)
        )
    checks.extend(judge_serials(params["servers"], serials, params))
    return checks


ARGUMENT_SPEC = {
    "servers": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "name": {"type": "str", "required": True},
            "address": {"type": "str", "required": True},
            "port": {"type": "int", "default": 53},
            "role": {
                "type": "str",
                "default": "secondary",
                "choices": ["primary", "secondary"],
            },
        },
    },
    "expectations": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "name": {"type": "str", "required": True},
            "type": {"type": "str", "default": "A"},
            "expect": {"type": "list", "elements": "str"},
        },
    },
    "zone": {"type": "str", "required": True},
    "timeout": {"type": "float", "default": 2.0},
    "slow_ms": {"type": "float", "default": 500},
    "vantage": {"type": "str", "default": "ops"},
}


def main() -> None:
    """Run the module."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if dns is None:
        module.fail_json(msg=missing_required_lib("dnspython"))
    module.exit_json(changed=False, checks=run(module.params))


if __name__ == "__main__":
    main()
