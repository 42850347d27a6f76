"""Time a full incident (steps 4-7 to the verdict) against the raw probes it stands on.

For the healthy lab and each fault of the catalog, the script runs
``runbook incident --json`` (a new command each time, as a technician would)
and times it; then it times the same probes without Ansible: fping from the
user host and from a server, the DNS queries of step 6, the SNMP walks of
step 4 and the HTTP fetch of step 7. The ratio shows what Ansible and the
runner cost on top of the probes.

    .venv/bin/python benchmarks/incident.py [--fault uplink-down ...] [--runs 1] [--json]

The budget (issue 5): under 10 s on the healthy lab, under 20 s under any
catalog fault. The lab must be up; the script holds the lab lock for its
whole run, injects one fault at a time and always heals it. Exit code 0 when
every figure is within its budget, 1 when one is over, 2 on a lab problem.
"""

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dns.message
import dns.query

VENV_BIN = Path(sys.executable).parent
RUNBOOK = VENV_BIN / "runbook"
LAB_LOCK = Path("/run/lock/batiknet-lab.lock")
LAB_DIR = Path(os.environ.get("BATIKNET_LAB_DIR") or "/run/batiknet-lab")
HEALTHY_BUDGET = 10.0
FAULT_BUDGET = 20.0

# fault -> the site whose incident is timed (LAB.md's table)
FAULTS = {
    "uplink-down": "opd1",
    "uplink-loss": "opd1",
    "opd1-access-down": "opd1",
    "opd2-access-down": "opd2",
    "opd3-gw-down": "opd3",
    "core-port-admin-down": "opd2",
    "dns1-down": "opd1",
    "dns-all-down": "opd1",
    "dns1-wrong-answer": "opd1",
    "app1-down": "opd1",
    "opd1-lan-down": "opd1",
}
TARGETS = [
    "198.18.0.254",
    "198.18.10.53",
    "198.18.10.54",
    "198.18.10.80",
    "198.18.9.2",
    "198.19.255.1",
]
NAMES = ["portal.batiknet.test", "ns1.batiknet.test", "ns2.batiknet.test", "www.internet.test"]
IF_TABLE = [
    "1.3.6.1.2.1.2.2.1.7",
    "1.3.6.1.2.1.2.2.1.8",
    "1.3.6.1.2.1.2.2.1.14",
    "1.3.6.1.2.1.2.2.1.13",
    "1.3.6.1.2.1.31.1.1.1.1",
]


