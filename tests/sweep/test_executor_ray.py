"""`--executor ray` on a real Ray cluster of separate processes (a head and a worker node started with
`ray start`): a worker process killed mid-task, and the records equal the local executor's."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CMD, GRID, GRID_SEEDS, GRID_STEPS, GRID_TASKS, cli_env, metrics_by_key, running_task

pytest.importorskip("ray", reason="the 'ray' extra is not installed (pip install 'ganbench[ray]')")
RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Ray 2.5x+ clusters authenticate with a token; every process of the test cluster (head, worker,
# driver) gets the same one, so nothing is read from or written to ~/.ray.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def _ray(*args, timeout=300):
    r = subprocess.run([RAY, *args], capture_output=True, text=True, timeout=timeout, env={**cli_env(), **RAY_ENV})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


@pytest.fixture
def ray_cluster():
    """A head node and one worker node, one CPU each, as separate processes; always stopped after."""
    address = f"127.0.0.1:{_free_port()}"
    try:
        _ray("start", "--head", "--node-ip-address=127.0.0.1", f"--port={address.split(':')[1]}", "--num-cpus=1",
             "--include-dashboard=false", "--disable-usage-stats")
        _ray("start", f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1")
        yield address
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120, env={**cli_env(), **RAY_ENV})


@pytest.mark.slow
def test_ray_grid_survives_a_killed_worker_and_equals_local(ray_cluster, local_grid, tmp_path):
    out = tmp_path / "ray"
    driver = subprocess.Popen(CMD + ["run", *GRID, "--executor", "ray", "--ray-address", ray_cluster,
                                     "--max-retries", "3", "--out", str(out)],
                              env={**cli_env(), **RAY_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.time() + 400
    while killed is None and time.time() < deadline and driver.poll() is None:
        found = running_task(out, min_step=5, max_step=GRID_STEPS - 10)
        if found:
            state, step, seed_dir = found
            os.kill(state["pid"], signal.SIGKILL)  # the Ray worker process running this task
            killed = (seed_dir, step)
        time.sleep(0.05)
    _, stderr = driver.communicate(timeout=600)
    assert killed, "no task was caught mid-run, so nothing was killed"
    assert driver.returncode == 0, stderr[-3000:]

    ray_metrics, local_metrics = metrics_by_key(out), metrics_by_key(local_grid)
    assert len(ray_metrics) == GRID_TASKS * GRID_SEEDS * 2  # 2 evaluations per seed
    assert ray_metrics == local_metrics
    from ganbench.sweep.state import read_state

    for seed_dir in killed[0].parent.glob("seed*"):  # every seed of the killed group was retried with it
        assert read_state(seed_dir)["attempt"] == 2, "the killed task was retried once, from its checkpoint"
    assert f"{GRID_TASKS} done" in subprocess.run(CMD + ["status", str(out)], capture_output=True, text=True,
                                      env=cli_env()).stdout
