"""The verdict of step 7: connected or not, where the fault is, and the branch.

The verdict is a pure function of the checks of steps 4-7 (docs/result-contract.md),
the inventory's facts about the site and its providers, and the technician's
physical check. It never looks at a fault's name: the rules below reason
from what was observed, so a fault outside the lab's catalog, or several at
once, is diagnosed the same way. The rules are tables, each row carrying an
id that appears in the verdict's ``rules`` list, so a reader can see which
reasoning produced it (docs/runner.md explains every row).

The reasoning, in order:

1. Keep the checks that concern the site or the shared network.
2. A failing check is a *symptom* of its segment; ``uptime`` restarts are
   history, not faults, and the monitoring (step 5) only corroborates or
   contradicts the direct probes.
3. Explain symptoms away by a cause upstream of them (:data:`EXPLANATIONS`):
   a site whose access link is down cannot be probed beyond it, a missing
   upstream breaks the recursion of the DNS servers, a broken resolver
   breaks HTTP by name. What is left are the *findings*, one per segment.
4. Tell a dead gateway from a cut access link with the technician's physical
   check (:data:`OBSERVATIONS`): from the network both look alike.
5. Connected: the reach checks from the site's user host; a user host that
   cannot be reached from the ops host at all is itself evidence of "no".
6. Branch: nothing wrong -> ``completion_report``; any finding on a segment
   an ISP provides -> ``isp_ticket``; else ``internal_action``.
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Check = Mapping[str, Any]

SEGMENTS = ("user_lan", "opd_access", "opd_gateway", "core", "dns", "server", "isp_upstream")
BRANCHES = ("completion_report", "isp_ticket", "internal_action")
PHYSICAL_STATES = ("confirmed", "pending", "skipped")

# The path from the ops host (and the servers) to a site's users, nearest first.
SITE_PATH = ("core", "opd_access", "opd_gateway", "user_lan")

# The order findings are listed in: what cuts the site first, then shared parts.
_SEGMENT_RANK = {
    name: rank
    for rank, name in enumerate(
        ("core", "isp_upstream", "opd_access", "opd_gateway", "user_lan", "dns", "server")
    )
}
_FAILING = ("failed", "degraded")
# Checks too noisy to make a finding alone (a few discards on a healthy port).
WEAK_CHECKS = frozenset({"counters"})
# History (a restart, the last hour's availability), a summary of other checks
# (step 7's "connected") and the monitoring API itself are no symptoms.
NOT_SYMPTOMS = frozenset({"uptime", "availability", "connected", "monitoring_api"})
_CONFIDENCE = ("low", "medium", "high")


# -- The facts the verdict needs from the inventory -------------------------------------


@dataclass(frozen=True)
class SiteFacts:
    """What the inventory says about a site and the providers of its paths."""

    site: str
    name: str = ""
    gateway: str | None = None
    probe_host: str | None = None
    access_type: str = "own_fibre"
    access_provider: str | None = None
    access_circuit_id: str | None = None
    core_port: str | None = None
    upstream_provider: str | None = None
    upstream_circuit_id: str | None = None
    other_site_ports: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_inventory(
        cls, site: str, sites: Mapping[str, Any], upstream: Mapping[str, Any]
    ) -> "SiteFacts":
        """Build the facts of ``site`` from ``batiknet_sites`` and ``batiknet_upstream``.

        Raises:
            KeyError: ``site`` is not a key of ``sites``.
        """
        entry = sites[site]
        access = entry.get("access") or {}
        ports = {}
        for key, other in sites.items():
            other_access = other.get("access") or {}
            device = other_access.get("core_device") or other.get("core_device")
            port = other_access.get("core_interface") or other.get("core_interface")
            if key != site and device and port:
                ports[f"{device}:{port}"] = key
        core_device = access.get("core_device") or entry.get("core_device")
        core_interface = access.get("core_interface") or entry.get("core_interface")
        return cls(
            site=site,
            name=str(entry.get("name") or site),
            gateway=entry.get("gateway"),
            probe_host=entry.get("probe_host"),
            access_type=str(access.get("type") or "own_fibre"),
            access_provider=access.get("provider"),
            access_circuit_id=access.get("circuit_id"),
            core_port=f"{core_device}:{core_interface}" if core_device and core_interface else None,
            upstream_provider=upstream.get("provider"),
            upstream_circuit_id=upstream.get("circuit_id"),
            other_site_ports=ports,
        )

    def owner(self, segment: str) -> str | None:
        """Return the ISP key that provides ``segment`` of this site, None for the city's own."""
        if segment == "isp_upstream":
            return self.upstream_provider or "upstream"
        if segment == "opd_access" and self.access_type == "leased":
            return self.access_provider or "leased"
        return None


