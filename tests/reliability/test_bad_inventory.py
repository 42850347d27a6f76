"""A bad inventory is refused before any device is touched, naming the file, host and key.

Each case breaks a temporary copy of inventory/lab the way an infra team's
commit might. ``runbook inventory check`` must report it, and ``runbook
incident`` and ``runbook health`` must refuse to start: no run directory, no
incident recorded.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reliability.support import LAB_INVENTORY, LETTER, copy_inventory, edit_yaml, runbook
from runbook_runner import cli
from runbook_runner.inventory_check import check_inventory


def _replace(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def change(inventory: Path) -> None:
        path = inventory / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return change


def _edit(relative: str, change: Callable[[Any], None]) -> Callable[[Path], None]:
    return lambda inventory: edit_yaml(inventory / relative, change)


def _write(relative: str, text: str) -> Callable[[Path], None]:
    return lambda inventory: (inventory / relative).write_text(text, encoding="utf-8")


SITES = "group_vars/all/sites.yml"
# break the copy, the file, the host (or site) and the key the message must name
CASES = [
    pytest.param(_replace("hosts.yml", "198.18.2.2", "198.18.300.2"),
                 "hosts.yml", "bn-opd2-gw", "ansible_host", id="invalid-address"),
    pytest.param(_replace("hosts.yml", "        bn-opd3-pc:\n",
                          "        bn-opd2-pc:\n          ansible_host: 198.18.102.11\n"
                          "        bn-opd3-pc:\n"),
                 "hosts.yml", "bn-opd2-pc", "bn-opd2-pc", id="duplicate-host"),
    pytest.param(_replace("hosts.yml", "198.18.103.10", "198.18.102.10"),
                 "hosts.yml", "bn-opd3-pc", "ansible_host", id="duplicate-address"),
    pytest.param(_edit(SITES, lambda doc: doc["batiknet_sites"]["opd2"].pop("probe_host")),
                 "sites.yml", "site opd2", "batiknet_sites.opd2.probe_host", id="no-probe-host"),
    pytest.param(_edit("group_vars/core.yml", lambda doc: doc.pop("batiknet_snmp_v3_priv_key")),
                 "hosts.yml", "bn-core", "batiknet_snmp_v3_priv_key", id="no-snmp-key"),
    pytest.param(_edit("group_vars/site_gateways.yml", lambda doc: doc.clear()),
                 "hosts.yml", "bn-opd1-gw", "batiknet_snmp_version", id="no-snmp-settings"),
    pytest.param(_edit(SITES, lambda doc: doc["batiknet_sites"]["opd3"].update(
                     gateway="bn-opd9-gw")),
                 "sites.yml", "site opd3", "batiknet_sites.opd3.gateway", id="unknown-host"),
    pytest.param(_edit(SITES, lambda doc: doc["batiknet_sites"]["opd3"]["access"].update(
                     provider="isp_z")),
                 "sites.yml", "site opd3", "batiknet_sites.opd3.access.provider",
                 id="unknown-isp"),
    pytest.param(_write("group_vars/site_gateway.yml", "batiknet_snmp_version: '2c'\n"),
                 "site_gateway.yml", "site_gateway", "group", id="unknown-group"),
    pytest.param(_replace("hosts.yml", "    probe_hosts:\n", "    probe_hosts: [\n"),
                 "hosts.yml:", "-", "YAML syntax", id="yaml-syntax"),
]  # fmt: skip


@pytest.mark.parametrize(("breaks", "file", "host", "key"), CASES)
def test_bad_inventory_is_refused_before_any_device_naming_file_host_key(  # noqa: PLR0917
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    breaks: Callable[[Path], None],
    file: str,
    host: str,
    key: str,
) -> None:
    inventory = copy_inventory(tmp_path / "inventory")
    breaks(inventory)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RUNBOOK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("RUNBOOK_INVENTORY", str(inventory))

    problems = [str(p) for p in check_inventory([inventory])]
    wanted = [line for line in problems if f": {host}: {key}: " in line]
    assert wanted and file in wanted[0], problems

    for argv in (
        ["incident", "--site", "opd1", *LETTER, "--complaint", "x"],
        ["recheck", "INC-2026-0001"],
        ["health"],
    ):
        assert cli.main(argv) == 2, argv
        refused = capsys.readouterr().err
        assert "bad inventory" in refused and file in refused and key in refused, refused
    assert not (data_dir / "runs").exists(), "a run started with a bad inventory"
    assert not (data_dir / "runbook.db").exists(), "an incident was recorded"


def test_inventory_check_command_names_file_host_and_key(tmp_path: Path) -> None:
    inventory = copy_inventory(tmp_path / "inventory")
    _replace("hosts.yml", "198.18.2.2", "198.18.2.256")(inventory)
    result = runbook(tmp_path, "inventory", "check", "-i", str(inventory))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{inventory}/hosts.yml: bn-opd2-gw: ansible_host: '198.18.2.256'" in result.stderr


def test_lab_inventory_passes_the_check() -> None:
    assert check_inventory([LAB_INVENTORY]) == []


def test_inventory_check_command_passes_the_lab_inventory(tmp_path: Path) -> None:
    result = runbook(tmp_path, "inventory", "check", "-i", str(LAB_INVENTORY))
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


def test_lab_inventory_with_the_scale_sites_passes_the_check(tmp_path: Path) -> None:
    from runbook_runner.lab import scale

    extra = scale.write_inventory(tmp_path / "scale.yml", 40)
    assert check_inventory([LAB_INVENTORY, extra]) == []
