"""Runbook for disruptions of Batik.Net, the city WAN of Kota Pekalongan."""

__version__ = "0.1.0"
