"""Unit tests of the step-5 adapter and module: onsets, site filter, checks (no Prometheus)."""

import sys
from typing import Any

import pytest
from helpers import REPO, load_module

from runbook_runner.checks import validate_checks

module = load_module(REPO / "roles" / "monitoring_check" / "library" / "batiknet_monitoring.py")
# load_module made the project's module_utils importable as Ansible does.
adapter = sys.modules["ansible.module_utils.batiknet_monitoring"]

PARAMS: dict[str, Any] = {"site": "opd1", "window": 3600, "loss_run": 3, "availability_ok": 99.0}


def alert(rule: str = "BatiknetSiteDown", site: str | None = "opd1", **labels: Any) -> Any:
    """Return an alert about 192.0.2.2 with these labels."""
    values = {
        "target": "opd1-gw",
        "instance": "192.0.2.2",
        "segment": "opd_gateway",
        "severity": "critical",
        "symptom": "down",
        "summary": "Site opd1 is down.",
        "active_at": "2026-12-03T01:00:06Z",
        "series": {"job": "blackbox_icmp", "instance": "192.0.2.2"},
        **labels,
    }
    return adapter.Alert(rule=rule, site=site, **values)


class FakeBackend(adapter.Backend):
    """A monitoring system that answers from tables, or not at all."""

    kind = "prometheus"

    def __init__(self, alerts: list[Any], history: Any = None, down: bool = False) -> None:
        super().__init__("http://192.0.2.9:9090", adapter.Credentials())
        self.alerts, self.fixed, self.down = alerts, history, down

    def describe(self) -> dict[str, Any]:
        if self.down:
            raise adapter.MonitoringError("http://192.0.2.9:9090 does not answer: refused")
        return {"version": "test"}

    def firing_alerts(self) -> list[Any]:
        return self.alerts

    def history(self, alert: Any, window_s: int, loss_run: int) -> Any:
        if self.fixed is None:
            raise adapter.MonitoringError("no history")
        return self.fixed


@pytest.mark.parametrize(
    ("samples", "onset", "in_window"),
    [
        pytest.param([(0, 1), (2, 1), (4, 0), (6, 0)], 4, True, id="down-after-success"),
        pytest.param([(0, 0), (2, 1), (4, 0), (6, 0)], 4, True, id="earlier-episode-ignored"),
        pytest.param([(0, 0), (2, 0)], 0, False, id="down-for-the-whole-window"),
        pytest.param([(0, 1), (2, 0), (4, 1)], None, True, id="back-up"),
        pytest.param([], None, False, id="no-history"),
    ],
)
def test_onset_of_outage_is_first_failure_after_last_success(
    samples: list[tuple[float, float]], onset: float | None, in_window: bool
) -> None:
    assert adapter.onset_of_outage(samples) == (onset, in_window)


@pytest.mark.parametrize(
    ("samples", "onset", "in_window"),
    [
        pytest.param(
            [(0, 1), (2, 1), (4, 1), (6, 0), (8, 1), (10, 0)], 6, True, id="after-clean-run"
        ),
        pytest.param(
            [(0, 1), (2, 1), (4, 1), (6, 0), (8, 1), (10, 1), (12, 1), (14, 0)],
            14,
            True,
            id="a-later-clean-run-restarts-the-episode",
        ),
        pytest.param([(0, 0), (2, 1), (4, 0)], 0, False, id="lossy-for-the-whole-window"),
    ],
)
def test_onset_of_loss_is_first_failure_after_last_clean_run(
    samples: list[tuple[float, float]], onset: float | None, in_window: bool
) -> None:
    assert adapter.onset_of_loss(samples, 3) == (onset, in_window)


@pytest.mark.parametrize(
    ("alert_site", "asked", "concerns"),
    [
        pytest.param("opd1", "opd1", True, id="own-site"),
        pytest.param("opd2", "opd1", False, id="other-site"),
        pytest.param(None, "opd1", True, id="shared-part"),
        pytest.param("opd2", None, True, id="whole-network"),
    ],
)
def test_concerns_site_keeps_own_and_shared_alerts(
    alert_site: str | None, asked: str | None, concerns: bool
) -> None:
    assert adapter.concerns_site(alert(site=alert_site), asked) is concerns


def test_label_selector_escapes_quotes_and_backslashes() -> None:
    selector = adapter.label_selector({"job": 'a"b', "instance": "c\\d"})
    assert selector == '{instance="c\\\\d",job="a\\"b"}'


def test_credentials_prefer_the_token_and_hide_secrets() -> None:
    both = adapter.Credentials("ops", "s3cret", "t0ken")
    assert both.header() == "Bearer t0ken"
    assert adapter.Credentials("ops", "pw").header() == "Basic b3BzOnB3"
    assert adapter.Credentials().header() is None
    assert "s3cret" not in repr(both)
    assert "t0ken" not in repr(both)


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(adapter.MonitoringError, match="known: prometheus"):
        adapter.backend_for("zabbix", "http://192.0.2.9", adapter.Credentials())


def test_unreachable_monitoring_is_an_unknown_api_check() -> None:
    checks = module.collect(FakeBackend([], down=True), PARAMS)
    validate_checks(checks)
    assert [(c["check"], c["status"]) for c in checks] == [("monitoring_api", "unknown")]
    assert checks[0]["message"].startswith("Monitoring unreachable")


def test_no_alert_gives_one_ok_api_check() -> None:
    checks = module.collect(FakeBackend([]), PARAMS)
    validate_checks(checks)
    assert [(c["check"], c["status"]) for c in checks] == [("monitoring_api", "ok")]
    assert "no alert fires" in checks[0]["message"]


def test_firing_alert_gives_onset_and_availability_checks() -> None:
    history = adapter.History(
        onset=1796259606.0, onset_in_window=True, availability=0.95, samples=9
    )
    other_site = alert(site="opd2", target="opd2-gw")
    unmapped = alert(segment=None, target="prometheus")
    checks = module.collect(FakeBackend([alert(), other_site, unmapped], history), PARAMS)
    validate_checks(checks)
    kinds = [(c["check"], c["status"], c["target"]) for c in checks]
    assert kinds == [
        ("monitoring_api", "ok", "http://192.0.2.9:9090"),
        ("alert", "failed", "opd1-gw"),
        ("availability", "degraded", "opd1-gw"),
    ]
    assert checks[0]["values"]["alerts_elsewhere"] == 2
    assert checks[1]["values"]["since"] == "2026-12-03T01:00:06+00:00"
    assert checks[1]["segment"] == "opd_gateway"
    assert checks[2]["values"]["availability"] == 95.0


def test_loss_alert_is_degraded_and_missing_history_is_said() -> None:
    lossy = alert(rule="BatiknetHighLoss", site=None, segment="isp_upstream", symptom="loss")
    checks = module.collect(FakeBackend([lossy], history=None), PARAMS)
    validate_checks(checks)
    assert checks[1]["status"] == "degraded"
    assert checks[1]["site"] is None
    assert "onset is not in the probe history" in checks[1]["message"]
    assert len(checks) == 2
