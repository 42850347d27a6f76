"""Run the step playbooks through ansible-runner and hand back their checks.

Ansible's start-up costs more than most checks, so steps 4 to 7 run as one
ansible-playbook process: ``playbooks/incident_checks.yml`` imports the four
step playbooks, each behind a marker play named ``Begin SOP step N``. The
events of that single run say when a step begins (its marker) and ends (the
next marker or the final stats), and the checks arrive with the ``set_stats``
results as they are published, so each step's result can be stored as soon as
the step completes, in the procedure's order.

Every run has a private data directory per incident under the data
directory. Its extra variables are written as ``!unsafe`` YAML, so a value is
never templated by Ansible; the ``env/`` directory is removed after the run
and the ``command`` artifact is stripped of the environment, so no secret
from the environment stays on disk.
"""

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_runner import checks as check_schema
from runbook_runner import run_guard, settings
from runbook_runner.errors import RunbookError
from runbook_runner.records import now
from runbook_runner.steps import CHECK_STEPS, COMBINED_PLAYBOOK, Step, step

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120
# Characters of one task result an event may carry (ansible-runner's MAX_EVENT_RES).
MAX_EVENT_RESULT = 64_000_000
_MARKER = re.compile(r"^Begin SOP step (\d+)\b")
_HOST_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


class ExecutionError(RunbookError):
    """A playbook run could not be started at all."""


@dataclass
class StepResult:
    """What one step of a run gathered."""

    step: Step
    started_at: str
    ended_at: str
    checks: list[dict[str, Any]]
    note: str | None = None

    @property
    def outcome(self) -> str:
        """Return the worst status of the checks (``unknown`` when there are none)."""
        return worst_status(self.checks)


@dataclass
class Progress:
    """One thing worth telling the technician while a run goes on."""

    kind: str  # step_started, task, host, step_finished
    step: Step | None
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """The result of one playbook run."""

    run_id: str
    status: str
    rc: int | None
    steps: list[StepResult]
    seconds: float
    artifact_dir: Path

    @property
    def checks(self) -> list[dict[str, Any]]:
        """Return every check of every step, in the procedure's order."""
        return [check for result in self.steps for check in result.checks]


_STATUS_ORDER = ("ok", "degraded", "unknown", "failed")


def worst_status(checks: Sequence[Mapping[str, Any]]) -> str:
    """Return the worst status among ``checks``: failed > unknown > degraded > ok."""
    if not checks:
        return "unknown"
    return max((str(c.get("status", "unknown")) for c in checks), key=_STATUS_ORDER.index)


def run_dir(incident_id: str, data_dir: Path | None = None) -> Path:
    """Return the private data directory of an incident's runs."""
    return (data_dir or settings.data_dir()) / "runs" / incident_id


def _unsafe_yaml(extravars: Mapping[str, Any]) -> str:
    # JSON strings are YAML double-quoted scalars; the !unsafe tag makes
    # Ansible treat the value as data that is never templated.
    lines = []
    for key, value in extravars.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
            raise ExecutionError(f"bad extra variable name {key!r}")
        scalar = not isinstance(value, Mapping | list | tuple)
        lines.append(f"{key}: {_unsafe(str(value) if scalar else value)}")
    return "\n".join(lines) + "\n"


def _unsafe(value: Any) -> str:
    if isinstance(value, str):
        return f"!unsafe {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}: {_unsafe(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_unsafe(item) for item in value) + "]"
    return json.dumps(value)


# The network's description is data, never code: passed again as !unsafe extra
# variables, a site's name or an ISP's contact is never templated, whatever
# the inventory's copy holds (Ansible templates inventory values).
_DATA_VARIABLES = ("batiknet_sites", "batiknet_isps", "batiknet_upstream")


def _inventory_data(inventories: Sequence[Path]) -> dict[str, Any]:
    from runbook_runner import recipients

    data: dict[str, Any] = {}
    for source in inventories or [settings.inventory_path()]:
        if Path(source).is_dir():
            values = recipients.load_inventory_vars(Path(source)).values
            data.update({key: values[key] for key in _DATA_VARIABLES if key in values})
    return data


