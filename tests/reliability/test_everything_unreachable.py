"""Nothing answers: the runbook still ends with findings and a verdict, not a traceback.

A temporary copy of inventory/lab points every host, the Internet target, the
HTTP target and the monitoring system at addresses nothing answers (unused
lab addresses in 198.18.200.0/24 and a closed loopback port), as if the
whole network were down. The lab must be up: its ``unreachable`` route keeps
that traffic on the machine.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from reliability.support import LETTER, copy_inventory, edit_yaml, runbook

UNUSED = "198.18.200"


def _unreachable(inventory: Path) -> Path:
    counter = iter(range(10, 250))

    def move(node: Any) -> None:
        if isinstance(node, dict):
            if "ansible_host" in node:
                node["ansible_host"] = f"{UNUSED}.{next(counter)}"
            for value in node.values():
                move(value)

    edit_yaml(inventory / "hosts.yml", move)
    edit_yaml(
        inventory / "group_vars" / "all" / "sites.yml",
        lambda doc: doc.update(
            batiknet_internet_targets=[f"{UNUSED}.250"],
            batiknet_http_targets=[
                {"url": f"http://{UNUSED}.80/", "expect_status": 200, "host": "bn-app1"}
            ],
        ),
    )
    edit_yaml(
        inventory / "group_vars" / "all" / "monitoring.yml",
        lambda doc: doc["batiknet_monitoring"].update(url="http://127.0.0.1:9/"),
    )
    return inventory


@pytest.mark.lab
def test_everything_unreachable_ends_with_findings_and_a_verdict(
    lab: object, tmp_path: Path
) -> None:
    inventory = _unreachable(copy_inventory(tmp_path / "inventory"))
    data_dir = tmp_path / "data"
    env = {"RUNBOOK_INVENTORY": str(inventory)}

    opened = runbook(data_dir, "incident", "--site", "opd1", *LETTER, "--complaint", "Mati total",
                     "--json", "--no-notify", **env)  # fmt: skip
    assert opened.returncode == 0 and "Traceback" not in opened.stderr, opened.stderr[-3000:]
    result = json.loads(opened.stdout)
    assert result["connected"] is not True, result["findings"]
    assert result["findings"] and result["branch"] in ("isp_ticket", "internal_action"), result
    assert [s["step"] for s in result["steps"] if s["step"] in (4, 5, 6, 7)] == [4, 5, 6, 7]
    assert all(s["checks"] > 0 for s in result["steps"] if s["step"] in (4, 5, 6, 7)), result
