"""Direct probes of the lab for the tests: ping, SNMP, DNS, HTTP, SSH, in-namespace commands.

Each probe is bounded in count and time and only ever targets 198.18.0.0/15.
"""

import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

RUNBOOK = Path(sys.executable).parent / "runbook"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"


@dataclass(frozen=True)
class LabAccess:
    """Where the running lab keeps what a probe needs: its directory and secrets."""

    root: Path

    def secret(self, name: str) -> str:
        return (self.root / "secrets" / name).read_text(encoding="utf-8").strip()

    @property
    def ssh_key(self) -> Path:
        return self.root / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "ssh" / "known_hosts"


def lab_root() -> Path:
    return Path(os.environ.get("BATIKNET_LAB_DIR") or "/run/batiknet-lab")


def runbook(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``runbook ARGS...`` and return its result, output captured."""
    return subprocess.run(
        [str(RUNBOOK), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def run_in(namespace: str, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """Run a command inside a lab namespace (plain ``ip netns exec``) and return its result."""
    return subprocess.run(
        ["ip", "netns", "exec", namespace, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ping(address: str, count: int = 3, interval_ms: int = 20, namespace: str | None = None) -> int:
    """Send ``count`` pings and return how many were answered."""
    argv = ["fping", "-q", "-c", str(count), "-p", str(interval_ms), "-t", "300", address]
    if namespace:
        argv = ["ip", "netns", "exec", namespace, *argv]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    # fping -q prints "addr : xmt/rcv/%loss = 3/3/0%, ..." on stderr.
    for line in result.stderr.splitlines():
        if "xmt/rcv" in line:
            return int(line.split("=")[1].split("/")[1])
    return 0


def snmp_get(
    lab: LabAccess, address: str, oid: str, *, version: str = "2c", timeout: float = 0.5
) -> str | None:
    """Return the value of ``oid`` at ``address`` as snmpget prints it, ``None`` without one."""
    argv = ["snmpget", "-Oqv", "-t", str(timeout), "-r", "1"]
    if version == "3":
        argv += [
            "-v3", "-l", "authPriv", "-u", lab.secret("snmp_v3_user"),
            "-a", "SHA", "-A", lab.secret("snmp_v3_auth_key"),
            "-x", "AES", "-X", lab.secret("snmp_v3_priv_key"),
        ]  # fmt: skip
    else:
        argv += ["-v2c", "-c", lab.secret("snmp_community")]
    result = subprocess.run(
        [*argv, address, oid], capture_output=True, text=True, timeout=10, check=False
    )
    if result.returncode != 0 or "No Such" in result.stdout:
        return None
    return result.stdout.strip().strip('"')


def snmp_walk(lab: LabAccess, address: str, oid: str) -> dict[str, str]:
    """Walk ``oid`` with v2c and return index -> value."""
    result = subprocess.run(
        ["snmpwalk", "-On", "-Oq", "-t", "0.5", "-r", "1", "-v2c", "-c",
         lab.secret("snmp_community"), address, oid],
        capture_output=True, text=True, timeout=15, check=False,
    )  # fmt: skip
    values = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition(" ")
        values[name.rsplit(".", 1)[-1]] = value.strip('"')
    return values


def dns_answer(server: str, name: str, rdtype: str = "A", timeout: float = 1.0) -> list[str] | None:
    """Return the answers ``server`` gives for ``name``, ``None`` when it does not answer."""
    query = dns.message.make_query(name, dns.rdatatype.from_text(rdtype))
    try:
        response = dns.query.udp(query, server, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None
    return [rdata.to_text() for rrset in response.answer for rdata in rrset]


def soa_serial(server: str, zone: str) -> int | None:
    answers = dns_answer(server, zone, "SOA")
    return int(answers[0].split()[2]) if answers else None


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """Return the HTTP status of a GET to ``url``, ``None`` when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


def ssh(lab: LabAccess, address: str, command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on a lab host as root with the lab key, host keys checked."""
    return subprocess.run(
        [
            "ssh", "-i", str(lab.ssh_key), "-o", f"UserKnownHostsFile={lab.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=3", "-o", "ControlMaster=no", f"root@{address}", command,
        ],
        capture_output=True, text=True, timeout=15, check=False,
    )  # fmt: skip


def leftovers(lab_dir: Path) -> list[str]:
    """Return what a lab left on the machine: namespaces, links, routes, processes, files."""
    found = []
    netns = Path("/run/netns")
    if netns.is_dir():
        found += [f"netns {p.name}" for p in netns.iterdir() if p.name.startswith("bn-")]
    found += [
        f"link {p.name}" for p in Path("/sys/class/net").iterdir() if p.name.startswith("bn-")
    ]
    routes = subprocess.run(
        ["ip", "route", "show", "table", "all"], capture_output=True, text=True, check=False
    ).stdout
    found += [
        f"route {line}" for line in routes.splitlines() if "198.18." in line or "198.19." in line
    ]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if str(lab_dir) in cmdline and comm in ("sshd", "named", "snmpd", "busybox"):
            found.append(f"process {proc.name} {comm}")
    if lab_dir.exists():
        found.append(f"directory {lab_dir}")
    return found
