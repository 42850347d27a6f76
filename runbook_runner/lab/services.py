"""The lab's daemons: their files, how they start, stop and show they are ready.

Each daemon runs inside its namespace as its own host (hostname, /etc/hosts,
/etc/resolv.conf), in the foreground, tracked by a pid file in the lab
directory. A service is named ``namespace:service`` (``bn-dns1:named``).
"""

import logging
import secrets
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import jinja2

from runbook_runner.errors import RunbookError
from runbook_runner.lab import _system
from runbook_runner.lab.state import LabDir
from runbook_runner.lab.topology import Namespace, Topology
from runbook_runner.settings import PROJECT_DIR

log = logging.getLogger(__name__)

TEMPLATE_DIR = PROJECT_DIR / "lab" / "templates"
READY_TIMEOUT = 10.0
V3_USER_PREFIX = "bnops-"
# NET-SNMP-AGENT-MIB::nsCacheTimeout of the ifTable cache: 0 makes every
# request read the interfaces afresh, so a link set down shows at once.
IF_CACHE_TIMEOUT_OID = "1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2"
_WRAPPER_NAMES = ("ip", "unshare", "sh")
WRAPPER_GRACE = 10.0
_PROCESS_NAMES = {"sshd": "sshd", "snmpd": "snmpd", "named": "named", "http": "busybox"}


class ServiceError(RunbookError):
    """A lab daemon did not start or did not become ready; ``services`` names them."""

    def __init__(self, message: str, services: list[str], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.services = services


@dataclass(frozen=True)
class Credentials:
    """The lab's secrets, as ``lab up`` made them."""

    community: str
    v3_user: str
    v3_auth_key: str
    v3_priv_key: str


def make_credentials(lab: LabDir) -> Credentials:
    """Make a random community and SNMPv3 user with keys; store them under ``secrets/`` (0600)."""
    credentials = Credentials(
        community=f"bn{secrets.token_hex(8)}",
        v3_user=f"{V3_USER_PREFIX}{secrets.token_hex(4)}",
        v3_auth_key=secrets.token_hex(12),
        v3_priv_key=secrets.token_hex(12),
    )
    lab.write_secret("snmp_community", credentials.community)
    lab.write_secret("snmp_v3_user", credentials.v3_user)
    lab.write_secret("snmp_v3_auth_key", credentials.v3_auth_key)
    lab.write_secret("snmp_v3_priv_key", credentials.v3_priv_key)
    return credentials


def read_credentials(lab: LabDir) -> Credentials:
    """Return the stored SNMP credentials.

    Raises:
        RunbookError: they are missing (the lab is not up).
    """
    try:
        return Credentials(
            community=lab.read_secret("snmp_community"),
            v3_user=lab.read_secret("snmp_v3_user"),
            v3_auth_key=lab.read_secret("snmp_v3_auth_key"),
            v3_priv_key=lab.read_secret("snmp_v3_priv_key"),
        )
    except OSError as error:
        raise RunbookError(
            f"lab: the SNMP credentials are missing under {lab.secrets}",
            hint="Bring the lab up with `runbook lab up`.",
        ) from error


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def zone_serial() -> int:
    """Return the serial of a zone written now: the date and a counter (YYYYMMDDnn)."""
    return int(time.strftime("%Y%m%d", time.gmtime())) * 100 + 1


def write_zone(lab: LabDir, topology: Topology, records: Mapping[str, str], serial: int) -> Path:
    """Write the primary's zone file with ``records`` and ``serial``; return its path."""
    zone = topology.dns["zone"]
    path = lab.host(topology.dns["primary"]) / f"db.{zone}"
    text = (
        _environment()
        .get_template("zone.j2")
        .render(zone=zone, hostmaster=topology.dns["hostmaster"], serial=serial, records=records)
    )
    _write(path, text)
    return path


def write_files(lab: LabDir, topology: Topology, credentials: Credentials) -> None:
    """Write every lab host's files: its /etc, daemon configs, keys and pages.

    Raises:
        LabCommandError: ssh-keygen fails.
    """
    env = _environment()
    ssh_hosts = [ns for ns in topology.namespaces.values() if "sshd" in ns.services]
    keygens = _start_keygens(lab, ssh_hosts)
    for ns in topology.namespaces.values():
        host_dir = lab.host(ns.name)
        host_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        context = {"namespace": ns, "host_dir": host_dir, "search_domain": topology.search_domain}
        _write(host_dir / "hosts", env.get_template("hosts.j2").render(context))
        _write(host_dir / "resolv.conf", env.get_template("resolv.conf.j2").render(context))
        _write(host_dir / "hostname", f"{ns.name}\n")
        for service, options in ns.services.items():
            _WRITERS[service](lab, topology, ns, {**context, "options": options}, credentials)
    _finish_keygens(keygens)
    _write_ssh_trust(lab, topology, ssh_hosts)


def _start_keygens(
    lab: LabDir, hosts: list[Namespace]
) -> list[tuple[list[str], subprocess.Popen[bytes]]]:
    lab.ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    jobs = [(lab.ssh / "id_ed25519", "batiknet-lab")]
    for ns in hosts:
        lab.host(ns.name).mkdir(mode=0o700, parents=True, exist_ok=True)
        jobs.append((lab.host(ns.name) / "ssh_host_ed25519_key", f"root@{ns.name}"))
    processes: list[tuple[list[str], subprocess.Popen[bytes]]] = []
    for path, comment in jobs:
        path.unlink(missing_ok=True)
        argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)]
        keygen = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append((argv, keygen))
    return processes


