"""Enqueue a message and deliver what is due: the outbox and the mailer, configured.

The public surface:

- :func:`enqueue` writes a message into the outbox (nothing is sent yet);
- :func:`flush` delivers the due messages and raises on a configuration error;
- :func:`flush_due` does the same for the end of every ``runbook`` command: it
  returns at once when nothing is due (no connection is opened), stays within
  ``[notify] flush_budget_seconds``, and never raises a :class:`RunbookError`
  (it logs a warning instead);
- :func:`load_config` reads ``config/runbook.toml`` for the above.

``config`` is a :class:`runbook_runner.config.Config` (or any object with
``raw`` and ``path``), the parsed TOML as a mapping of sections, or ``None``
for the file :func:`runbook_runner.settings.config_path` names. ``now`` is an
aware datetime; tests move it forward instead of sleeping.
"""

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_runner import config as office_config
from runbook_runner import settings
from runbook_runner.errors import ConfigError, RunbookError
from runbook_runner.mailer import DeliveryError, SmtpSession, SmtpSettings, load_password
from runbook_runner.outbox import (
    SENT,
    Message,
    Outbox,
    OutboxError,
    Recipient,
    Retry,
    build_message,
    message_name,
)

log = logging.getLogger(__name__)

LANGUAGES = ("id", "en")


@dataclass(frozen=True)
class NotifySettings:
    """The ``[notify]`` section: who writes, in which language, how often to retry."""

    sender: str = ""
    sender_name: str = "Diskominfo Kota Pekalongan"
    reply_to: str = ""
    cc: tuple[str, ...] = ()
    lang: str = "id"
    message_id_domain: str = ""
    retry_base_seconds: float = 60.0
    retry_cap_seconds: float = 3600.0
    max_attempts: int = 48
    flush_budget_seconds: float = 60.0
    flush_on_exit: bool = True

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> "NotifySettings":
        """Return the settings of a ``[notify]`` table.

        Raises:
            ConfigError: a key is unknown or a value is out of range.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(
                f"unknown key [notify] {unknown[0]} in the configuration",
                hint=f"use one of: {', '.join(sorted(known))}",
            )
        values = dict(section)
        values["cc"] = tuple(values.get("cc", ()))
        result = cls(**values)
        if result.lang not in LANGUAGES:
            raise ConfigError(
                f"[notify] lang = {result.lang!r} is not a known language",
                hint="use 'id' (Bahasa Indonesia) or 'en'",
            )
        if result.max_attempts < 1 or result.retry_base_seconds <= 0:
            raise ConfigError(
                "[notify] max_attempts and retry_base_seconds must be positive",
                hint="e.g. max_attempts = 48, retry_base_seconds = 60",
            )
        return result

    @property
    def retry(self) -> Retry:
        """Return the back-off policy."""
        return Retry(self.retry_base_seconds, self.retry_cap_seconds, self.max_attempts)

    def domain(self) -> str:
        """Return the domain of the Message-IDs: configured, or the sender's."""
        return self.message_id_domain or self.sender.rpartition("@")[2] or "runbook.invalid"

    def from_address(self) -> Recipient:
        """Return the From address.

        Raises:
            ConfigError: ``[notify] sender`` is not set.
        """
        if not self.sender:
            raise ConfigError(
                "no sender address for notifications",
                hint=f"set [notify] sender in {settings.config_path()}",
            )
        return Recipient(self.sender, self.sender_name)


@dataclass(frozen=True)
class Config:
    """The two sections this module reads, and the file they come from."""

    smtp: SmtpSettings
    notify: NotifySettings
    path: Path
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class FlushReport:
    """What a flush did."""

    sent: list[Message] = field(default_factory=list)
    failed: list[Message] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None

    def summary(self) -> str:
        """Return one line for the terminal."""
        if self.skipped:
            return f"nothing delivered: {self.skipped}"
        counts = f"{len(self.sent)} sent, {len(self.failed)} still pending"
        return f"{counts}: {self.error}" if self.error else counts


def load_config(config: Any = None) -> Config:
    """Return the notification settings of ``config`` (see the module's docstring).

    Raises:
        ConfigError: the file cannot be parsed or a section holds a bad value.
    """
    if isinstance(config, Config):
        return config
    if config is None:
        config = office_config.load_config()
    path = Path(getattr(config, "path", None) or settings.config_path())
    raw = _raw_config(config)
    for section in ("smtp", "notify"):
        if not isinstance(raw.get(section, {}), Mapping):
            raise ConfigError(f"[{section}] in {path} is not a table")
    try:
        return Config(
            smtp=SmtpSettings.from_mapping(raw.get("smtp", {}), path.parent),
            notify=NotifySettings.from_mapping(_with_sender(raw)),
            path=path,
            raw=raw,
        )
    except TypeError as error:
        raise ConfigError(f"a value of [smtp] or [notify] in {path} has the wrong type") from error


def _raw_config(config: Any) -> Mapping[str, Any]:
    if isinstance(config, Mapping):
        return config
    raw = getattr(config, "raw", None)
    if isinstance(raw, Mapping):
        return raw
    raise ConfigError(f"cannot read the notification settings from {type(config).__name__}")


