"""Time the health sweep at city scale against the raw tools, for N = 50, 200 and 500 sites.

Run as root: ``.venv/bin/python benchmarks/health_scale.py [--sizes 50 200 500]``.
It holds the shared lab lock (/run/lock/batiknet-lab.lock) while it runs,
rebuilds the lab with ``runbook lab up --sites MAX`` once, and sweeps the
first N scale sites of it (plus the lab's own devices) for each N. It leaves
the lab as it found it (up without scale sites, or down).

For each N it prints:

- sweep: ``runbook health --json`` as the timer runs it (Python and Ansible
  start-up included), and the peak RSS of that process and all its
  children together (and their PSS, which counts shared pages once),
  sampled from /proc every 100 ms; ``ru_maxrss`` of RUSAGE_CHILDREN is the
  largest single process;
- raw: the floor, the same probes with the bare tools in one plain script
  (a child process): one fping over every address the sweep pings, and the
  same SNMP polls with pysnmp (the three scalars, the interface columns side
  by side with GETBULK, the counters again after the same pause), all
  devices concurrently with the same bound on requests in flight;
- the ratio of the two, and the time per device.

Goals (issue 7): 500 devices under 30 s, time growing no worse than
linearly, under 300 MB for the runner and its children.
"""

import argparse
import asyncio
import fcntl
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from runbook_runner.lab import scale  # noqa: E402

RUNBOOK = Path(sys.executable).parent / "runbook"
LAB_LOCK = Path("/run/lock/batiknet-lab.lock")
LAB_DIR = Path(os.environ.get("BATIKNET_LAB_DIR") or "/run/batiknet-lab")
LAB_INVENTORY = REPO / "inventory" / "lab"
GOAL_SECONDS, GOAL_DEVICES, GOAL_MIB = 30.0, 500, 300
# The sweep's own settings (playbooks/health.yml, batiknet_snmp_poll).
POLL_INTERVAL = 1.0
SNMP_TIMEOUT, SNMP_RETRIES = 1.0, 1
FIRST_ROWS, MAX_ROWS, IN_FLIGHT = 4, 32, 64
SYSTEM = ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.3.0"]
IF_COLUMNS = [
    "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.7", "1.3.6.1.2.1.2.2.1.8",
    "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.15",
]  # fmt: skip
COUNTERS = [
    "1.3.6.1.2.1.2.2.1.13", "1.3.6.1.2.1.2.2.1.14",
    "1.3.6.1.2.1.2.2.1.19", "1.3.6.1.2.1.2.2.1.20",
]  # fmt: skip


# -- The floor: the raw tools in a plain script ----------------------------------------------


def lab_devices(count: int) -> list[dict[str, Any]]:
    """Return the network devices a sweep of the lab plus ``count`` scale sites polls."""
    hosts = yaml.safe_load((LAB_INVENTORY / "hosts.yml").read_text())["all"]["children"]
    groups = hosts["network_devices"]["children"]
    secret = {name: (LAB_DIR / "secrets" / name).read_text().strip() for name in (
        "snmp_community", "snmp_v3_user", "snmp_v3_auth_key", "snmp_v3_priv_key")}  # fmt: skip
    devices = [
        {"address": facts["ansible_host"], "v3": True, **secret}
        for facts in groups["core"]["hosts"].values()
    ]
    gateways = dict(groups["site_gateways"]["hosts"])
    scale_hosts = scale.inventory(count)["all"]["children"]["network_devices"]["children"]
    gateways.update(scale_hosts["site_gateways"]["hosts"])
    devices += [{"address": f["ansible_host"], "v3": False, **secret} for f in gateways.values()]
    return devices


def reach_addresses(devices: list[dict[str, Any]]) -> list[str]:
    """Return every address the sweep pings: the devices, servers, ISP edge, the Internet."""
    others = ["198.18.10.53", "198.18.10.54", "198.18.10.80", "198.18.9.2", "198.19.255.1"]
    return list(dict.fromkeys([d["address"] for d in devices] + others))


