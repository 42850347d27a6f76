"""Every role's meta/argument_specs.yml loads and matches its defaults/main.yml."""

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
ROLES = sorted(path for path in (REPO / "roles").iterdir() if (path / "tasks").is_dir())
TYPES = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
    "list": list,
    "dict": dict,
    "path": str,
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def main_spec(role: Path) -> dict[str, Any]:
    return load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def defaults(role: Path) -> dict[str, Any]:
    path = role / "defaults" / "main.yml"
    return (load(path) or {}) if path.exists() else {}


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_role_has_an_argument_spec_under_its_exact_name(role: Path) -> None:
    misnamed = [p.name for p in (role / "meta").glob("*spec*") if p.name != "argument_specs.yml"]

    assert (role / "meta" / "argument_specs.yml").is_file(), f"{role.name}: no argument spec"
    assert not misnamed, f"{role.name}: misnamed spec files {misnamed} validate nothing"


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_argument_spec_and_defaults_have_the_same_keys_and_values(role: Path) -> None:
    spec, values = main_spec(role), defaults(role)

    assert set(values) <= set(spec), f"{role.name}: undocumented defaults {set(values) - set(spec)}"
    for name, option in spec.items():
        if name in values:
            assert option.get("default") == values[name], f"{role.name}: {name} differs"
        else:
            assert option.get("required") or "default" not in option, f"{role.name}: {name}"


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_every_input_has_a_type_a_description_and_the_role_prefix(role: Path) -> None:
    for name, option in main_spec(role).items():
        assert option.get("type"), f"{role.name}: {name} has no type"
        assert option.get("description"), f"{role.name}: {name} has no description"
        assert name.startswith(f"{role.name}_"), f"{role.name}: {name} lacks the role prefix"
        default = option.get("default")
        wanted = TYPES.get(option["type"])
        templated = isinstance(default, str) and "{{" in default
        if default is not None and wanted is not None and not templated:
            assert isinstance(default, wanted), f"{role.name}: {name} default is not {wanted}"
