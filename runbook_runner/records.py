"""The incident records: one SQLite database in the data directory.

Every incident, every attempt of every step of the service standard, every
document written and every event of the timeline lands here, so that a run
killed halfway can be resumed and the quarterly evaluation can be computed.
The tables are described in ``docs/records.md``; that page is the contract
for every reader of this database.

The database runs in WAL mode with ``synchronous=FULL``: a row reported as
written survives a crash or a power cut. Each connection waits up to
:data:`BUSY_TIMEOUT_MS` for a lock rather than failing with "database is
locked".
"""

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_runner import settings
from runbook_runner.errors import RunbookError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000
DB_NAME = "runbook.db"

# The states of an incident, in the order an incident usually goes through them.
STATES = (
    "checking",  # steps 1-3 recorded; steps 4-7 running or interrupted
    "waiting_isp",  # step 8: the fault is an ISP's, the ticket is written
    "internal_action",  # the fault is the city's own; an action record is written
    "resolved",  # step 7 or a recheck found the site connected; step 9 report written
    "closed",  # step 10
)
OPEN_STATES = ("checking", "waiting_isp", "internal_action", "resolved")

_SCHEMA = """
CREATE TABLE incidents (
    id              TEXT PRIMARY KEY,
    year            INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    site            TEXT NOT NULL,
    opd_name        TEXT NOT NULL,
    letter_no       TEXT NOT NULL,
    letter_date     TEXT NOT NULL,
    complaint       TEXT NOT NULL,
    channel         TEXT NOT NULL,
    assignee        TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    disposed_at     TEXT NOT NULL,
    state           TEXT NOT NULL,
    connected       INTEGER,
    degraded        INTEGER,
    segment         TEXT,
    segments        TEXT NOT NULL DEFAULT '[]',
    branch          TEXT,
    confidence      TEXT,
    verdict         TEXT,
    physical_check  TEXT,
    physical_reason TEXT,
    physical_notes  TEXT NOT NULL DEFAULT '{}',
    isp_provider    TEXT,
    isp_circuit_id  TEXT,
    isp_ticket_at   TEXT,
    isp_ref         TEXT,
    isp_eta         TEXT,
    isp_contact     TEXT,
    isp_recorded_at TEXT,
    resolved_at     TEXT,
    closed_at       TEXT,
    close_reason    TEXT,
    forced_close    INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (year, seq)
);
CREATE INDEX incidents_site ON incidents (site, received_at);
CREATE INDEX incidents_state ON incidents (state);

CREATE TABLE step_attempts (
    id          INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    step        INTEGER NOT NULL CHECK (step BETWEEN 1 AND 10),
    name        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    run_id      TEXT,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    outcome     TEXT NOT NULL,
    evidence    TEXT NOT NULL DEFAULT '[]',
    note        TEXT,
    UNIQUE (incident_id, step, attempt)
);
CREATE INDEX step_attempts_incident ON step_attempts (incident_id, step);

CREATE TABLE documents (
    id          INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    lang        TEXT NOT NULL,
    format      TEXT NOT NULL,
    path        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (incident_id, kind, lang, format)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    time        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    message     TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_incident ON events (incident_id, time);

CREATE TABLE escalations (
    id          INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    time        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    level       TEXT NOT NULL,
    recipient   TEXT,
    note        TEXT,
    UNIQUE (incident_id, reason, level)
);
"""

_JSON_COLUMNS = {"segments", "verdict", "physical_notes", "evidence", "data"}
_BOOL_COLUMNS = {"connected", "degraded", "forced_close"}


class RecordsError(RunbookError):
    """The records cannot be read or written."""


class IncidentNotFoundError(RecordsError):
    """No incident carries the asked id."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(
            f"no incident {incident_id!r} in the records",
            hint="list the incidents with `runbook list` and use one of their ids",
        )
        self.incident_id = incident_id


def now() -> str:
    """Return the current time as ISO 8601 in UTC with its offset, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def db_path(data_dir: Path | None = None) -> Path:
    """Return the path of the database under ``data_dir`` (the settings' one by default)."""
    return (data_dir or settings.data_dir()) / DB_NAME


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    record = dict(row)
    for key, value in record.items():
        if key in _JSON_COLUMNS and isinstance(value, str):
            record[key] = json.loads(value)
        elif key in _BOOL_COLUMNS and value is not None:
            record[key] = bool(value)
    return record