@contextmanager
def lab_lock() -> Iterator[None]:
    LAB_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LAB_LOCK.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def lab(*args: str) -> None:
    result = subprocess.run(
        [str(RUNBOOK), "lab", *args], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        sys.exit(f"runbook lab {' '.join(args)} failed: {result.stderr.strip()}")


def timed(action: Callable[[], Any]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def incident(site: str) -> dict[str, Any]:
    """Run one incident in a throw-away data directory; return its time and outcome."""
    with tempfile.TemporaryDirectory(prefix="bn-bench-") as data_dir:
        env = {**os.environ, "RUNBOOK_DATA_DIR": data_dir}
        argv = [
            str(RUNBOOK),
            "incident",
            "--site",
            site,
            "--letter-no",
            "BENCH",
            "--letter-date",
            "2026-12-03",
            "--complaint",
            "benchmark",
            "--assignee",
            "bench",
            "--no-notify",
            "--json",
        ]
        started = time.monotonic()
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        seconds = time.monotonic() - started
    if result.returncode != 0:
        return {"seconds": seconds, "error": result.stderr.strip()[-300:]}
    data = json.loads(result.stdout)
    return {
        "seconds": seconds,
        "connected": data["connected"],
        "segment": data["segment"],
        "branch": data["branch"],
    }


def _quiet(argv: list[str], timeout: float = 30) -> None:
    subprocess.run(argv, capture_output=True, timeout=timeout, check=False)


def raw_probes(site: str) -> dict[str, float]:
    """Time the probes of steps 4, 6 and 7 without Ansible, one after the other."""
    pc = f"bn-{site}-pc"
    gateway = f"198.18.{site[-1]}.2"
    secrets = {
        name: (LAB_DIR / "secrets" / name).read_text().strip()
        for name in ("snmp_community", "snmp_v3_user", "snmp_v3_auth_key", "snmp_v3_priv_key")
    }
    v3 = [
        "-v3",
        "-l",
        "authPriv",
        "-u",
        secrets["snmp_v3_user"],
        "-a",
        "SHA",
        "-A",
        secrets["snmp_v3_auth_key"],
        "-x",
        "AES",
        "-X",
        secrets["snmp_v3_priv_key"],
    ]
    fping = ["fping", "-q", "-c", "20", "-p", "20", "-t", "300"]

    def snmp() -> None:
        for oid in IF_TABLE:
            _quiet(["snmpbulkwalk", *v3, "-t", "1", "-r", "1", "-On", "198.18.0.254", oid])
            _quiet(
                [
                    "snmpbulkwalk",
                    "-v2c",
                    "-c",
                    secrets["snmp_community"],
                    "-t",
                    "1",
                    "-r",
                    "1",
                    "-On",
                    gateway,
                    oid,
                ]
            )

    def dns_queries() -> None:
        for server in ("198.18.10.53", "198.18.10.54"):
            for name in NAMES:
                try:
                    dns.query.udp(dns.message.make_query(name, "A"), server, timeout=2)
                except (OSError, dns.exception.DNSException):
                    continue

    return {
        "fping_devices": timed(
            lambda: _quiet(["fping", "-q", "-c", "2", "-t", "300", "198.18.0.254", gateway])
        ),
        "snmp_walks": timed(snmp),
        "dns_queries": timed(dns_queries),
        "fping_user_host": timed(
            lambda: _quiet(
                ["ip", "netns", "exec", pc, *fping, f"198.18.1{site[-1].zfill(2)}.1", *TARGETS]
            )
        ),
        "fping_server": timed(
            lambda: _quiet(["ip", "netns", "exec", "bn-dns1", *fping, gateway, *TARGETS])
        ),
        "http_user_host": timed(
            lambda: _quiet(
                [
                    "ip",
                    "netns",
                    "exec",
                    pc,
                    "busybox",
                    "wget",
                    "-q",
                    "-O",
                    "/dev/null",
                    "-T",
                    "3",
                    "http://198.18.10.80/",
                ]
            )
        ),
    }


def measure(name: str, site: str, runs: int) -> dict[str, Any]:
    runs_data = [incident(site) for _ in range(runs)]
    probes = raw_probes(site)
    best = min(r["seconds"] for r in runs_data)
    raw = sum(probes.values())
    budget = HEALTHY_BUDGET if name == "healthy" else FAULT_BUDGET
    return {
        "case": name,
        "site": site,
        "incident_seconds": round(best, 2),
        "raw_probe_seconds": round(raw, 2),
        "ratio": round(best / raw, 1) if raw else None,
        "budget": budget,
        "within_budget": best < budget,
        "outcome": runs_data[-1],
        "probes": {k: round(v, 2) for k, v in probes.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", action="append", choices=sorted(FAULTS), default=None)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--healthy-only", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    faults = [] if args.healthy_only else (args.fault or list(FAULTS))
    figures = []
    with lab_lock():
        status = subprocess.run(
            [str(RUNBOOK), "lab", "status", "--json"], capture_output=True, text=True, check=False
        )
        if status.returncode != 0 or not json.loads(status.stdout or "{}").get("up"):
            print("the lab is down: run `runbook lab up` first", file=sys.stderr)
            return 2
        lab("heal")
        figures.append(measure("healthy", "opd1", args.runs))
        for fault in faults:
            lab("fault", fault)
            try:
                figures.append(measure(fault, FAULTS[fault], args.runs))
            finally:
                lab("heal", fault)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{'case':<22} {'incident s':>10} {'raw probes s':>12} {'ratio':>6} {'budget':>7}  "
            "outcome"
        )
        for f in figures:
            outcome = f["outcome"]
            text = outcome.get("error") or (
                f"connected={outcome['connected']} {outcome['segment']} {outcome['branch']}"
            )
            print(
                f"{f['case']:<22} {f['incident_seconds']:>10.2f} {f['raw_probe_seconds']:>12.2f} "
                f"{f['ratio'] or 0:>6.1f} {'ok' if f['within_budget'] else 'OVER':>7}  {text}"
            )
    return 0 if all(f["within_budget"] for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