def _with_sender(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``[notify]``, its sender taken from ``[escalation]`` when it names none."""
    section = dict(raw.get("notify", {}))
    escalation = raw.get("escalation", {})
    if "sender" not in section and isinstance(escalation, Mapping):
        if escalation.get("sender_email"):
            section["sender"] = escalation["sender_email"]
        if escalation.get("sender_name") and "sender_name" not in section:
            section["sender_name"] = escalation["sender_name"]
    return section


def outbox_for(config: Config) -> Outbox:
    """Return the outbox of the data directory with the configured back-off."""
    return Outbox(settings.data_dir() / "outbox", retry=config.notify.retry)


def enqueue(
    kind: str,
    incident_id: str,
    to: Sequence[Recipient],
    subject: str,
    text: str,
    *,
    html: str | None = None,
    attachments: Iterable[Path] = (),
    cc: Sequence[Recipient] = (),
    config: Any = None,
    now: datetime | None = None,
) -> Message:
    """Write a message about a document of an incident into the outbox; send nothing yet.

    ``kind`` names the document (``isp-ticket``, ``completion-notice``,
    ``escalation-...``); with ``incident_id`` it fixes the Message-ID, so a
    second call for the same document returns the first entry unchanged.

    Raises:
        ConfigError: the configuration is bad or names no sender.
        UsageError: the kind or incident id is not a plain name.
        AddressError: an address is malformed.
        AttachmentError: an attachment cannot be read.
        OutboxError: the outbox cannot be written.
    """
    loaded = load_config(config)
    now = now or datetime.now(UTC)
    name = message_name(kind, incident_id)
    copies = [*cc, *(Recipient(address) for address in loaded.notify.cc)]
    message = build_message(
        name=name,
        kind=kind,
        incident_id=incident_id,
        sender=loaded.notify.from_address(),
        to=to,
        cc=copies,
        reply_to=Recipient(loaded.notify.reply_to) if loaded.notify.reply_to else None,
        subject=subject,
        text=text,
        html=html,
        attachments=[Path(path) for path in attachments],
        domain=loaded.notify.domain(),
        date=now,
    )
    return outbox_for(loaded).enqueue(
        message, name=name, kind=kind, incident_id=incident_id, now=now
    )


def flush(
    config: Any = None, now: datetime | None = None, *, names: Sequence[str] = ()
) -> FlushReport:
    """Deliver every due message (or only ``names``, due or not); return what happened.

    Raises:
        ConfigError: the configuration is bad or the SMTP password is missing.
        OutboxError: a name is not waiting in the outbox, or the outbox cannot
            be read or written.
    """
    loaded = load_config(config)
    now = now or datetime.now(UTC)
    if not loaded.smtp.enabled:
        return FlushReport(skipped=f"no [smtp] host in {loaded.path}")
    outbox = outbox_for(loaded)
    with outbox.delivery_lock() as held:
        if not held:
            return FlushReport(skipped="another runbook process is delivering")
        entries = outbox.entries()
        unknown = sorted(set(names) - {entry.name for entry in entries})
        if unknown:
            raise OutboxError(
                f"no message {unknown[0]!r} waiting in the outbox",
                hint="see the names with `runbook outbox list --all`",
            )
        due = [
            entry
            for entry in entries
            if (entry.name in names and entry.state != SENT) or (not names and entry.is_due(now))
        ]
        if not due:
            return FlushReport(skipped="no message is due")
        return _deliver(loaded, outbox, due, now)


def flush_due(config: Any = None, now: datetime | None = None) -> FlushReport:
    """Deliver what is due, cheaply, for the end of any command; never raise RunbookError.

    Returns at once without a connection when nothing is due or
    ``[notify] flush_on_exit`` is false; a failure is logged as a warning and
    returned in the report.
    """
    try:
        loaded = load_config(config)
        if not loaded.notify.flush_on_exit:
            return FlushReport(skipped="[notify] flush_on_exit is false")
        return flush(loaded, now)
    except RunbookError as error:
        log.warning("outbox: delivery skipped: %s", error.message)
        return FlushReport(error=error.message)


def _deliver(config: Config, outbox: Outbox, due: list[Message], now: datetime) -> FlushReport:
    report = FlushReport()
    for entry in due:
        if entry.sending_since is not None:
            log.warning(
                "%s: an attempt at %s was interrupted and may have reached the server; "
                "delivering again with the same Message-ID",
                entry.name,
                entry.sending_since.isoformat(),
            )
    password = load_password(config.smtp)
    deadline = time.monotonic() + config.notify.flush_budget_seconds
    remaining = list(due)
    try:
        with SmtpSession(config.smtp, password) as session:
            while remaining and time.monotonic() < deadline:
                data = outbox.message_bytes(remaining[0])
                entry = outbox.mark_sending(remaining.pop(0), now)
                try:
                    refused = session.send(entry.sender, entry.recipients, data)
                except DeliveryError as error:
                    report.failed.append(_record_failure(outbox, entry, now, error))
                    if error.connection_level:
                        raise
                    continue
                report.sent.append(outbox.commit_sent(entry, now, refused))
                _log_sent(entry, refused)
    except DeliveryError as error:
        for entry in remaining:
            report.failed.append(
                _record_failure(outbox, outbox.mark_sending(entry, now), now, error)
            )
        report.error = error.message
    return report


def _record_failure(outbox: Outbox, entry: Message, now: datetime, error: DeliveryError) -> Message:
    updated = outbox.record_failure(entry, now, error.kind, error.message)
    if updated.next_attempt_at is None:
        log.error("%s: given up after %d attempts: %s", entry.name, updated.attempts, error.message)
    else:
        log.warning(
            "%s: not delivered (%s): %s; next attempt at %s",
            entry.name,
            error.kind,
            error.message,
            updated.next_attempt_at.isoformat(),
        )
    return updated


def _log_sent(entry: Message, refused: Mapping[str, str]) -> None:
    log.info("%s: delivered to %s", entry.name, ", ".join(entry.recipients))
    for address, reply in refused.items():
        log.warning("%s: the server refused %s: %s", entry.name, address, reply)
