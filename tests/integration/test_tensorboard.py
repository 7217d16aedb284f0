"""A run writes TensorBoard event files: losses every few steps, every metric, samples, the recipe."""

from __future__ import annotations

import dataclasses

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ganbench.config import RunConfig
from ganbench.training.monitor import LOG_EVERY, TENSORBOARD_DIR
from ganbench.training.run import run_task


def _events(run_dir):
    ea = EventAccumulator(str(run_dir / TENSORBOARD_DIR), size_guidance={"images": 0, "scalars": 0})
    ea.Reload()
    return ea


@pytest.fixture()
def cfg(tmp_path):
    return RunConfig(model="gan", dataset="ring", seed=0, budget="smoke", out_dir=tmp_path, progress=False,
                     budget_overrides={"steps": 40, "eval_every": 20, "checkpoint_every": 20})


def test_smoke_run_writes_losses_metrics_samples_and_hparams(cfg):
    (out,) = run_task([cfg], threads=1)
    assert out.error is None, out.error
    ea = _events(cfg.run_dir())
    tags = ea.Tags()
    assert {"loss/d_loss", "loss/g_loss"} <= set(tags["scalars"])
    assert [e.step for e in ea.Scalars("loss/g_loss")] == list(range(LOG_EVERY, 41, LOG_EVERY))
    # Every metric of the evaluation records, at both evaluation steps.
    rec = next(r for r in out.records if r["step"] == 40)
    metrics = {k for k in rec["metrics"] if not k.startswith("train_")}
    assert metrics and {f"eval/{k}" for k in metrics} <= set(tags["scalars"])
    assert [e.step for e in ea.Scalars("eval/hq_share")] == [20, 40]
    assert ea.Scalars("eval/hq_share")[-1].value == pytest.approx(rec["metrics"]["hq_share"])
    imgs = ea.Images("samples")
    assert [i.step for i in imgs] == [20, 40] and imgs[0].width > 0 and imgs[0].encoded_image_string[:4] == b"\x89PNG"
    hp = ea.PluginTagToContent("hparams")
    assert hp and any(b"recipe.optimizer.lr_g" in v for v in hp.values())


def test_no_tensorboard_writes_nothing(cfg):
    cfg = dataclasses.replace(cfg, tensorboard=False, budget_overrides={"steps": 10, "eval_every": 10})
    (out,) = run_task([cfg], threads=1)
    assert out.error is None, out.error
    assert not (cfg.run_dir() / TENSORBOARD_DIR).exists()
