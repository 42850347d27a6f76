"""Secrets stay in the vault or the environment: found nowhere the runbook writes or prints.

The lab's SNMP community and SNMPv3 keys are random per ``lab up`` and kept
in the lab directory; the monitoring API's password and token and the SMTP
password are canaries put in the environment. After an incident with an ISP
ticket (documents, outbox) and a health sweep (metrics, summary), all at
``-vvv``, none of them may appear in the data directory (the database, the
documents, the outbox, the metrics, ansible-runner's artifacts including its
``command`` and ``env`` files) or in the output.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from reliability.support import LETTER, files_containing, runbook

Fault = Callable[[str], AbstractContextManager[None]]
CANARIES = {
    "RUNBOOK_SMTP_PASSWORD": "bn-canary-smtp-91d3e7a0",
    "BATIKNET_MONITORING_PASSWORD": "bn-canary-api-4b6f02c9",
    "BATIKNET_MONITORING_TOKEN": "bn-canary-token-e18a5d33",
}


@pytest.mark.lab
def test_snmp_and_environment_secrets_appear_nowhere_after_incident_and_sweep_at_vvv(
    lab: object, lab_fault: Fault, tmp_path: Path
) -> None:
    secrets = [lab.secret(name) for name in ("snmp_community", "snmp_v3_auth_key",
                                             "snmp_v3_priv_key")]  # type: ignore[attr-defined]  # fmt: skip
    secrets += CANARIES.values()
    data_dir = tmp_path / "data"
    with lab_fault("uplink-down"):
        incident = runbook(
            data_dir, "-vvv", "incident", "--site", "opd1", *LETTER, "--complaint", "mati",
            "--json", **CANARIES,
        )  # fmt: skip
    sweep = runbook(data_dir, "-vvv", "health", **CANARIES)

    output = incident.stdout + incident.stderr + sweep.stdout + sweep.stderr
    assert incident.returncode == 0, incident.stderr[-3000:]
    assert "Traceback" not in sweep.stderr, sweep.stderr[-3000:]
    written = {p.relative_to(data_dir).parts[0] for p in data_dir.rglob("*") if p.is_file()}
    assert {"runbook.db", "runs", "documents", "outbox", "health"} <= written, written
    assert list(data_dir.rglob("*.prom")), "the sweep wrote no metrics"
    assert files_containing(data_dir, secrets) == {}
    assert [s for s in secrets if s in output] == []