@dataclass(frozen=True)
class PhysicalCheck:
    """Step 4's physical check by the technician: status, reason and notes per device."""

    status: str = "pending"
    reason: str | None = None
    notes: Mapping[str, str] = field(default_factory=dict)


# -- The rule tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """A row of the explanation table: symptoms a cause accounts for.

    ``applies(check, cause_checks, all_checks, facts)`` says whether a failing
    or unknown ``check`` is a consequence of the failing ``cause`` segment.
    """

    rule: str
    cause: str
    text: str
    applies: Callable[[Check, list[Check], Sequence[Check], SiteFacts], bool]


def _downstream_on_path(
    cause: str,
) -> Callable[[Check, list[Check], Sequence[Check], SiteFacts], bool]:
    position = SITE_PATH.index(cause)

    def applies(
        check: Check, cause_checks: list[Check], _all: Sequence[Check], facts: SiteFacts
    ) -> bool:
        hosts_behind = {facts.probe_host}
        if cause in ("core", "opd_access"):
            hosts_behind.add(facts.gateway)
        hosts_behind.discard(None)
        behind = check.get("segment") in SITE_PATH[position + 1 :]
        from_behind = check.get("vantage") in hosts_behind
        to_behind = _target_host(check) in hosts_behind
        return any(_cuts_path(c) for c in cause_checks) and (behind or from_behind or to_behind)

    return applies


def _recursion_of_working_servers(
    check: Check, _cause: list[Check], checks: Sequence[Check], _facts: SiteFacts
) -> bool:
    # A name outside the city's zones that fails while other names resolve is
    # a recursion failure: a missing upstream explains it.
    if check.get("segment") != "dns":
        return False
    if (check.get("values") or {}).get("recursive") is True:
        return True
    name = _dns_name(check)
    answered = [c for c in checks if c.get("segment") == "dns" and c.get("status") == "ok"]
    return bool(answered) and all(_dns_name(c) != name for c in answered)


def _external_targets(
    check: Check, _cause: list[Check], _checks: Sequence[Check], facts: SiteFacts
) -> bool:
    # Checks from the user host towards the Internet say the same thing as the
    # upstream's own checks.
    return check.get("segment") != "dns" and _mentions_internet(check)


def _names_not_resolved(
    check: Check, cause: list[Check], checks: Sequence[Check], _facts: SiteFacts
) -> bool:
    # HTTP by name fails when names do not resolve: the error says so, or no
    # name resolved at all from that vantage point.
    if check.get("segment") != "server" or check.get("check") != "http":
        return False
    if _values_say_resolution(check):
        return True
    vantage = check.get("vantage")
    resolved_here = [
        c
        for c in checks
        if c.get("vantage") == vantage and c.get("check") in ("resolve", "dns_query")
    ]
    return bool(resolved_here) and all(c.get("status") != "ok" for c in resolved_here)


def _core_down(
    check: Check, cause: list[Check], _checks: Sequence[Check], _facts: SiteFacts
) -> bool:
    # A core that answers nothing cuts everything behind it.
    silent = any(c.get("check") in ("icmp", "snmp") and c.get("status") == "failed" for c in cause)
    return silent and check.get("segment") != "core"


EXPLANATIONS: tuple[Explanation, ...] = (
    Explanation("core-silent", "core", "the core router answers nothing", _core_down),
    Explanation(
        "path-core",
        "core",
        "the core's port towards the site is down: nothing behind it can be probed",
        _downstream_on_path("core"),
    ),
    Explanation(
        "path-access",
        "opd_access",
        "the access link is down: the gateway, the LAN and the user host are cut off",
        _downstream_on_path("opd_access"),
    ),
    Explanation(
        "path-gateway",
        "opd_gateway",
        "the gateway is down: the LAN and the user host behind it are cut off",
        _downstream_on_path("opd_gateway"),
    ),
    Explanation(
        "path-lan",
        "user_lan",
        "the user LAN is down: the user host cannot be probed",
        _downstream_on_path("user_lan"),
    ),
    Explanation(
        "upstream-recursion",
        "isp_upstream",
        "the upstream is down: the DNS servers cannot recurse for outside names",
        _recursion_of_working_servers,
    ),
    Explanation(
        "upstream-internet",
        "isp_upstream",
        "the upstream is down or lossy: the Internet is unreachable or lossy from everywhere",
        _external_targets,
    ),
    Explanation(
        "dns-names",
        "dns",
        "names do not resolve: HTTP by name fails although the server answers",
        _names_not_resolved,
    ),
)


@dataclass(frozen=True)
class Observation:
    """A row of the physical-observation table: what a technician's note means."""

    rule: str
    pattern: re.Pattern[str]
    segment: str
    text: str


