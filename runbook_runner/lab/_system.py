"""Small wrappers around the system calls the lab makes: ``ip``, processes, signals."""

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from runbook_runner.errors import RunbookError

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
# Each daemon gets its own hostname, /etc/hosts, /etc/hostname and
# /etc/resolv.conf in a private UTS and mount namespace, then becomes the daemon.
_HOST_WRAPPER = (
    'h=$1 hosts=$2 resolv=$3 hostfile=$4; shift 4; hostname "$h"'
    ' && mount --bind "$hosts" /etc/hosts'
    ' && mount --bind "$resolv" /etc/resolv.conf'
    ' && mount --bind "$hostfile" /etc/hostname'
    ' && exec "$@"'
)


class LabCommandError(RunbookError):
    """A system command of the lab failed; ``argv`` and ``stderr`` say which and why."""

    def __init__(self, argv: Sequence[str], stderr: str, *, hint: str | None = None) -> None:
        super().__init__(
            f"lab: {' '.join(argv[:4])}... failed: {stderr.strip() or 'no message'}",
            hint=hint or "Run `runbook lab down` to clean up, then try again.",
        )
        self.argv = list(argv)
        self.stderr = stderr


def run(
    argv: Sequence[str], *, stdin: str | None = None, check: bool = True, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    """Run a command and return its result.

    Raises:
        LabCommandError: ``check`` is set and the command fails, or it cannot be run.
    """
    log.debug("run: %s", " ".join(argv))
    try:
        result = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LabCommandError(argv, str(error)) from error
    if check and result.returncode != 0:
        raise LabCommandError(argv, result.stderr or result.stdout)
    return result


def ip_batch(lines: Iterable[str], *, namespace: str | None = None, force: bool = False) -> str:
    """Run ``ip -batch`` on ``lines`` (in ``namespace``) and return its error output.

    With ``force`` every line is tried and failures only come back as text.

    Raises:
        LabCommandError: a line fails and ``force`` is not set.
    """
    text = "".join(f"{line}\n" for line in lines)
    if not text:
        return ""
    argv = ["ip"]
    if namespace:
        argv += ["-n", namespace]
    argv += ["-force", "-batch", "-"] if force else ["-batch", "-"]
    result = run(argv, stdin=text, check=not force)
    return result.stderr


def namespaces() -> list[str]:
    """Return the names of the network namespaces ``ip netns`` knows."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(entry.name for entry in NETNS_DIR.iterdir())


def host_argv(namespace: str, hostname: str, etc_dir: Path, argv: Sequence[str]) -> list[str]:
    """Return the command line running ``argv`` as lab host ``namespace``."""
    return [
        "ip", "netns", "exec", namespace,
        "unshare", "--uts", "--mount", "--propagation", "private", "--",
        "/bin/sh", "-c", _HOST_WRAPPER, "lab-host", hostname,
        str(etc_dir / "hosts"), str(etc_dir / "resolv.conf"), str(etc_dir / "hostname"),
        *argv,
    ]  # fmt: skip


def spawn(argv: Sequence[str], log_file: Path, env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` in its own session with output to ``log_file``; return its pid.

    The daemon inherits no file descriptor but its standard streams: a lock
    held by whoever called the lab (``flock ... runbook lab up``) must not
    live on in the daemons.

    Raises:
        LabCommandError: the program cannot be started.
    """
    _stop_inheriting_descriptors()
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", **(env or {})}
    try:
        return os.posix_spawnp(argv[0], list(argv), environment, file_actions=actions, setsid=True)
    except OSError as error:
        raise LabCommandError(argv, str(error)) from error


def _stop_inheriting_descriptors() -> None:
    for entry in Path("/proc/self/fd").iterdir():
        fd = int(entry.name)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                continue


def process_name(pid: int) -> str | None:
    """Return the command name of a live process, ``None`` when gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    state = stat[stat.rindex(")") + 2]
    return None if state in "ZX" else name


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return


def end_processes(pids: Iterable[int], *, grace: float = 0.5) -> None:
    """End processes: SIGTERM, then SIGKILL for those alive after ``grace`` seconds."""
    alive = [pid for pid in pids if process_name(pid)]
    for pid in alive:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    delay = 0.005
    while alive and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
        for pid in alive:
            _reap(pid)
        alive = [pid for pid in alive if process_name(pid)]
    for pid in alive:
        log.info("pid %d: did not end on SIGTERM, killing it", pid)
        _signal(pid, signal.SIGKILL)
    for pid in alive:
        _reap(pid)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return


def listening(pid: int, protocol: str, port: int) -> bool:
    """Tell whether the network namespace of ``pid`` has a socket listening on ``port``.

    ``protocol`` is ``tcp`` or ``udp``; ``/proc/PID/net`` shows the sockets
    of that process's namespace, so no probe has to cross the lab's links.
    """
    wanted = f":{port:04X}"
    state = "0A" if protocol == "tcp" else "07"
    try:
        lines = Path(f"/proc/{pid}/net/{protocol}").read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if fields[1].endswith(wanted) and fields[3] == state:
            return True
    return False
