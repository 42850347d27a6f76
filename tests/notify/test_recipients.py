"""Recipients from the inventory and the configuration; missing ones say where to add them."""

from pathlib import Path

import pytest

from runbook_runner import notices
from runbook_runner.outbox import Recipient
from runbook_runner.recipients import (
    RecipientError,
    complaints_official,
    isp_contacts,
    load_inventory_vars,
    site_contact,
)

from .conftest import START, smtp_config


def test_isp_contacts_are_the_ones_with_an_email(inventory: Path) -> None:
    contacts = isp_contacts("isp_a", load_inventory_vars(inventory))

    assert contacts == [
        Recipient("noc@isp-a.example", "NOC Contoh"),
        Recipient("help@isp-a.example", "Helpdesk"),
    ]


def test_site_contact_is_the_agencys(inventory: Path) -> None:
    assert site_contact("opd1", load_inventory_vars(inventory)) == Recipient(
        "admin@opd1.example", "Bapak Admin"
    )


@pytest.mark.parametrize(
    ("call", "key", "file"),
    [
        (lambda v: isp_contacts("isp_b", v), "batiknet_isps.isp_b.contacts[].email", "isps.yml"),
        (lambda v: isp_contacts("isp_x", v), "batiknet_isps.isp_x", "isps.yml"),
        (lambda v: site_contact("opd2", v), "batiknet_sites.opd2.contact.email", "sites.yml"),
        (lambda v: site_contact("opd9", v), "batiknet_sites.opd9", "sites.yml"),
    ],
    ids=["isp-without-email", "unknown-isp", "site-without-email", "unknown-site"],
)
def test_missing_address_names_the_file_and_the_key(inventory: Path, call, key, file) -> None:
    with pytest.raises(RecipientError) as raised:
        call(load_inventory_vars(inventory))

    assert raised.value.key == key
    assert raised.value.where == inventory / "group_vars" / "all" / file
    assert key in (raised.value.hint or "") and file in (raised.value.hint or "")


def test_complaints_official_comes_from_the_escalation_section() -> None:
    official = complaints_official(
        {"escalation": {"official_email": "pp@diskominfo.example", "official_name": "PP"}}
    )

    assert official == Recipient("pp@diskominfo.example", "PP")
    with pytest.raises(RecipientError, match="complaints official") as raised:
        complaints_official({}, Path("config/runbook.toml"))
    assert "[escalation] official_email" in (raised.value.hint or "")


def test_missing_recipient_leaves_the_document_and_writes_no_message(
    inventory: Path, tmp_path: Path
) -> None:
    ticket = tmp_path / "tiket-INC-2026-0030.html"
    ticket.write_text("<p>tiket</p>")
    config = smtp_config(2525)

    with pytest.raises(RecipientError):
        notices.send_isp_ticket(
            "INC-2026-0030", "isp_b", "opd3", "CID-3", notices.Document("t", "<p>t</p>", (ticket,)),
            config=config, variables=load_inventory_vars(inventory), now=START,
        )  # fmt: skip

    assert ticket.read_text() == "<p>tiket</p>"


def test_group_vars_as_one_file_and_vaulted_files_are_read(tmp_path: Path) -> None:
    group_vars = tmp_path / "group_vars"
    (group_vars / "all").mkdir(parents=True)
    (group_vars / "all.yml").write_text(
        "batiknet_sites: {opd1: {contact: {email: a@opd1.example}}}\n"
    )
    (group_vars / "all" / "vault.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")

    variables = load_inventory_vars(tmp_path)

    assert site_contact("opd1", variables).email == "a@opd1.example"
