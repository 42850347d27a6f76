"""The data directory read-only or its disk full: a clear error, the records intact.

``chmod`` does not stop root, so each case runs the runbook in a private
mount namespace (``unshare --mount``): a read-only bind mount of the data
directory, or the data directory on a tiny tmpfs filled to the last byte.
The records written before must survive unchanged and pass SQLite's
integrity check; the runbook must say what is wrong, without a traceback.
"""

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reliability.support import LETTER, RUNBOOK, environment
from runbook_runner.records import open_records

INCIDENT = ["incident", "--site", "opd1", *LETTER, "--complaint", "x", "--no-notify"]
HEALTH = ["health"]
READ_ONLY = 'mount --bind "$D" "$D" && mount -o remount,bind,ro "$D"'
DISK_FULL = (
    'mount -t tmpfs -o size=512k tmpfs "$D" && cp "$SEED"/runbook.db "$D"/'
    ' && { dd if=/dev/zero of="$D/fill" bs=4k 2>/dev/null || true; }'
)


def _seed(data_dir: Path) -> None:
    with open_records(data_dir) as records:
        incident = records.create_incident(
            {
                "site": "opd1", "opd_name": "Dinas Pendidikan", "letter_no": "001/2026",
                "letter_date": "2026-12-01", "complaint": "Internet mati", "channel": "letter",
                "assignee": "Budi", "received_at": "2026-12-01T01:00:00+00:00",
                "disposed_at": "2026-12-01T01:05:00+00:00",
            }
        )  # fmt: skip
        for number, name in ((1, "intake"), (2, "disposition"), (3, "follow_up")):
            records.record_step(incident, number, name, "done", note=f"step {number}")
        records.add_event(incident, "intake", "recorded before the failure")


def _snapshot(db_file: Path) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return {
            "integrity": db.execute("PRAGMA integrity_check").fetchall(),
            "rows": [
                db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("incidents", "step_attempts", "events")
            ],
        }
    finally:
        db.close()


def _in_namespace(setup: str, argv: list[str], data_dir: Path, seed: Path, out: Path) -> str:
    """Run ``runbook ARGV`` after ``setup`` in a private mount namespace; return stderr."""
    script = (
        f'set -e; {setup}; set +e; "$RUNBOOK" "$@" > "$OUT/stdout" 2> "$OUT/stderr";'
        ' echo $? > "$OUT/rc"; cp "$D"/runbook.db* "$OUT"/ 2>/dev/null; true'
    )
    env = environment(data_dir, D=str(data_dir), SEED=str(seed), OUT=str(out),
                      RUNBOOK=str(RUNBOOK))  # fmt: skip
    subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv],
        env=env, check=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert (out / "rc").read_text().strip() != "0", (out / "stdout").read_text()
    return (out / "stderr").read_text(encoding="utf-8")


@pytest.mark.parametrize("setup", [pytest.param(READ_ONLY, id="read-only"),
                                   pytest.param(DISK_FULL, id="disk-full")])  # fmt: skip
@pytest.mark.parametrize("argv", [pytest.param(INCIDENT, id="incident"),
                                  pytest.param(HEALTH, id="health")])  # fmt: skip
def test_unwritable_data_dir_gives_a_clear_error_and_keeps_the_records(
    tmp_path: Path, setup: str, argv: list[str]
) -> None:
    seed, data_dir, out = tmp_path / "seed", tmp_path / "data", tmp_path / "out"
    out.mkdir()
    _seed(seed)
    shutil.copytree(seed, data_dir)
    before = _snapshot(seed / "runbook.db")

    stderr = _in_namespace(setup, argv, data_dir, seed, out)

    assert stderr.startswith("runbook: ") and "Traceback" not in stderr, stderr
    assert "writable" in stderr and "room" in stderr, stderr
    assert _snapshot(out / "runbook.db") == before
    assert before["integrity"] == [("ok",)]
