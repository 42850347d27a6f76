"""Shared fixtures: the Batik.Net lab network, held for the whole test session.

``lab`` takes the machine-wide lab lock (/run/lock/batiknet-lab.lock, the
one engineers take around ``runbook lab`` commands), brings the lab up if
it is down (and down again at the end only then) and heals every fault
before the tests start. ``lab_fault(name)`` injects a fault and always heals
it. The probes live in ``tests/lab/helpers.py``.

Where the lab cannot be built (not root, no network namespaces) the lab
tests fail with the reason: they never skip.
"""

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from lab.helpers import LabAccess, lab_root, runbook

LAB_LOCK = Path("/run/lock/batiknet-lab.lock")


REBUILDING_TESTS = "test_lab_updown.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that take the lab down and up again last.

    A rebuilt lab has fresh secrets, host keys and monitoring data; every
    other test then sees the one lab the session started with.
    """
    items.sort(key=lambda item: item.path.name == REBUILDING_TESTS)


def _holding_lock() -> IO[str]:
    LAB_LOCK.parent.mkdir(parents=True, exist_ok=True)
    handle = LAB_LOCK.open("a")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    return handle


def _lab_status() -> dict[str, object]:
    result = runbook("lab", "status", "--json")
    if result.returncode != 0:
        pytest.fail(f"runbook lab status failed:\n{result.stdout}{result.stderr}")
    return dict(json.loads(result.stdout))


def _must(*args: str) -> str:
    result = runbook(*args)
    if result.returncode != 0:
        pytest.fail(
            f"`runbook {' '.join(args)}` failed (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


@pytest.fixture(scope="session")
def lab() -> Iterator[LabAccess]:
    """Hold the lab lock for the session and yield the healthy, running lab."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root: the lab makes network namespaces")
    handle = _holding_lock()
    try:
        brought_up = not _lab_status()["up"]
        if brought_up:
            _must("lab", "up")
        _must("lab", "heal")
        yield LabAccess(lab_root())
        _must("lab", "heal")
        if brought_up:
            _must("lab", "down")
    finally:
        handle.close()


@pytest.fixture
def lab_fault(lab: LabAccess) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    """Return a context manager that injects a fault and heals it on leaving, always."""

    @contextlib.contextmanager
    def injected(name: str) -> Iterator[None]:
        try:
            _must("lab", "fault", name)
            yield
        finally:
            _must("lab", "heal", name)

    return injected
