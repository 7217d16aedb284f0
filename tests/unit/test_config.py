import pytest

from ganbench.config import RunConfig, load_recipe, parse_overrides
from ganbench.errors import GanbenchError, UnknownNameError


def test_recipe_overrides_defaults_and_cli_overrides_recipe():
    r = load_recipe("wgan-gp")
    assert r.optimizer["lr_g"] == 1e-4 and r.optimizer["betas"] == [0.5, 0.9]  # recipe over defaults
    assert r.penalty == {"gp": 10.0} and r.n_dis == 5
    assert r.arch["vector"]["g_hidden"] == 400 and r.arch["vector"]["d_hidden"] == 200  # from _defaults.toml
    r2 = load_recipe("wgan-gp", parse_overrides(["optimizer.lr_g=3e-4", "n_dis=2"]))
    assert r2.optimizer["lr_g"] == 3e-4 and r2.n_dis == 2 and r2.optimizer["lr_d"] == 1e-4


def test_modality_section_and_budget_recipe_merge_over_the_recipe():
    cfg = RunConfig(model="wgan-gp", dataset="ring", budget="smoke")
    r = cfg.recipe()
    vec = r.for_run("vector", cfg.resolve_budget(r, "vector"))
    img = r.for_run("image", cfg.resolve_budget(r, "image"))
    assert vec.penalty == {"gp": 0.1} and img.penalty == {"gp": 10.0}  # gan_toy.py's lambda on mixtures only
    assert vec.arch["vector"]["g_hidden"] == 64  # the smoke budget's small nets
    gan = load_recipe("gan")
    paper = gan.for_run("vector", RunConfig(model="gan", dataset="ring", budget="paper").resolve_budget(gan, "vector"))
    assert paper.update == "simultaneous" and paper.optimizer["betas"] == [0.8, 0.999]
    assert gan.for_run("image", cfg.resolve_budget(gan, "image")).update == "alternating"


def test_canonical_wgan_recipe():
    r = load_recipe("wgan")
    assert r.optimizer["name"] == "rmsprop" and r.optimizer["lr_d"] == 5e-5
    assert r.penalty == {"clip": 0.01}
    # 100 critic steps for the first 25 generator steps and every 500th (docs/reference.md section 3)
    assert [r.n_dis_at(s) for s in (0, 24, 25, 499, 500, 501)] == [100, 100, 5, 5, 100, 5]


def test_budget_resolution_and_cli_budget_overrides():
    cfg = RunConfig(model="gan", dataset="ring", budget="smoke", budget_overrides={"steps": 30, "eval_every": 10})
    b = cfg.resolve_budget(cfg.recipe(), "vector")
    assert b.steps == 30 and b.eval_steps() == [10, 20, 30]
    with pytest.raises(UnknownNameError, match="did you mean 'smoke'"):
        RunConfig(model="gan", dataset="ring", budget="smok").resolve_budget(cfg.recipe(), "vector")


def test_eval_schedule_always_ends_at_the_last_step():
    cfg = RunConfig(model="gan", dataset="ring", budget="smoke", budget_overrides={"steps": 25, "eval_every": 10})
    assert cfg.resolve_budget(cfg.recipe(), "vector").eval_steps() == [10, 20, 25]


def test_bad_override_is_one_line_error():
    with pytest.raises(GanbenchError, match="KEY=VALUE"):
        parse_overrides(["lr"])
    with pytest.raises(GanbenchError, match="no such recipe key"):
        load_recipe("gan", {"not_a_field": 1})


def test_a_budget_can_give_a_dataset_its_own_step_count():
    """The cpu mixture protocol trains the grid longer than the ring (its curve converges later);
    a recipe's own count and the user's --steps still win."""
    from ganbench.config import RunConfig

    def steps(model, dataset, **over):
        cfg = RunConfig(model=model, dataset=dataset, budget="cpu", budget_overrides=over)
        return cfg.resolve_budget(cfg.recipe(), "vector").steps

    assert steps("gan", "grid") > steps("gan", "ring")
    assert steps("wgan-gp", "grid") == steps("wgan-gp", "ring")
    assert steps("gan", "grid", steps=77) == 77
