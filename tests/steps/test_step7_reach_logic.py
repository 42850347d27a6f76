"""Unit tests of the step-7 module's parsers and judging (no network, no Ansible run)."""

from typing import Any

import pytest
from helpers import REPO, load_module

from runbook_runner.checks import validate_checks

reach = load_module(REPO / "roles" / "reachability_check" / "library" / "batiknet_reach.py")

FPING = """\
192.0.2.1    : 0.06 0.08 - 0.07
192.0.2.53   : - - - -
ICMP Host Unreachable from 192.0.2.254 for ICMP Echo sent to 198.51.100.7
198.51.100.7 : 1.5 1.7 1.6 1.4
"""

TRACEROUTE = """\
traceroute to 198.51.100.7 (198.51.100.7), 8 hops max, 60 byte packets
 1  192.0.2.254  0.051 ms
 2  *
 3  192.0.2.1  0.210 ms !H
"""


def test_parse_fping_reads_every_summary_line_and_skips_icmp_errors() -> None:
    samples = reach.parse_fping(FPING)
    assert samples == {
        "192.0.2.1": [0.06, 0.08, None, 0.07],
        "192.0.2.53": [None, None, None, None],
        "198.51.100.7": [1.5, 1.7, 1.6, 1.4],
    }


def test_summarize_samples_gives_loss_and_round_trip() -> None:
    values = reach.summarize_samples([0.06, 0.08, None, 0.07])
    assert values == {
        "sent": 4,
        "received": 3,
        "loss": 25.0,
        "rtt_min": 0.06,
        "rtt_avg": 0.07,
        "rtt_max": 0.08,
    }


@pytest.mark.parametrize(
    ("loss", "status"),
    [
        pytest.param(0.0, "ok", id="clean"),
        pytest.param(5.0, "ok", id="below-threshold"),
        pytest.param(10.0, "degraded", id="at-threshold"),
        pytest.param(95.0, "degraded", id="one-reply"),
        pytest.param(100.0, "failed", id="silent"),
    ],
)
def test_reach_status_by_loss(loss: float, status: str) -> None:
    assert reach.reach_status(loss, 10.0) == status


def test_parse_traceroute_finds_where_the_path_stops() -> None:
    hops = reach.parse_traceroute(TRACEROUTE)
    assert [(h["hop"], h["address"], h["note"]) for h in hops] == [
        (1, "192.0.2.254", None),
        (2, None, None),
        (3, "192.0.2.1", "!H"),
    ]
    assert reach.last_answering_hop(hops)["address"] == "192.0.2.1"
    assert reach.last_answering_hop([{"hop": 1, "address": None}]) is None


def test_resolv_conf_is_read() -> None:
    conf = (
        "search example.test\nnameserver 192.0.2.53\n# nameserver 192.0.2.9\n"
        "nameserver 192.0.2.54\n"
    )
    assert reach.parse_resolv_conf(conf) == ["192.0.2.53", "192.0.2.54"]


# /proc/net/route: little-endian hex. 192.0.2.0/24 on-link, 198.51.100.0/23 via
# 192.0.2.1, default via 192.0.2.254.
ROUTES = (
    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
    "eth0\t006433C6\t010200C0\t0003\t0\t0\t0\t00FEFFFF\n"
    "eth0\t00000000\tFE0200C0\t0003\t0\t0\t0\t00000000\n"
)


@pytest.mark.parametrize(
    ("table", "address", "gateway"),
    [
        pytest.param(ROUTES, "198.51.101.7", "192.0.2.1", id="longest-prefix"),
        pytest.param(ROUTES, "203.0.113.9", "192.0.2.254", id="default-route"),
        pytest.param(ROUTES, "192.0.2.80", None, id="on-link"),
        pytest.param(ROUTES.splitlines()[0], "203.0.113.9", None, id="no-route"),
    ],
)
def test_next_hop_follows_the_best_route(table: str, address: str, gateway: str | None) -> None:
    assert reach.next_hop(table, address) == gateway


def _answer(query_id: int, rcode: int, addresses: list[str]) -> bytes:
    packet = reach.dns_query_packet("portal.example.test", query_id)
    header = bytearray(packet[:12])
    header[2:4] = (0x8180 | rcode).to_bytes(2, "big")
    header[6:8] = len(addresses).to_bytes(2, "big")
    body = packet[12:]
    for address in addresses:
        body += b"\xc0\x0c" + bytes([0, 1, 0, 1, 0, 0, 0, 60, 0, 4])
        body += bytes(int(part) for part in address.split("."))
    return bytes(header) + body


@pytest.mark.parametrize(
    ("rcode", "addresses", "expected"),
    [
        pytest.param(0, ["192.0.2.80"], ("NOERROR", ["192.0.2.80"]), id="answer"),
        pytest.param(3, [], ("NXDOMAIN", []), id="nxdomain"),
        pytest.param(2, [], ("SERVFAIL", []), id="servfail"),
    ],
)
def test_dns_answer_is_parsed_with_compressed_names(
    rcode: int, addresses: list[str], expected: tuple[str, list[str]]
) -> None:
    assert reach.parse_dns_answer(_answer(4242, rcode, addresses), 4242) == expected


def test_dns_answer_to_another_query_is_refused() -> None:
    with pytest.raises(ValueError, match="another query"):
        reach.parse_dns_answer(_answer(1, 0, []), 2)


def _vantage(**params: Any) -> Any:
    defaults = {
        "vantage": "opd1-pc",
        "vantage_segment": "user_lan",
        "site": "opd1",
        "targets": [],
        "names": [],
        "resolvers": {},
        "http": [],
        "loss_threshold": 10.0,
    }
    return reach.Vantage({**defaults, **params})


def _target(name: str, role: str, segment: str, status: str) -> dict[str, Any]:
    return {"name": name, "role": role, "segment": segment, "status": status, "address": name}


@pytest.mark.parametrize(
    ("statuses", "connected", "quality", "segment"),
    [
        pytest.param(("ok", "ok", "ok"), True, "ok", "user_lan", id="healthy"),
        pytest.param(("ok", "ok", "degraded"), True, "degraded", "isp_upstream", id="lossy"),
        pytest.param(("ok", "ok", "failed"), False, "failed", "isp_upstream", id="no-internet"),
        pytest.param(("ok", "failed", "ok"), False, "failed", "server", id="no-server"),
        pytest.param(("failed", "ok", "ok"), True, "ok", "user_lan", id="gateway-not-counted"),
    ],
)
def test_verdict_says_connected_from_servers_and_internet(
    statuses: tuple[str, str, str], connected: bool, quality: str, segment: str
) -> None:
    vantage = _vantage()
    targets = [
        _target("192.0.2.1", "gateway", "user_lan", statuses[0]),
        _target("192.0.2.80", "server", "server", statuses[1]),
        _target("198.51.100.7", "internet", "isp_upstream", statuses[2]),
    ]
    result = vantage._verdict(targets)
    validate_checks(result["checks"])
    check = result["checks"][-1]
    assert (result["connected"], result["quality"]) == (connected, quality)
    assert (check["check"], check["status"], check["segment"]) == ("connected", quality, segment)
    assert check["values"]["connected"] is connected
