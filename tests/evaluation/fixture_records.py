"""A fixed set of incident records for the evaluation tests, written through records.py.

Times are written here in WIB (UTC+7) for reading and stored in UTC as the
records keep them. Quarter under test: 2026Q3 (Wed 1 July - Wed 30 September);
closed days in it: Mon 17 August (Independence Day), Tue 25 August (Maulid).
Service hours: Mon-Thu 08:00-12:00 + 12:30-15:45 (435 min), Fri 08:00-11:00.

The hand computation of every figure is beside each incident and summed up
in ``tests/evaluation/test_figures.py``.
"""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from runbook_runner.records import open_records

WIB = timezone(timedelta(hours=7))

NAMES = {"opd1": "Dinas Pendidikan", "opd2": "Dinas Kesehatan", "opd3": "Bappeda & Litbang"}


def utc(text: str) -> str:
    """Return a WIB time ``YYYY-MM-DD HH:MM`` as the records store it (UTC with offset)."""
    local = datetime.fromisoformat(text).replace(tzinfo=WIB)
    return local.astimezone(UTC).isoformat()


# Each entry: intake fields, the later fields, the escalations (reason, WIB time).
INCIDENTS: list[tuple[dict[str, Any], dict[str, Any], list[tuple[str, str]]]] = [
    # P1 (2026Q2): opd2 core, Tue 2 Jun 08:00 -> 10:00. Service 2 h, wall 2 h.
    (
        {"site": "opd2", "channel": "letter", "received_at": "2026-06-02 08:00"},
        {"segment": "core", "branch": "internal_action", "resolved_at": "2026-06-02 10:00"},
        [],
    ),
    # P2 (2026Q2): opd1 access (isp_a), Mon 29 Jun 09:00 -> 13:00.
    # Service 09-12 (3 h) + 12:30-13 (0.5 h) = 3.5 h; wall 4 h.
    (
        {"site": "opd1", "channel": "phone", "received_at": "2026-06-29 09:00"},
        {
            "segment": "opd_access",
            "branch": "isp_ticket",
            "isp_provider": "isp_a",
            "resolved_at": "2026-06-29 13:00",
        },
        [],
    ),
    # A: opd1 access (isp_a), Mon 6 Jul 09:00 -> 15:00. Service 3 h + 2.5 h = 5.5 h;
    # wall 6 h. Target Wed 8 Jul 09:00: within. Ticket 10:00, ETA 14:00: 1 h late
    # (estimate 4 h, actual 5 h). Repeat of P2 (7 days before).
    (
        {"site": "opd1", "channel": "letter", "received_at": "2026-07-06 09:00"},
        {
            "segment": "opd_access",
            "branch": "isp_ticket",
            "isp_provider": "isp_a",
            "isp_ticket_at": "2026-07-06 10:00",
            "isp_eta": "2026-07-06 14:00",
            "resolved_at": "2026-07-06 15:00",
        },
        [],
    ),
    # B: opd2 core, Tue 7 Jul 14:00 -> Thu 9 Jul 15:00. Service Tue 14:00-15:45 105
    # + Wed 435 + Thu 240 + 150 = 930 min = 15.5 h; wall 49 h. Target: 330/435 of
    # Tuesday spent, + 2 days -> Thu 9 Jul 14:00: missed. Limit Tue 14 Jul: within.
    # Escalated twice.
    (
        {"site": "opd2", "channel": "phone", "received_at": "2026-07-07 14:00"},
        {"segment": "core", "branch": "internal_action", "resolved_at": "2026-07-09 15:00"},
        [("at_risk", "2026-07-09 08:30"), ("breached", "2026-07-09 14:05")],
    ),
    # C: opd1 access (isp_a), Wed 22 Jul 08:30 -> 11:00. Service and wall 2.5 h.
    # Ticket 09:00, ETA 12:00: 1 h early (estimate 3 h, actual 2 h). Repeat of A (15 d 23.5 h).
    (
        {"site": "opd1", "channel": "whatsapp", "received_at": "2026-07-22 08:30"},
        {
            "segment": "opd_access",
            "branch": "isp_ticket",
            "isp_provider": "isp_a",
            "isp_ticket_at": "2026-07-22 09:00",
            "isp_eta": "2026-07-22 12:00",
            "resolved_at": "2026-07-22 11:00",
        },
        [],
    ),
    # D: opd3 access (isp_b), Fri 24 Jul 10:00 -> Tue 28 Jul 09:00. Service Fri 1 h
    # + Mon 7.25 h + Tue 1 h = 9.25 h; wall 4 d - 1 h = 95 h. Target: 2/3 of Friday spent -> Tue
    # at 2/3 of 435 min = 290 min -> 13:20: within. Ticket Fri 10:30, ETA Mon 27 Jul
    # 10:00: 23 h late (estimate 71.5 h, actual 94.5 h).
    (
        {"site": "opd3", "channel": "email", "received_at": "2026-07-24 10:00"},
        {
            "segment": "opd_access",
            "branch": "isp_ticket",
            "isp_provider": "isp_b",
            "isp_ticket_at": "2026-07-24 10:30",
            "isp_eta": "2026-07-27 10:00",
            "resolved_at": "2026-07-28 09:00",
        },
        [],
    ),
    # E: opd2 DNS, Mon 3 Aug 07:00 (before opening) -> 08:45. Service 08:00-08:45 =
    # 0.75 h; wall 1.75 h.
    (
        {"site": "opd2", "channel": "monitoring", "received_at": "2026-08-03 07:00"},
        {"segment": "dns", "branch": "internal_action", "resolved_at": "2026-08-03 08:45"},
        [],
    ),
    # G: opd1 user LAN, Mon 17 Aug 09:00 (a holiday: the clock starts Tue 18 08:00),
    # closed with --force Tue 18 Aug 09:30 without a recovery. Service 1.5 h; wall
    # 24.5 h. Target Wed 19 Aug 15:45: within.
    (
        {"site": "opd1", "channel": "phone", "received_at": "2026-08-17 09:00"},
        {
            "segment": "user_lan",
            "branch": "internal_action",
            "state": "closed",
            "closed_at": "2026-08-18 09:30",
            "forced_close": True,
            "close_reason": "the OPD moved the PC",
        },
        [],
    ),
    # F: opd3 gateway, Mon 28 Sep 10:00, recovered only Mon 5 Oct 10:00 (2026Q4): open
    # at the quarter's end (Thu 1 Oct 00:00 WIB). Age: wall 2 d 14 h = 62 h; service
    # Mon 315 + Tue 435 + Wed 435 = 1185 min = 19.75 h. Target Wed 30 Sep 10:00:
    # passed. Escalated on 30 Sep (counts) and on 2 Oct (after the quarter: does not).
    (
        {"site": "opd3", "channel": "letter", "received_at": "2026-09-28 10:00"},
        {
            "segment": "opd_gateway",
            "branch": "internal_action",
            "state": "closed",
            "resolved_at": "2026-10-05 10:00",
            "closed_at": "2026-10-05 11:00",
        },
        [("breached", "2026-09-30 10:05"), ("beyond_reach", "2026-10-02 09:00")],
    ),
    # H (2026Q4): opd2 DNS, Tue 6 Oct 09:00: not in 2026Q3.
    (
        {"site": "opd2", "channel": "email", "received_at": "2026-10-06 09:00"},
        {"segment": "dns", "branch": "internal_action", "resolved_at": "2026-10-06 10:00"},
        [],
    ),
]

