"""Ask a monitoring system what is down and since when: one interface, one class per kind.

SOP step 5 reads the city's monitoring system. The step's module talks to a
:class:`Backend` only: :func:`backend_for` picks the class for the
inventory's ``kind``. Prometheus is built; a Zabbix or LibreNMS backend is one
more class in :data:`BACKENDS` with the same three methods, and nothing else
changes (neither the module, the role nor the runner).

The onset of an outage is read from the probe history, not from the alert:
an alert becomes active a ``for`` duration after the first failed probe, and
the first failed probe is what the technician needs. This file ships as an
Ansible ``module_utils`` and depends on the standard library only.

Import it from a module with::

    from ansible.module_utils.batiknet_monitoring import backend_for
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Sample = tuple[float, float]


class MonitoringError(Exception):
    """The monitoring system did not answer, refused us, or answered something unreadable."""


@dataclass(frozen=True)
class Credentials:
    """How to log in to the monitoring system's API: basic auth, a bearer token, or nothing."""

    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)

    def header(self) -> str | None:
        """Return the Authorization header's value, None without credentials."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username:
            pair = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return None


@dataclass(frozen=True)
class Alert:
    """One firing alert, in the runbook's words.

    ``target`` is the inventory name of the host the alert is about (the
    ``name`` label), else the probed instance. ``symptom`` is ``down`` or
    ``loss`` and says how to find the onset in the history.
    """

    rule: str
    target: str
    instance: str
    site: str | None
    segment: str | None
    severity: str
    symptom: str
    summary: str
    active_at: str | None
    series: dict[str, str]


@dataclass(frozen=True)
class History:
    """What the probe history behind an alert says.

    ``onset`` is the time (Unix seconds) of the first failed probe of the
    current episode; ``onset_in_window`` is False when the episode started
    before the window the history covers (the onset is then the window's
    first sample, a bound, not the time). ``availability`` is the share of
    successful probes over the window, 0 to 1.
    """

    onset: float | None
    onset_in_window: bool
    availability: float | None
    samples: int


class Backend:
    """The interface of a monitoring system, as step 5 uses it.

    Subclasses set :attr:`kind` and implement the three methods; each method
    raises :class:`MonitoringError` when the system does not answer.
    """

    kind = ""

    def __init__(
        self, url: str, credentials: Credentials, timeout: float = 3.0, validate_certs: bool = True
    ) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.validate_certs = validate_certs

    def describe(self) -> dict[str, Any]:
        """Return what the system says about itself (version, health).

        Raises:
            MonitoringError: the system does not answer.
        """
        raise NotImplementedError

    def firing_alerts(self) -> list[Alert]:
        """Return every alert that fires now.

        Raises:
            MonitoringError: the system does not answer.
        """
        raise NotImplementedError

    def history(self, alert: Alert, window_s: int, loss_run: int) -> History:
        """Return the onset and the availability of the target behind ``alert``.

        Raises:
            MonitoringError: the system does not answer.
        """
        raise NotImplementedError

    def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET ``path`` of the API and return the decoded JSON.

        Raises:
            MonitoringError: no answer within the timeout, an HTTP error, or no JSON.
        """
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(f"{self.url}{path}{query}")
        request.add_header("Accept", "application/json")
        header = self.credentials.header()
        if header:
            request.add_header("Authorization", header)
        context = ssl.create_default_context()
        if not self.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as reply:
                return json.loads(reply.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            raise MonitoringError(f"{self.url} answered HTTP {error.code} to {path}") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise MonitoringError(f"{self.url} does not answer: {reason}") from error
        except ValueError as error:
            raise MonitoringError(f"{self.url} answered {path} with no JSON") from error


class PrometheusBackend(Backend):
    """Prometheus's HTTP API, with blackbox probes behind the alerts (monitoring/)."""

    kind = "prometheus"

    def describe(self) -> dict[str, Any]:
        """Return Prometheus's version.

        Raises:
            MonitoringError: Prometheus does not answer.
        """
        data = self._data(self.get_json("/api/v1/status/buildinfo"))
        return {"version": data.get("version")} if isinstance(data, dict) else {}

    def firing_alerts(self) -> list[Alert]:
        """Return the alerts in state ``firing``.

        Raises:
            MonitoringError: Prometheus does not answer.
        """
        data = self._data(self.get_json("/api/v1/alerts"))
        alerts = data.get("alerts", []) if isinstance(data, dict) else []
        return [_prometheus_alert(a) for a in alerts if a.get("state") == "firing"]

    def history(self, alert: Alert, window_s: int, loss_run: int) -> History:
        """Read ``probe_success`` of the alert's series over the window.

        Raises:
            MonitoringError: Prometheus does not answer.
        """
        selector = "probe_success" + label_selector(alert.series)
        samples = self._samples(f"{selector}[{window_s}s]")
        availability = self._scalar(f"avg_over_time({selector}[{window_s}s])")
        if alert.symptom == "loss":
            onset, in_window = onset_of_loss(samples, loss_run)
        else:
            onset, in_window = onset_of_outage(samples)
        return History(onset, in_window, availability, len(samples))

    def _samples(self, query: str) -> list[Sample]:
        result = self._data(self.get_json("/api/v1/query", {"query": query}))
        series = result.get("result", []) if isinstance(result, dict) else []
        if not series:
            return []
        return [(float(ts), float(value)) for ts, value in series[0].get("values", [])]

    def _scalar(self, query: str) -> float | None:
        result = self._data(self.get_json("/api/v1/query", {"query": query}))
        series = result.get("result", []) if isinstance(result, dict) else []
        if not series:
            return None
        value = float(series[0]["value"][1])
        return None if math.isnan(value) else value

    def _data(self, answer: Any) -> Any:
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise MonitoringError(f"{self.url} answered with an error: {error}")
        return answer.get("data")


# The kinds of monitoring systems the runbook can read. A new kind is a new
# subclass of Backend registered here.
BACKENDS: dict[str, type[Backend]] = {"prometheus": PrometheusBackend}


def backend_for(
    kind: str, url: str, credentials: Credentials, timeout: float = 3.0, validate_certs: bool = True
) -> Backend:
    """Return the backend of ``kind`` for the API at ``url``.

    Raises:
        MonitoringError: no backend reads that kind of monitoring system.
    """
    try:
        cls = BACKENDS[kind]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise MonitoringError(
            f"no adapter reads a {kind!r} monitoring system (known: {known})"
        ) from None
    return cls(url, credentials, timeout, validate_certs)


def _prometheus_alert(raw: dict[str, Any]) -> Alert:
    labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
    annotations = raw.get("annotations") or {}
    series = {key: labels[key] for key in ("job", "instance") if key in labels}
    return Alert(
        rule=labels.get("alertname", "alert"),
        target=labels.get("name") or labels.get("instance") or labels.get("alertname", "?"),
        instance=labels.get("instance", ""),
        site=labels.get("site") or None,
        segment=labels.get("segment") or None,
        severity=labels.get("severity", "critical"),
        symptom=labels.get("symptom", "down"),
        summary=str(annotations.get("summary") or annotations.get("description") or ""),
        active_at=raw.get("activeAt"),
        series=series,
    )


def label_selector(labels: dict[str, str]) -> str:
    """Return a PromQL label selector matching ``labels`` exactly, quotes escaped."""
    if not labels:
        return ""
    escaped = (
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items())
    )
    return "{" + ",".join(escaped) + "}"


