"""Stacked seeds (StackedSeeds) train each seed as one seed alone (SingleSeed) does, through the one loop."""

import dataclasses

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.generators.checkpoint import load_checkpoint
from ganbench.layout import CHECKPOINT
from ganbench.nets import build_networks
from ganbench.training.loop import _pending, settle_checkpoints
from ganbench.training.players import Stacked
from ganbench.training.run import TaskRun, run_task

STEPS = 6
BUDGET = {"steps": 12, "eval_every": 12, "checkpoint_every": 4}


def _cfg(tmp_path, model, seed=1, **kw):
    return RunConfig(model=model, dataset="grid", seed=seed, budget="smoke", out_dir=tmp_path, progress=False,
                     budget_overrides=BUDGET, **kw)


def _group(tmp_path, model, seeds, stack=True, **kw):
    cfgs = [_cfg(tmp_path, model, s, **kw) for s in seeds]
    return TaskRun(cfgs, stack=stack).resumed_loop()


def _samples(g, seed=123):
    z = torch.randn(500, g.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return g.eval()(z)


def test_stacked_forward_is_each_seeds_module():
    recipe, _ = RunConfig(model="pacgan2", dataset="grid", budget="paper").run_recipe("vector")
    mods = []
    for s in range(3):
        torch.manual_seed(s)
        mods.append(build_networks(recipe.arch["vector"], (2,)))
    g = Stacked([m[0] for m in mods], torch.device("cpu"))
    d = Stacked([m[1] for m in mods], torch.device("cpu"))
    z = torch.randn(3, 64, 2)
    x = torch.randn(3, 64, 4)  # two samples packed per D input
    for s, (gm, dm) in enumerate(mods):
        gm.train()
        assert torch.allclose(g.forward(z)[s], gm(z[s]), atol=1e-5)
        assert torch.allclose(d.forward(x)[s].squeeze(-1), dm(x[s].reshape(128, 2))[0], atol=1e-6)


@pytest.mark.parametrize("model", ["gan", "wgan-gp", "pacgan2", "unrolled"])
def test_stacked_equals_one_seed_alone(tmp_path, model):
    alone = _group(tmp_path / "a", model, [1], stack=False)
    group = _group(tmp_path / "b", model, [0, 1, 2])
    assert not alone.players.stacked and group.players.stacked
    for _ in range(STEPS):
        a, b = alone.train_step(), group.train_step()
        assert float(a["d_loss"]) == pytest.approx(float(b["d_loss"][1]), rel=1e-4, abs=1e-6)
        assert float(a["g_loss"]) == pytest.approx(float(b["g_loss"][1]), rel=1e-4, abs=1e-6)
    assert torch.allclose(_samples(alone.generator(0)), _samples(group.generator(1)), atol=1e-4)


def test_a_seed_does_not_depend_on_the_others_in_its_stack(tmp_path):
    alone = _group(tmp_path / "a", "gan", [1])
    shared = _group(tmp_path / "b", "gan", [4, 1, 7])
    for _ in range(STEPS):
        alone.train_step()
        shared.train_step()
    assert torch.allclose(_samples(alone.generator(0)), _samples(shared.generator(1)), atol=1e-6)


def test_interrupted_stacked_run_resumes_to_the_same_result(tmp_path):
    _group(tmp_path / "full", "pacgan2", [0, 1]).run()
    _group(tmp_path / "cut", "pacgan2", [0, 1]).run(stop_at=6)  # the last checkpoint is at step 4
    assert load_checkpoint(tmp_path / "cut" / "pacgan2" / "grid" / "seed1" / CHECKPOINT)["step"] == 4
    resumed = _group(tmp_path / "cut", "pacgan2", [0, 1], resume=True)
    assert resumed.step == 4
    resumed.run()
    for s in (0, 1):
        a = load_checkpoint(tmp_path / "full" / "pacgan2" / "grid" / f"seed{s}" / CHECKPOINT)
        b = load_checkpoint(tmp_path / "cut" / "pacgan2" / "grid" / f"seed{s}" / CHECKPOINT)
        assert a["step"] == b["step"] == 12
        for part in ("generator", "discriminator"):
            for k in a[part]:
                assert torch.equal(a[part][k], b[part][k]), f"seed {s} {part}.{k}"


def test_a_stacked_checkpoint_resumes_one_seed_alone(tmp_path):
    _group(tmp_path, "gan", [1]).run(stop_at=4)
    alone = _group(tmp_path, "gan", [1], stack=False, resume=True)
    assert alone.step == 4 and not alone.players.stacked


def test_unrolled_gan_trains_and_differs_from_gan(tmp_path):
    un = _group(tmp_path / "u", "unrolled", [0])
    gan = _group(tmp_path / "g", "gan", [0], recipe_overrides={"vector": {"update": "alternating"}})
    for _ in range(3):
        lu, _ = un.train_step(), gan.train_step()
        assert torch.isfinite(lu["g_loss"]).all()
    # the same D steps, but G's loss through 5 unrolled D updates moves G differently
    assert not torch.allclose(_samples(un.generator(0)), _samples(gan.generator(0)), atol=1e-6)


class _Recorder:
    """A Monitor that writes down what it is told."""

    def __init__(self):
        self.calls = []

    def start(self, view):
        self.calls.append(("start", view.cfg.seed, view.step, str(view.run_dir)))

    def step(self, step, losses):
        self.calls.append(("step", step, sorted(losses), float(losses["d_loss"])))

    def evaluating(self, step):
        self.calls.append(("evaluating", step))

    def evaluated(self, step, metrics, generator):
        self.calls.append(("evaluated", step, dict(metrics)))

    def close(self):
        self.calls.append(("close",))


@pytest.mark.parametrize("stack", [True, False])
def test_each_seed_reports_to_its_own_monitor(tmp_path, stack):
    """Progress and TensorBoard see every seed, stacked or alone, each with its own losses."""
    loops = [_group(tmp_path, "gan", [0, 1])] if stack else [_group(tmp_path, "gan", [s], stack=False) for s in (0, 1)]
    mons = [_Recorder(), _Recorder()]
    if stack:
        loops[0].run([lambda g, s=s: {"which": float(s)} for s in (0, 1)], {}, monitors=mons)
    else:
        for s, loop in enumerate(loops):
            loop.run([lambda g, s=s: {"which": float(s)}], {}, monitors=[mons[s]])
    for s, m in enumerate(mons):
        assert m.calls[0][:3] == ("start", s, 0) and m.calls[0][3].endswith(f"seed{s}")
        steps = [c for c in m.calls if c[0] == "step"]
        assert [c[1] for c in steps] == list(range(1, BUDGET["steps"] + 1))
        assert all(c[2] == ["d_loss", "g_loss"] for c in steps)
        assert ("evaluating", 12) in m.calls and ("evaluated", 12, {"which": float(s)}) in m.calls
        assert m.calls[-1] == ("close",)
    # each seed's own loss, not the stack's sum
    assert [c[3] for c in mons[0].calls if c[0] == "step"] != [c[3] for c in mons[1].calls if c[0] == "step"]


def test_a_stacked_task_writes_tensorboard_per_seed(tmp_path):
    cfgs = [dataclasses.replace(_cfg(tmp_path, "gan", s), tensorboard=True) for s in (0, 1)]
    assert not any(o.error for o in run_task(cfgs))
    for s in (0, 1):
        files = list((tmp_path / "gan" / "grid" / f"seed{s}" / "tensorboard").glob("events.out.tfevents.*"))
        assert files and files[0].stat().st_size > 0


@pytest.mark.parametrize("model", ["gan", "sngan"])
def test_stacked_and_single_seed_records_have_the_same_keys(tmp_path, model):
    """One record layout whichever players trained it: selection and vectorised_seeds included."""
    stacked = run_task([_cfg(tmp_path / "s", model, s) for s in (0, 1)])
    alone = run_task([_cfg(tmp_path / "a", model, 0)])
    assert not any(o.error for o in stacked + alone)
    a, b = stacked[0].records[-1], alone[0].records[-1]
    assert set(a) == set(b) and set(a["protocol"]) == set(b["protocol"]) and set(a["metrics"]) == set(b["metrics"])
    assert a["protocol"]["selection"] == b["protocol"]["selection"] == "final step"
    assert (a["protocol"]["vectorised_seeds"], b["protocol"]["vectorised_seeds"]) == ((2, 1) if model == "gan" else (1, 1))


def _steps(cfgs):
    return [int(load_checkpoint(c.run_dir() / CHECKPOINT)["step"]) for c in cfgs]


def test_a_kill_inside_a_group_checkpoint_never_leaves_seeds_at_different_steps(tmp_path):
    """TrainLoop.save commits all seeds at once: a kill before the renames rolls back, a kill
    between them rolls forward (settle_checkpoints), so a group always resumes as one stack."""
    import os

    group = _group(tmp_path, "gan", [0, 1])
    paths = [c.run_dir() / CHECKPOINT for c in group.cfgs]
    group.train_step()
    group.save()
    group.train_step()
    # killed while writing: seed 0's pending file exists, seed 1's does not yet
    torch.save(group.seed_checkpoint(0), _pending(paths[0]))
    settle_checkpoints(paths)
    assert _steps(group.cfgs) == [1, 1] and not _pending(paths[0]).exists()
    # killed between the renames: seed 0 renamed, seed 1 still pending
    for i in (0, 1):
        torch.save(group.seed_checkpoint(i), _pending(paths[i]))
    os.replace(_pending(paths[0]), paths[0])
    settle_checkpoints(paths)
    assert _steps(group.cfgs) == [2, 2] and not _pending(paths[1]).exists()
