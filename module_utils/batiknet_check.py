"""Build the check records every step playbook hands back.

A check is one observation: one vantage point, one target, one question.
docs/result-contract.md describes the record; ``runbook_runner/checks.py``
holds its JSON schema and validates it. This file ships as an Ansible
``module_utils`` so that every step's modules build the same record; it
depends on the standard library only, because it runs wherever Ansible runs
a module.

Import it from a module with::

    from ansible.module_utils.batiknet_check import make_check
"""

from __future__ import annotations

import datetime
from typing import Any

STEPS = ("devices", "monitoring", "dns", "connectivity")
STATUSES = ("ok", "degraded", "failed", "unknown")
SEGMENTS = ("user_lan", "opd_access", "opd_gateway", "core", "dns", "server", "isp_upstream")

# The worst status of several observations wins when they are summed up.
_SEVERITY = {"ok": 0, "unknown": 1, "degraded": 2, "failed": 3}


def utc_now() -> str:
    """Return the current time as ISO 8601 in UTC with its offset."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


# The positional order is the record's own order; callers name the optional ones.
def make_check(  # noqa: PLR0917
    step: str,
    check: str,
    vantage: str,
    target: str,
    status: str,
    message: str,
    segment: str,
    site: str | None = None,
    values: dict[str, Any] | None = None,
    *,
    time: str | None = None,
) -> dict[str, Any]:
    """Return one check record of the result contract.

    ``time`` defaults to now; pass it to stamp several checks alike or to
    make a record reproducible in a test.

    Raises:
        ValueError: ``step``, ``status`` or ``segment`` is not a word of the
            contract, or ``check``, ``vantage``, ``target`` or ``message`` is
            empty.
    """
    _require_member("step", step, STEPS)
    _require_member("status", status, STATUSES)
    _require_member("segment", segment, SEGMENTS)
    for field, value in (("check", check), ("vantage", vantage), ("target", target)):
        if not value:
            raise ValueError(f"check field {field!r} must not be empty")
    if not message:
        raise ValueError("check field 'message' must not be empty")
    return {
        "step": step,
        "check": check,
        "vantage": vantage,
        "target": target,
        "status": status,
        "values": dict(values or {}),
        "message": message,
        "segment": segment,
        "site": site or None,
        "time": time or utc_now(),
    }


def worst_status(statuses: list[str]) -> str:
    """Return the most severe of ``statuses``, ``ok`` for an empty list.

    Raises:
        ValueError: one of ``statuses`` is not a status of the contract.
    """
    for status in statuses:
        _require_member("status", status, STATUSES)
    return max(statuses, key=_SEVERITY.__getitem__, default="ok")


def _require_member(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        expected = ", ".join(allowed)
        raise ValueError(f"check field {field!r} is {value!r}; expected one of {expected}")