# A note on the site's gateway decides between a cut access link and a dead
# gateway. Dead-device patterns come first: "all lights off" also matches "light off".
OBSERVATIONS: tuple[Observation, ...] = (
    Observation(
        "physical-gateway-dead",
        re.compile(
            r"no power|power(ed)? off|not powered|all (the )?lights? (are )?off|dead|burn|"
            r"tidak (ada )?(daya|listrik)|mati total|lampu (semua )?mati semua|tidak menyala|"
            r"rusak|hang|frozen|no lights",
            re.IGNORECASE,
        ),
        "opd_gateway",
        "the technician found the gateway without power or dead",
    ),
    Observation(
        "physical-link-down",
        re.compile(
            r"(wan|link|port|sfp|fib(er|re)|los)\b.*\b(off|down|dark|mati|red|merah)|"
            r"no link|cable|kabel|fib(er|re) (cut|putus)|putus|powered|menyala",
            re.IGNORECASE,
        ),
        "opd_access",
        "the technician found the gateway powered with its WAN link dark",
    ),
)


# -- Small readers of checks ------------------------------------------------------------


def _target_host(check: Check) -> str:
    return re.split(r"[:/]", str(check.get("target", "")), maxsplit=1)[0]


def _dns_name(check: Check) -> str:
    values = check.get("values") or {}
    return str(values.get("name") or str(check.get("target", "")).rsplit("/", 1)[-1])


def _mentions_internet(check: Check) -> bool:
    values = check.get("values") or {}
    return bool(values.get("internet")) or check.get("segment") == "isp_upstream"


def _values_say_resolution(check: Check) -> bool:
    text = f"{check.get('message', '')} {(check.get('values') or {}).get('error', '')}"
    return bool(re.search(r"resol|name or service|nxdomain|servfail|no address", text, re.I))


def _cuts_path(check: Check) -> bool:
    """Return whether a failing check shows a broken path (not only a broken service)."""
    if check.get("status") != "failed":
        return False
    if check.get("check") == "interface":
        return True
    if check.get("check") in ("icmp", "reach", "ssh"):
        return True
    return check.get("check") == "snmp" and (check.get("values") or {}).get("answers_icmp") is False


def _ref(check: Check) -> dict[str, Any]:
    return {
        key: check.get(key)
        for key in ("step", "check", "vantage", "target", "status", "time", "message")
    }


def _concerns(check: Check, facts: SiteFacts) -> bool:
    site = check.get("site")
    if site is not None:
        return site == facts.site
    return str(check.get("target", "")) not in facts.other_site_ports


# -- The verdict ------------------------------------------------------------------------


