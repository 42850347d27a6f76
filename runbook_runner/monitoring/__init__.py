"""The monitoring system's files: its configuration for a deployment and for the lab.

``monitoring/`` at the top of the repository holds the Prometheus
configuration, the alerting rules and the blackbox exporter's probes as a
deployment uses them. :mod:`.config` derives the lab's copy from them (the
lab's time runs faster) and :mod:`.targets` writes the file_sd target lists.
Reading the monitoring system during an incident is the step-5 module's job
(``module_utils/batiknet_monitoring.py``), not this package's.
"""
