"""The crash-safe file helpers: atomic replacement and holder-naming locks."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runbook_runner import files


def test_write_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "report.md"
    files.write_atomically(target, b"old")
    files.write_atomically(target, "baru: ĕ".encode(), mode=0o600)

    assert target.read_text(encoding="utf-8") == "baru: ĕ"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in target.parent.iterdir()) == ["report.md"]


def test_write_atomically_keeps_the_old_file_when_the_directory_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")

    with pytest.raises(OSError):
        files.write_atomically(blocker / "report.md", b"new")
    assert blocker.read_text() == "x"


def test_holding_lock_names_the_holder_to_a_second_process(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "INC-2026-0001.lock"
    probe = textwrap.dedent(
        f"""
        from pathlib import Path
        from runbook_runner import files
        try:
            with files.holding_lock(Path({str(lock)!r})):
                print("acquired")
        except files.LockHeld as held:
            print("held by", held.holder["pid"])
        """
    )

    with files.holding_lock(lock):
        inside = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
    after = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert inside.stdout.strip() == f"held by {os.getpid()}", inside.stderr
    assert after.stdout.strip() == "acquired", after.stderr
