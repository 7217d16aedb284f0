"""A smoke grid of 6 mixture tasks (each a stacked group of 2 seeds) shared by the sweep tests, and
helpers to run the CLI."""

import os
import subprocess
import sys

import pytest

from ganbench.records import read_records

CMD = [sys.executable, "-m", "ganbench.cli"]
# 3 models x 2 mixtures, seeds 0 and 1 stacked in each task (6 tasks), 80 steps each (seconds per
# task), checkpoints every 5 steps so that a worker killed mid-task leaves something to resume from.
GRID = ["--models", "gan,wgan-gp,lsgan", "--dataset", "grid,ring", "--seeds", "0,1", "--budget", "smoke",
        "--steps", "80", "--eval-every", "40", "--checkpoint-every", "5", "--quiet"]
GRID_TASKS, GRID_SEEDS = 6, 2
GRID_STEPS = 80


def cli_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def run_cli(*args, timeout=600, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run(CMD + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=cli_env())
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def cli_inproc(capsys, *args) -> tuple[int, str, str]:
    """`ganbench ARGS` in this process (no interpreter start-up): exit code, stdout, stderr."""
    from ganbench.cli import main

    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def running_task(out, min_step=1, max_step=None):
    """(task.json state, checkpoint step, seed directory) of a task now running in ``out`` past its
    first checkpoint."""
    from ganbench.generators.checkpoint import load_checkpoint
    from ganbench.layout import CHECKPOINT
    from ganbench.sweep.state import read_state

    for state_file in out.rglob("task.json"):
        st = read_state(state_file.parent) or {}
        ck = state_file.parent / CHECKPOINT
        if st.get("state") != "running" or not ck.exists():
            continue
        try:
            step = load_checkpoint(ck)["step"]
        except Exception:  # being replaced right now
            continue
        if step >= min_step and (max_step is None or step < max_step):
            return st, step, state_file.parent
    return None


def metrics_by_key(path) -> dict:
    """(model, dataset, seed, step) -> metrics: what must agree to the last digit between executors."""
    return {(r.kind, r.model, r.dataset, r.seed, r.step): r.metrics for r in read_records([path])}


@pytest.fixture(scope="session")
def local_grid(tmp_path_factory):
    """The smoke grid run once with the local executor (two single-threaded workers)."""
    out = tmp_path_factory.mktemp("local") / "run"
    run_cli("run", *GRID, "--workers", "2", "--out", out)
    return out
