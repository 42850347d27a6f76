"""Derive a running configuration from the repository's monitoring files.

The files in ``monitoring/`` suit a deployment (a 15 s scrape interval). The
lab runs the same files with its time compressed: the intervals, every rule's
``for`` and every range in the rules' expressions scaled by one factor, so
that alerts fire in seconds and mean the same thing.
"""

import copy
import logging
import re
from pathlib import Path
from typing import Any

import yaml

from runbook_runner.errors import ConfigError
from runbook_runner.settings import PROJECT_DIR

log = logging.getLogger(__name__)

MONITORING_DIR = PROJECT_DIR / "monitoring"
BLACKBOX_JOBS = ("blackbox_icmp", "blackbox_dns", "blackbox_http")

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w))+$")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_RANGE = re.compile(r"\[((?:\d+(?:ms|s|m|h|d|w))+)(:(?:\d+(?:ms|s|m|h|d|w))*)?\]")


def duration_ms(text: str) -> int:
    """Return a Prometheus duration (``1m30s``) in milliseconds.

    Raises:
        ValueError: the text is not a Prometheus duration.
    """
    if not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a Prometheus duration")
    return sum(int(n) * _UNITS_MS[unit] for n, unit in _PART.findall(text))


def format_duration(milliseconds: int) -> str:
    """Return milliseconds as a Prometheus duration: whole seconds when exact, else ms."""
    if milliseconds % 1000 == 0:
        return f"{milliseconds // 1000}s"
    return f"{milliseconds}ms"


def scale_duration(text: str, factor: float) -> str:
    """Return ``text`` scaled by ``factor``, rounded to the second and at least one second.

    Raises:
        ValueError: the text is not a Prometheus duration.
    """
    scaled = round(duration_ms(text) * factor / 1000) * 1000
    return format_duration(max(1000, scaled))


def scale_expression(expr: str, factor: float) -> str:
    """Scale every range selector (``[4m]``) of a PromQL expression by ``factor``."""

    def scaled(match: re.Match[str]) -> str:
        return f"[{scale_duration(match.group(1), factor)}{match.group(2) or ''}]"

    return _RANGE.sub(scaled, expr)


def scale_rules(rules: dict[str, Any], factor: float) -> dict[str, Any]:
    """Return a copy of a rule file's content with its ``for`` and ranges scaled by ``factor``."""
    scaled = copy.deepcopy(rules)
    for group in scaled.get("groups", []):
        if "interval" in group:
            group["interval"] = scale_duration(group["interval"], factor)
        for rule in group.get("rules", []):
            rule["expr"] = scale_expression(str(rule["expr"]), factor)
            if "for" in rule:
                rule["for"] = scale_duration(str(rule["for"]), factor)
    return scaled


def with_intervals(
    config: dict[str, Any], scrape_interval: str, scrape_timeout: str, blackbox_address: str
) -> dict[str, Any]:
    """Return a copy of the Prometheus configuration with these intervals and blackbox address."""
    config = copy.deepcopy(config)
    config.setdefault("global", {}).update(
        scrape_interval=scrape_interval,
        scrape_timeout=scrape_timeout,
        evaluation_interval=scrape_interval,
    )
    for job in config.get("scrape_configs", []):
        job.pop("scrape_interval", None)
        job.pop("scrape_timeout", None)
        if job.get("job_name") in BLACKBOX_JOBS:
            job["relabel_configs"] = [
                dict(rule, replacement=blackbox_address)
                if rule.get("target_label") == "__address__"
                else dict(rule)
                for rule in job.get("relabel_configs", [])
            ]
        elif job.get("job_name") == "blackbox_exporter":
            job["static_configs"] = [{"targets": [blackbox_address]}]
    return config


def read_yaml(path: Path) -> dict[str, Any]:
    """Return the YAML mapping in ``path``.

    Raises:
        ConfigError: the file is missing or is not a YAML mapping.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(
            f"monitoring: cannot read {path}: {error}",
            hint="Restore the file from the repository's monitoring/ directory.",
        ) from error
    if not isinstance(data, dict):
        raise ConfigError(
            f"monitoring: {path} is not a YAML mapping",
            hint="Restore the file from the repository's monitoring/ directory.",
        )
    return data


class _Dumper(yaml.SafeDumper):
    """Write multi-line strings (PromQL expressions) as literal blocks, as people do."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def write_yaml(path: Path, data: Any, header: str) -> None:
    """Write ``data`` as YAML under a comment ``header``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
    path.write_text(f"# {header}\n{text}", encoding="utf-8")


def compressed_copy(
    destination: Path,
    *,
    scrape_interval: str,
    scrape_timeout: str,
    blackbox_address: str,
    source: Path = MONITORING_DIR,
) -> None:
    """Write the repository's configuration under ``destination`` with time compressed.

    The factor is ``scrape_interval`` over the repository's own interval;
    the blackbox exporter's probes are copied unchanged.

    Raises:
        ConfigError: a file of ``source`` is missing or unreadable.
    """
    config = read_yaml(source / "prometheus.yml")
    base = str(config.get("global", {}).get("scrape_interval", "1m"))
    factor = duration_ms(scrape_interval) / duration_ms(base)
    note = f"made from {source} with time scaled by {factor:.4g}; do not edit"
    lab = with_intervals(config, scrape_interval, scrape_timeout, blackbox_address)
    write_yaml(destination / "prometheus.yml", lab, note)
    for rules in sorted((source / "rules").glob("*.yml")):
        write_yaml(destination / "rules" / rules.name, scale_rules(read_yaml(rules), factor), note)
    write_yaml(destination / "blackbox.yml", read_yaml(source / "blackbox.yml"), note)
    log.debug("monitoring: configuration written to %s (factor %.4g)", destination, factor)
