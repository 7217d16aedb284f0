"""A run interrupted mid-way and resumed ends exactly where an uninterrupted run ends."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.evaluation.training import make_evaluator
from ganbench.generators.checkpoint import load_checkpoint
from ganbench.layout import CHECKPOINT
from ganbench.records import read_records
from ganbench.training.run import seed_loop

BUDGET = {"steps": 60, "eval_every": 20, "checkpoint_every": 10}


# WGAN's critic schedule (100 steps early and every 500th) scaled down so that it still changes
# inside the interrupted stretch of the run, without 2,500 critic steps per run.
SCHEDULE = {"wgan": {"n_dis_warmup": {"first": 3, "every": 20, "n_dis": 10}}}


def _train(out: Path, model: str, stop_at=None, resume=False):
    cfg = RunConfig(model=model, dataset="grid", seed=3, budget="smoke", out_dir=out, progress=False,
                    resume=resume, budget_overrides=BUDGET, recipe_overrides=SCHEDULE.get(model, {}))
    loop = seed_loop(cfg, stack=False)
    ev = make_evaluator(loop.dataset, loop.budget, cfg.seed)
    loop.run([ev.evaluate], stop_at=stop_at)
    return loop


def _assert_same_state(a: dict, b: dict):
    for part in ("generator", "discriminator"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs"


@pytest.mark.parametrize("model", ["gan", "wgan-gp", "sngan", "wgan"])
def test_resume_equals_uninterrupted(tmp_path, model):
    full = _train(tmp_path / "full", model)
    _train(tmp_path / "cut", model, stop_at=35)  # interrupted: last checkpoint at step 30
    assert load_checkpoint(tmp_path / "cut" / model / "grid" / "seed3" / CHECKPOINT)["step"] == 30
    resumed = _train(tmp_path / "cut", model, resume=True)
    assert resumed.step == full.step == 60
    full_dir, resumed_dir = full.layouts[0].root, resumed.layouts[0].root
    _assert_same_state(load_checkpoint(full_dir / CHECKPOINT), load_checkpoint(resumed_dir / CHECKPOINT))
    a = {r.step: r.metrics for r in read_records([full_dir])}
    b = {r.step: r.metrics for r in read_records([resumed_dir])}
    assert a.keys() == b.keys() == {20, 40, 60}
    assert a[60] == b[60]


def test_killed_process_resumes_to_the_same_result(tmp_path):
    """SIGKILL a real `ganbench run` after its first checkpoint, resume it, compare with a clean run."""
    args = ["--models", "gan", "--dataset", "ring", "--budget", "smoke", "--seeds", "0", "--workers", "1",
            "--steps", "1500", "--eval-every", "500", "--checkpoint-every", "50", "--quiet"]
    cmd = [sys.executable, "-m", "ganbench.cli"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ck = tmp_path / "cut" / "gan" / "ring" / "seed0" / CHECKPOINT
    p = subprocess.Popen(cmd + ["run", *args, "--out", str(tmp_path / "cut")], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not ck.exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    step_at_kill = load_checkpoint(ck)["step"]
    assert 0 < step_at_kill < 1500, "the kill must land mid-way for this test to mean anything"

    subprocess.run(cmd + ["run", *args, "--out", str(tmp_path / "cut"), "--resume"], env=env, check=True,
                   capture_output=True)
    subprocess.run(cmd + ["run", *args, "--out", str(tmp_path / "full")], env=env, check=True, capture_output=True)
    a = load_checkpoint(tmp_path / "full" / "gan" / "ring" / "seed0" / CHECKPOINT)
    b = load_checkpoint(ck)
    assert a["step"] == b["step"] == 1500
    _assert_same_state(a, b)
    final = lambda d: {r.step: r.metrics for r in read_records([d])}[1500]
    assert final(tmp_path / "full") == final(tmp_path / "cut")


def test_existing_run_is_not_overwritten_without_resume(tmp_path):
    _train(tmp_path, "gan", stop_at=10)
    from ganbench.errors import GanbenchError
    with pytest.raises(GanbenchError, match="--resume"):
        _train(tmp_path, "gan")


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_resume_refuses_a_checkpoint_that_would_run_code(tmp_path):
    import pickle

    from ganbench.errors import GanbenchError

    run_dir = tmp_path / "gan" / "grid" / "seed3"
    run_dir.mkdir(parents=True)
    marker = tmp_path / "code-ran"
    with open(run_dir / CHECKPOINT, "wb") as f:
        pickle.dump({"generator": _Evil(marker)}, f)
    with pytest.raises(GanbenchError, match="not a safe checkpoint"):
        _train(tmp_path, "gan", resume=True)
    assert not marker.exists()
