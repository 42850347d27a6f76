"""Every role's molecule scenarios pass on the lab: create, converge, idempotence, verify."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(REPO.glob("roles/*/molecule/*/molecule.yml"))
VENV_BIN = Path(sys.executable).parent


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario",
    SCENARIOS,
    ids=[f"{path.parts[-4]}-{path.parent.name}" for path in SCENARIOS],
)
def test_molecule_scenario_passes(lab: object, scenario: Path) -> None:
    role = scenario.parent.parent.parent
    # molecule finds ansible-config and ansible-playbook on PATH: the venv's come first.
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["NO_COLOR"] = "1"

    result = subprocess.run(
        [str(VENV_BIN / "molecule"), "test", "--scenario-name", scenario.parent.name],
        cwd=role,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
