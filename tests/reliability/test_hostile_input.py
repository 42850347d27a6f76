"""Hostile input is data, not code: Jinja, shell, HTML, long and non-Latin text.

The values come through the command line (OPD name, letter number,
complaint) and through the inventory (a temporary copy of inventory/lab
whose site name is hostile). They must appear literally in the ISP ticket
and the report (escaped in HTML), in the logs and in Ansible's output, and
nothing they ask for may happen: no file created, no command run.
"""

import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from reliability.support import LETTER, copy_inventory, edit_yaml, files_containing, runbook

Fault = Callable[[str], AbstractContextManager[None]]
SCRIPT = "<script>alert('batik')</script>"
# Javanese script, Arabic and Chinese: what an agency's letter may carry.
NON_LATIN = "ꦧꦠꦶꦏ꧀ ديوان 通信 "
# `id` prints uid=0(root) for root: its output anywhere means a value was run.
RAN = "uid=0(root)"


def _hostile(marks: Path) -> dict[str, str]:
    jinja = "{{ lookup('pipe','id') }}{{ lookup('pipe','touch " + str(marks / "jinja") + "') }}"
    shell = f"$(touch {marks / 'shell'}) `touch {marks / 'tick'}`; touch {marks / 'semi'}"
    return {
        "opd_name": f"{jinja} {SCRIPT} {NON_LATIN}"[:300],
        "letter_no": f"005/{shell}",
        "complaint": f"{shell} {SCRIPT} {jinja} " + NON_LATIN * 150,
        "site_name": f"Dinas {{{{ lookup('pipe','touch {marks / 'inventory'}') }}}} {SCRIPT}",
    }


@pytest.mark.lab
def test_hostile_values_from_the_cli_and_inventory_stay_literal_and_run_nothing(
    lab: object, lab_fault: Fault, tmp_path: Path
) -> None:
    # A short directory: the letter number is limited to 200 characters.
    marks = Path(tempfile.mkdtemp(prefix="bn-m-"))
    try:
        _run_hostile(marks, tmp_path, lab_fault)
    finally:
        shutil.rmtree(marks)


def _run_hostile(marks: Path, tmp_path: Path, lab_fault: Fault) -> None:
    values = _hostile(marks)
    inventory = copy_inventory(tmp_path / "inventory")
    edit_yaml(
        inventory / "group_vars" / "all" / "sites.yml",
        lambda doc: doc["batiknet_sites"]["opd1"].update(name=values["site_name"]),
    )
    data_dir = tmp_path / "data"
    env = {"RUNBOOK_INVENTORY": str(inventory)}
    with lab_fault("uplink-down"):
        opened = runbook(
            data_dir, "-vv", "incident", "--site", "opd1", *LETTER[2:], "--json",
            "--letter-no", values["letter_no"], "--opd-name", values["opd_name"],
            "--complaint", values["complaint"], **env,
        )  # fmt: skip
    assert opened.returncode == 0, opened.stderr[-3000:]
    incident = opened.stdout.split('"incident": "')[1].split('"')[0]
    report = runbook(data_dir, "report", incident, "--format", "html", **env)
    assert report.returncode == 0, report.stderr

    assert sorted(p.name for p in marks.iterdir()) == [], "a hostile value was run"
    documents = data_dir / "documents" / incident
    ticket_md = (documents / "isp_ticket.id.md").read_text(encoding="utf-8")
    for key in ("opd_name", "letter_no"):
        assert values[key] in ticket_md, f"{key} is not literal in the ISP ticket"
    assert NON_LATIN.strip() in ticket_md
    for html in (documents / "isp_ticket.id.html", Path(report.stdout.strip())):
        text = html.read_text(encoding="utf-8")
        assert "<script>" not in text, f"{html.name}: unescaped HTML"
        assert "&lt;script&gt;alert(" in text, f"{html.name}: the value is not shown"
        assert "{{ lookup(&#39;pipe&#39;,&#39;id&#39;) }}" in text, html.name
    assert values["letter_no"] in opened.stderr + opened.stdout, "the log hides the value"
    found = files_containing(data_dir, [RAN])
    assert not found and RAN not in opened.stderr, f"a value was run: {found}"
    stdout_files = list((data_dir / "runs").rglob("stdout"))
    assert stdout_files and all(RAN not in p.read_text() for p in stdout_files)


@pytest.mark.parametrize(
    "site",
    [
        pytest.param("{{ lookup('pipe','id') }}", id="jinja"),
        pytest.param("$(touch MARK)", id="shell"),
        pytest.param("opd1' OR '1'='1", id="sql"),
        pytest.param("ꦧꦠꦶꦏ꧀" * 2000, id="long-non-latin"),
    ],
)
def test_hostile_site_key_is_refused_before_anything_is_created(tmp_path: Path, site: str) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    site = site.replace("MARK", str(marks / "shell"))
    data_dir = tmp_path / "data"
    result = runbook(
        data_dir, "incident", "--site", site, *LETTER[2:], "--letter-no", "1", "--complaint", "x"
    )
    assert result.returncode == 2, result.stderr
    assert "unknown site" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not list(marks.iterdir())
    assert not (data_dir / "runs").exists()
