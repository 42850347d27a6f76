"""The lab's monitoring system: Prometheus and the blackbox exporter on loopback."""

from pathlib import Path
from typing import Any


def start(lab_dir: Path, topology: Any) -> None:
    """Start the monitoring system of the lab under ``lab_dir``."""


def stop(lab_dir: Path) -> None:
    """Stop the monitoring system of the lab and remove its data."""
