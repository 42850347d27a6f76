"""Text from complaints, the inventory or an ISP goes out literally, and escaped in HTML."""

from collections.abc import Callable
from pathlib import Path

import pytest

from runbook_runner import notices
from runbook_runner.notifications import enqueue, flush
from runbook_runner.outbox import Recipient

from .conftest import START, Server, smtp_config

HOSTILE = [
    pytest.param("{{ lookup('pipe','id') }} {% raw %}", id="jinja-lookup"),
    pytest.param("$(touch {owned}) `touch {owned}`; touch {owned}", id="shell"),
    pytest.param("<script>alert('x')</script> & <b>bold</b>", id="html"),
    pytest.param("Gangguan 网络中断 ꦧꦠꦶꦏ꧀ Ελληνικά العربية 🚨 " * 40, id="long-non-latin"),
    pytest.param("[bold red]rich markup[/] %s %(x)s {0}", id="format-strings"),
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_subject_and_body_go_out_literally(
    hostile: str, servers: Callable[..., Server], tmp_path: Path
) -> None:
    hostile = hostile.replace("{owned}", str(tmp_path / "owned"))
    server = servers()
    config = smtp_config(server.port)

    enqueue(
        "isp-ticket", "INC-2026-0009", [Recipient("noc@isp-a.example", hostile)], hostile,
        f"Keluhan: {hostile}\n", config=config, now=START,
    )  # fmt: skip
    flush(config, START)

    [received] = server.handler.received
    message = received.message
    assert message["Subject"] == hostile.strip()
    text = message.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == f"Keluhan: {hostile}\n"
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<b>" not in html
    if "<script>" in hostile:
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert not (tmp_path / "owned").exists()


def test_hostile_subject_cannot_inject_a_header(servers: Callable[..., Server]) -> None:
    server = servers()
    config = smtp_config(server.port)

    enqueue(
        "isp-ticket", "INC-2026-0010", [Recipient("noc@isp-a.example")],
        "Gangguan\r\nBcc: attacker@evil.example\nX-Evil: 1", "isi", config=config, now=START,
    )  # fmt: skip
    flush(config, START)

    [received] = server.handler.received
    assert received.rcpt_tos == ["noc@isp-a.example"]
    assert received.message["X-Evil"] is None and received.message["Bcc"] is None
    assert received.message["Subject"] == "Gangguan Bcc: attacker@evil.example X-Evil: 1"


def test_cover_letter_escapes_inventory_values_in_html() -> None:
    document = notices.Document("<i>bukti</i>")
    subject, text, html = notices.compose(
        notices.ESCALATION, "id", document, incident="INC-2026-0011",
        site="<img src=x onerror=alert(1)>", reason="SLA <terlewati>", to="PP", sender="D",
    )  # fmt: skip

    assert subject == "Eskalasi INC-2026-0011: SLA <terlewati>"
    assert "<img src=x onerror=alert(1)>" in text
    assert "<img" not in html and "<i>" not in html and "<terlewati>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
