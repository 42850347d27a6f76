"""The lab's monitoring system: Prometheus and the blackbox exporter on loopback.

``lab up`` calls :func:`start` last: it writes the repository's monitoring
files, with the lab's compressed time, and the target lists made from the
topology under ``<lab dir>/monitoring``, starts both daemons in the root
namespace listening on 127.0.0.1 only, and returns without waiting long for
them. ``lab down`` calls :func:`stop` first: it ends both daemons by their
pid files and removes their data.
"""

import contextlib
import logging
import os
import shutil
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from runbook_runner.errors import RunbookError
from runbook_runner.lab.topology import Topology
from runbook_runner.monitoring.config import compressed_copy
from runbook_runner.monitoring.targets import lab_targets, write_targets

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PROMETHEUS_PORT = 19090
BLACKBOX_PORT = 19115
PROMETHEUS_URL = f"http://{HOST}:{PROMETHEUS_PORT}"
SCRAPE_INTERVAL = "2s"
SCRAPE_TIMEOUT = "1500ms"
PROMETHEUS = Path("/usr/bin/prometheus")
BLACKBOX = Path("/usr/bin/prometheus-blackbox-exporter")
READY_WITHIN = 3.0
STOP_WITHIN = 3.0


class MonitoringStartError(RunbookError):
    """The lab's monitoring system cannot start: a binary is missing or a port is taken."""


def home(lab_dir: Path) -> Path:
    """Return the monitoring system's directory in the lab directory."""
    return lab_dir / "monitoring"


def start(lab_dir: Path, topology: Topology) -> None:
    """Write the configuration and start the blackbox exporter and Prometheus.

    Returns as soon as both run; readiness is waited for a few seconds at
    most (a warning, not an error, when Prometheus is slower).

    Raises:
        MonitoringStartError: a binary is missing, or a port is taken.
        ConfigError: a file of the repository's monitoring/ is unreadable.
    """
    started = time.monotonic()
    root = home(lab_dir)
    _preflight()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    compressed_copy(
        root,
        scrape_interval=SCRAPE_INTERVAL,
        scrape_timeout=SCRAPE_TIMEOUT,
        blackbox_address=f"{HOST}:{BLACKBOX_PORT}",
    )
    write_targets(root / "targets", lab_targets(topology))

    _spawn(
        root,
        "blackbox",
        [
            str(BLACKBOX),
            f"--config.file={root / 'blackbox.yml'}",
            f"--web.listen-address={HOST}:{BLACKBOX_PORT}",
            "--log.level=warn",
        ],
    )
    _spawn(
        root,
        "prometheus",
        [
            str(PROMETHEUS),
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address={HOST}:{PROMETHEUS_PORT}",
            "--log.level=warn",
        ],
    )
    ready = wait_ready(READY_WITHIN)
    log.info(
        "monitoring: started in %.2f s (%s) at %s",
        time.monotonic() - started,
        "ready" if ready else "not ready yet",
        PROMETHEUS_URL,
    )
    if not ready:
        log.warning(
            "monitoring: Prometheus at %s is not ready after %.0f s; it keeps starting",
            PROMETHEUS_URL,
            READY_WITHIN,
        )


def stop(lab_dir: Path) -> None:
    """End the blackbox exporter and Prometheus by their pid files and remove their data."""
    root = home(lab_dir)
    for name in ("prometheus", "blackbox"):
        pid = _our_pid(root, name)
        if pid is not None:
            _end(pid, name)
    shutil.rmtree(root, ignore_errors=True)
    log.info("monitoring: stopped, %s removed", root)


def wait_ready(within: float) -> bool:
    """Poll Prometheus's readiness for ``within`` seconds at most; return whether it is ready."""
    deadline = time.monotonic() + within
    delay = 0.05
    while True:
        if is_ready():
            return True
        if time.monotonic() + delay > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def is_ready() -> bool:
    """Return whether Prometheus answers that it is ready."""
    try:
        with urllib.request.urlopen(f"{PROMETHEUS_URL}/-/ready", timeout=0.5) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def running(lab_dir: Path) -> dict[str, int | None]:
    """Return the pid of each monitoring daemon of the lab, None when it does not run."""
    root = home(lab_dir)
    return {name: _our_pid(root, name) for name in ("prometheus", "blackbox")}


def _preflight() -> None:
    for binary in (PROMETHEUS, BLACKBOX):
        if not binary.exists():
            raise MonitoringStartError(
                f"monitoring: {binary} is missing",
                hint="Install the Debian packages: scripts/install-debian-packages.",
            )
    for port in (PROMETHEUS_PORT, BLACKBOX_PORT):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError as error:
                raise MonitoringStartError(
                    f"monitoring: {HOST}:{port} is taken ({error.strerror})",
                    hint="Stop what listens there (`ss -ltnp`), or run `runbook lab down` first.",
                ) from error


def _spawn(root: Path, name: str, argv: list[str]) -> None:
    # posix_spawn, not Popen: the daemon outlives this process, and a Popen
    # object collected while its child runs is a ResourceWarning.
    log_path = root / f"{name}.log"
    pid = os.posix_spawn(
        argv[0],
        argv,
        {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    (root / f"{name}.pid").write_text(f"{pid}\n", encoding="utf-8")
    log.debug("monitoring: %s started, pid %d", name, pid)


def _our_pid(root: Path, name: str) -> int | None:
    # A pid is ours only if that process still runs our binary with our
    # configuration: a reused pid is left alone.
    try:
        pid = int((root / f"{name}.pid").read_text(encoding="utf-8").strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return None
    return pid if str(root) in cmdline else None


def _end(pid: int, name: str) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WITHIN
    while time.monotonic() < deadline:
        if not _alive(pid):
            log.debug("monitoring: %s (pid %d) ended", name, pid)
            return
        time.sleep(0.05)
    log.warning("monitoring: %s (pid %d) ignored SIGTERM; killing it", name, pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    # Our own children are reaped here; anything else is looked up in /proc.
    with contextlib.suppress(ChildProcessError):
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
