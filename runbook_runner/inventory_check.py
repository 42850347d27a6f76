"""Check an inventory before any device is touched: ``runbook inventory check``.

The infra team keeps the inventory (docs/inventory.md); a mistake there must
stop the runbook at its start with a message naming the file, the host and
the key, not halfway through a run with an Ansible traceback. The check reads
the YAML itself (values are not templated: a ``{{ lookup(...) }}`` or a
``!vault`` value counts as set) and looks for:

- a file that is not valid YAML, or a mapping with a key twice (YAML keeps
  the last one silently, so a host written twice loses its first half);
- a host whose ``ansible_host`` is neither an IP address nor a host name, or
  two hosts with the same address;
- a network device without its SNMP settings (version, community or the
  SNMPv3 user, protocols and keys);
- a site of ``batiknet_sites`` without a probe host or gateway, or naming a
  host, group or ISP the inventory does not have; a ``group_vars`` file of a
  group that does not exist.

Several inventory sources (``-i inventory/lab -i scale.yml``) are checked as
the one inventory Ansible makes of them.
"""

import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook_runner.errors import ConfigError

log = logging.getLogger(__name__)

NETWORK_GROUP = "network_devices"
SNMP_VERSIONS = ("2c", "3")
AUTH_PROTOCOLS = ("MD5", "SHA", "SHA256", "SHA512")
PRIV_PROTOCOLS = ("AES", "DES", "none")
ACCESS_TYPES = ("own_fibre", "leased")
# Which group each host a site names must belong to.
SITE_HOSTS = {"gateway": "site_gateways", "probe_host": "probe_hosts"}
_HOST_NAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+")
_YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class Problem:
    """One mistake in the inventory: where, on which host (or site), which key, what."""

    file: Path
    host: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.host}: {self.key}: {self.message}"


class InventoryError(ConfigError):
    """The inventory has mistakes; ``problems`` lists them all, the first in the message."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"bad inventory: {first}{more}",
            hint=f"fix `{first.key}` of {first.host} in {first.file}, then run"
            " `runbook inventory check` before committing",
        )
        self.problems = list(problems)


# -- Reading ---------------------------------------------------------------------------------


class _Value(str):
    """A value that is set but not known before Ansible templates or decrypts it."""

    __slots__ = ()


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """A safe loader that refuses a key written twice and reads Ansible's tags."""

    problems: list[Problem]
    path: Path

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                line = key_node.start_mark.line + 1
                message = "written twice in one mapping; YAML would keep only the last"
                self.problems.append(Problem(self.path, str(key), str(key), message, line))
            seen.add(key)
        return dict(super().construct_mapping(node, deep=deep))


_Loader.add_constructor("!vault", lambda loader, node: _Value("!vault"))
_Loader.add_constructor(
    "!unsafe",
    lambda loader, node: (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
    ),
)


def _load(path: Path, problems: list[Problem]) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as error:
        problems.append(Problem(path, "-", "file", f"cannot be read: {error.strerror}"))
        return None
    if raw.lstrip().startswith(b"$ANSIBLE_VAULT"):
        return None  # encrypted whole: its values are set, unknown here
    loader = _Loader(raw)
    loader.problems, loader.path = problems, path
    try:
        return loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        problems.append(Problem(path, "-", "YAML syntax", str(reason), line))
        return None
    finally:
        loader.dispose()


# -- The inventory as Ansible makes it ---------------------------------------------------------


@dataclass
class _Inventory:
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    host_files: dict[str, Path] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)  # group -> direct hosts
    children: dict[str, set[str]] = field(default_factory=dict)
    group_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    var_files: dict[str, Path] = field(default_factory=dict)  # variable of "all" -> file
    problems: list[Problem] = field(default_factory=list)

    def group(self, name: str) -> None:
        self.members.setdefault(name, set())
        self.children.setdefault(name, set())
        self.group_vars.setdefault(name, {})

    def hosts_of(self, group: str, _seen: frozenset[str] = frozenset()) -> set[str]:
        if group == "all":
            return set(self.hosts)
        found = set(self.members.get(group, set()))
        for child in self.children.get(group, set()) - _seen:
            found |= self.hosts_of(child, _seen | {group})
        return found

    def groups_of(self, host: str) -> list[str]:
        direct = [g for g, hosts in self.members.items() if host in hosts]
        result: list[str] = []
        pending = list(direct)
        while pending:
            name = pending.pop()
            if name in result:
                continue
            result.append(name)
            pending += [p for p, kids in self.children.items() if name in kids]
        return result

    def variables(self, host: str) -> dict[str, Any]:
        values = dict(self.group_vars.get("all", {}))
        for name in sorted(self.groups_of(host), key=self._depth):
            values.update(self.group_vars.get(name, {}))
        values.update(self.hosts.get(host, {}))
        return values

    def _depth(self, group: str) -> int:
        parents = [p for p, kids in self.children.items() if group in kids and p != "all"]
        return 1 + max((self._depth(p) for p in parents), default=0)


