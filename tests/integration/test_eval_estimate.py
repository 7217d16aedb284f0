"""`ganbench eval` says how long it will take before it starts, and picks -n by the device."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.errors import GanbenchError
from ganbench.estimate import CPU_DEFAULT_N, eval_estimate, fmt_duration, run_estimate

from cli_fakes import (  # tests/ is on sys.path (rootdir conftest)
    register_pixel_extractor,
    run_cli,
)

EXT = register_pixel_extractor("test-pixels-estimate", pool=4)


@pytest.fixture()
def checkpoint(tmp_path):
    from ganbench.training.run import seed_loop

    cfg = RunConfig(model="dcgan", dataset="digits32", budget="smoke", out_dir=tmp_path / "runs", progress=False,
                    recipe_overrides={"arch": {"image": {"width": 8, "z_dim": 12}}})
    return seed_loop(cfg).save()[0]


def _stop_at_work(monkeypatch) -> dict:
    """Replace the evaluation itself: it records its arguments and stops the command there."""
    seen: dict = {}

    def work(fake, ref, options):
        seen.update(n=options.n_gen)
        raise GanbenchError("the evaluation started here")

    monkeypatch.setattr("ganbench.evaluation.target.evaluate", work)
    return seen


def test_eval_prints_an_estimate_before_the_work(checkpoint, capsys, monkeypatch):
    seen = _stop_at_work(monkeypatch)
    code, _, err = run_cli(capsys, "eval", checkpoint, "--features", EXT, "--device", "cpu")
    assert code != 0 and "the evaluation started here" in err
    est = err.index("estimate: about")
    assert est < err.index("the evaluation started here")
    line = err[est:].splitlines()[0]
    assert f"for {CPU_DEFAULT_N} generated + 1497 real images" in line  # digits32 has 1497 training images
    assert "on this CPU" in line and "-n 10000 takes about" in line
    # On a CPU the default count is the stated smaller one.
    assert f"on a CPU -n defaults to {CPU_DEFAULT_N}" in err and seen["n"] == CPU_DEFAULT_N


def test_explicit_n_is_kept_and_quiet_skips_the_probe(checkpoint, capsys, monkeypatch):
    seen = _stop_at_work(monkeypatch)
    _, _, err = run_cli(capsys, "eval", checkpoint, "--features", EXT, "--device", "cpu", "-n", 50)
    assert seen["n"] == 50 and "for 50 generated + 50 real images" in err and "defaults to" not in err
    assert f"-n {CPU_DEFAULT_N} takes" in err
    _, _, err = run_cli(capsys, "eval", checkpoint, "--features", EXT, "--device", "cpu", "-n", 50, "-q")
    assert "estimate" not in err


def test_estimate_scales_with_the_counts():
    one = eval_estimate(1000, 1000, 0.1, 0.0, torch.device("cpu"))
    assert "about 3 min" in one  # 2000 images x 0.1 s
    gpu = eval_estimate(10_000, 10_000, 0.001, 0.001, "cuda:0", alt_n=2000)
    assert "on this GPU" in gpu and "about 30 s" in gpu and "-n 2000 takes about 6 s" in gpu


@pytest.mark.parametrize("s, text", [(3, "about 3 s"), (42, "about 40 s"), (600, "about 10 min"),
                                     (7300, "about 2 h"), (9000, "about 2 h 30 min")])
def test_fmt_duration(s, text):
    assert fmt_duration(s) == text


def test_run_prints_an_estimate_before_training(tmp_path, monkeypatch, capsys):
    calls: list[str] = []

    def suite(*args, **kw):
        calls.append("suite")
        raise GanbenchError("training started here")

    monkeypatch.setattr("ganbench.sweep.grid.run_grid", suite)
    code, _, err = run_cli(capsys, "run", "--models", "gan", "--dataset", "ring", "--seeds", "0,1",
                           "--out", tmp_path / "r", "--workers", "2")
    assert calls == ["suite"] and code != 0
    est = err.index("estimate: about")
    assert est < err.index("training started here")
    line = err[est:].splitlines()[0]
    assert "for 2 run(s) in 1 task(s), 1 at a time" in line and "--budget smoke trains in about" in line


def _plan(cfgs):
    from ganbench.sweep.plan import build_plan

    return build_plan(cfgs)


def test_run_estimate_probes_each_task_as_the_suite_trains_it(tmp_path):
    """The estimate probes each (model, dataset) the way its tasks train it: the stacked group of a
    stackable method (one task), one seed times the seeds of one that is not (a task per seed)."""

    base = RunConfig(model="unrolled", dataset="ring", budget="smoke", out_dir=tmp_path)
    cfgs = [dataclasses.replace(base, model=m, seed=s) for m in ("unrolled", "gan", "sngan") for s in (0, 1, 2)]
    line = run_estimate(_plan(cfgs), 2)
    assert "for 9 run(s) in 5 task(s), 2 at a time" in line  # sngan (spectral norm) trains one seed per task
    assert not list(tmp_path.iterdir())  # the probe writes nothing


def test_the_estimate_averages_a_critic_schedule_over_the_budget():
    """WGAN's 100 critic steps per generator step for the first 25 (then 5) must not make the whole
    budget look 100/5 times longer: the probe times the first steps and scales by the schedule."""
    from ganbench.estimate import _schedule_scale

    wgan = RunConfig(model="wgan", dataset="ring", budget="paper").recipe()
    assert wgan.n_dis_at(0) > wgan.n_dis  # the schedule this test is about
    scale = _schedule_scale(wgan, 100_000)
    assert 0.05 < scale < 0.2  # about (1 + ~5.3) / (1 + 100)
    gan = RunConfig(model="gan", dataset="ring", budget="paper").recipe()
    assert _schedule_scale(gan, 100_000) == 1.0


def test_a_resume_estimates_only_the_tasks_not_done(tmp_path):
    """On --resume, a task whose seeds are all done under its id (what the suite skips) is not timed
    again: the line says how many runs are done and times the rest; with none left it says so."""
    from ganbench.sweep.state import write_state

    base = RunConfig(model="gan", dataset="ring", budget="smoke", out_dir=tmp_path, resume=True)
    cfgs = [dataclasses.replace(base, model=m, seed=s) for m in ("gan", "lsgan") for s in (0, 1)]

    plan = _plan(cfgs)

    def finish(task):
        for c in plan.configs(task.index):
            write_state(c.layout().root, state="done", id=task.id, seed=c.seed)
            c.layout().records.write_text("")

    gan_task, lsgan_task = plan.tasks
    finish(gan_task)
    line = run_estimate(plan, 2, resume=True)
    assert "2 of 4 run(s) already done (--resume)" in line and "for 2 run(s) in 1 task(s)" in line
    assert "for 4 run(s)" in run_estimate(plan, 2)  # a fresh run times everything
    lsgan0 = plan.configs(lsgan_task.index)[0]
    write_state(lsgan0.layout().root, state="done", id="another-plan", seed=0)  # stale id: not done
    lsgan0.layout().records.write_text("")
    assert "2 of 4 run(s) already done" in run_estimate(plan, 2, resume=True)
    finish(lsgan_task)
    assert run_estimate(plan, 2, resume=True) == "all 4 run(s) already done; nothing to train (--resume)"
