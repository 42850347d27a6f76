"""The outbox: every email the runbook sends is written here first, then delivered.

The outbox lives in ``<data dir>/outbox/``:

- ``pending/<name>.eml``: the message, RFC 5322 bytes ready for SMTP (CRLF line
  ends, 7-bit clean), with its attachments inside;
- ``pending/<name>.json``: its sidecar: state (``pending`` or ``failed``),
  attempts, last error, next attempt time;
- ``sent/<name>.eml`` and ``sent/<name>.json``: the messages the SMTP server
  accepted, with the time it did.

``<name>`` and the Message-ID derive from the incident and the kind of the
document only, so enqueueing the same document twice gives the same entry,
and a message already in ``sent/`` is never enqueued or delivered again.

Every file is written to a temporary file, flushed to disk and renamed into
place; the ``.eml`` goes first and is the message's truth: a ``.eml`` without a
sidecar (a crash in between, or a message dropped there by another tool) is
adopted with a fresh sidecar built from its headers.

Two locks, both ``flock`` on files of the outbox: ``.state.lock`` is held for
the few milliseconds of each change of state (enqueue, commit as sent, record
a failure); ``.delivery.lock`` is held by the one process delivering, for the
whole of a flush, so two ``runbook`` commands never deliver the same message.
"""

import contextlib
import fcntl
import hashlib
import json
import logging
import mimetypes
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses
from html import escape
from pathlib import Path
from typing import Any

from runbook_runner import files, settings
from runbook_runner.errors import RunbookError, UsageError

log = logging.getLogger(__name__)

PENDING = "pending"
FAILED = "failed"
SENT = "sent"

DEFAULT_DOMAIN = "runbook.batiknet.invalid"
STALE_TEMPORARY_SECONDS = 600

# Headers fold at RFC 5322's hard limit only: folding at 78 makes the standard
# library put some subjects on a continuation line that parsers read back with
# a leading space.
_POLICY = policy.SMTP.clone(max_line_length=998)
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class OutboxError(RunbookError):
    """The outbox cannot be read or written, or an entry is not in it."""


class AttachmentError(OutboxError):
    """A file to attach cannot be read."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"cannot attach {path}: {reason}",
            hint="render the document again, then enqueue the message again",
        )
        self.path = path


class AddressError(RunbookError):
    """An email address is malformed."""

    def __init__(self, address: str) -> None:
        super().__init__(
            f"malformed email address {address!r}",
            hint="write it as local@domain in ASCII (an IDN domain in its xn-- form)",
        )
        self.address = address


@dataclass(frozen=True)
class Recipient:
    """A person or mailbox to write to."""

    email: str
    name: str = ""

    def header(self) -> Address:
        """Return the address as an ``email`` header value.

        Raises:
            AddressError: the address is malformed.
        """
        local, _, domain = self.email.partition("@")
        plain = self.email.isascii() and not _CONTROL.search(self.email) and " " not in self.email
        if not local or not domain or not plain:
            raise AddressError(self.email)
        return Address(display_name=_one_line(self.name), username=local, domain=domain)


@dataclass(frozen=True)
class Message:
    """One entry of the outbox, as its sidecar describes it."""

    name: str
    message_id: str
    kind: str
    incident_id: str
    subject: str
    sender: str
    recipients: tuple[str, ...]
    state: str
    created_at: datetime
    next_attempt_at: datetime | None
    attempts: int = 0
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    error_kind: str | None = None
    sending_since: datetime | None = None
    sent_at: datetime | None = None
    refused: dict[str, str] = field(default_factory=dict)

    def is_due(self, now: datetime) -> bool:
        """Return whether a flush at ``now`` should try to deliver the message."""
        return self.state == PENDING and (
            self.next_attempt_at is None or self.next_attempt_at <= now
        )

    def to_json(self) -> dict[str, Any]:
        """Return the sidecar's JSON object."""
        data = asdict(self)
        data["recipients"] = list(self.recipients)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Message":
        """Return the entry a sidecar describes.

        Raises:
            KeyError, TypeError, ValueError: the sidecar is not one this module wrote.
        """
        values = dict(data)
        for key in ("created_at", "next_attempt_at", "last_attempt_at", "sending_since", "sent_at"):
            if values.get(key):
                values[key] = datetime.fromisoformat(values[key])
        values["recipients"] = tuple(values["recipients"])
        return cls(**values)


