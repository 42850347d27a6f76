"""Where the runbook finds its content and keeps its records.

The content (playbooks, roles, inventories, templates) ships with the
project; the records live in a data directory that outlives every checkout.
Both can be moved with environment variables, which the tests use to keep
each run apart.
"""

import os
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("RUNBOOK_HOME", Path(__file__).resolve().parent.parent))
PLAYBOOK_DIR = PROJECT_DIR / "playbooks"
TEMPLATE_DIR = PROJECT_DIR / "templates"
DEFAULT_INVENTORY = PROJECT_DIR / "inventory" / "lab"
DEFAULT_CONFIG = PROJECT_DIR / "config" / "runbook.toml"


def data_dir() -> Path:
    """Return the data directory, creating nothing.

    ``RUNBOOK_DATA_DIR`` wins; otherwise ``/var/lib/batiknet-runbook`` for
    root and ``$XDG_STATE_HOME/batiknet-runbook`` for anyone else.
    """
    configured = os.environ.get("RUNBOOK_DATA_DIR")
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path("/var/lib/batiknet-runbook")
    state_home = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state_home) / "batiknet-runbook"


def config_path() -> Path:
    """Return the office configuration file: ``RUNBOOK_CONFIG`` or the shipped one."""
    return Path(os.environ.get("RUNBOOK_CONFIG", DEFAULT_CONFIG))


def inventory_path() -> Path:
    """Return the inventory to run against: ``RUNBOOK_INVENTORY`` or the lab's."""
    return Path(os.environ.get("RUNBOOK_INVENTORY", DEFAULT_INVENTORY))