def _encode(key: str, value: Any) -> Any:
    if key in _JSON_COLUMNS and value is not None:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if key in _BOOL_COLUMNS and value is not None:
        return int(bool(value))
    return value


def _check_columns(names: Sequence[str], allowed: frozenset[str]) -> None:
    unknown = set(names) - allowed
    if unknown:
        raise RecordsError(f"unknown record fields: {', '.join(sorted(unknown))}")


@dataclass
class Records:
    """The incident records in one SQLite database.

    Open with :func:`open_records`; use as a context manager to close it.
    """

    path: Path
    connection: sqlite3.Connection = field(repr=False)

    def __enter__(self) -> "Records":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one immediate (write-locking) transaction.

        Raises:
            RecordsError: the database cannot be written (disk full, read-only).
        """
        try:
            self.connection.execute("BEGIN IMMEDIATE")
            yield self.connection
            self.connection.execute("COMMIT")
        except sqlite3.OperationalError as error:
            self._rollback()
            raise RecordsError(
                f"{self.path}: cannot write the records: {error}",
                hint="check that the data directory is writable and the disk has room",
            ) from error
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")

    # Incidents -------------------------------------------------------------

    def create_incident(self, fields: Mapping[str, Any]) -> str:
        """Store a new incident and return its id, ``INC-<year>-<seq>``.

        ``fields`` holds the intake columns (site, opd_name, letter_no,
        letter_date, complaint, channel, assignee, received_at, disposed_at);
        the year of the id is the year of ``received_at``.

        Raises:
            RecordsError: a field is unknown or missing, or the write fails.
        """
        _check_columns(list(fields), _INCIDENT_COLUMNS)
        year = int(str(fields["received_at"])[:4])
        stamp = now()
        with self.transaction() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM incidents WHERE year = ?", (year,)
            ).fetchone()
            seq = int(row[0])
            incident_id = f"INC-{year}-{seq:04d}"
            values = {
                **fields,
                "id": incident_id,
                "year": year,
                "seq": seq,
                "state": fields.get("state", "checking"),
                "created_at": stamp,
                "updated_at": stamp,
            }
            columns = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            try:
                db.execute(
                    f"INSERT INTO incidents ({columns}) VALUES ({marks})",
                    [_encode(k, v) for k, v in values.items()],
                )
            except sqlite3.IntegrityError as error:
                raise RecordsError(f"cannot store the incident: {error}") from error
        log.info("%s: incident recorded for site %s", incident_id, fields.get("site"))
        return incident_id

    def update_incident(self, incident_id: str, **fields: Any) -> None:
        """Set ``fields`` on an incident.

        Raises:
            IncidentNotFoundError: no incident has this id.
            RecordsError: a field is unknown, or the write fails.
        """
        _check_columns(list(fields), _INCIDENT_COLUMNS)
        fields["updated_at"] = now()
        assignments = ", ".join(f"{key} = ?" for key in fields)
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE incidents SET {assignments} WHERE id = ?",
                [*(_encode(k, v) for k, v in fields.items()), incident_id],
            )
            if cursor.rowcount == 0:
                raise IncidentNotFoundError(incident_id)

    def get_incident(self, incident_id: str) -> dict[str, Any]:
        """Return one incident as a mapping of its columns.

        Raises:
            IncidentNotFoundError: no incident has this id.
        """
        row = self.connection.execute(
            "SELECT * FROM incidents WHERE id = ?", (incident_id,)
        ).fetchone()
        if row is None:
            raise IncidentNotFoundError(incident_id)
        return _decode(row)

    def list_incidents(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        """Return every incident (or the open ones), newest first."""
        query = "SELECT * FROM incidents"
        params: tuple[str, ...] = ()
        if open_only:
            query += f" WHERE state IN ({', '.join('?' for _ in OPEN_STATES)})"
            params = OPEN_STATES
        query += " ORDER BY received_at DESC, id DESC"
        return [_decode(row) for row in self.connection.execute(query, params)]

    # Step attempts ---------------------------------------------------------

    def start_step(
        self, incident_id: str, step: int, name: str, *, run_id: str | None = None
    ) -> int:
        """Record the start of a new attempt of a step; return the attempt's row id.

        The attempt is numbered after the last attempt of that step; its
        outcome is ``running`` until :meth:`finish_step`.

        Raises:
            RecordsError: the write fails (an unknown incident included).
        """
        with self.transaction() as db:
            attempt = db.execute(
                "SELECT COALESCE(MAX(attempt), 0) + 1 FROM step_attempts"
                " WHERE incident_id = ? AND step = ?",
                (incident_id, step),
            ).fetchone()[0]
            try:
                cursor = db.execute(
                    "INSERT INTO step_attempts (incident_id, step, name, attempt, run_id,"
                    " started_at, outcome) VALUES (?, ?, ?, ?, ?, ?, 'running')",
                    (incident_id, step, name, attempt, run_id, now()),
                )
            except sqlite3.IntegrityError as error:
                raise RecordsError(f"{incident_id}: cannot record step {step}: {error}") from error
        return int(cursor.lastrowid or 0)

    def finish_step(
        self,
        attempt_id: int,
        outcome: str,
        *,
        evidence: Sequence[Mapping[str, Any]] = (),
        note: str | None = None,
        started_at: str | None = None,
    ) -> None:
        """Record the end of a step attempt with its outcome and its checks.

        Raises:
            RecordsError: the write fails.
        """
        with self.transaction() as db:
            db.execute(
                "UPDATE step_attempts SET ended_at = ?, outcome = ?, evidence = ?, note = ?,"
                " started_at = COALESCE(?, started_at) WHERE id = ?",
                (now(), outcome, _encode("evidence", list(evidence)), note, started_at, attempt_id),
            )

    def record_step(
        self,
        incident_id: str,
        step: int,
        name: str,
        outcome: str,
        *,
        evidence: Sequence[Mapping[str, Any]] = (),
        note: str | None = None,
        started_at: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Record a whole step attempt at once (start, end, outcome); return its row id.

        Raises:
            RecordsError: the write fails.
        """
        attempt_id = self.start_step(incident_id, step, name, run_id=run_id)
        self.finish_step(attempt_id, outcome, evidence=evidence, note=note, started_at=started_at)
        return attempt_id

    def steps(self, incident_id: str) -> list[dict[str, Any]]:
        """Return every step attempt of an incident, in the order they were stored."""
        rows = self.connection.execute(
            "SELECT * FROM step_attempts WHERE incident_id = ? ORDER BY id",
            (incident_id,),
        )
        return [_decode(row) for row in rows]

    def completed_steps(self, incident_id: str) -> set[int]:
        """Return the numbers of the steps with at least one finished attempt."""
        rows = self.connection.execute(
            "SELECT DISTINCT step FROM step_attempts WHERE incident_id = ?"
            " AND ended_at IS NOT NULL AND outcome NOT IN ('running', 'interrupted')",
            (incident_id,),
        )
        return {int(row[0]) for row in rows}

    def mark_interrupted(self, incident_id: str) -> int:
        """Mark the attempts left ``running`` by a killed run as ``interrupted``; count them.

        Raises:
            RecordsError: the write fails.
        """
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE step_attempts SET outcome = 'interrupted', ended_at = ?"
                " WHERE incident_id = ? AND outcome = 'running'",
                (now(), incident_id),
            )
        return cursor.rowcount

    # Documents, events, escalations ---------------------------------------

    def add_document(self, incident_id: str, kind: str, lang: str, fmt: str, path: Path) -> None:
        """Record a written document; a rewrite of the same kind, language and format
        replaces the row.

        Raises:
            RecordsError: the write fails.
        """
        with self.transaction() as db:
            db.execute(
                "INSERT INTO documents (incident_id, kind, lang, format, path, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, kind, lang, format)"
                " DO UPDATE SET path = excluded.path, created_at = excluded.created_at",
                (incident_id, kind, lang, fmt, str(path), now()),
            )

    def documents(self, incident_id: str) -> list[dict[str, Any]]:
        """Return the documents of an incident, oldest first."""
        rows = self.connection.execute(
            "SELECT * FROM documents WHERE incident_id = ? ORDER BY created_at, id",
            (incident_id,),
        )
        return [_decode(row) for row in rows]

    def add_event(
        self,
        incident_id: str,
        kind: str,
        message: str,
        data: Mapping[str, Any] | None = None,
        *,
        time: str | None = None,
    ) -> None:
        """Append an event to the incident's timeline.

        Raises:
            RecordsError: the write fails.
        """
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (incident_id, time, kind, message, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (incident_id, time or now(), kind, message, _encode("data", dict(data or {}))),
            )

    def events(self, incident_id: str) -> list[dict[str, Any]]:
        """Return the timeline of an incident, oldest first."""
        rows = self.connection.execute(
            "SELECT * FROM events WHERE incident_id = ? ORDER BY time, id", (incident_id,)
        )
        return [_decode(row) for row in rows]

    def add_escalation(
        self,
        incident_id: str,
        reason: str,
        level: str,
        *,
        recipient: str | None = None,
        note: str | None = None,
        time: str | None = None,
    ) -> bool:
        """Record an escalation once per incident, reason and level; return whether it is new.

        Raises:
            RecordsError: the write fails.
        """
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO escalations (incident_id, time, reason, level, recipient, note)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (incident_id, time or now(), reason, level, recipient, note),
            )
        return cursor.rowcount > 0

    def escalations(self, incident_id: str) -> list[dict[str, Any]]:
        """Return the escalations of an incident, oldest first."""
        rows = self.connection.execute(
            "SELECT * FROM escalations WHERE incident_id = ? ORDER BY time, id", (incident_id,)
        )
        return [_decode(row) for row in rows]