async def _raw_snmp(devices: list[dict[str, Any]]) -> int:
    from pysnmp.hlapi.v3arch import asyncio as snmp

    engine = snmp.SnmpEngine()
    limit = asyncio.Semaphore(IN_FLIGHT)

    def auth(device: dict[str, Any]) -> Any:
        if not device["v3"]:
            return snmp.CommunityData(device["snmp_community"], mpModel=1)
        return snmp.UsmUserData(
            device["snmp_v3_user"],
            authKey=device["snmp_v3_auth_key"],
            privKey=device["snmp_v3_priv_key"],
            authProtocol=snmp.USM_AUTH_HMAC96_SHA,
            privProtocol=snmp.USM_PRIV_CFB128_AES,
        )

    async def walk(credentials: Any, target: Any, columns: list[str]) -> bool:
        pending, rows = {c: c for c in columns}, FIRST_ROWS
        for _ in range(50):
            async with limit:
                error, status, _, binds = await snmp.bulk_cmd(
                    engine, credentials, target, snmp.ContextData(), 0, rows,
                    *(snmp.ObjectType(snmp.ObjectIdentity(o)) for o in pending.values()),
                    lookupMib=False,
                )  # fmt: skip
            if error or status:
                return False
            keys, last, ended = list(pending), {}, set()
            for position, (name, _value) in enumerate(binds):
                key = keys[position % len(keys)]
                if key not in ended and str(name).startswith(key + "."):
                    last[key] = str(name)
                else:
                    ended.add(key)
            pending = {k: last[k] for k in keys if k not in ended and k in last}
            rows = min(rows * 4, MAX_ROWS)
            if not pending:
                return True
        return True

    async def poll(device: dict[str, Any]) -> bool:
        target = await snmp.UdpTransportTarget.create(
            (device["address"], 161), timeout=SNMP_TIMEOUT, retries=SNMP_RETRIES
        )
        credentials = auth(device)
        async with limit:
            error, status, _, _ = await snmp.get_cmd(
                engine, credentials, target, snmp.ContextData(),
                *(snmp.ObjectType(snmp.ObjectIdentity(o)) for o in SYSTEM), lookupMib=False,
            )  # fmt: skip
        if error or status or not await walk(credentials, target, IF_COLUMNS + COUNTERS):
            return False
        await asyncio.sleep(POLL_INTERVAL)
        return await walk(credentials, target, COUNTERS)

    try:
        answered = await asyncio.gather(*(poll(device) for device in devices))
    finally:
        engine.close_dispatcher()
    return sum(answered)


async def _raw_fping(addresses: list[str]) -> int:
    process = await asyncio.create_subprocess_exec(
        "fping", "-q", "-c", "2", "-p", "20", "-t", "500", "-i", "1", *addresses,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    return sum(1 for line in stderr.decode().splitlines() if "/0%" in line)


async def _raw(count: int) -> dict[str, Any]:
    devices = lab_devices(count)
    addresses = reach_addresses(devices)
    started = time.monotonic()
    times: dict[str, float] = {}

    async def timed(name: str, job: Any) -> Any:
        result = await job
        times[name] = time.monotonic() - started
        return result

    answered, pinged = await asyncio.gather(
        timed("snmp", _raw_snmp(devices)), timed("fping", _raw_fping(addresses))
    )
    return {
        "devices": len(devices),
        "addresses": len(addresses),
        "snmp_answered": answered,
        "ping_answered": pinged,
        "snmp_s": times["snmp"],
        "fping_s": times["fping"],
        "floor_s": time.monotonic() - started,
    }


# -- The sweep, its memory, the lab ----------------------------------------------------------


def _tree_memory_kib(root: int) -> tuple[int, int]:
    """Return the summed RSS and PSS (KiB) of ``root`` and every process below it."""
    rss, pss, stack, seen = 0, 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return rss, pss


def measured(argv: list[str], env: dict[str, str]) -> tuple[float, tuple[int, int], str]:
    """Run ``argv``; return its wall time, the peak RSS and PSS (KiB) of its tree, its stdout."""
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            rss, pss = _tree_memory_kib(process.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate(timeout=600)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}):\n{stdout}{stderr}")
    return wall, (peak[0], peak[1]), stdout.decode()