def _read_group(inv: _Inventory, name: str, body: Any, path: Path) -> None:
    inv.group(name)
    if body is None:
        return
    if not isinstance(body, Mapping):
        inv.problems.append(Problem(path, name, name, "a group must be a mapping"))
        return
    for host, host_vars in (body.get("hosts") or {}).items():
        inv.members[name].add(str(host))
        inv.host_files.setdefault(str(host), path)
        current = inv.hosts.setdefault(str(host), {})
        if isinstance(host_vars, Mapping):
            current.update(host_vars)
    if isinstance(body.get("vars"), Mapping):
        inv.group_vars[name].update(body["vars"])
    for child, child_body in (body.get("children") or {}).items():
        inv.children[name].add(str(child))
        _read_group(inv, str(child), child_body, path)


def _var_files(directory: Path, name: str) -> list[Path]:
    files = [directory / f"{name}{suffix}" for suffix in ("", *_YAML_SUFFIXES)]
    found = [path for path in files if path.is_file()]
    if (directory / name).is_dir():
        found += sorted(
            p for p in (directory / name).iterdir() if p.is_file() and p.suffix in _YAML_SUFFIXES
        )
    return found


def _read_vars(inv: _Inventory, directory: Path, kind: str) -> None:
    if not directory.is_dir():
        return
    names = {p.stem if p.is_file() else p.name for p in directory.iterdir()}
    for name in sorted(names):
        for path in _var_files(directory, name):
            document = _load(path, inv.problems)
            if document is None:
                continue
            if not isinstance(document, Mapping):
                inv.problems.append(Problem(path, name, "variable: value", "not a mapping"))
                continue
            if kind == "host":
                inv.hosts.setdefault(name, {}).update(document)
                inv.host_files.setdefault(name, path)
                continue
            if name != "all" and name not in inv.members:
                inv.problems.append(
                    Problem(path, name, "group", f"group_vars of an unknown group {name!r}")
                )
            inv.group(name)
            inv.group_vars[name].update(document)
            if name == "all":
                inv.var_files.update(dict.fromkeys(document, path))


def _read(sources: Iterable[Path]) -> _Inventory:
    inv = _Inventory()
    inv.group("all")
    directories = []
    for source in sources:
        if source.is_dir():
            directories.append(source)
            files = sorted(p for p in source.iterdir() if p.suffix in _YAML_SUFFIXES)
        elif source.is_file():
            directories.append(source.parent)
            files = [source]
        else:
            inv.problems.append(Problem(source, "-", "inventory", "no such file or directory"))
            continue
        for path in files:
            document = _load(path, inv.problems)
            if isinstance(document, Mapping):
                for name, body in document.items():
                    _read_group(inv, str(name), body, path)
            elif document is not None:
                inv.problems.append(Problem(path, "-", "all", "an inventory must be a mapping"))
    for directory in dict.fromkeys(directories):
        _read_vars(inv, directory / "group_vars", "group")
        _read_vars(inv, directory / "host_vars", "host")
    return inv


# -- The checks --------------------------------------------------------------------------------


def _templated(value: Any) -> bool:
    return isinstance(value, _Value) or (isinstance(value, str) and "{{" in value)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    # A name whose last label is all digits is a mistyped address, not a name.
    return bool(_HOST_NAME.fullmatch(value)) and not value.rstrip(".").split(".")[-1].isdigit()


def _check_addresses(inv: _Inventory) -> None:
    owners: dict[str, str] = {}
    for host in sorted(inv.hosts):
        values = inv.variables(host)
        if values.get("ansible_connection") == "local":
            continue
        path = inv.host_files.get(host, Path("-"))
        address = values.get("ansible_host", host)
        if _templated(address):
            continue
        if not isinstance(address, str) or not _is_address(address):
            message = f"{address!r} is neither an IP address nor a host name"
            inv.problems.append(Problem(path, host, "ansible_host", message))
            continue
        if address in owners:
            message = f"{address} is also the address of {owners[address]}"
            inv.problems.append(Problem(path, host, "ansible_host", message))
        owners.setdefault(address, host)