@dataclass
class Finding:
    """One faulty segment with the checks that show it."""

    segment: str
    status: str
    checks: list[Check]
    owner: str | None
    rules: list[str] = field(default_factory=list)
    explains: list[str] = field(default_factory=list)
    confidence: str = "high"
    alternatives: list[str] = field(default_factory=list)
    corroboration: list[Check] = field(default_factory=list)
    physical: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, facts: SiteFacts) -> dict[str, Any]:
        """Return the finding as plain data for the records and the documents."""
        provider = self.owner
        circuit = None
        if self.segment == "isp_upstream":
            circuit = facts.upstream_circuit_id
        elif self.segment == "opd_access" and provider:
            circuit = facts.access_circuit_id
        return {
            "segment": self.segment,
            "status": self.status,
            "site": None if self.segment in ("isp_upstream", "dns", "server") else facts.site,
            "owner": "isp" if provider else "city",
            "provider": provider,
            "circuit_id": circuit,
            "summary": self.checks[0].get("message", "") if self.checks else "",
            "confidence": self.confidence,
            "alternatives": self.alternatives,
            "explains": sorted(set(self.explains)),
            "rules": self.rules,
            "evidence": [*self.physical, *(_ref(c) for c in self.checks)],
            "corroboration": [_ref(c) for c in self.corroboration],
        }


def _symptoms(checks: Iterable[Check]) -> dict[str, list[Check]]:
    bysegment: dict[str, list[Check]] = {}
    for check in checks:
        if check.get("status") != "ok" and check.get("check") not in NOT_SYMPTOMS:
            bysegment.setdefault(str(check.get("segment")), []).append(check)
    return bysegment


def _user_side_only(
    symptoms: dict[str, list[Check]], checks: Sequence[Check], facts: SiteFacts
) -> list[dict[str, Any]]:
    """Move to ``user_lan`` the failures seen only from the user host.

    When the user host answers the ops host, and a segment is failing only
    when probed from that host while the same kind of probe from another
    vantage point succeeds, the fault is on the user's side (its LAN, its
    host), not in the segment.
    """
    host = facts.probe_host
    reachable = any(
        _target_host(c) == host and c.get("vantage") != host and c.get("status") == "ok"
        for c in checks
    )
    if host is None or not reachable:
        return []
    moved = []
    for segment, found in list(symptoms.items()):
        if segment == "user_lan":
            continue
        others_fail = any(c.get("vantage") != host and c.get("status") in _FAILING for c in found)
        for check in [c for c in found if c.get("vantage") == host and c.get("status") == "failed"]:
            fine_elsewhere = any(
                c.get("segment") == segment
                and c.get("check") == check.get("check")
                and c.get("vantage") != host
                and c.get("status") == "ok"
                for c in checks
            )
            if others_fail or not fine_elsewhere:
                continue
            found.remove(check)
            symptoms.setdefault("user_lan", []).append(check)
            moved.append(
                {"rule": "user-side-only", "because": "only the user host sees it", **_ref(check)}
            )
    return moved


def _explain(
    symptoms: dict[str, list[Check]], checks: Sequence[Check], facts: SiteFacts
) -> tuple[dict[str, list[Check]], list[dict[str, Any]], dict[str, list[str]]]:
    """Remove the symptoms a cause upstream accounts for; return what remains."""
    remaining = {segment: list(found) for segment, found in symptoms.items()}
    consequences: list[dict[str, Any]] = []
    explains: dict[str, list[str]] = {}
    for row in EXPLANATIONS:
        cause_checks = [c for c in remaining.get(row.cause, []) if c.get("status") in _FAILING]
        if not cause_checks:
            continue
        for segment in list(remaining):
            kept = []
            for check in remaining[segment]:
                # A cause keeps its own failing checks; its unknown ones may be
                # explained (a device behind a dead link cannot be polled).
                own = segment == row.cause and check.get("status") != "unknown"
                if not own and row.applies(check, cause_checks, checks, facts):
                    consequences.append({"rule": row.rule, "because": row.text, **_ref(check)})
                    explains.setdefault(row.cause, []).append(row.rule)
                else:
                    kept.append(check)
            remaining[segment] = kept
        remaining = {segment: found for segment, found in remaining.items() if found}
    return remaining, consequences, explains


def _silent(checks: Sequence[Check]) -> bool:
    """Return whether the checks show a device answering neither ICMP nor SNMP."""
    failed = {c.get("check") for c in checks if c.get("status") == "failed"}
    return {"icmp", "snmp"} <= failed