_INCIDENT_COLUMNS = frozenset(
    {
        "site", "opd_name", "letter_no", "letter_date", "complaint", "channel", "assignee",
        "received_at", "disposed_at", "state", "connected", "degraded", "segment", "segments",
        "branch", "confidence", "verdict", "physical_check", "physical_reason",
        "physical_notes", "isp_provider", "isp_circuit_id", "isp_ticket_at", "isp_ref",
        "isp_eta", "isp_contact", "isp_recorded_at", "resolved_at", "closed_at",
        "close_reason", "forced_close", "updated_at",
    }
)  # fmt: skip


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise RecordsError(
            f"{path}: the records have schema version {version}, newer than this runbook's"
            f" {SCHEMA_VERSION}",
            hint="upgrade the runbook before using these records",
        )
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] == 0:
            # One statement at a time: executescript() would commit the open transaction.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    log.info("%s: records created with schema version %d", path, SCHEMA_VERSION)


def open_records(data_dir: Path | None = None) -> Records:
    """Open (creating if needed) the records under ``data_dir`` (the settings' one by default).

    Raises:
        RecordsError: the data directory or the database cannot be created or opened.
    """
    path = db_path(data_dir)
    connection = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        connection = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
    except (OSError, sqlite3.Error) as error:
        if connection is not None:
            connection.close()
        raise RecordsError(
            f"{path}: cannot open the records: {error}",
            hint="check that the data directory exists, is writable and the disk has room"
            " (set RUNBOOK_DATA_DIR to move it)",
        ) from error
    try:
        _migrate(connection, path)
    except sqlite3.Error as error:
        connection.close()
        raise RecordsError(
            f"{path}: cannot set up the records: {error}",
            hint="check that the data directory is writable and the disk has room",
        ) from error
    except BaseException:
        connection.close()
        raise
    return Records(path=path, connection=connection)