def _missing(values: Mapping[str, Any], key: str) -> bool:
    value = values.get(key)
    return value is None or (isinstance(value, str) and not value.strip())


def _snmp_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    version = str(values.get("batiknet_snmp_version", "")).strip()
    if version not in SNMP_VERSIONS:
        shown = repr(values.get("batiknet_snmp_version")) if version else "not set"
        return [("batiknet_snmp_version", f"{shown}; use one of {', '.join(SNMP_VERSIONS)}")]
    if version == "2c":
        keys = ["batiknet_snmp_community"]
    else:
        keys = ["batiknet_snmp_v3_user", "batiknet_snmp_v3_auth_key", "batiknet_snmp_v3_priv_key"]
    found = [(key, "not set") for key in keys if _missing(values, key)]
    if version == "3":
        for key, allowed in (
            ("batiknet_snmp_v3_auth_protocol", AUTH_PROTOCOLS),
            ("batiknet_snmp_v3_priv_protocol", PRIV_PROTOCOLS),
        ):
            value = values.get(key)
            if value is not None and not _templated(value) and str(value) not in allowed:
                found.append((key, f"{value!r}; use one of {', '.join(allowed)}"))
    return found


def _check_devices(inv: _Inventory) -> None:
    for host in sorted(inv.hosts_of(NETWORK_GROUP)):
        values = inv.variables(host)
        path = inv.host_files.get(host, Path("-"))
        for key, message in _snmp_problems(values):
            inv.problems.append(Problem(path, host, key, f"SNMP setting {message}"))


def _check_sites(inv: _Inventory) -> None:
    values = inv.group_vars.get("all", {})
    sites = values.get("batiknet_sites")
    if sites is None:
        return
    path = inv.var_files.get("batiknet_sites", Path("group_vars/all"))
    if not isinstance(sites, Mapping):
        inv.problems.append(Problem(path, "-", "batiknet_sites", "must map site keys to sites"))
        return
    isps = values.get("batiknet_isps") or {}
    for key, site in sites.items():
        name = f"site {key}"
        if not isinstance(site, Mapping):
            inv.problems.append(Problem(path, name, f"batiknet_sites.{key}", "not a mapping"))
            continue
        for role, group in SITE_HOSTS.items():
            host = site.get(role)
            where = f"batiknet_sites.{key}.{role}"
            if _missing(site, role):
                message = f"no {role.replace('_', ' ')}: name a host of group {group}"
                inv.problems.append(Problem(path, name, where, message))
            elif group not in inv.members:
                message = f"refers to group {group!r}, which the inventory does not have"
                inv.problems.append(Problem(path, name, where, message))
            elif str(host) not in inv.hosts_of(group):
                message = f"{host!r} is not a host of group {group}"
                inv.problems.append(Problem(path, name, where, message))
        _check_access(inv, path, str(key), site.get("access"), isps)


def _check_access(inv: _Inventory, path: Path, key: str, access: Any, isps: Any) -> None:
    name, where = f"site {key}", f"batiknet_sites.{key}.access"
    if not isinstance(access, Mapping):
        inv.problems.append(Problem(path, name, where, "not set: give its type and core port"))
        return
    if access.get("type") not in ACCESS_TYPES:
        message = f"type {access.get('type')!r}; use one of {', '.join(ACCESS_TYPES)}"
        inv.problems.append(Problem(path, name, f"{where}.type", message))
    provider = access.get("provider")
    if access.get("type") == "leased" and (not isinstance(isps, Mapping) or provider not in isps):
        message = f"ISP {provider!r} is not a key of batiknet_isps"
        inv.problems.append(Problem(path, name, f"{where}.provider", message))
    core = access.get("core_device")
    if core is not None and str(core) not in inv.hosts_of("core"):
        message = f"{core!r} is not a host of group core"
        inv.problems.append(Problem(path, name, f"{where}.core_device", message))


def check_inventory(sources: Sequence[Path]) -> list[Problem]:
    """Return every problem of the inventory made of ``sources``, empty when it is sound."""
    inv = _read(sources)
    if not any(p.key == "YAML syntax" for p in inv.problems):
        _check_addresses(inv)
        _check_devices(inv)
        _check_sites(inv)
    for problem in inv.problems:
        log.debug("inventory: %s", problem)
    return inv.problems


def ensure_valid(sources: Sequence[Path]) -> None:
    """Refuse an inventory with mistakes, before any device is touched.

    Raises:
        InventoryError: the inventory has at least one problem; all are listed.
    """
    problems = check_inventory(sources)
    if problems:
        raise InventoryError(problems)