_TIME_FIELDS = {"received_at", "isp_ticket_at", "isp_eta", "resolved_at", "closed_at"}


def write_records(data_dir: Path) -> list[str]:
    """Write the incidents into the records under ``data_dir``; return their ids in order."""
    ids = []
    with open_records(data_dir) as records:
        for intake, later, escalations in INCIDENTS:
            received = intake["received_at"]
            incident_id = records.create_incident(
                {
                    "site": intake["site"],
                    "opd_name": NAMES[intake["site"]],
                    "letter_no": f"005/{len(ids) + 1:03d}/2026",
                    "letter_date": received[:10],
                    "complaint": "Internet mati <b>sejak pagi</b> & aplikasi tidak bisa dibuka",
                    "channel": intake["channel"],
                    "assignee": "Teknisi Satu",
                    "received_at": utc(received),
                    "disposed_at": utc(received),
                }
            )
            fields = {
                key: utc(value) if key in _TIME_FIELDS else value for key, value in later.items()
            }
            fields.setdefault("state", "resolved")
            fields["segments"] = [fields["segment"]]
            records.update_incident(incident_id, **fields)
            for reason, when in escalations:
                records.add_escalation(incident_id, reason, "complaints_official", time=utc(when))
            ids.append(incident_id)
    return ids
