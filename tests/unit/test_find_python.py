"""scripts/find-python: the newest Python 3.12+ on PATH or under pyenv, or one clear error."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "find-python"


def _run(path: str, pyenv_root: Path) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": path, "HOME": str(pyenv_root), "PYENV_ROOT": str(pyenv_root)}
    return subprocess.run(
        ["/bin/sh", str(SCRIPT)], env=environment, capture_output=True, text=True, check=False
    )


def test_find_python_prints_an_interpreter_of_312_or_newer_from_path(tmp_path: Path) -> None:
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / name).symlink_to(sys.executable)

    result = _run(f"{tmp_path / 'bin'}:/usr/bin:/bin", tmp_path / "no-pyenv")

    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).name == name


def test_find_python_without_any_gives_one_message_saying_what_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()

    result = _run(f"{empty}:{os.devnull}", tmp_path / "no-pyenv")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "Python 3.12 or newer" in result.stderr
    assert "pyenv install 3.13" in result.stderr
