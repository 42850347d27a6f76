"""Who each message goes to: the inventory's contacts and the configuration's officials.

- the ISP ticket: every contact with an email in ``batiknet_isps[provider].contacts``;
- the completion notice: ``batiknet_sites[site].contact``, the agency (OPD);
- an escalation: the complaints official (Pejabat Pengaduan) of ``[escalation]``
  in the configuration.

The inventory's ``group_vars/all.yml`` or ``group_vars/all/*.yml`` are read
directly with PyYAML (contacts are not secret: files encrypted whole with
ansible-vault are skipped, inline ``!vault`` values read as absent). A missing
address is a :class:`RecipientError` that names the file and the key to add.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runbook_runner import settings
from runbook_runner.errors import RunbookError
from runbook_runner.outbox import Recipient

log = logging.getLogger(__name__)


_SEND_AGAIN = ", then queue the message with `runbook outbox send INCIDENT KIND`"


class RecipientError(RunbookError):
    """No usable address for a message; ``where`` is the file and ``key`` the variable."""

    def __init__(self, message: str, *, where: Path, key: str, then: str = "") -> None:
        super().__init__(f"{message}: {key} in {where}", hint=f"add `{key}` in {where}{then}")
        self.where = where
        self.key = key


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """A safe loader that reads ansible's ``!vault`` and ``!unsafe`` tags."""


_Loader.add_constructor("!vault", lambda loader, node: None)
_Loader.add_constructor(
    "!unsafe",
    lambda loader, node: (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
    ),
)


@dataclass(frozen=True)
class InventoryVars:
    """The variables of the ``all`` group and the file that defines each."""

    inventory: Path
    values: dict[str, Any]
    files: dict[str, Path]

    def where(self, variable: str) -> Path:
        """Return the file defining ``variable``, or the file to add it to."""
        return self.files.get(variable, self.inventory / "group_vars" / "all" / "contacts.yml")


def load_inventory_vars(inventory: Path | None = None) -> InventoryVars:
    """Return the ``all`` group's variables of an inventory directory.

    Raises:
        RecipientError: a file is not valid YAML or not a mapping.
    """
    inventory = inventory if inventory is not None else settings.inventory_path()
    values: dict[str, Any] = {}
    files: dict[str, Path] = {}
    for path in _all_group_files(inventory):
        raw = path.read_bytes()
        if raw.lstrip().startswith(b"$ANSIBLE_VAULT"):
            log.debug("%s: encrypted with ansible-vault, skipped for contacts", path)
            continue
        try:
            document = yaml.load(raw, Loader=_Loader)
        except yaml.YAMLError as error:
            raise RecipientError(
                f"cannot read {path}: {error}", where=path, key="valid YAML"
            ) from error
        if document is None:
            continue
        if not isinstance(document, dict):
            raise RecipientError(f"{path} is not a mapping", where=path, key="variable: value")
        values.update(document)
        files.update(dict.fromkeys(document, path))
    return InventoryVars(inventory, values, files)


def _all_group_files(inventory: Path) -> list[Path]:
    group_vars = inventory / "group_vars"
    found = [group_vars / f"all{suffix}" for suffix in ("", ".yml", ".yaml")]
    found = [path for path in found if path.is_file()]
    directory = group_vars / "all"
    if directory.is_dir():
        found += sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml", ""))
    return [path for path in found if path.is_file()]


