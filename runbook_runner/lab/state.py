"""The lab directory: what the lab made, its secrets, pid files and active faults.

Everything ``lab up`` makes outside the namespaces is written down in the
journal *before* it is made, so ``lab down`` can undo a build that crashed
halfway. The directory is ``/run/batiknet-lab`` unless ``BATIKNET_LAB_DIR``
says otherwise.
"""

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_runner.errors import RunbookError

log = logging.getLogger(__name__)

DEFAULT_LAB_DIR = Path("/run/batiknet-lab")


class LabBusyError(RunbookError):
    """Another ``runbook lab`` command holds the lab's command lock."""


def lab_dir() -> Path:
    """Return the lab directory: ``BATIKNET_LAB_DIR`` or ``/run/batiknet-lab``."""
    return Path(os.environ.get("BATIKNET_LAB_DIR") or DEFAULT_LAB_DIR)


@dataclass(frozen=True)
class LabDir:
    """The paths of one lab directory."""

    root: Path

    @property
    def lock_file(self) -> Path:
        """Return the command lock: beside the directory, not in it, so it outlives ``down``."""
        return self.root.with_name(f".{self.root.name}.lock")

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def faults_file(self) -> Path:
        return self.root / "faults.json"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def ssh(self) -> Path:
        return self.root / "ssh"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "log"

    def host(self, namespace: str) -> Path:
        """Return the directory of one lab host's files (its /etc and daemon configs)."""
        return self.root / "hosts" / namespace

    def pid_file(self, namespace: str, service: str) -> Path:
        return self.run / f"{namespace}.{service}.pid"

    def log_file(self, namespace: str, service: str) -> Path:
        return self.logs / f"{namespace}.{service}.log"

    def make(self) -> None:
        """Create the directory tree, private to root."""
        for path in (self.root, self.secrets, self.ssh, self.run, self.logs):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def read_state(self) -> dict[str, Any]:
        """Return the recorded state, empty when there is none or it is unreadable."""
        state = _read_json(self.state_file, {})
        return state if isinstance(state, dict) else {}

    def write_state(self, **values: Any) -> None:
        _write_json(self.state_file, {**self.read_state(), **values})

    def record(self, kind: str, name: str) -> None:
        """Append one made thing to the journal, flushed before it is made."""
        with self.journal.open("a", encoding="utf-8") as journal:
            journal.write(f"{kind} {name}\n")
            journal.flush()
            os.fsync(journal.fileno())

    def recorded(self) -> list[tuple[str, str]]:
        """Return the journal's entries, oldest first."""
        try:
            lines = self.journal.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        return [tuple(line.split(" ", 1)) for line in lines if " " in line]  # type: ignore[misc]

    def active_faults(self) -> list[str]:
        return list(_read_json(self.faults_file, []))

    def write_faults(self, names: list[str]) -> None:
        _write_json(self.faults_file, names)

    def pids(self) -> dict[Path, int]:
        """Return every pid file of the directory with the pid it holds."""
        found = {}
        for path in sorted(self.run.glob("*.pid")) if self.run.is_dir() else []:
            try:
                found[path] = int(path.read_text().strip())
            except (OSError, ValueError):
                continue
        return found

    def write_secret(self, name: str, value: str) -> Path:
        """Write a secret file readable by root only and return its path."""
        path = self.secrets / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(value)
        return path

    def read_secret(self, name: str) -> str:
        return (self.secrets / name).read_text(encoding="utf-8").strip()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lab's command lock, so two ``lab`` commands never interleave.

        This lock is the command's own; the shared ``/run/lock/batiknet-lab.lock``
        that tests and engineers take around whole sessions is a different file,
        so a command run under it does not wait for itself.

        Raises:
            LabBusyError: another command keeps the lock for more than a minute.
        """
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _wait_for_lock(fd, self.lock_file)
            yield
        finally:
            os.close(fd)


def _wait_for_lock(fd: int, path: Path) -> None:
    deadline = time.monotonic() + 60
    delay = 0.01
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise LabBusyError(
                    f"lab: another `runbook lab` command holds {path}",
                    hint="Wait for it to finish; `lsof` on that file shows who holds it.",
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _write_json(path: Path, value: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value, indent=2, sort_keys=True), encoding="utf-8")
    temporary.replace(path)
