"""The training loop on image baselines: a few steps of each, finite losses, exact resume, budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.config import RunConfig, load_recipe
from ganbench.data.base import ImageDataset
from ganbench.errors import GanbenchError
from ganbench.training.run import seed_loop

IMAGE_BASELINES = ["dcgan", "lsgan", "wgan", "wgan-gp", "sngan", "acgan", "cgan-pd"]
# Narrower nets keep each run under 2 s on 2 cores (after the first, which pays torch's one-time
# imports and kernel warm-up); the recipes' other settings are kept.
SMALL = {"arch": {"image": {"width": 16, "g_width": 16, "d_width": 16}}}


def tiny_images(shape=(1, 28, 28), n=64, num_classes=10, seed=0) -> ImageDataset:
    rng = np.random.default_rng(seed)
    return ImageDataset("tiny", rng.integers(0, 256, (n, *shape), dtype=np.uint8),
                        rng.integers(0, num_classes, n), num_classes=num_classes)


def make_cfg(model, tmp_path, steps=2, overrides=None, **budget) -> RunConfig:
    over = {**SMALL, **(overrides or {})}
    if model == "wgan":  # keep the 100-critic warm-up path but shorten it for the test
        over["n_dis_warmup"] = {"first": 1, "every": 0, "n_dis": 3}
    return RunConfig(model=model, dataset="tiny", budget="smoke", out_dir=tmp_path, progress=False,
                     recipe_overrides=over,
                     budget_overrides={"steps": steps, "batch_size": 8, "eval_every": 0,
                                       "checkpoint_every": steps, **budget})


@pytest.mark.parametrize("model", IMAGE_BASELINES)
def test_baseline_trains_a_few_steps(model, tmp_path):
    ds = tiny_images()
    cfg = make_cfg(model, tmp_path)
    loop = seed_loop(cfg, dataset=ds)
    g = loop.generator(0)
    g0 = {k: v.clone() for k, v in g.state_dict().items()}
    calls = []
    result = loop.run([lambda g: calls.append(g) or {"score": 1.0}])
    losses = loop.train_step()
    assert result.finished and result.step == 2 and len(calls) == 1
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert any(not torch.equal(g0[k], v) for k, v in g.state_dict().items())
    r = loop.recipe
    assert (g.num_classes == 10) == bool(r.conditional)
    assert g(torch.randn(2, g.z_dim), torch.tensor([0, 1]) if r.conditional else None).shape == (2, 1, 28, 28)
    assert cfg.layout().checkpoint.exists()


@pytest.mark.parametrize("model", ["acgan", "cgan-pd"])
def test_conditional_baselines_run_on_mixtures(model, tmp_path):
    cfg = RunConfig(model=model, dataset="ring", budget="smoke", out_dir=tmp_path, progress=False,
                    budget_overrides={"steps": 3, "batch_size": 32, "eval_every": 0})
    loop = seed_loop(cfg)
    loop.run()
    assert not loop.players.stacked  # class-conditional recipes train one seed at a time
    assert all(math.isfinite(v) for v in loop.train_step().values())
    assert loop.generator(0).num_classes == loop.dataset.num_classes > 0


def test_resume_is_exact_for_an_image_model(tmp_path):
    ds = tiny_images((3, 28, 28), n=32)

    def cfg(out, resume=False):
        c = make_cfg("dcgan", out, steps=6, checkpoint_every=3)
        c.resume = resume
        return c

    straight = seed_loop(cfg(tmp_path / "a"), dataset=ds)
    straight.run()
    first = seed_loop(cfg(tmp_path / "b"), dataset=ds)
    assert first.run(stop_at=3).step == 3
    second = seed_loop(cfg(tmp_path / "b", resume=True), dataset=ds)
    assert second.run().step == 6
    a, b = straight.generator(0).state_dict(), second.generator(0).state_dict()
    assert a.keys() == b.keys()
    for k in a:  # weights and BN running statistics, bit for bit
        assert torch.equal(a[k], b[k]), k
    for k, v in straight.players.d_net.state_dict().items():
        assert torch.equal(v, second.players.d_net.state_dict()[k]), k


def test_unsupported_image_size_is_a_clear_error(tmp_path):
    with pytest.raises(GanbenchError, match="support square images"):
        seed_loop(make_cfg("dcgan", tmp_path), dataset=tiny_images((3, 48, 48), n=4))


def test_unconditional_unlabelled_and_conditional_needs_labels(tmp_path):
    rng = np.random.default_rng(0)
    unlabelled = ImageDataset("tiny", rng.integers(0, 256, (16, 1, 28, 28), dtype=np.uint8))
    seed_loop(make_cfg("dcgan", tmp_path / "a", steps=1), dataset=unlabelled).run()
    with pytest.raises(GanbenchError, match="conditional"):
        seed_loop(make_cfg("acgan", tmp_path / "b"), dataset=unlabelled)


@pytest.mark.parametrize("model", IMAGE_BASELINES)
def test_image_budgets(model):
    r = load_recipe(model)
    smoke, cpu, paper = (r.budget(b, "image") for b in ("smoke", "cpu", "paper"))
    assert smoke.steps <= 10 and smoke.n_eval <= 64 and smoke.batch_size <= 16
    assert cpu.steps <= 1000 and cpu.n_eval <= 2000
    # docs/reference.md section 3: 100k generator steps; 50k samples as the registries report.
    assert paper.steps == 100_000 and paper.n_eval == 50_000 and paper.batch_size == 64
    assert paper.eval_steps()[-1] == 100_000


def test_canonical_image_settings():
    wgan, gp = load_recipe("wgan"), load_recipe("wgan-gp")
    assert wgan.optimizer["name"] == "rmsprop" and wgan.optimizer["lr_d"] == 5e-5
    assert wgan.penalty == {"clip": 0.01} and wgan.n_dis == 5
    assert gp.optimizer["betas"] == [0.5, 0.9] and gp.optimizer["lr_g"] == 1e-4 and gp.penalty == {"gp": 10.0}
    assert gp.arch["image"]["d_norm"] == "none" and gp.budget("cpu", "image").batch_size == 50
    ac, pd = load_recipe("acgan"), load_recipe("cgan-pd")
    assert ac.conditional == "ac" and ac.objective == "ns" and ac.optimizer["betas"] == [0.5, 0.999]
    assert pd.conditional == "projection" and pd.objective == "hinge" and pd.n_dis == 5
    assert pd.optimizer["betas"] == [0.0, 0.9] and pd.arch["image"]["generator"] == "resnet"
    assert pd.arch["image"]["d_norm"] == "spectral" and "mimicry" in pd.reference
