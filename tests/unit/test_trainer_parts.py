"""A loop is built from its parts (method, recipe, budget, dataset, players), and a resume that would
continue a run under another recipe fails with one line naming each recipe key that differs."""

import pytest
import torch

from ganbench.config import RunConfig, parse_overrides
from ganbench.data import get_dataset
from ganbench.errors import GanbenchError
from ganbench.training.loop import TrainLoop
from ganbench.training.method import Method
from ganbench.training.players import SingleSeed
from ganbench.training.run import seed_loop

BUDGET = {"steps": 12, "eval_every": 12, "checkpoint_every": 5}


def _cfg(out, resume=False, sets=()):
    return RunConfig(model="gan", dataset="grid", seed=3, budget="smoke", out_dir=out, progress=False,
                     resume=resume, budget_overrides=BUDGET, recipe_overrides=parse_overrides(list(sets)))


def test_a_loop_from_its_parts_is_the_task_runners_loop(tmp_path):
    cfg = _cfg(tmp_path)
    dataset = get_dataset("grid")
    recipe, budget = cfg.run_recipe(dataset.modality)
    method = Method(recipe)
    players = SingleSeed(recipe, budget, dataset, cfg.seed, torch.device("cpu"), method.networks)
    a, b = seed_loop(cfg), TrainLoop([cfg], method, recipe, budget, dataset, players)
    assert a.recipe.to_dict() == b.recipe.to_dict() and a.budget == b.budget
    assert a.identity(0) == b.identity(0)
    sa, sb = a.generator(0).state_dict(), b.generator(0).state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)  # the same seeded nets
    assert a.players.opt_g.param_groups[0]["lr"] == b.players.opt_g.param_groups[0]["lr"] == recipe.optimizer["lr_g"]


def test_resume_with_a_changed_set_names_the_key(tmp_path):
    first = seed_loop(_cfg(tmp_path))
    first.run(stop_at=6)  # a checkpoint at step 5
    old = first.recipe.optimizer["lr_g"]
    new = old * 2.5
    with pytest.raises(GanbenchError) as e:
        seed_loop(_cfg(tmp_path, resume=True, sets=[f"optimizer.lr_g={new}"]))
    msg = str(e.value)
    assert "\n" not in msg
    assert f"recipe differs in optimizer.lr_g: {old!r} -> {new!r}" in msg
    assert "optimizer.lr_d" not in msg and "budget" not in msg  # only what differs
    # the cpu sentence follows lr_g (config.vector_protocol), so it differs too: said, not spelt out
    assert "(and the protocol sentences written from them)" in msg
    # The same options resume.
    assert seed_loop(_cfg(tmp_path, resume=True)).run().step == 12


def test_resume_error_lists_every_differing_key():
    from pathlib import Path

    from ganbench.training.identity import check_resume_identity

    ck = {"run": {"model": "gan", "seed": 3, "budget": {"steps": 60}},
          "recipe": {"optimizer": {"lr_g": 2e-4, "betas": [0.5, 0.999]}, "n_dis": 1}}
    now = {"model": "gan", "seed": 4, "budget": {"steps": 60},
           "recipe": {"optimizer": {"lr_g": 5e-4, "betas": (0.5, 0.9)}, "n_dis": 1, "unroll": 5}}
    with pytest.raises(GanbenchError) as e:
        check_resume_identity(ck, Path("ck.pt"), now)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("ck.pt: cannot resume")
    assert "seed: 3 -> 4" in msg
    assert ("recipe differs in optimizer.betas: [0.5, 0.999] -> [0.5, 0.9], optimizer.lr_g: 0.0002 -> 0.0005, "
            "unroll: (absent) -> 5") in msg
    assert "budget" not in msg and "model" not in msg and "n_dis" not in msg
    check_resume_identity(ck, Path("ck.pt"), {**now, "seed": 3, "recipe": ck["recipe"]})  # the same: no error
