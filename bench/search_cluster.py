"""`dwn-mcu search` on a two-node Ray cluster on this machine (issue 16): the same search with one worker
and with two, timed in one run, their trials compared.

The cluster: a head node and a second node, each a `ray start --block` process started here in its own
process group (RAY_AUTH_MODE=disabled, --node-ip-address 127.0.0.1, --num-cpus 1 each, a free loopback
port, its own --temp-dir), so this script stops exactly what it started (the groups, by their ids) and
nothing of another user's or another engineer's Ray. First the search runs on the head alone (one worker),
then the second node joins and the same search runs again (two workers); the trials must be identical
(trials.csv without its time and worker columns), and the ratio of the two wall times is the speed-up.

Ray 2.60 on Linux maps --node-ip-address 127.0.0.1 to the machine's external address, and serves there.
So the script runs itself in a network namespace of its own that holds only loopback (`unshare --net
--map-root-user`, then `ip link set lo up`): there 127.0.0.1 is the only address Ray can find, both nodes
serve on it, and nothing of the cluster is reachable from outside. Where the head still serves off
loopback, the script stops its nodes and says so.

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/search_cluster.py \\
        --dataset phoneme --trials 8 --batch 8 --epochs 3
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
REPO = Path(__file__).resolve().parents[1]
NETNS = "DWN_MCU_BENCH_LOOPBACK_NETNS"  # set in the namespace, so the script enters it once


def _enter_loopback_namespace(argv: list) -> None:
    """Replace this process (same pid, so a SIGTERM still reaches the script) by the script in a new user
    and network namespace whose only interface is loopback, brought up first."""
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"needs {' and '.join(missing)} (util-linux, iproute2) to keep the cluster on loopback")
    os.environ[NETNS] = "1"
    os.execvp("unshare", ["unshare", "--net", "--map-root-user", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
                          "sh", sys.executable, str(Path(__file__).resolve()), *argv])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": path, "RAY_USAGE_STATS_ENABLED": "0"}


def _start(args: list, log: Path) -> subprocess.Popen:
    """A `ray start --block` node in a new process group (its handle: the group id)."""
    with open(log, "wb") as fh:
        return subprocess.Popen([RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                                 "--disable-usage-stats", *args], env=_env(), stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    """End the node's whole process group: SIGTERM, then SIGKILL after 20 s."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            deadline = time.monotonic() + wait  # the group's other members (raylet, gcs) end too
            while time.monotonic() < deadline and _group_alive(proc.pid):
                time.sleep(0.2)
            if not _group_alive(proc.pid):
                return
        except subprocess.TimeoutExpired:
            continue


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def _wait_nodes(address: str, count: int, timeout: float = 90) -> set:
    """Wait until the cluster has `count` live nodes; the addresses they serve on."""
    code = (f"import ray,time,sys\nray.init(address='{address}',logging_level='ERROR')\n"
            f"t=time.time()\nwhile sum(n['Alive'] for n in ray.nodes())<{count} and time.time()-t<{timeout}:\n"
            f"    time.sleep(0.5)\nprint(' '.join(n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']))\n"
            f"sys.exit(0 if sum(n['Alive'] for n in ray.nodes())>={count} else 1)\n")
    deadline = time.monotonic() + timeout
    while (done := subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                                  text=True)).returncode:
        if time.monotonic() > deadline:
            raise SystemExit(f"the cluster at {address} did not reach {count} nodes")
        time.sleep(1)
    return set(done.stdout.split())


def _search(args, address: str, out: Path) -> float:
    cmd = [sys.executable, "-m", "dwn_mcu", "search", "--dataset", args.dataset, "--board", args.board,
           "--trials", str(args.trials), "--batch", str(args.batch), "--epochs", str(args.epochs),
           "--address", address, "--quiet", "-o", str(out)]
    t0 = time.monotonic()
    subprocess.run(cmd, env=_env(), check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def _trials(out: Path) -> list:
    rows = list(csv.DictReader(io.StringIO((out / "trials.csv").read_text())))
    return [{k: v for k, v in r.items() if k not in ("seconds", "cpu_seconds", "worker")} for r in rows]


def _sums(out: Path) -> tuple:
    """(sum of the trials' wall seconds, sum of their CPU seconds): CPU over wall below 1 is a worker
    waiting for a core (other jobs on the machine)."""
    rows = list(csv.DictReader(io.StringIO((out / "trials.csv").read_text())))
    return sum(float(r["seconds"]) for r in rows), sum(float(r["cpu_seconds"]) for r in rows)


def _workers(out: Path) -> set:
    return {r["worker"].split("/")[0] for r in csv.DictReader(io.StringIO((out / "trials.csv").read_text()))}


def run(args) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dwn-search-bench-"))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes = []
    try:
        nodes.append(_start(["--head", "--port", str(port), "--include-dashboard", "false",
                             "--temp-dir", str(tmp / "ray")], tmp / "head.log"))
        # the namespace should leave Ray no address but loopback; refuse rather than serve anywhere else
        served = _wait_nodes(address, 1)
        if not all(a.startswith("127.") for a in served):
            raise SystemExit(f"the head serves on {', '.join(sorted(served))}, not on loopback: this Ray maps "
                             "--node-ip-address 127.0.0.1 to the external interface; not run")
        one = _search(args, address, tmp / "one")
        nodes.append(_start(["--address", address], tmp / "node2.log"))
        _wait_nodes(address, 2)
        two = _search(args, address, tmp / "two")
    finally:
        for node in reversed(nodes):
            _stop(node)
    same = _trials(tmp / "one") == _trials(tmp / "two")
    load = os.getloadavg()
    print(f"dataset {args.dataset}, board {args.board}, {args.trials} trials per family (dwn, xgboost), batch "
          f"{args.batch}, {args.epochs} epochs; {len(_trials(tmp / 'one'))} trials")
    for label, wall, d in (("1 worker ", one, "one"), ("2 workers", two, "two")):
        trial_wall, trial_cpu = _sums(tmp / d)
        print(f"{label}: {wall:.1f} s (nodes used {len(_workers(tmp / d))}); trials' wall {trial_wall:.1f} s, "
              f"trials' CPU {trial_cpu:.1f} s")
    print(f"speed-up : {one / two:.2f}x; identical trials: {'yes' if same else 'NO'}")
    print(f"load average after the run (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} CPUs")
    print(f"outputs  : {tmp}")
    if not same:
        raise SystemExit(1)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="phoneme")
    p.add_argument("--board", default="nano")
    p.add_argument("--trials", type=int, default=8, help="trials per family")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    if os.environ.get(NETNS) != "1":
        _enter_loopback_namespace(sys.argv[1:] if argv is None else list(argv))
    # a SIGTERM (a timeout, a scheduler) unwinds like Ctrl-C, so run()'s finally stops the nodes it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run(args)


if __name__ == "__main__":
    main()