@dataclass(frozen=True)
class Retry:
    """How often a message is retried: exponential back-off, capped, then given up."""

    base_seconds: float = 60.0
    cap_seconds: float = 3600.0
    max_attempts: int = 48

    def delay(self, attempts: int) -> timedelta:
        """Return the wait after the ``attempts``-th failed attempt."""
        exponent = min(max(attempts - 1, 0), 30)
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * 2**exponent))


def message_name(kind: str, incident_id: str) -> str:
    """Return the stable file name (without suffix) of a document's message.

    Raises:
        UsageError: the kind or the incident id holds characters other than
            letters, digits, dot, dash and underscore.
    """
    for label, value in (("kind", kind), ("incident id", incident_id)):
        if not _SLUG.match(value):
            raise UsageError(
                f"the message {label} {value!r} is not a plain name",
                hint="use letters, digits, '.', '-' and '_' only (at most 80)",
            )
    digest = hashlib.sha256(f"{incident_id}\0{kind}".encode()).hexdigest()[:10]
    return f"{incident_id}.{kind}.{digest}"


def message_id(name: str, domain: str = DEFAULT_DOMAIN) -> str:
    """Return the Message-ID of the message called ``name``."""
    return f"<{name}@{domain}>"


def build_message(
    *,
    name: str,
    kind: str,
    incident_id: str,
    sender: Recipient,
    to: Sequence[Recipient],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Sequence[Path] = (),
    cc: Sequence[Recipient] = (),
    reply_to: Recipient | None = None,
    domain: str = DEFAULT_DOMAIN,
    date: datetime | None = None,
) -> EmailMessage:
    """Return the RFC 5322 message: text and HTML alternatives, then the attachments.

    Without ``html``, the HTML part is the text, escaped, in a ``<pre>``. The
    subject loses its line breaks and control characters; everything else goes
    out as given.

    Raises:
        AddressError: an address is malformed.
        AttachmentError: an attachment cannot be read.
    """
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender.header()
    message["To"] = [recipient.header() for recipient in to]
    if cc:
        message["Cc"] = [recipient.header() for recipient in cc]
    if reply_to:
        message["Reply-To"] = reply_to.header()
    message["Subject"] = _one_line(subject)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id(name, domain)
    message["X-Runbook-Kind"] = kind
    message["X-Runbook-Incident"] = incident_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(
        html if html is not None else _text_to_html(text, subject),
        subtype="html",
        charset="utf-8",
        cte="quoted-printable",
    )
    for path in attachments:
        _attach(message, Path(path))
    return message


def _one_line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()


def _text_to_html(text: str, title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(_one_line(title))}</title></head>\n"
        f'<body><pre style="white-space: pre-wrap">{escape(text)}</pre></body></html>\n'
    )


def _attach(message: EmailMessage, path: Path) -> None:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AttachmentError(path, error.strerror or str(error)) from error
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    maintype, subtype = content_type.split("/", 1)
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)


