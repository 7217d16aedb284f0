"""`--executor slurm`: a job array through submitit, on its local executor (always) and on a real
one-node Slurm (slurmctld + slurmd on localhost, .ci/slurm-localhost.sh) where one is running."""

import os
import shutil
import subprocess
import time

import pytest
from conftest import CMD, GRID, GRID_STEPS, cli_env, metrics_by_key, running_task

from ganbench.sweep.state import read_state

submitit = pytest.importorskip("submitit", reason="the 'slurm' extra is not installed (pip install 'ganbench[slurm]')")


def _run_and_preempt(out, extra, deadline_s=600):
    """Start the grid, send the first task caught mid-run Slurm's time-out signal, wait for the end."""
    from submitit.local.local import LocalJobEnvironment

    driver = subprocess.Popen(CMD + ["run", *GRID, "--executor", "slurm", *extra, "--out", str(out)],
                              env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    preempted = None
    deadline = time.time() + deadline_s
    while preempted is None and time.time() < deadline and driver.poll() is None:
        found = running_task(out, min_step=5, max_step=GRID_STEPS - 10)
        if found:
            state, step, seed_dir = found
            # SIGUSR2 is what Slurm sends before a time-out (submitit's --signal), and what the local
            # executor forwards: the job checkpoints its call and is requeued.
            os.kill(state["pid"], LocalJobEnvironment._usr_sig())
            preempted = (seed_dir, step)
        time.sleep(0.05)
    _, stderr = driver.communicate(timeout=deadline_s)
    assert driver.returncode == 0, stderr[-3000:]
    return preempted


@pytest.mark.slow
def test_slurm_executor_through_submitits_local_executor(local_grid, tmp_path):
    out = tmp_path / "slurm-local"
    preempted = _run_and_preempt(out, ["--slurm-cluster", "local"])
    assert preempted, "no task was caught mid-run, so nothing was preempted"
    assert metrics_by_key(out) == metrics_by_key(local_grid)
    state = read_state(preempted[0])
    assert state["state"] == "done" and state["attempt"] == 2, "requeued once, resumed from the checkpoint"
    assert list((out / "slurm").rglob("*_log.err")), "submitit keeps each job's logs in <out>/slurm"


def _slurm_running() -> str | None:
    if not shutil.which("sbatch"):
        return "no Slurm here (sbatch not found); .ci/slurm-localhost.sh starts a one-node cluster"
    r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or not r.stdout.strip():
        return f"Slurm is installed but no controller answers (sinfo: {r.stderr.strip()[:200]})"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_slurm_running() is not None, reason=str(_slurm_running()))
def test_real_slurm_job_array_equals_local(local_grid, tmp_path):
    out = tmp_path / "slurm"
    preempted = _run_and_preempt(out, ["--slurm-partition", "debug", "--slurm-time", "30",
                                       "--slurm-parallelism", "2"])
    assert preempted, "no task was caught mid-run, so nothing was preempted"
    assert metrics_by_key(out) == metrics_by_key(local_grid)
    state = read_state(preempted[0])
    assert state["state"] == "done" and state["attempt"] == 2, "requeued by Slurm, resumed from the checkpoint"
