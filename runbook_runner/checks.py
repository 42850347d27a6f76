"""The check record of the result contract: its JSON schema and a validator.

Every step playbook hands back a list of checks (docs/result-contract.md).
The runner validates them here before it reasons about them, and the tests
validate every check of every playbook run. The step modules build the same
records with ``module_utils/batiknet_check.py``; a test keeps the two word
lists in step.
"""

import logging
from collections.abc import Sequence
from typing import Any

import jsonschema

from runbook_runner.errors import RunbookError

STEPS = ("devices", "monitoring", "dns", "connectivity")
STATUSES = ("ok", "degraded", "failed", "unknown")
SEGMENTS = ("user_lan", "opd_access", "opd_gateway", "core", "dns", "server", "isp_upstream")
CHECK_KINDS = (
    "icmp",
    "snmp",
    "uptime",
    "interface",
    "counters",
    "alert",
    "availability",
    "monitoring_api",
    "dns_query",
    "soa_serial",
    "reach",
    "resolve",
    "http",
    "ssh",
    "traceroute",
    "connected",
)

_NON_EMPTY = {"type": "string", "minLength": 1}

# The check kinds are open: a step may add one without changing the runner,
# so the schema asks for an identifier, and CHECK_KINDS lists the known ones.
CHECK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Batik.Net check",
    "type": "object",
    "required": [
        "step",
        "check",
        "vantage",
        "target",
        "status",
        "values",
        "message",
        "segment",
        "site",
        "time",
    ],
    "additionalProperties": False,
    "properties": {
        "step": {"enum": list(STEPS)},
        "check": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "vantage": _NON_EMPTY,
        "target": _NON_EMPTY,
        "status": {"enum": list(STATUSES)},
        "values": {"type": "object"},
        "message": _NON_EMPTY,
        "segment": {"enum": list(SEGMENTS)},
        "site": {"type": ["string", "null"], "minLength": 1},
        "time": {
            "type": "string",
            # ISO 8601 with an explicit offset: 2026-12-03T16:40:27+00:00 or ...Z
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
        },
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(CHECK_SCHEMA)

log = logging.getLogger(__name__)


class InvalidCheckError(RunbookError):
    """A step playbook handed back a check that breaks the result contract.

    ``index`` is the position of the check in the list, ``field`` the key at
    fault (``None`` when the record itself is not a mapping).
    """

    def __init__(self, index: int, field: str | None, reason: str) -> None:
        where = f"field {field!r} of check #{index}" if field else f"check #{index}"
        super().__init__(
            f"{where} breaks the result contract: {reason}",
            hint="Fix the step's module or role; docs/result-contract.md lists every field.",
        )
        self.index = index
        self.field = field
        self.reason = reason


def validate_check(check: Any, index: int = 0) -> None:
    """Validate one check record against :data:`CHECK_SCHEMA`.

    Raises:
        InvalidCheckError: the record is not a mapping, misses a field, has
            an unknown one, or a field holds a value of the wrong type or
            outside the contract's words.
    """
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(check))
    if error is None:
        return
    raise InvalidCheckError(index, _field_of(error), error.message)


def validate_checks(checks: Sequence[Any]) -> None:
    """Validate every check record of a step's result.

    Raises:
        InvalidCheckError: ``checks`` is not a list, or one record breaks the
            contract; the error names the first bad record and its field.
    """
    if not isinstance(checks, list | tuple):
        raise InvalidCheckError(0, None, f"expected a list of checks, got {type(checks).__name__}")
    for index, check in enumerate(checks):
        validate_check(check, index)
    log.debug("validated %d checks", len(checks))


def _field_of(error: jsonschema.exceptions.ValidationError) -> str | None:
    if error.path:
        return str(error.path[0])
    if error.validator == "required":
        # "'site' is a required property": the missing key is the first quoted word.
        return str(error.message).split("'")[1]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(CHECK_SCHEMA["properties"]))
        return extra[0] if extra else None
    return None