def _port_up(checks: Sequence[Check]) -> bool:
    return any((c.get("values") or {}).get("core_port_oper") == "up" for c in checks)


def _apply_physical(
    findings: dict[str, Finding], facts: SiteFacts, physical: PhysicalCheck, rules: list[str]
) -> None:
    """Decide between a cut access link and a dead gateway, which look alike.

    From the ops host both give a silent gateway (no ICMP, no SNMP) and, when
    the core's port is known, a port that lost carrier (admin up, oper down).
    The technician's physical check is what tells them apart.
    """
    access, gateway = findings.get("opd_access"), findings.get("opd_gateway")
    if access is not None and _silent(access.corroboration):
        candidate, other = access, "opd_gateway"
    elif gateway is not None and access is None and _silent(gateway.checks):
        if _port_up(gateway.checks):
            return  # the link has carrier: the gateway itself is at fault
        candidate, other = gateway, "opd_access"
    else:
        return
    note = physical.notes.get(facts.gateway or "", "") if physical.status == "confirmed" else ""
    row = next((row for row in OBSERVATIONS if note and row.pattern.search(note)), None)
    if row is None:
        candidate.alternatives = [other]
        candidate.confidence = "medium" if physical.status == "confirmed" else "low"
        rules.append("access-or-gateway-undecided")
        return
    rules.append(row.rule)
    observed = {
        "step": "devices",
        "check": "physical",
        "vantage": "technician",
        "target": facts.gateway,
        "status": "failed",
        "time": None,
        "message": f"{facts.gateway}: {note}",
    }
    if row.segment == candidate.segment:
        candidate.rules.append(row.rule)
        candidate.confidence = "high"
        candidate.physical.append(observed)
        return
    silent = candidate.corroboration if candidate is access else candidate.checks
    port = candidate.checks if candidate is access else []
    decided = Finding(row.segment, "failed", silent, facts.owner(row.segment), [row.rule])
    decided.corroboration = port
    decided.explains = [other]
    decided.confidence = "high" if port or row.segment == "opd_gateway" else "medium"
    decided.physical.append(observed)
    del findings[candidate.segment]
    findings[row.segment] = decided


def _to_findings(
    remaining: dict[str, list[Check]],
    explained: list[dict[str, Any]],
    checks: Sequence[Check],
    facts: SiteFacts,
) -> dict[str, Finding]:
    findings: dict[str, Finding] = {}
    direct = {
        segment: [c for c in found if c.get("step") != "monitoring" and c.get("status") in _FAILING]
        for segment, found in remaining.items()
    }
    for segment, found in direct.items():
        if all(c.get("check") in WEAK_CHECKS for c in found):
            continue  # nothing, or only weak signs: they corroborate but make no finding
        status = "failed" if any(c.get("status") == "failed" for c in found) else "degraded"
        kinds = {(c.get("check"), c.get("vantage")) for c in found}
        finding = Finding(segment, status, found, facts.owner(segment), [f"symptom-{segment}"])
        finding.confidence = "high" if len(kinds) > 1 else "medium"
        finding.corroboration = [
            c
            for c in [*remaining.get(segment, []), *_explained_checks(explained, checks)]
            if c not in found
            and (c.get("step") == "monitoring" or _explained_by(c, explained, segment))
        ]
        findings[segment] = finding
    return findings


def _explained_checks(explained: list[dict[str, Any]], checks: Sequence[Check]) -> list[Check]:
    keys = {(e["check"], e["vantage"], e["target"], e["time"]) for e in explained}
    return [
        c
        for c in checks
        if (c.get("check"), c.get("vantage"), c.get("target"), c.get("time")) in keys
    ]


_RULE_CAUSE = {row.rule: row.cause for row in EXPLANATIONS}


def _explained_by(check: Check, explained: list[dict[str, Any]], segment: str) -> bool:
    return any(
        _RULE_CAUSE.get(e["rule"]) == segment
        and (e["check"], e["vantage"], e["target"], e["time"])
        == (check.get("check"), check.get("vantage"), check.get("target"), check.get("time"))
        for e in explained
    )


