"""Time each step playbook on the healthy lab and under every fault of the catalog.

The issue's budget: each step playbook finishes in under 5 s on the healthy
lab and under 10 s under any catalog fault, measured as the runner runs it
(ansible-runner, the lab inventory). The playbooks are a table: add a row to
:data:`PLAYBOOKS` to time another step.

    .venv/bin/python benchmarks/steps.py [--playbook step4_devices.yml] [--fault dns1-down]
                                         [--runs 3] [--json]

The lab must be up (``runbook lab up``). The script holds the lab lock for
its whole run, injects one fault at a time and always heals it. Exit code 0
when every figure is within its budget, 1 when one is over, 2 on a usage or
lab problem.
"""

import argparse
import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import yaml

REPO = Path(__file__).resolve().parent.parent
PLAYBOOK_DIR = REPO / "playbooks"
INVENTORY = REPO / "inventory" / "lab"
TOPOLOGY = REPO / "lab" / "topology.yml"
LAB_LOCK = Path("/run/lock/batiknet-lab.lock")
VENV_BIN = Path(sys.executable).parent
HEALTHY = "healthy"


@dataclass(frozen=True)
class StepPlaybook:
    """A step playbook to time, the extra variables to run it with, and its budgets (s)."""

    playbook: str
    extravars: dict[str, str]
    healthy_budget: float = 5.0
    fault_budget: float = 10.0


PLAYBOOKS: tuple[StepPlaybook, ...] = (
    StepPlaybook("step4_devices.yml", {}),
    StepPlaybook("step5_monitoring.yml", {"site": "opd1"}),
    StepPlaybook("step6_dns.yml", {"site": "opd1"}),
    # As the runner runs it, for one site; opd1's faults include a user host
    # the ops host cannot reach (a dead vantage point costs its SSH timeout).
    StepPlaybook("step7_connectivity.yml", {"site": "opd1"}),
)


@dataclass
class Figure:
    """The timings of one playbook under one condition."""

    playbook: str
    condition: str
    seconds: list[float]
    checks: int
    not_ok: int
    rc: int
    budget: float

    @property
    def worst(self) -> float:
        return max(self.seconds)

    @property
    def within_budget(self) -> bool:
        return self.rc == 0 and self.worst < self.budget


class BenchmarkError(Exception):
    """The benchmark cannot run: the lab is down or a fault cannot be injected."""


def catalog() -> list[str]:
    """Return the names of the lab's fault catalog, in its order."""
    topology = yaml.safe_load(TOPOLOGY.read_text(encoding="utf-8"))
    return list(topology["faults"])


def runbook(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``runbook ARGS`` from the virtualenv and return its result."""
    return subprocess.run(
        [str(VENV_BIN / "runbook"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _must(*args: str) -> None:
    result = runbook(*args)
    if result.returncode != 0:
        raise BenchmarkError(f"runbook {' '.join(args)} failed: {result.stderr or result.stdout}")


@contextmanager
def lab_lock() -> Iterator[IO[str]]:
    """Hold the machine-wide lab lock, as the tests and the engineers do."""
    LAB_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LAB_LOCK.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield handle


@contextmanager
def fault(name: str) -> Iterator[None]:
    """Inject fault ``name`` (nothing for the healthy lab) and always heal it."""
    if name == HEALTHY:
        yield
        return
    _must("lab", "fault", name)
    try:
        yield
    finally:
        _must("lab", "heal", name)


def run_once(step: StepPlaybook) -> tuple[float, list[dict[str, Any]], int]:
    """Run one playbook as the runner does; return seconds, its checks and its rc."""
    import ansible_runner

    env = {
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    with tempfile.TemporaryDirectory(prefix="bn-bench-") as private_dir:
        started = time.monotonic()
        runner = ansible_runner.run(
            private_data_dir=private_dir,
            project_dir=str(PLAYBOOK_DIR),
            playbook=step.playbook,
            inventory=str(INVENTORY),
            extravars=step.extravars,
            envvars=env,
            quiet=True,
            timeout=120,
        )
        seconds = time.monotonic() - started
        checks = next(
            (
                list((event["event_data"].get("artifact_data") or {}).get("batiknet_checks", []))
                for event in runner.events
                if event.get("event") == "playbook_on_stats"
            ),
            [],
        )
    return seconds, checks, int(runner.rc or 0)


def measure(steps: Sequence[StepPlaybook], condition: str, runs: int) -> list[Figure]:
    """Time ``runs`` runs of each step under ``condition`` (a fault, or the healthy lab)."""
    figures = []
    with fault(condition):
        for step in steps:
            budget = step.healthy_budget if condition == HEALTHY else step.fault_budget
            figure = Figure(step.playbook, condition, [], 0, 0, 0, budget)
            for _ in range(runs):
                seconds, checks, rc = run_once(step)
                figure.seconds.append(round(seconds, 2))
                figure.checks = len(checks)
                figure.not_ok = sum(1 for check in checks if check.get("status") != "ok")
                figure.rc = max(figure.rc, rc)
            figures.append(figure)
    return figures


def lab_is_up() -> bool:
    """Return whether ``runbook lab status`` says the lab is up."""
    result = runbook("lab", "status", "--json")
    return result.returncode == 0 and bool(json.loads(result.stdout).get("up"))


def print_table(figures: Sequence[Figure]) -> None:
    """Print the figures as a table, one row per playbook and condition."""
    header = (
        f"{'playbook':22} {'condition':22} {'median s':>9} {'max s':>7} {'budget':>7} "
        f"{'checks':>7} {'not ok':>7}  verdict"
    )
    print(header)
    print("-" * len(header))
    for figure in figures:
        verdict = "ok" if figure.within_budget else ("FAILED RUN" if figure.rc else "OVER")
        print(
            f"{figure.playbook:22} {figure.condition:22} "
            f"{statistics.median(figure.seconds):9.2f} {figure.worst:7.2f} {figure.budget:7.1f} "
            f"{figure.checks:7d} {figure.not_ok:7d}  {verdict}"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Return the command line's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--playbook", action="append", help="only this playbook (repeatable)")
    parser.add_argument("--fault", action="append", help="only this fault (repeatable)")
    parser.add_argument("--runs", type=int, default=3, help="runs on the healthy lab (default 3)")
    parser.add_argument("--fault-runs", type=int, default=1, help="runs per fault (default 1)")
    parser.add_argument("--no-faults", action="store_true", help="time the healthy lab only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Time the step playbooks and print the figures; return the exit code."""
    args = parse_args(argv)
    steps = [step for step in PLAYBOOKS if not args.playbook or step.playbook in args.playbook]
    faults = [] if args.no_faults else (args.fault or catalog())
    unknown = sorted(set(faults) - set(catalog()))
    if unknown or not steps:
        print(f"steps.py: unknown fault {unknown} or no playbook selected", file=sys.stderr)
        return 2
    figures = []
    try:
        with lab_lock():
            if not lab_is_up():
                raise BenchmarkError("the lab is not up: run `runbook lab up` first")
            _must("lab", "heal")
            for condition in [HEALTHY, *faults]:
                runs = args.runs if condition == HEALTHY else args.fault_runs
                figures.extend(measure(steps, condition, runs))
    except BenchmarkError as error:
        print(f"steps.py: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(figure) for figure in figures], indent=2))
    else:
        print_table(figures)
    return 0 if all(figure.within_budget for figure in figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