def _finish_keygens(processes: list[tuple[list[str], subprocess.Popen[bytes]]]) -> None:
    for argv, process in processes:
        _, stderr = process.communicate(timeout=20)
        if process.returncode != 0:
            raise _system.LabCommandError(argv, stderr.decode(errors="replace"))


def _write_ssh_trust(lab: LabDir, topology: Topology, hosts: list[Namespace]) -> None:
    public_key = (lab.ssh / "id_ed25519.pub").read_text(encoding="utf-8")
    _write(lab.ssh / "authorized_keys", public_key, 0o600)
    lines = []
    for ns in hosts:
        host_key = (lab.host(ns.name) / "ssh_host_ed25519_key.pub").read_text(encoding="utf-8")
        key_type, key = host_key.split()[:2]
        address = ns.services["sshd"]["listen"]
        lines.append(f"{address},{ns.name} {key_type} {key}\n")
    _write(lab.ssh / "known_hosts", "".join(lines))


def _write_sshd(
    lab: LabDir, topology: Topology, ns: Namespace, context: dict[str, Any], _: Credentials
) -> None:
    text = (
        _environment()
        .get_template("sshd_config.j2")
        .render(context, authorized_keys=lab.ssh / "authorized_keys")
    )
    _write(lab.host(ns.name) / "sshd_config", text)


def _write_snmpd(
    lab: LabDir, topology: Topology, ns: Namespace, context: dict[str, Any], creds: Credentials
) -> None:
    text = (
        _environment()
        .get_template("snmpd.conf.j2")
        .render(
            context,
            community=creds.community,
            v3_user=creds.v3_user,
            v3_auth_key=creds.v3_auth_key,
            v3_priv_key=creds.v3_priv_key,
        )
    )
    _write(lab.host(ns.name) / "snmpd.conf", text, 0o600)
    (lab.host(ns.name) / "snmp").mkdir(mode=0o700, exist_ok=True)


def _write_named(
    lab: LabDir, topology: Topology, ns: Namespace, context: dict[str, Any], _: Credentials
) -> None:
    options = context["options"]
    zone = topology.dns["zone"]
    isp = _isp_resolver(topology)
    secondaries = [
        other.services["named"]["listen"]
        for other in topology.namespaces.values()
        if other.services.get("named", {}).get("primary") == options["listen"]
    ]
    text = (
        _environment()
        .get_template("named.conf.j2")
        .render(context, zone=zone, forwarders=[isp], secondaries=secondaries)
    )
    _write(lab.host(ns.name) / "named.conf", text)
    if options["role"] == "primary":
        serial = int(lab.read_state().get("zone_serial") or zone_serial())
        write_zone(lab, topology, topology.dns["records"], serial)
    elif options["role"] == "isp":
        text = (
            _environment()
            .get_template("root.zone.j2")
            .render(listen=options["listen"], records=topology.dns["internet"])
        )
        _write(lab.host(ns.name) / "db.root", text)


def _isp_resolver(topology: Topology) -> str:
    for ns in topology.namespaces.values():
        named = ns.services.get("named", {})
        if named.get("role") == "isp":
            return str(named["listen"])
    raise RunbookError("lab topology: no namespace runs the ISP's resolver")


def _write_http(
    lab: LabDir, topology: Topology, ns: Namespace, context: dict[str, Any], _: Credentials
) -> None:
    www = lab.host(ns.name) / "www"
    www.mkdir(mode=0o755, exist_ok=True)
    page = context["options"]["page"]
    _write(www / "index.html", _environment().get_template(f"{page}.html.j2").render(context))


_WRITERS: dict[str, Callable[[LabDir, Topology, Namespace, dict[str, Any], Credentials], None]] = {
    "sshd": _write_sshd,
    "snmpd": _write_snmpd,
    "named": _write_named,
    "http": _write_http,
}


def _daemon_argv(lab: LabDir, ns: Namespace, service: str) -> list[str]:
    host_dir = lab.host(ns.name)
    options = ns.services[service]
    if service == "sshd":
        return ["/usr/sbin/sshd", "-D", "-e", "-f", str(host_dir / "sshd_config")]
    if service == "snmpd":
        return ["/usr/sbin/snmpd", "-f", "-Lo", "-C", "-c", str(host_dir / "snmpd.conf")]
    if service == "named":
        return ["/usr/sbin/named", "-4", "-f", "-n", "1", "-c", str(host_dir / "named.conf")]
    return ["busybox", "httpd", "-f", "-p", f"{options['listen']}:80", "-h", str(host_dir / "www")]