def _runbook(*args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(RUNBOOK), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"runbook {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _scale_lab(count: int) -> dict[str, Any]:
    _runbook("lab", "down")
    started = time.monotonic()
    _runbook("lab", "up", "--sites", str(count))
    state = json.loads((LAB_DIR / "state.json").read_text())
    return {"seconds": time.monotonic() - started, **state.get("scale_snmpd_kib", {})}


def bench(sizes: list[int], work: Path) -> list[dict[str, Any]]:
    """Sweep and measure the floor for each size on a lab with ``max(sizes)`` scale sites."""
    lab = _scale_lab(max(sizes))
    print(
        f"lab up --sites {max(sizes)}: {lab['seconds']:.1f} s; the scale snmpd use"
        f" {lab.get('rss', 0) // 1024} MiB RSS, {lab.get('pss', 0) // 1024} MiB PSS"
    )
    rows = []
    for count in sizes:
        inventory = scale.write_inventory(work / f"scale-{count}.yml", count)
        env = {**os.environ, "RUNBOOK_DATA_DIR": str(work / f"data-{count}")}
        argv = [str(RUNBOOK), "health", "--json", "-i", str(LAB_INVENTORY), "-i", str(inventory)]
        wall, peak, stdout = measured(argv, env)
        summary = json.loads(stdout)
        raw_argv = [sys.executable, __file__, "--raw", str(count)]
        raw_wall, raw_peak, raw_out = measured(raw_argv, dict(os.environ))
        raw = json.loads(raw_out)
        rows.append(
            {
                "sites": count,
                "devices": raw["devices"],
                "sweep_s": wall,
                "sweep_reported_s": summary["seconds"],
                "complete": summary["complete"],
                "sites_ok": summary["sites"]["ok"] + summary["sites"]["degraded"],
                "sites_total": summary["sites"]["total"],
                "peak_mib": peak[0] / 1024,
                "peak_pss_mib": peak[1] / 1024,
                "raw": raw,
                "raw_wall_s": raw_wall,
                "raw_peak_mib": raw_peak[0] / 1024,
            }
        )
    return rows


def report(rows: list[dict[str, Any]]) -> bool:
    """Print the table and the verdict on the goals; return whether they are met."""
    print(
        f"{'sites':>5} {'devices':>7} {'sweep':>7} {'per dev':>8} {'raw fping':>9}"
        f" {'raw snmp':>8} {'floor':>6} {'ratio':>5} {'peak RSS':>8} {'PSS':>8} {'working':>9}"
    )
    for row in rows:
        raw = row["raw"]
        print(
            f"{row['sites']:>5} {row['devices']:>7} {row['sweep_s']:>6.1f}s"
            f" {1000 * row['sweep_s'] / row['devices']:>6.1f}ms {raw['fping_s']:>8.1f}s"
            f" {raw['snmp_s']:>7.1f}s {raw['floor_s']:>5.1f}s"
            f" {row['sweep_s'] / raw['floor_s']:>5.1f} {row['peak_mib']:>6.0f}MB"
            f" {row['peak_pss_mib']:>6.0f}MB"
            f" {row['sites_ok']:>4}/{row['sites_total']:<4}"
        )
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"largest single child process (ru_maxrss): {children:.0f} MB")
    first, last = rows[0], rows[-1]
    growth = (last["sweep_s"] / first["sweep_s"]) / (last["devices"] / first["devices"])
    print(
        f"growth {first['sites']} -> {last['sites']} sites: time x"
        f"{last['sweep_s'] / first['sweep_s']:.2f} for devices x"
        f"{last['devices'] / first['devices']:.2f} (<= 1 is linear or better: {growth:.2f})"
    )
    at_goal = [row for row in rows if row["devices"] >= GOAL_DEVICES]
    fast = all(row["sweep_s"] < GOAL_SECONDS for row in at_goal) and bool(at_goal)
    small = all(row["peak_mib"] < GOAL_MIB for row in rows)
    complete = all(row["complete"] and row["sites_ok"] == row["sites_total"] for row in rows)
    print(
        f"goals: {GOAL_DEVICES}+ devices under {GOAL_SECONDS:.0f} s: {'ok' if fast else 'MISSED'};"
        f" linear growth: {'ok' if growth <= 1.0 else 'MISSED'};"
        f" memory under {GOAL_MIB} MB: {'ok' if small else 'MISSED'};"
        f" every site working: {'ok' if complete else 'MISSED'}"
    )
    return fast and small and complete and growth <= 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--raw", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw is not None:
        print(json.dumps(asyncio.run(_raw(args.raw))))
        return 0
    with LAB_LOCK.open("a") as lock, tempfile.TemporaryDirectory(prefix="bn-health-") as work:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        was_up = json.loads(_runbook("lab", "status", "--json"))["up"]
        try:
            rows = bench(sorted(args.sizes), Path(work))
        finally:
            _runbook("lab", "down")
            if was_up:
                _runbook("lab", "up")
    return 0 if report(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
