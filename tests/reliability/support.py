"""What the reliability tests share: running the runbook, temp inventories, process scans.

Each test gets a data directory of its own (pytest's ``tmp_path``) and, where
it changes the network's description, a temporary copy of ``inventory/lab``.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent.parent
RUNBOOK = Path(sys.executable).parent / "runbook"
LAB_INVENTORY = REPO / "inventory" / "lab"
LETTER = ["--letter-no", "005/123/2026", "--letter-date", "2026-12-03", "--assignee", "Budi"]


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """Return the runbook's environment with its own data directory (and ``extra``)."""
    return {**os.environ, "RUNBOOK_DATA_DIR": str(data_dir), **extra}


def runbook(
    data_dir: Path, *args: str, timeout: float = 150, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``runbook ARGS`` with ``data_dir`` and return its result, output captured."""
    return subprocess.run(
        [str(RUNBOOK), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environment(data_dir, **env),
        stdin=subprocess.DEVNULL,
    )


def run_json(data_dir: Path, *args: str, **env: str) -> dict[str, Any]:
    """Run ``runbook ARGS --json``; return its object, failing with its output when it fails."""
    result = runbook(data_dir, *args, "--json", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(result.stdout))


def copy_inventory(destination: Path) -> Path:
    """Copy ``inventory/lab`` to ``destination`` and return the copy."""
    shutil.copytree(LAB_INVENTORY, destination)
    return destination


def edit_yaml(path: Path, change: Any) -> None:
    """Load a YAML file, let ``change(document)`` edit it in place, write it back."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def query(data_dir: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Return the rows of a read-only query of the records."""
    db = sqlite3.connect(f"file:{data_dir / 'runbook.db'}?mode=ro", uri=True)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def wait_for(condition: Any, seconds: float, what: str) -> None:
    """Poll ``condition()`` every 0.2 s until it is true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def processes(match: Any) -> list[str]:
    """Return ``pid cmdline`` of every process whose cmdline and environ satisfy ``match``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if match(cmdline, environ):
            found.append(f"{entry.name} {cmdline[:200]}")
    return found


def files_containing(root: Path, needles: Sequence[str]) -> dict[str, list[str]]:
    """Return, per needle, the files under ``root`` whose bytes contain it."""
    found: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        for needle in needles:
            if needle.encode() in data:
                found.setdefault(needle, []).append(str(path))
    return found


@contextmanager
def started(
    argv: Sequence[str], env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in a session of its own for the block; kill it by pid on leaving."""
    process = subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