def _connected(
    checks: Sequence[Check], facts: SiteFacts, findings: Mapping[str, Finding]
) -> tuple[bool | None, bool, list[str], list[dict[str, Any]]]:
    """Return connected, degraded, the rules used and the evidence of the answer."""
    host = facts.probe_host
    summary = [c for c in checks if c.get("check") == "connected" and c.get("vantage") == host]
    said = [c for c in summary if isinstance((c.get("values") or {}).get("connected"), bool)]
    if said:
        values = said[-1].get("values") or {}
        lost = values.get("reason") == "ssh"
        rule = "connected-user-host-unreachable" if lost else "connected-user-host-says"
        evidence = [
            _ref(c) for c in checks if lost and c.get("check") == "ssh" and _target_host(c) == host
        ] + [_ref(said[-1])]
        degraded = values.get("quality") == "degraded" or any(
            f.status == "degraded" and f.segment in (*SITE_PATH, "isp_upstream")
            for f in findings.values()
        )
        return bool(values["connected"]), degraded, [rule], evidence
    reach = [c for c in checks if c.get("check") == "reach" and c.get("vantage") == host]
    answered = [c for c in reach if c.get("status") != "unknown"]
    degraded = any(c.get("status") == "degraded" for c in answered) or any(
        f.status == "degraded" and f.segment in (*SITE_PATH, "isp_upstream")
        for f in findings.values()
    )
    if answered:
        failed = [c for c in answered if c.get("status") == "failed"]
        if failed:
            return False, degraded, ["connected-reach-failed"], [_ref(c) for c in failed]
        return True, degraded, ["connected-reach-ok"], [_ref(c) for c in answered]
    towards_host = [
        c
        for c in checks
        if host
        and c.get("vantage") != host
        and _target_host(c) == host
        and c.get("status") != "unknown"
    ]
    if towards_host and all(c.get("status") == "failed" for c in towards_host):
        evidence = [_ref(c) for c in towards_host]
        return False, degraded, ["connected-user-host-unreachable"], evidence
    if any(
        f.segment in SITE_PATH and f.status == "failed" and _path_cut(f) for f in findings.values()
    ):
        return False, degraded, ["connected-path-cut"], []
    return None, degraded, ["connected-unknown"], [_ref(c) for c in reach]


def _path_cut(finding: Finding) -> bool:
    return any(_cuts_path(c) for c in finding.checks)