def start(lab: LabDir, ns: Namespace, service: str) -> int:
    """Start one daemon of ``ns`` unless it runs already; return its pid.

    Raises:
        LabCommandError: the daemon cannot be started.
    """
    running = pid_of(lab, ns.name, service)
    if running:
        return running
    env = {}
    if service == "snmpd":
        env = {"SNMP_PERSISTENT_DIR": str(lab.host(ns.name) / "snmp"), "MIBS": ""}
    argv = _system.host_argv(ns.name, ns.name, lab.host(ns.name), _daemon_argv(lab, ns, service))
    pid = _system.spawn(argv, lab.log_file(ns.name, service), env)
    lab.pid_file(ns.name, service).write_text(f"{pid}\n", encoding="utf-8")
    log.info("%s: started %s, pid %d", ns.name, service, pid)
    return pid


def pid_of(lab: LabDir, namespace: str, service: str) -> int | None:
    """Return the pid of a running daemon, ``None`` when it does not run."""
    path = lab.pid_file(namespace, service)
    try:
        pid = int(path.read_text().strip())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        return None
    name = _system.process_name(pid)
    if name == _PROCESS_NAMES.get(service, service):
        return pid
    # Just after the start the wrapper is still becoming the daemon; an old
    # pid file naming a shell is a recycled pid, not ours.
    if name in _WRAPPER_NAMES and age < WRAPPER_GRACE:
        return pid
    return None


def stop(lab: LabDir, namespace: str, service: str) -> None:
    """End one daemon by its pid file and remove the file."""
    pid = pid_of(lab, namespace, service)
    if pid:
        _system.end_processes([pid])
        log.info("%s: stopped %s, pid %d", namespace, service, pid)
    lab.pid_file(namespace, service).unlink(missing_ok=True)


def wait_ready(
    lab: LabDir,
    topology: Topology,
    services: Iterable[tuple[str, str]],
    timeout: float = READY_TIMEOUT,
) -> None:
    """Wait until every listed daemon serves, polling with a growing, capped delay.

    Raises:
        ServiceError: a daemon died, or some are not ready after ``timeout`` seconds.
    """
    pending = list(services)
    deadline = time.monotonic() + timeout
    delay = 0.005
    while pending:
        dead = [f"{n}:{s}" for n, s in pending if pid_of(lab, n, s) is None]
        if dead:
            raise ServiceError(
                f"lab: {', '.join(dead)} exited on start",
                dead,
                hint=f"See the logs under {lab.logs}, then `runbook lab down`.",
            )
        pending = [(n, s) for n, s in pending if not _ready(lab, topology, n, s)]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = [f"{n}:{s}" for n, s in pending]
            raise ServiceError(
                f"lab: not ready after {timeout:.0f} s: {', '.join(names)}",
                names,
                hint=f"See the logs under {lab.logs}.",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


def _ready(lab: LabDir, topology: Topology, namespace: str, service: str) -> bool:
    pid = pid_of(lab, namespace, service)
    if pid is None or _system.process_name(pid) != _PROCESS_NAMES[service]:
        return False
    options = topology.namespaces[namespace].services[service]
    if service == "sshd":
        return _system.listening(pid, "tcp", 22)
    if service == "http":
        return _system.listening(pid, "tcp", 80)
    if service == "snmpd":
        return _system.listening(pid, "udp", 161) and _fresh_interfaces(lab, namespace)
    return _named_ready(topology, options)


def _fresh_interfaces(lab: LabDir, namespace: str) -> bool:
    result = _system.run(
        [
            "ip", "netns", "exec", namespace, "snmpset", "-v2c", "-t", "0.2", "-r", "2",
            "-c", read_credentials(lab).community, "127.0.0.1", IF_CACHE_TIMEOUT_OID, "i", "0",
        ],
        check=False,
    )  # fmt: skip
    return result.returncode == 0


def _named_ready(topology: Topology, options: Mapping[str, Any]) -> bool:
    if options["role"] == "isp":
        name, rdtype = next(iter(topology.dns["internet"])), dns.rdatatype.A
    else:
        name, rdtype = topology.dns["zone"], dns.rdatatype.SOA
    answer = dns_query(options["listen"], name, rdtype, timeout=0.2)
    return answer is not None and answer.rcode() == dns.rcode.NOERROR and bool(answer.answer)


def dns_query(
    server: str, name: str, rdtype: dns.rdatatype.RdataType, timeout: float = 1.0
) -> dns.message.Message | None:
    """Ask ``server`` one question over UDP; return the answer, ``None`` on no answer."""
    query = dns.message.make_query(name, rdtype)
    try:
        return dns.query.udp(query, server, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None


def soa_serial(server: str, zone: str, timeout: float = 1.0) -> int | None:
    """Return the SOA serial ``server`` holds for ``zone``, ``None`` without an answer."""
    answer = dns_query(server, zone, dns.rdatatype.SOA, timeout)
    if answer is None:
        return None
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None