@dataclass
class _RunState:
    """The bookkeeping of one run's event stream."""

    wanted: list[Step]
    on_progress: Callable[[Progress], None]
    on_step: Callable[[StepResult], None]
    current: Step | None = None
    started_at: str = ""
    streamed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    done: list[StepResult] = field(default_factory=list)
    final: list[dict[str, Any]] | None = None

    def begin(self, number: int) -> None:
        self.finish()
        if number not in {wanted.number for wanted in self.wanted}:
            return  # a marker of a step this run skips by its tags
        self.current = step(number)
        self.started_at = now()
        self.on_progress(Progress("step_started", self.current, self.current.title()))

    def finish(self, final: list[dict[str, Any]] | None = None, note: str | None = None) -> None:
        if self.current is None:
            return
        key = self.current.key
        source = self.streamed.get(key, [])
        if final is not None:
            source = [c for c in final if c.get("step") == key] or source
        result = StepResult(self.current, self.started_at, now(), _valid(source), note)
        self.done.append(result)
        self.current = None
        self.on_step(result)

    def collect(self, res: Mapping[str, Any]) -> None:
        results = res.get("results")
        items: list[Any] = results if isinstance(results, list) else [res]
        for item in items:
            stats = item.get("ansible_stats") if isinstance(item, Mapping) else None
            data = stats.get("data", {}) if isinstance(stats, Mapping) else {}
            for check in data.get("batiknet_checks") or []:
                if isinstance(check, Mapping):
                    key = str(check.get("step") or (self.current.key if self.current else ""))
                    self.streamed.setdefault(key, []).append(dict(check))

    def handle(self, event: Mapping[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            match = _MARKER.match(str(data.get("play") or data.get("name") or ""))
            if match:
                self.begin(int(match.group(1)))
        elif kind == "playbook_on_task_start" and self.current is not None:
            self.on_progress(Progress("task", self.current, str(data.get("task", ""))))
        elif kind in _HOST_EVENTS:
            if kind == "runner_on_ok":
                self.collect(data.get("res") or {})
            self.on_progress(
                Progress(
                    "host",
                    self.current,
                    f"{data.get('host', '?')}: {data.get('task', '')}: {_HOST_EVENTS[kind]}",
                    {"host": data.get("host"), "result": _HOST_EVENTS[kind]},
                )
            )
        elif kind == "playbook_on_stats":
            artifact = data.get("artifact_data") or {}
            final = artifact.get("batiknet_checks")
            self.final = [dict(c) for c in final if isinstance(c, Mapping)] if final else []
            self.finish(self.final)
        return True


def _valid(checks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    kept = []
    for index, check in enumerate(checks):
        try:
            check_schema.validate_check(check, index)
        except check_schema.InvalidCheckError as error:
            log.error("dropping a check that breaks the result contract: %s", error.message)
            continue
        kept.append(dict(check))
    return kept


def _end_ssh_masters(control_dir: Path) -> None:
    # ControlPersist masters detach from the run's process group: end them
    # explicitly, so nothing the run started outlives it.
    for socket_path in control_dir.iterdir():
        subprocess.run(
            ["ssh", "-o", f"ControlPath={socket_path}", "-O", "exit", "batiknet-master"],
            capture_output=True,
            timeout=5,
            check=False,
        )
    shutil.rmtree(control_dir, ignore_errors=True)


def _scrub(private_dir: Path, artifact_dir: Path) -> None:
    shutil.rmtree(private_dir / "env", ignore_errors=True)
    command_file = artifact_dir / "command"
    try:
        command = json.loads(command_file.read_text(encoding="utf-8"))
        command.pop("env", None)
        command_file.write_text(json.dumps(command), encoding="utf-8")
    except (OSError, ValueError):
        command_file.unlink(missing_ok=True)


def _control_prefix(incident_id: str, data_dir: Path | None) -> str:
    # Short (a socket path has ~100 bytes) yet tied to this incident's records.
    digest = hashlib.sha256(str(run_dir(incident_id, data_dir)).encode()).hexdigest()[:8]
    return f"bn-cp-{incident_id}-{digest}-"


def end_leftover_runs(incident_id: str, data_dir: Path | None = None) -> list[int]:
    """End what a killed run of this incident left behind; return the pids ended.

    The ansible-playbook processes are found by pid, through their command
    line naming the incident's private data directory, and their process
    group is killed; the SSH masters through their control path, which names
    the incident, and they are asked to exit.
    """
    marker = str(run_dir(incident_id, data_dir)) + "/"
    prefix = _control_prefix(incident_id, data_dir)
    ended = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            group = os.getpgid(int(entry.name))
        except (OSError, UnicodeDecodeError):
            continue
        if group == os.getpgrp() or not (marker in cmdline and "ansible" in cmdline):
            continue
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        ended.append(int(entry.name))
    for control_dir in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        _end_ssh_masters(control_dir)
    if ended:
        log.warning("%s: ended the processes a killed run left: %s", incident_id, ended)
    return ended


def run_steps(
    incident_id: str,
    site: str,
    wanted: Sequence[Step] = CHECK_STEPS,
    *,
    on_step: Callable[[StepResult], None] = lambda _result: None,
    on_progress: Callable[[Progress], None] = lambda _progress: None,
    timeout: int = DEFAULT_TIMEOUT,
    data_dir: Path | None = None,
    playbook_name: str = COMBINED_PLAYBOOK,
    inventories: Sequence[Path] = (),
    parallel: int = 1,
) -> RunResult:
    """Run the check steps ``wanted`` for ``site``, in ``parallel`` ansible-playbook processes.

    ``on_step`` is called with each step's result as soon as the step and
    every step before it have completed: always in the procedure's order,
    whatever order the evidence was gathered in. ``on_progress`` is called
    with every event worth showing. Both are called under one lock, never at
    once. A step a run never reached (timeout, crash) is handed back with no
    checks and a note. ``playbook_name`` (under ``playbooks/``) and
    ``inventories`` (default: the settings' one) let the health sweep run its
    own playbook, with the same step markers, over several inventories.

    With ``parallel`` above 1 the steps are split, in order, into that many
    groups, each run by its own process at the same time: Ansible starts
    once per group, and a slow step (SNMP counters) no longer waits for the
    others.

    Raises:
        ExecutionError: ansible-runner cannot be started (missing playbook).
    """
    playbook = settings.PLAYBOOK_DIR / playbook_name
    if not playbook.exists():
        raise ExecutionError(
            f"{playbook}: the combined playbook of steps 4-7 is missing",
            hint="reinstall the runbook or set RUNBOOK_HOME to its checkout",
        )
    groups = _split(list(wanted), parallel)
    sequencer = _Sequencer([s.number for s in wanted], on_step, on_progress)
    private_dir = run_dir(incident_id, data_dir)
    dirs = [
        private_dir if index == 0 else private_dir / f"g{index}" for index in range(len(groups))
    ]
    started = time.monotonic()
    control_prefix = _control_prefix(incident_id, data_dir)
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        futures = [
            pool.submit(
                _run_once,
                incident_id,
                site,
                wanted=group,
                private_dir=folder,
                control_prefix=control_prefix,
                sequencer=sequencer,
                timeout=timeout,
                playbook=playbook,
                inventories=inventories,
            )
            for group, folder in zip(groups, dirs, strict=True)
        ]
        results = [future.result() for future in futures]
    steps = sorted((r for result in results for r in result.steps), key=lambda r: r.step.number)
    worst = next((r for r in results if r.status != "successful"), results[0])
    return RunResult(
        ",".join(r.run_id for r in results),
        worst.status,
        worst.rc,
        steps,
        time.monotonic() - started,
        results[0].artifact_dir,
    )


def _split(wanted: list[Step], parallel: int) -> list[list[Step]]:
    count = max(1, min(parallel, len(wanted)))
    size, extra = divmod(len(wanted), count)
    groups, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        groups.append(wanted[start:end])
        start = end
    return [group for group in groups if group] or [wanted]


class _Sequencer:
    """Hand step results on in the procedure's order, from any thread, one call at a time."""

    def __init__(
        self,
        order: Sequence[int],
        on_step: Callable[[StepResult], None],
        on_progress: Callable[[Progress], None],
    ) -> None:
        self.order = list(order)
        self.waiting: dict[int, StepResult] = {}
        self.lock = threading.RLock()
        self._on_step = on_step
        self._on_progress = on_progress

    def step(self, result: StepResult) -> None:
        with self.lock:
            self.waiting[result.step.number] = result
            while self.order and self.order[0] in self.waiting:
                ready = self.waiting.pop(self.order.pop(0))
                self._on_step(ready)
                title = f"{ready.step.title()}: {ready.outcome}"
                self._on_progress(Progress("step_finished", ready.step, title))

    def progress(self, item: Progress) -> None:
        with self.lock:
            self._on_progress(item)


def _run_once(
    incident_id: str,
    site: str,
    *,
    wanted: Sequence[Step],
    control_prefix: str,
    sequencer: _Sequencer,
    timeout: int,
    private_dir: Path,
    playbook: Path,
    inventories: Sequence[Path],
) -> RunResult:
    """Run ``playbook`` once for the steps ``wanted``; return what it gathered."""
    import ansible_runner

    control_dir = Path(tempfile.mkdtemp(prefix=control_prefix))
    # The control path as an extra variable beats an inventory's own: this
    # run's SSH masters are its own, and are ended with it.
    extravars = {"site": site, "ansible_control_path_dir": str(control_dir)}
    extravars.update(_inventory_data(inventories))
    (private_dir / "env").mkdir(parents=True, exist_ok=True, mode=0o700)
    (private_dir / "env" / "extravars").write_text(_unsafe_yaml(extravars), encoding="utf-8")
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    state = _RunState(list(wanted), sequencer.progress, sequencer.step)
    tags = ",".join(f"step{s.number}" for s in wanted)
    envvars = {
        "ANSIBLE_CONFIG": str(settings.PROJECT_DIR / "ansible.cfg"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        # ansible-runner empties a task result above 700 kB in its event; the
        # checks of a sweep over hundreds of devices are more than that.
        "MAX_EVENT_RES": str(MAX_EVENT_RESULT),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    started = time.monotonic()
    log.info("%s: running steps %s for site %s", incident_id, tags, site)
    # The guard ends the run's processes even when the runbook is killed; the
    # status handler strips the environment from the command artifact as soon
    # as ansible-runner has written it, before ansible-playbook starts.
    with run_guard.guard(private_dir, run_id) as marker:
        try:
            runner = ansible_runner.run(
                private_data_dir=str(private_dir),
                project_dir=str(settings.PLAYBOOK_DIR),
                playbook=str(playbook),
                inventory=[str(path) for path in inventories] or str(settings.inventory_path()),
                ident=run_id,
                tags=tags,
                envvars={**envvars, **marker},
                timeout=timeout,
                event_handler=state.handle,
                status_handler=lambda _status, runner_config: run_guard.strip_command_env(
                    Path(runner_config.artifact_dir)
                ),
                quiet=True,
                rotate_artifacts=0,
            )
        finally:
            _end_ssh_masters(control_dir)
            _scrub(private_dir, private_dir / "artifacts" / run_id)
    why = f"the run timed out after {timeout} s" if runner.status == "timeout" else None
    state.finish(None, note=f"cut short: {why or 'the run ' + str(runner.status)}")
    _account_missing(state, why or f"the run {runner.status}")
    seconds = time.monotonic() - started
    log.info("%s: run %s ended %s (rc %s) in %.1f s", incident_id, run_id, runner.status,
             runner.rc, seconds)  # fmt: skip
    return RunResult(
        run_id,
        str(runner.status),
        runner.rc,
        state.done,
        seconds,
        private_dir / "artifacts" / run_id,
    )


def _account_missing(state: _RunState, why: str) -> None:
    reached = {result.step.number for result in state.done}
    for wanted in state.wanted:
        if wanted.number not in reached:
            stamp = now()
            result = StepResult(wanted, stamp, stamp, [], note=f"not reached: {why}")
            state.done.append(result)
            log.error("step %d (%s) not reached: %s", wanted.number, wanted.key, why)
            state.on_step(result)
