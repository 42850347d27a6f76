"""Make every process of a playbook run end with the run, even when the runbook is killed.

ansible-playbook's workers each start a session of their own, and SSH's
ControlPersist masters detach from theirs, so no process group holds a whole
run. Every process a run starts inherits its environment instead: the run is
marked there (:data:`MARKER`, ``<private dir>/<run id>``) and found by it in
``/proc/<pid>/environ``.

:func:`guard` starts a watchdog in a session of its own that waits on a
pipe only the runbook holds. When the pipe closes (the run ended, the
runbook exited or was killed with SIGKILL), the watchdog ends every process
carrying the run's mark and strips the environment from ansible-runner's
``command`` artifact, so neither a process nor a secret of the environment
outlives the run.
"""

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = "BATIKNET_RUN"
_PASSES = 10


def mark(private_dir: Path, run_id: str) -> dict[str, str]:
    """Return the environment variable that marks the processes of one run."""
    return {MARKER: f"{private_dir}/{run_id}"}


def marked_processes(prefix: str) -> list[int]:
    """Return the pids whose environment marks them as part of a run under ``prefix``."""
    wanted = f"{MARKER}={prefix}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(wanted) for item in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def end_marked(prefix: str) -> list[int]:
    """Kill every process marked with a run under ``prefix``; return the pids ended.

    A process may fork while its siblings die, so the scan repeats until it
    finds none (at most a few passes).
    """
    ended: list[int] = []
    for _ in range(_PASSES):
        pids = marked_processes(prefix)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
            ended.append(pid)
    return ended


def strip_command_env(artifact_dir: Path) -> None:
    """Drop the environment ansible-runner writes into the run's ``command`` artifact."""
    command_file = artifact_dir / "command"
    try:
        command = json.loads(command_file.read_text(encoding="utf-8"))
        if "env" not in command:
            return
        command.pop("env")
        command_file.write_text(json.dumps(command), encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, ValueError):
        command_file.unlink(missing_ok=True)


@contextmanager
def guard(private_dir: Path, run_id: str) -> Iterator[dict[str, str]]:
    """Watch the run ``run_id`` for the block; yield the environment that marks its processes.

    Pass the yielded variables to the run's environment. Leaving the block,
    or the runbook dying in it, ends every process of the run still alive.
    """
    marker = mark(private_dir, run_id)
    watchdog = subprocess.Popen(
        [sys.executable, "-m", __name__, marker[MARKER], str(private_dir / "artifacts" / run_id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield marker
    finally:
        if watchdog.stdin is not None:
            watchdog.stdin.close()
        try:
            watchdog.wait(timeout=15)
        except subprocess.TimeoutExpired:
            log.warning("%s: the run's watchdog (pid %d) is still ending it", run_id, watchdog.pid)


def _watch(prefix: str, artifact_dir: Path) -> None:
    sys.stdin.buffer.read()
    end_marked(prefix)
    strip_command_env(artifact_dir)


if __name__ == "__main__":
    _watch(sys.argv[1], Path(sys.argv[2]))
