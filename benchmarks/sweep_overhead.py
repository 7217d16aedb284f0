"""Overhead of `--executor ray` against the local pool on the smoke grid: CPU seconds and wall time.

    PYTHONPATH=. python benchmarks/sweep_overhead.py [--steps 80] [--out /tmp/sweep-overhead]

CPU is counted for every process either run starts, Ray's daemons and workers included: this
process makes itself the child subreaper (prctl PR_SET_CHILD_SUBREAPER), so the daemons that
`ray start` detaches are re-parented to it and their CPU lands in its RUSAGE_CHILDREN once reaped.
The Ray cluster (a head and one worker node, one CPU each, as in tests/sweep) is started before and
stopped after the timed driver; its start-up is reported apart.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
RAY = str(Path(sys.executable).parent / "ray")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _reap_all() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _timed(cmd: list[str], env: dict) -> tuple[float, float]:
    cpu0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, _children_cpu() - cpu0


def _tasks_cpu(out: Path) -> float:
    """CPU seconds the tasks themselves spent (task.json cpu_s): the work both executors share. Every
    seed of a stacked group holds its task's state, so each task id is counted once."""
    states = [json.loads(p.read_text()) for p in out.rglob("task.json")]
    return sum({s["id"]: s.get("cpu_s", 0.0) for s in states}.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--out", type=Path, default=Path("/tmp/sweep-overhead"))
    a = ap.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    shutil.rmtree(a.out, ignore_errors=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    # tests/sweep's grid: 3 models x 2 mixtures, seeds 0 and 1 stacked in each of the 6 tasks
    grid = [sys.executable, "-m", "ganbench.cli", "run", "--models", "gan,wgan-gp,lsgan", "--dataset", "grid,ring",
            "--seeds", "0,1", "--budget", "smoke", "--steps", str(a.steps), "--eval-every", str(a.steps // 2),
            "--quiet"]
    res = {}
    res["local_wall_s"], res["local_cpu_s"] = _timed(grid + ["--workers", "2", "--out", str(a.out / "local")], env)
    cpu0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run([RAY, "start", "--head", "--node-ip-address=127.0.0.1", "--port=6391", "--num-cpus=1",
                    "--include-dashboard=false", "--disable-usage-stats"], env=env, check=True, capture_output=True)
    subprocess.run([RAY, "start", "--address=127.0.0.1:6391", "--node-ip-address=127.0.0.1", "--num-cpus=1"],
                   env=env, check=True, capture_output=True)
    res["ray_cluster_start_wall_s"] = time.perf_counter() - t0
    try:
        res["ray_driver_wall_s"], _ = _timed(grid + ["--executor", "ray", "--ray-address", "127.0.0.1:6391",
                                                     "--out", str(a.out / "ray")], env)
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True)
        _reap_all()
    res["ray_cpu_s_all_processes"] = _children_cpu() - cpu0
    res["local_tasks_cpu_s"], res["ray_tasks_cpu_s"] = _tasks_cpu(a.out / "local"), _tasks_cpu(a.out / "ray")
    print(json.dumps({k: round(v, 1) for k, v in res.items()}, indent=1))


if __name__ == "__main__":
    main()
