"""Unit tests of the monitoring files the lab derives: time compression and target lists."""

from pathlib import Path

import pytest
import yaml

from runbook_runner.lab.topology import load
from runbook_runner.monitoring import config
from runbook_runner.monitoring.targets import lab_targets, write_targets


@pytest.mark.parametrize(
    ("text", "factor", "scaled"),
    [
        pytest.param("45s", 2 / 15, "6s", id="for"),
        pytest.param("4m", 2 / 15, "32s", id="window"),
        pytest.param("1m30s", 2 / 15, "12s", id="compound"),
        pytest.param("1s", 2 / 15, "1s", id="never-below-a-second"),
        pytest.param("15s", 1.0, "15s", id="unchanged"),
    ],
)
def test_scale_duration(text: str, factor: float, scaled: str) -> None:
    assert config.scale_duration(text, factor) == scaled


def test_duration_rejects_what_prometheus_would() -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        config.duration_ms("5 minutes")


def test_scale_expression_scales_ranges_and_subqueries_only() -> None:
    expr = "avg_over_time(up[4m]) < 0.9 and max_over_time(x[1m:15s]) > 0"
    assert config.scale_expression(expr, 0.5) == (
        "avg_over_time(up[120s]) < 0.9 and max_over_time(x[30s:15s]) > 0"
    )


def test_repository_rules_scale_to_the_lab(tmp_path: Path) -> None:
    config.compressed_copy(
        tmp_path, scrape_interval="2s", scrape_timeout="1500ms", blackbox_address="127.0.0.1:1"
    )
    prometheus = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    rules = yaml.safe_load((tmp_path / "rules" / "batiknet.yml").read_text())
    assert prometheus["global"]["scrape_interval"] == "2s"
    blackbox = [j for j in prometheus["scrape_configs"] if j["job_name"] in config.BLACKBOX_JOBS]
    replacements = {r.get("replacement") for j in blackbox for r in j["relabel_configs"]}
    assert "127.0.0.1:1" in replacements
    by_name = {r["alert"]: r for r in rules["groups"][0]["rules"]}
    assert by_name["BatiknetSiteDown"]["for"] == "6s"
    assert "[32s]" in by_name["BatiknetHighLoss"]["expr"]
    assert all(r["labels"]["symptom"] in ("down", "loss") for r in by_name.values())


def test_lab_targets_label_every_host_with_role_segment_and_site(tmp_path: Path) -> None:
    targets = lab_targets(load())
    labels = {g["labels"]["name"]: g["labels"] for g in targets["icmp"]}
    assert labels["bn-opd1-gw"] == {
        "name": "bn-opd1-gw",
        "role": "gateway",
        "segment": "opd_gateway",
        "site": "opd1",
    }
    assert labels["bn-opd2-pc"]["segment"] == "user_lan"
    assert labels["198.19.255.1"]["segment"] == "isp_upstream"
    assert "site" not in labels["bn-dns1"]
    assert {g["labels"]["name"] for g in targets["dns"]} == {"bn-dns1", "bn-dns2"}
    assert targets["http"][0]["targets"] == ["http://198.18.10.80/"]
    addresses = [t for groups in targets.values() for g in groups for t in g["targets"]]
    assert all("198.18." in a or "198.19." in a for a in addresses)
    written = write_targets(tmp_path, targets)
    assert yaml.safe_load(written[0].read_text()) == targets["icmp"]
