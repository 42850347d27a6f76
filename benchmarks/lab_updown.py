"""Time `runbook lab up` and `runbook lab down`, three runs each, and print the figures.

Run as root: ``.venv/bin/python benchmarks/lab_updown.py [--runs N]``. It
holds the shared lab lock (/run/lock/batiknet-lab.lock) while it runs and
leaves the lab as it found it (up and healthy, or down). "wall" is the whole
command as a user types it (Python start-up included); "lab" is the time the
command itself reports for building or removing the lab. Targets: up < 5 s,
down < 2 s.
"""

import argparse
import fcntl
import json
import re
import subprocess
import sys
import time
from pathlib import Path

RUNBOOK = Path(sys.executable).parent / "runbook"
LAB_LOCK = Path("/run/lock/batiknet-lab.lock")
UP_TARGET, DOWN_TARGET = 5.0, 2.0


def _timed(*args: str) -> tuple[float, float]:
    started = time.monotonic()
    result = subprocess.run(
        [str(RUNBOOK), "lab", *args], capture_output=True, text=True, timeout=120, check=False
    )
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"runbook lab {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    reported = re.search(r"\(([\d.]+) s\)", result.stdout)
    return wall, float(reported.group(1)) if reported else wall


def _is_up() -> bool:
    result = subprocess.run(
        [str(RUNBOOK), "lab", "status", "--json"], capture_output=True, text=True, check=True
    )
    return bool(json.loads(result.stdout)["up"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with LAB_LOCK.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        was_up = _is_up()
        if was_up:
            _timed("down")
        rows = []
        for run in range(1, runs + 1):
            up = _timed("up")
            down = _timed("down")
            rows.append((run, up, down))
        if was_up:
            _timed("up")
    print(f"{'run':>3}  {'up wall':>8}  {'up lab':>7}  {'down wall':>9}  {'down lab':>8}")
    for run, (up_wall, up_lab), (down_wall, down_lab) in rows:
        print(f"{run:>3}  {up_wall:>7.2f}s  {up_lab:>6.2f}s  {down_wall:>8.2f}s  {down_lab:>7.2f}s")
    worst_up = max(row[1][0] for row in rows)
    worst_down = max(row[2][0] for row in rows)
    verdict = "ok" if worst_up < UP_TARGET and worst_down < DOWN_TARGET else "TOO SLOW"
    print(
        f"worst: up {worst_up:.2f} s (target < {UP_TARGET:.0f} s), "
        f"down {worst_down:.2f} s (target < {DOWN_TARGET:.0f} s): {verdict}"
    )
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