def isp_contacts(provider: str, variables: InventoryVars | None = None) -> list[Recipient]:
    """Return the contacts of an ISP that have an email address.

    Raises:
        RecipientError: the ISP is not in ``batiknet_isps`` or none of its
            contacts has an email.
    """
    variables = variables or load_inventory_vars()
    where = variables.where("batiknet_isps")
    isps = variables.values.get("batiknet_isps") or {}
    isp = isps.get(provider) if isinstance(isps, Mapping) else None
    if not isinstance(isp, Mapping):
        raise RecipientError(
            f"no ISP {provider!r} in the inventory", where=where, key=f"batiknet_isps.{provider}"
        )
    contacts = isp.get("contacts") or []
    found = [
        Recipient(email=str(c["email"]).strip(), name=str(c.get("name") or isp.get("name") or ""))
        for c in contacts
        if isinstance(c, Mapping) and c.get("email")
    ]
    if not found:
        raise RecipientError(
            f"ISP {provider!r} has no contact with an email address",
            where=where,
            key=f"batiknet_isps.{provider}.contacts[].email",
            then=_SEND_AGAIN,
        )
    return found


def site_contact(site: str, variables: InventoryVars | None = None) -> Recipient:
    """Return the contact of an agency's (OPD's) site.

    Raises:
        RecipientError: the site is not in ``batiknet_sites`` or its contact has no email.
    """
    variables = variables or load_inventory_vars()
    where = variables.where("batiknet_sites")
    sites = variables.values.get("batiknet_sites") or {}
    entry = sites.get(site) if isinstance(sites, Mapping) else None
    if not isinstance(entry, Mapping):
        raise RecipientError(
            f"no site {site!r} in the inventory", where=where, key=f"batiknet_sites.{site}"
        )
    contact = entry.get("contact")
    if not isinstance(contact, Mapping) or not contact.get("email"):
        raise RecipientError(
            f"site {site!r} has no contact email",
            where=where,
            key=f"batiknet_sites.{site}.contact.email",
            then=_SEND_AGAIN,
        )
    return Recipient(
        email=str(contact["email"]).strip(), name=str(contact.get("name") or entry.get("name", ""))
    )


def site_provider(site: str, variables: InventoryVars | None = None) -> tuple[str, str]:
    """Return the ISP key and circuit id of a site's leased access link.

    Raises:
        RecipientError: the site has no ``access.provider`` in the inventory.
    """
    variables = variables or load_inventory_vars()
    sites = variables.values.get("batiknet_sites") or {}
    entry = sites.get(site) if isinstance(sites, Mapping) else None
    access = entry.get("access") if isinstance(entry, Mapping) else None
    if not isinstance(access, Mapping) or not access.get("provider"):
        raise RecipientError(
            f"site {site!r} has no ISP for its access link",
            where=variables.where("batiknet_sites"),
            key=f"batiknet_sites.{site}.access.provider",
            then=_SEND_AGAIN,
        )
    return str(access["provider"]), str(access.get("circuit_id") or "")


def site_name(site: str, variables: InventoryVars | None = None) -> str:
    """Return the agency's name of a site, or the site key when the inventory has none."""
    variables = variables or load_inventory_vars()
    sites = variables.values.get("batiknet_sites") or {}
    entry = sites.get(site) if isinstance(sites, Mapping) else None
    return str(entry.get("name") or site) if isinstance(entry, Mapping) else site


def isp_name(provider: str, variables: InventoryVars | None = None) -> str:
    """Return the name of an ISP, or its key when the inventory has none."""
    variables = variables or load_inventory_vars()
    isps = variables.values.get("batiknet_isps") or {}
    entry = isps.get(provider) if isinstance(isps, Mapping) else None
    return str(entry.get("name") or provider) if isinstance(entry, Mapping) else provider


def complaints_official(config: Mapping[str, Any], config_file: Path | None = None) -> Recipient:
    """Return the complaints official (Pejabat Pengaduan) of the ``[escalation]`` section.

    Reads ``official_email`` and ``official_name``.

    Raises:
        RecipientError: the section holds no email for the official.
    """
    section = config.get("escalation") or {}
    email = section.get("official_email") if isinstance(section, Mapping) else None
    if not email:
        raise RecipientError(
            "no email for the complaints official (Pejabat Pengaduan)",
            where=config_file or settings.config_path(),
            key="[escalation] official_email",
        )
    return Recipient(email=str(email).strip(), name=str(section.get("official_name", "")))
