"""The pure parts of the runner's execution and service: order, unsafe vars, locks, inputs."""

import os
from pathlib import Path

import pytest
import yaml

from runbook_runner import execution, incidents
from runbook_runner.errors import UsageError
from runbook_runner.execution import Progress, StepResult, _Sequencer, _split, _unsafe_yaml
from runbook_runner.recipients import load_inventory_vars
from runbook_runner.steps import CHECK_STEPS, step


def _result(number: int) -> StepResult:
    return StepResult(step(number), "t0", "t1", [])


def test_sequencer_hands_results_on_in_the_procedures_order():
    stored: list[int] = []
    shown: list[str] = []
    sequencer = _Sequencer(
        [4, 5, 6, 7], lambda r: stored.append(r.step.number), lambda p: shown.append(p.kind)
    )
    for number in (6, 7, 4):
        sequencer.step(_result(number))
    assert stored == [4]
    sequencer.step(_result(5))
    assert stored == [4, 5, 6, 7]
    assert shown == ["step_finished"] * 4


def test_sequencer_passes_progress_through():
    shown: list[Progress] = []
    sequencer = _Sequencer([4], lambda _r: None, shown.append)
    sequencer.progress(Progress("task", step(4), "Poll the devices"))
    assert [p.message for p in shown] == ["Poll the devices"]


@pytest.mark.parametrize(
    ("parallel", "groups"),
    [
        pytest.param(1, [[4, 5, 6, 7]], id="one-run"),
        pytest.param(2, [[4, 5], [6, 7]], id="two-runs"),
        pytest.param(3, [[4, 5], [6], [7]], id="three-runs"),
        pytest.param(9, [[4], [5], [6], [7]], id="no-more-runs-than-steps"),
    ],
)
def test_split_keeps_the_order_in_contiguous_groups(parallel, groups):
    got = [[s.number for s in group] for group in _split(list(CHECK_STEPS), parallel)]
    assert got == groups


def test_extra_variables_are_written_unsafe_and_literal():
    hostile = "{{ lookup('pipe','id') }} $(touch /tmp/owned)\n\"quoted\""
    text = _unsafe_yaml({"site": hostile})

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor(
        "!unsafe", lambda loader, node: ("unsafe", loader.construct_scalar(node))
    )
    assert yaml.load(text, Loader=Loader) == {"site": ("unsafe", hostile)}


def test_extra_variable_names_are_checked():
    with pytest.raises(execution.ExecutionError, match="bad extra variable name"):
        _unsafe_yaml({"site; rm": "x"})


def test_worst_status_orders_failed_over_unknown_over_degraded():
    checks = [{"status": "ok"}, {"status": "degraded"}, {"status": "unknown"}]
    assert execution.worst_status(checks) == "unknown"
    assert execution.worst_status([*checks, {"status": "failed"}]) == "failed"
    assert execution.worst_status([]) == "unknown"


def test_a_second_run_on_a_held_incident_is_refused_naming_the_holder(tmp_path: Path):
    with (
        incidents.incident_lock("INC-2026-0001", tmp_path),
        pytest.raises(incidents.IncidentBusyError) as caught,
        incidents.incident_lock("INC-2026-0001", tmp_path),
    ):
        pass
    assert caught.value.holder["pid"] == os.getpid()
    assert f"pid {os.getpid()}" in caught.value.message
    with incidents.incident_lock("INC-2026-0001", tmp_path):
        pass  # free again once the holder left


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-12-03 14:00", "2026-12-03T07:00:00+00:00", id="wib-by-default"),
        pytest.param("2026-12-03T14:00+08:00", "2026-12-03T06:00:00+00:00", id="with-offset"),
    ],
)
def test_times_given_by_a_person_are_read_in_wib(text, expected):
    assert incidents.parse_time(text, "ETA") == expected


def test_a_time_that_is_not_one_is_refused_naming_the_value():
    with pytest.raises(UsageError, match="'tomorrow'"):
        incidents.parse_time("tomorrow", "ETA")


@pytest.mark.parametrize(
    ("status", "reason", "observed", "message"),
    [
        pytest.param("seen", None, [], "unknown physical check", id="unknown-status"),
        pytest.param("skipped", None, [], "needs a reason", id="skipped-without-reason"),
        pytest.param("confirmed", None, ["bn-gw no power"], "is not DEVICE=NOTE", id="bad-note"),
        pytest.param("pending", "later", ["gw=off"], "need a confirmed", id="notes-not-confirmed"),
    ],
)
def test_physical_check_refuses_bad_values(status, reason, observed, message):
    with pytest.raises(UsageError, match=message):
        incidents.physical_check(status, reason, observed)


def test_physical_check_keeps_the_notes_per_device():
    check = incidents.physical_check("confirmed", None, ["bn-opd3-gw=no power, all lights off"])
    assert dict(check.notes) == {"bn-opd3-gw": "no power, all lights off"}


def test_site_facts_of_the_lab_inventory_name_the_providers():
    variables = load_inventory_vars().values
    facts = incidents.site_facts("opd1", variables)
    assert (facts.gateway, facts.probe_host, facts.core_port) == (
        "bn-opd1-gw",
        "bn-opd1-pc",
        "bn-core:opd1",
    )
    assert facts.owner("opd_access") == "isp_a"
    assert facts.owner("isp_upstream") == "isp_a"
    assert incidents.site_facts("opd2", variables).owner("opd_access") is None
    assert incidents.site_facts("opd3", variables).owner("opd_access") == "isp_b"


def test_an_unknown_site_is_refused_with_the_known_ones():
    with pytest.raises(UsageError, match="unknown site 'opd9'") as caught:
        incidents.site_facts("opd9", load_inventory_vars().values)
    assert "opd1, opd2, opd3" in (caught.value.hint or "")