class Outbox:
    """The outbox directory and the state of its messages."""

    def __init__(self, root: Path | None = None, retry: Retry | None = None) -> None:
        self.root = root if root is not None else settings.data_dir() / "outbox"
        self.retry = retry or Retry()
        self.pending_dir = self.root / "pending"
        self.sent_dir = self.root / "sent"

    # Reading --------------------------------------------------------------

    def entries(self, *, include_sent: bool = False) -> list[Message]:
        """Return the messages not yet sent (and the sent ones if asked), oldest first.

        Adopts a ``.eml`` without a sidecar and finishes a commit a crash interrupted.

        Raises:
            OutboxError: the outbox cannot be read or written.
        """
        if not self.root.exists():
            return []
        with self._state_lock():
            found = [self._load_pending(path) for path in sorted(self.pending_dir.glob("*.eml"))]
            self._finish_interrupted_commits()
        if include_sent:
            found += self._sent_entries()
        return sorted(found, key=lambda message: (message.created_at, message.name))

    def get(self, name: str) -> Message:
        """Return the entry called ``name`` (pending, failed or sent).

        Raises:
            OutboxError: no such entry.
        """
        for directory in (self.pending_dir, self.sent_dir):
            if (directory / f"{name}.json").exists():
                return self._read_sidecar(directory / f"{name}.json")
        raise OutboxError(
            f"no message {name!r} in the outbox {self.root}",
            hint="list the messages with `runbook outbox list --all`",
        )

    def message_bytes(self, entry: Message) -> bytes:
        """Return the RFC 5322 bytes of an entry.

        Raises:
            OutboxError: the file cannot be read.
        """
        directory = self.sent_dir if entry.state == SENT else self.pending_dir
        try:
            return (directory / f"{entry.name}.eml").read_bytes()
        except OSError as error:
            raise OutboxError(f"cannot read {entry.name}.eml: {error.strerror}") from error

    # Writing --------------------------------------------------------------

    def enqueue(
        self,
        message: EmailMessage,
        *,
        name: str,
        kind: str,
        incident_id: str,
        now: datetime | None = None,
    ) -> Message:
        """Write ``message`` into the outbox, due at once, unless it is already there.

        A message of the same name already pending, failed or sent is kept as
        it is and returned: the same document is never sent twice.

        Raises:
            OutboxError: the outbox cannot be written.
        """
        now = now or datetime.now(UTC)
        with self._state_lock():
            for directory in (self.sent_dir, self.pending_dir):
                if (directory / f"{name}.eml").exists():
                    existing = self._load_pending(directory / f"{name}.eml")
                    log.info("%s: already in the outbox (%s)", name, existing.state)
                    return existing
            entry = Message(
                name=name,
                message_id=str(message["Message-ID"]),
                kind=kind,
                incident_id=incident_id,
                subject=str(message["Subject"] or ""),
                sender=_addresses(message, "From")[0] if _addresses(message, "From") else "",
                recipients=tuple(_addresses(message, "To", "Cc")),
                state=PENDING,
                created_at=now,
                next_attempt_at=now,
            )
            _write_atomically(self.pending_dir / f"{name}.eml", message.as_bytes())
            self._write_sidecar(self.pending_dir, entry)
        log.info("%s: queued for %s", name, ", ".join(entry.recipients))
        return entry

    def mark_sending(self, entry: Message, now: datetime) -> Message:
        """Record that a delivery attempt starts: one more attempt, in flight since ``now``.

        Raises:
            OutboxError: the sidecar cannot be written.
        """
        updated = replace(
            entry, attempts=entry.attempts + 1, sending_since=now, last_attempt_at=now
        )
        with self._state_lock():
            self._write_sidecar(self.pending_dir, updated)
        return updated

    def commit_sent(self, entry: Message, now: datetime, refused: dict[str, str]) -> Message:
        """Move a message the server accepted into ``sent/``: the rename is the commit point.

        Raises:
            OutboxError: the files cannot be moved.
        """
        updated = replace(
            entry, state=SENT, sent_at=now, sending_since=None, next_attempt_at=None,
            last_error=None, error_kind=None, refused=refused,
        )  # fmt: skip
        with self._state_lock():
            self.sent_dir.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(
                    self.pending_dir / f"{entry.name}.eml", self.sent_dir / f"{entry.name}.eml"
                )
            except OSError as error:
                raise OutboxError(
                    f"{entry.name}: cannot move to sent/: {error.strerror}"
                ) from error
            files.fsync_directory(self.sent_dir)
            files.fsync_directory(self.pending_dir)
            self._write_sidecar(self.sent_dir, updated)
            (self.pending_dir / f"{entry.name}.json").unlink(missing_ok=True)
        return updated

    def record_failure(self, entry: Message, now: datetime, error_kind: str, error: str) -> Message:
        """Record a failed attempt: back off, or give up after the last allowed attempt.

        Raises:
            OutboxError: the sidecar cannot be written.
        """
        gave_up = entry.attempts >= self.retry.max_attempts
        updated = replace(
            entry,
            state=FAILED if gave_up else PENDING,
            sending_since=None,
            last_attempt_at=now,
            last_error=error,
            error_kind=error_kind,
            next_attempt_at=None if gave_up else now + self.retry.delay(entry.attempts),
        )
        with self._state_lock():
            self._write_sidecar(self.pending_dir, updated)
        return updated

    def requeue(self, name: str, now: datetime) -> Message:
        """Make a pending or failed message due at once, its attempts counted from zero.

        Raises:
            OutboxError: no such message, or it is already sent.
        """
        entry = self.get(name)
        if entry.state == SENT:
            raise OutboxError(
                f"{name} was sent at {entry.sent_at}; it is not sent again",
                hint="a document is delivered once; write a new document to send again",
            )
        updated = replace(entry, state=PENDING, attempts=0, next_attempt_at=now)
        with self._state_lock():
            self._write_sidecar(self.pending_dir, updated)
        return updated

    @contextlib.contextmanager
    def delivery_lock(self) -> Iterator[bool]:
        """Hold the delivery lock if no other process does; yield whether it is held.

        Raises:
            OutboxError: the lock file cannot be opened.
        """
        with self._lock(".delivery.lock", blocking=False) as held:
            yield held

    # Internals ------------------------------------------------------------

    def _state_lock(self) -> contextlib.AbstractContextManager[bool]:
        return self._lock(".state.lock", blocking=True)

    @contextlib.contextmanager
    def _lock(self, filename: str, *, blocking: bool) -> Iterator[bool]:
        try:
            self.pending_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.root / filename, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise OutboxError(
                f"cannot open the outbox {self.root}: {error.strerror}",
                hint="check RUNBOOK_DATA_DIR and the permissions of the data directory",
            ) from error
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(descriptor)

    def _sent_entries(self) -> list[Message]:
        found = []
        for path in sorted(self.sent_dir.glob("*.json")):
            try:
                found.append(self._read_sidecar(path))
            except OutboxError as error:
                log.warning("%s: %s", path.stem, error.message)
        return found

    def _load_pending(self, eml_path: Path) -> Message:
        sidecar = eml_path.with_suffix(".json")
        if sidecar.exists():
            try:
                return self._read_sidecar(sidecar)
            except OutboxError as error:
                # The .eml is the message's truth: set the damaged sidecar aside, adopt again.
                log.error("%s: %s", eml_path.stem, error.message)
                os.replace(sidecar, sidecar.with_suffix(".json.damaged"))
        entry = self._adopt(eml_path)
        self._write_sidecar(eml_path.parent, entry)
        log.warning("%s: message without a sidecar adopted into the outbox", entry.name)
        return entry

    def _adopt(self, eml_path: Path) -> Message:
        parsed = BytesParser(policy=policy.default).parsebytes(eml_path.read_bytes())
        created = datetime.fromtimestamp(eml_path.stat().st_mtime, UTC)
        return Message(
            name=eml_path.stem,
            message_id=str(parsed["Message-ID"] or message_id(eml_path.stem)),
            kind=str(parsed["X-Runbook-Kind"] or "message"),
            incident_id=str(parsed["X-Runbook-Incident"] or ""),
            subject=str(parsed["Subject"] or ""),
            sender=(_addresses(parsed, "From") or [""])[0],
            recipients=tuple(_addresses(parsed, "To", "Cc")),
            state=SENT if eml_path.parent == self.sent_dir else PENDING,
            created_at=created,
            next_attempt_at=None,
        )

    def _finish_interrupted_commits(self) -> None:
        self._remove_stale_temporaries()
        for sidecar in self.pending_dir.glob("*.json"):
            if sidecar.with_suffix(".eml").exists():
                continue
            if (self.sent_dir / f"{sidecar.stem}.eml").exists():
                entry = self._read_sidecar(sidecar)
                log.warning("%s: finishing a commit to sent/ a crash interrupted", entry.name)
                now = entry.sending_since or datetime.now(UTC)
                self._write_sidecar(self.sent_dir, replace(entry, state=SENT, sent_at=now))
            else:
                log.warning("%s: sidecar without a message removed", sidecar.stem)
            sidecar.unlink()

    def _remove_stale_temporaries(self) -> None:
        # A write killed before its rename leaves ".<name>.<random>"; the real file is intact.
        limit = time.time() - STALE_TEMPORARY_SECONDS
        for path in self.pending_dir.glob(".*"):
            if path.name.startswith(".") and path.stat().st_mtime < limit:
                log.info("%s: stale temporary file removed", path.name)
                path.unlink(missing_ok=True)

    def _read_sidecar(self, path: Path) -> Message:
        try:
            return Message.from_json(json.loads(path.read_text(encoding="utf-8")))
        except OSError as error:
            raise OutboxError(f"cannot read {path}: {error.strerror}") from error
        except (KeyError, TypeError, ValueError) as error:
            raise OutboxError(
                f"the outbox sidecar {path} is damaged: {error}",
                hint=f"delete {path}; the message is adopted again from its .eml",
            ) from error

    def _write_sidecar(self, directory: Path, entry: Message) -> None:
        text = json.dumps(entry.to_json(), indent=2, ensure_ascii=False) + "\n"
        _write_atomically(directory / f"{entry.name}.json", text.encode())


def _addresses(message: EmailMessage, *headers: str) -> list[str]:
    values = [str(value) for header in headers for value in message.get_all(header, [])]
    return [address for _, address in getaddresses(values) if address]


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one."""
    try:
        files.write_atomically(path, data)
    except OSError as error:
        raise OutboxError(
            f"cannot write {path}: {error.strerror}",
            hint="check the free space and the permissions of the data directory",
        ) from error
