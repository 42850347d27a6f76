"""SOP step 6 on the lab: the real playbook against the lab's DNS servers, with real faults.

Each test runs playbooks/step6_dns.yml through ansible-runner and asserts on
the checks it published with set_stats, with the run's output as the
assertion message.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from helpers import run_output, run_step

from runbook_runner.checks import validate_checks

PLAYBOOK = "step6_dns.yml"
SERVERS = ("bn-dns1", "bn-dns2")
NAMES = ("portal.batiknet.test", "ns1.batiknet.test", "ns2.batiknet.test", "www.internet.test")

Fault = Callable[[str], AbstractContextManager[None]]


def not_ok(checks: list[dict[str, Any]]) -> list[str]:
    return [f"{c['status']} {c['target']}: {c['message']}" for c in checks if c["status"] != "ok"]


@pytest.mark.lab
def test_step6_healthy_lab_gives_every_check_ok(lab: object, tmp_path: Path) -> None:
    checks, runner = run_step(PLAYBOOK, {"site": "opd1"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    queries = {c["target"] for c in checks if c["check"] == "dns_query"}
    assert queries == {f"{server}/{name}" for server in SERVERS for name in NAMES}, output
    serials = {c["target"]: c for c in checks if c["check"] == "soa_serial"}
    assert set(serials) == {"bn-dns1/batiknet.test", "bn-dns2/batiknet.test"}, output
    assert not not_ok(checks), output
    assert {c["segment"] for c in checks} == {"dns"}, output
    assert all(c["values"]["latency_ms"] is not None for c in checks), output


def test_step6_unknown_site_fails_early_naming_the_known_sites(tmp_path: Path) -> None:
    checks, runner = run_step(PLAYBOOK, {"site": "nowhere"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc != 0, output
    assert checks == [], output
    assert "Unknown site 'nowhere'" in output and "opd1, opd2, opd3" in output, output


# Per fault: the targets whose checks must fail, with words one of which the message
# holds; the checks of the servers the fault leaves alone stay ok. A stopped server
# refuses (ICMP port unreachable), but the kernel rate-limits those ICMP errors, so a
# burst of queries may also see a timeout.
DOWN = ("connection refused", "no answer within")
FAULTS = [
    pytest.param(
        "dns1-down",
        {f"bn-dns1/{name}": DOWN for name in NAMES} | {"bn-dns1/batiknet.test": DOWN},
        # The secondary's serial cannot be compared without the primary's.
        {"bn-dns2/batiknet.test"},
        id="dns1-down",
    ),
    pytest.param(
        "dns-all-down",
        {f"{server}/{name}": DOWN for server in SERVERS for name in NAMES},
        {"bn-dns1/batiknet.test", "bn-dns2/batiknet.test"},
        id="dns-all-down",
    ),
    pytest.param(
        "dns1-wrong-answer",
        {"bn-dns1/portal.batiknet.test": ("got 198.18.10.99; expected 198.18.10.80",)},
        set(),
        id="dns1-wrong-answer",
    ),
]


@pytest.mark.lab
@pytest.mark.parametrize(("fault", "failing", "touched"), FAULTS)
def test_step6_reports_the_fault_naming_server_name_and_expectation(
    lab_fault: Fault,
    tmp_path: Path,
    fault: str,
    failing: dict[str, tuple[str, ...]],
    touched: set[str],
) -> None:
    with lab_fault(fault):
        checks, runner = run_step(PLAYBOOK, {"site": "opd1"}, private_dir=tmp_path)
    output = run_output(runner)

    assert runner.rc == 0, output
    validate_checks(checks)
    by_target = {c["target"]: c for c in checks}
    for target, wordings in failing.items():
        found = by_target.get(target)
        assert found is not None, f"no check of {target}\n{output}"
        assert (found["status"], found["segment"]) == ("failed", "dns"), f"{found}\n{output}"
        assert any(word in found["message"] for word in wordings), f"{found}\n{output}"
        server, name = target.split("/")
        assert server in found["message"] and name in found["message"], f"{found}\n{output}"
    untouched = [c for c in checks if c["target"] not in set(failing) | touched]
    assert not not_ok(untouched), output