def onset_of_outage(samples: Sequence[Sample]) -> tuple[float | None, bool]:
    """Return the first failed sample after the last success, and whether it is in the window.

    None when the last sample succeeded (the target is back). When no
    sample succeeded, the window's first sample is a bound of the onset.
    """
    if not samples:
        return None, False
    last_ok = max((i for i, (_t, v) in enumerate(samples) if v >= 1), default=None)
    if last_ok is None:
        return samples[0][0], False
    if last_ok == len(samples) - 1:
        return None, True
    return samples[last_ok + 1][0], True


def onset_of_loss(samples: Sequence[Sample], run: int) -> tuple[float | None, bool]:
    """Return the first failed sample after the last ``run`` successes in a row.

    Loss mixes failures and successes, so the episode starts where the last
    clean stretch of at least ``run`` probes ends.
    """
    streak, clean_end = 0, None
    for index, (_t, value) in enumerate(samples):
        streak = streak + 1 if value >= 1 else 0
        if streak >= run:
            clean_end = index
    start = 0 if clean_end is None else clean_end + 1
    failed = next((t for t, v in samples[start:] if v < 1), None)
    return failed, clean_end is not None


def concerns_site(alert: Alert, site: str | None) -> bool:
    """Return whether ``alert`` matters to ``site``: its own, or a shared part's (no site)."""
    return not site or alert.site is None or alert.site == site


def iso_utc(timestamp: float) -> str:
    """Return Unix seconds as ISO 8601 in UTC with its offset, to the second."""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="seconds")
