#!/usr/bin/python
"""Ask the monitoring system what is down, since when, and how available it was.

The Ansible module of SOP step 5 ("monitor the network on the monitoring
system"). It reads the firing alerts for a site (and the shared network),
finds each one's onset in the probe history and each affected target's
availability over the window, and hands them back as check records of
docs/result-contract.md. The monitoring system is reached through the
adapter of ``module_utils/batiknet_monitoring.py``; a system that does not
answer is a ``monitoring_api`` check, never a failed task.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.batiknet_check import SEGMENTS, make_check, utc_now
from ansible.module_utils.batiknet_monitoring import (
    BACKENDS,
    Alert,
    Backend,
    Credentials,
    History,
    MonitoringError,
    backend_for,
    concerns_site,
    iso_utc,
)

DOCUMENTATION = r"""
---
module: batiknet_monitoring
short_description: Read the firing alerts, their onset and the availability (SOP step 5)
description:
  - Asks the monitoring system's API which alerts fire for a site (and for the shared
    network: core, DNS, servers, upstream), when each outage began (the first failed probe
    after the last success, read from the probe history, not the alert's activation time)
    and each affected target's availability over a window.
  - The monitoring system is read through an adapter chosen by O(kind); Prometheus is the
    one implemented.
  - Read-only. A monitoring system that does not answer gives a C(monitoring_api) check with
    status C(unknown), and the task succeeds.
version_added: "0.1.0"
author: Batik.Net runbook team
options:
  kind:
    description: The kind of monitoring system.
    type: str
    default: prometheus
    choices: [prometheus]
  url:
    description: The base URL of its API, e.g. C(http://127.0.0.1:9090).
    type: str
    required: true
  username:
    description: The user for HTTP basic authentication; empty for none.
    type: str
    default: ""
  password:
    description: The password for HTTP basic authentication.
    type: str
    default: ""
  token:
    description: A bearer token; wins over O(username).
    type: str
    default: ""
  validate_certs:
    description: Check the API's TLS certificate.
    type: bool
    default: true
  site:
    description: The site to report on; empty for every site.
    type: str
    default: ""
  window:
    description: Seconds of history read for the onset and the availability.
    type: int
    default: 3600
  loss_run:
    description: Successful probes in a row that end a loss episode.
    type: int
    default: 10
  availability_ok:
    description: Availability in percent from which a target's availability is ok.
    type: float
    default: 99.0
  timeout:
    description: Seconds each API request may take.
    type: float
    default: 3.0
"""

EXAMPLES = r"""
- name: Read the monitoring system for site opd1
  batiknet_monitoring:
    kind: prometheus
    url: http://127.0.0.1:9090
    site: opd1
  no_log: false
"""

RETURN = r"""
checks:
  description: The check records of step 5.
  returned: always
  type: list
  elements: dict
reachable:
  description: Whether the monitoring system answered.
  returned: always
  type: bool
"""

STEP = "monitoring"
VANTAGE = "ops"
# The monitoring system is one of the city's servers: its own health is
# reported on that segment (and only corroborates the direct probes).
API_SEGMENT = "server"


def collect(backend: Backend, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the checks of step 5 read from ``backend``.

    Raises nothing: a system that does not answer is a check.
    """
    stamp = utc_now()
    site = params["site"] or None
    try:
        about = backend.describe()
        firing = backend.firing_alerts()
    except MonitoringError as error:
        return [unreachable_check(backend, str(error), stamp, site)]

    mapped = [a for a in firing if a.segment in SEGMENTS and concerns_site(a, site)]
    histories = read_histories(backend, mapped, params["window"], params["loss_run"])
    checks = [api_check(backend, about, mapped, len(firing), stamp=stamp, site=site)]
    pairs = list(zip(mapped, histories, strict=True))
    checks += [alert_check(alert, history, params, stamp) for alert, history in pairs]
    checks += availability_checks(pairs, params, stamp)
    return checks


def read_histories(
    backend: Backend, alerts: list[Alert], window: int, loss_run: int
) -> list[History | None]:
    """Read every alert's history concurrently, in order; None where the system failed."""
    if not alerts:
        return []

    def read(alert: Alert) -> History | None:
        try:
            return backend.history(alert, window, loss_run)
        except MonitoringError:
            return None

    with ThreadPoolExecutor(max_workers=min(8, len(alerts))) as pool:
        return list(pool.map(read, alerts))


def unreachable_check(backend: Backend, error: str, stamp: str, site: str | None) -> dict[str, Any]:
    """Return the finding "monitoring unreachable"."""
    return make_check(
        STEP,
        "monitoring_api",
        VANTAGE,
        backend.url,
        "unknown",
        f"Monitoring unreachable: the {backend.kind} API at {backend.url} gave no answer "
        f"({error}); step 5 has nothing to add.",
        API_SEGMENT,
        site,
        {"kind": backend.kind, "url": backend.url, "error": error, "reachable": False},
        time=stamp,
    )


def api_check(
    backend: Backend,
    about: dict[str, Any],
    mapped: list[Alert],
    firing: int,
    *,
    stamp: str,
    site: str | None,
) -> dict[str, Any]:
    """Return the check that the monitoring system answered, with what fires."""
    scope = f"site {site} and the shared network" if site else "the whole network"
    names = sorted({f"{a.rule} ({a.target})" for a in mapped})
    told = (
        f"{len(names)} alert(s) fire for {scope}: {', '.join(names)}."
        if names
        else f"no alert fires for {scope}."
    )
    values = {
        "kind": backend.kind,
        "url": backend.url,
        "reachable": True,
        "alerts_firing": len(mapped),
        "alerts_elsewhere": firing - len(mapped),
        **about,
    }
    message = f"The {backend.kind} API at {backend.url} answered: {told}"
    return make_check(
        STEP,
        "monitoring_api",
        VANTAGE,
        backend.url,
        "ok",
        message,
        API_SEGMENT,
        site,
        values,
        time=stamp,
    )


def alert_check(
    alert: Alert, history: History | None, params: dict[str, Any], stamp: str
) -> dict[str, Any]:
    """Return the check of one firing alert, with its onset and availability."""
    values: dict[str, Any] = {
        "alert": alert.rule,
        "severity": alert.severity,
        "symptom": alert.symptom,
        "instance": alert.instance,
        "job": alert.series.get("job"),
        "active_at": alert.active_at,
        "summary": alert.summary,
        "since": None,
        "since_unix": None,
        "since_in_window": None,
        "availability": None,
        "window": params["window"],
    }
    if history is not None:
        values["since"] = iso_utc(history.onset) if history.onset is not None else None
        values["since_unix"] = history.onset
        values["since_in_window"] = history.onset_in_window
        values["availability"] = _percent(history.availability)
    status = "degraded" if alert.symptom == "loss" else "failed"
    where = f" (site {alert.site})" if alert.site else ""
    since = _since_phrase(values)
    message = f"{alert.rule} fires for {alert.target}{where}: {alert.summary or 'see values'}"
    message = f"{message.rstrip('.')}; {since}."
    return make_check(
        STEP,
        "alert",
        VANTAGE,
        alert.target,
        status,
        message,
        alert.segment or API_SEGMENT,
        alert.site,
        values,
        time=stamp,
    )


def availability_checks(
    pairs: list[tuple[Alert, History | None]], params: dict[str, Any], stamp: str
) -> list[dict[str, Any]]:
    """Return one availability check per affected target (per probed series)."""
    checks, seen = [], set()
    hours = params["window"] / 3600
    span = "the last hour" if hours == 1 else f"the last {params['window']} s"
    for alert, history in pairs:
        key = tuple(sorted(alert.series.items()))
        if key in seen or history is None or history.availability is None:
            continue
        seen.add(key)
        percent = _percent(history.availability)
        status = "ok" if percent >= params["availability_ok"] else "degraded"
        if percent == 0:
            status = "failed"
        values = {
            "availability": percent,
            "window": params["window"],
            "samples": history.samples,
            "instance": alert.instance,
            "job": alert.series.get("job"),
        }
        message = f"{alert.target} ({alert.instance}) was available {percent:g}% of {span}."
        checks.append(
            make_check(
                STEP,
                "availability",
                VANTAGE,
                alert.target,
                status,
                message,
                alert.segment or API_SEGMENT,
                alert.site,
                values,
                time=stamp,
            )
        )
    return checks


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100.0 * share, 2)


def _since_phrase(values: dict[str, Any]) -> str:
    if values["since"] is None:
        return "its onset is not in the probe history"
    if values["since_in_window"] is False:
        return f"failing since before {values['since']}"
    return f"failing since {values['since']}"


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "kind": {"type": "str", "default": "prometheus", "choices": sorted(BACKENDS)},
            "url": {"type": "str", "required": True},
            "username": {"type": "str", "default": ""},
            "password": {"type": "str", "default": "", "no_log": True},
            "token": {"type": "str", "default": "", "no_log": True},
            "validate_certs": {"type": "bool", "default": True},
            "site": {"type": "str", "default": ""},
            "window": {"type": "int", "default": 3600},
            "loss_run": {"type": "int", "default": 10},
            "availability_ok": {"type": "float", "default": 99.0},
            "timeout": {"type": "float", "default": 3.0},
        },
        supports_check_mode=True,
    )
    params = module.params
    credentials = Credentials(params["username"], params["password"], params["token"])
    try:
        backend = backend_for(
            params["kind"], params["url"], credentials, params["timeout"], params["validate_certs"]
        )
    except MonitoringError as error:
        module.fail_json(msg=str(error))
    checks = collect(backend, params)
    reachable = bool(checks) and checks[0]["values"].get("reachable", False)
    module.exit_json(changed=False, checks=checks, reachable=reachable)


if __name__ == "__main__":
    main()