def _contradictions(
    checks: Sequence[Check],
    findings: Mapping[str, Finding],
    connected: bool | None,
    facts: SiteFacts,
    explained: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    found = []
    accounted = {(e["check"], e["vantage"], e["target"], e["time"]) for e in explained}
    direct_failed = {
        (c.get("segment"), _target_host(c)) for f in findings.values() for c in f.checks
    }
    for check in checks:
        if check.get("step") != "monitoring" or check.get("check") in NOT_SYMPTOMS:
            continue
        key = (check.get("segment"), _target_host(check))
        if check.get("status") == "ok" and key in direct_failed:
            found.append(
                {
                    "rule": "monitoring-silent",
                    "message": f"the monitoring sees {key[1]} as fine while direct probes fail",
                    "checks": [_ref(check)],
                }
            )
        elif (
            check.get("status") in _FAILING
            and check.get("segment") not in findings
            and (check.get("check"), check.get("vantage"), check.get("target"), check.get("time"))
            not in accounted
        ):
            found.append(
                {
                    "rule": "monitoring-alone",
                    "message": f"the monitoring reports {key[1]} ({key[0]}) failing"
                    " while the direct probes find it fine",
                    "checks": [_ref(check)],
                }
            )
    network = [f for f in findings.values() if f.segment != "user_lan"]
    user_side = [
        c
        for c in checks
        if c.get("vantage") == facts.probe_host
        and c.get("status") == "failed"
        and c.get("check") != "connected"
    ]
    # A user host that answers the ops host but reaches nothing, on a healthy
    # network, is a contradiction; one that answers nothing is plain evidence.
    if connected is False and not network and user_side:
        found.append(
            {
                "rule": "user-side-only",
                "message": "the user host fails to reach the servers while the network and the"
                " servers look healthy: check the user's host and its LAN",
                "checks": [_ref(c) for c in user_side],
            }
        )
    return found


def _primary(findings: Sequence[Finding]) -> Finding | None:
    if not findings:
        return None
    ranked = sorted(
        findings,
        key=lambda f: (f.status != "failed", f.owner is None, _SEGMENT_RANK.get(f.segment, 99)),
    )
    return ranked[0]


def decide(
    checks: Sequence[Check],
    facts: SiteFacts,
    physical: PhysicalCheck | None = None,
    *,
    steps_missing: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the verdict of an incident at ``facts.site`` from the checks of steps 4-7.

    The result is plain data (see docs/runner.md): ``connected``, ``degraded``,
    ``segment`` (the main one, ``none`` when nothing is wrong), ``segments``,
    ``branch``, ``confidence``, ``findings``, ``evidence`` (the chain of the
    main finding), ``consequences``, ``contradictions``, ``unchecked`` and the
    ``rules`` that fired.
    """
    physical = physical or PhysicalCheck()
    relevant = [c for c in checks if _concerns(c, facts)]
    symptoms = _symptoms(relevant)
    moved = _user_side_only(symptoms, relevant, facts)
    remaining, consequences, explains = _explain(symptoms, relevant, facts)
    findings = _to_findings(remaining, consequences, relevant, facts)
    for segment, explained in explains.items():
        if segment in findings:
            findings[segment].explains.extend(explained)
    rules: list[str] = sorted({r for f in findings.values() for r in f.rules})
    rules += sorted({c["rule"] for c in [*consequences, *moved]})
    _apply_physical(findings, facts, physical, rules)

    connected, degraded, connected_rules, connected_evidence = _connected(relevant, facts, findings)
    rules += connected_rules
    if connected is False and not findings:
        user_side = [
            c
            for c in relevant
            if c.get("vantage") == facts.probe_host and c.get("status") == "failed"
        ]
        if user_side:
            findings["user_lan"] = Finding(
                "user_lan", "failed", user_side, None, ["user-side-only"]
            )
            findings["user_lan"].confidence = "low"
    contradictions = _contradictions(relevant, findings, connected, facts, consequences)

    ordered = sorted(findings.values(), key=lambda f: _SEGMENT_RANK.get(f.segment, 99))
    primary = _primary(ordered)
    branch = _branch(ordered, connected)
    rules.append(f"branch-{branch}")
    unchecked = [
        _ref(c) for found in remaining.values() for c in found if c.get("status") == "unknown"
    ]
    confidence = _confidence(ordered, contradictions, unchecked, steps_missing, connected)
    return {
        "site": facts.site,
        "connected": connected,
        "degraded": degraded,
        "segment": primary.segment if primary else "none",
        "segments": [f.segment for f in ordered],
        "branch": branch,
        "confidence": confidence,
        "findings": [f.as_dict(facts) for f in ordered],
        "evidence": [_ref(c) for c in primary.checks] + [_ref(c) for c in primary.corroboration]
        if primary
        else connected_evidence,
        "connected_evidence": connected_evidence,
        "consequences": consequences,
        "contradictions": contradictions,
        "unchecked": unchecked,
        "physical_check": {
            "status": physical.status,
            "reason": physical.reason,
            "notes": dict(physical.notes),
        },
        "steps_missing": list(steps_missing),
        "rules": rules,
        "checks_total": len(relevant),
    }


def _branch(findings: Sequence[Finding], connected: bool | None) -> str:
    if any(f.owner for f in findings):
        return "isp_ticket"
    if findings or connected is not True:
        return "internal_action"
    return "completion_report"


def _confidence(
    findings: Sequence[Finding],
    contradictions: Sequence[Any],
    unchecked: Sequence[Any],
    steps_missing: Sequence[str],
    connected: bool | None,
) -> str:
    level = min((_CONFIDENCE.index(f.confidence) for f in findings), default=2)
    if contradictions or steps_missing or unchecked:
        level = min(level, 1)
    if connected is None:
        level = 0
    return _CONFIDENCE[level]
