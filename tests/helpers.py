"""Helpers shared by the tests of the step playbooks and modules.

Import them as ``from helpers import run_step`` (pytest puts ``tests/`` on
``sys.path`` for the test packages under it).
"""

import importlib.util
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PLAYBOOK_DIR = REPO / "playbooks"
LAB_INVENTORY = REPO / "inventory" / "lab"
MODULE_UTILS = REPO / "module_utils"


def run_step(
    playbook: str,
    extravars: dict[str, Any] | None = None,
    *,
    private_dir: Path | None = None,
    inventory: Path = LAB_INVENTORY,
    check_mode: bool = False,
) -> tuple[list[dict[str, Any]], Any]:
    """Run a step playbook through ansible-runner and return its checks and the runner.

    ``playbook`` is a file name under ``playbooks/``. The checks are the
    ``batiknet_checks`` the run published with set_stats, read from the
    ``playbook_on_stats`` event as the runner reads them. ``private_dir``
    defaults to a fresh temporary directory; pass pytest's ``tmp_path``.
    Use ``run_output(runner)`` as the assertion message.
    """
    import ansible_runner

    private = private_dir or Path(tempfile.mkdtemp(prefix="bn-step-"))
    cmdline = "--check" if check_mode else None
    runner = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(PLAYBOOK_DIR),
        playbook=playbook,
        inventory=str(inventory),
        extravars=extravars or {},
        cmdline=cmdline,
        # The venv's ansible-playbook comes first on PATH; ``binary=`` would
        # make ansible-runner drop the playbook from the command line.
        envvars={
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        },
        quiet=True,
        timeout=120,
    )
    return published_checks(runner), runner


def published_checks(runner: Any) -> list[dict[str, Any]]:
    """Return the ``batiknet_checks`` of a finished run's stats event, empty if none."""
    for event in runner.events:
        if event.get("event") == "playbook_on_stats":
            data = event.get("event_data", {}).get("artifact_data") or {}
            return list(data.get("batiknet_checks", []))
    return []


def run_output(runner: Any) -> str:
    """Return the run's stdout, for assertion messages."""
    # Read the artifact directly: ``runner.stdout`` opens a file it never closes.
    path = Path(runner.config.artifact_dir) / "stdout"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def load_module(path: Path) -> types.ModuleType:
    """Import an Ansible module file for unit tests of its pure functions.

    The project's ``module_utils`` are made importable as
    ``ansible.module_utils.<name>``, as Ansible does when it runs the module.
    """
    for util in MODULE_UTILS.glob("*.py"):
        name = f"ansible.module_utils.{util.stem}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, util)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    name = f"batiknet_library_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
