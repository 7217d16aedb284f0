"""--set KEY=VALUE wins over a recipe's modality section ([vector.optimizer] etc.), never silently lost."""

from ganbench.config import load_recipe, parse_overrides


def test_set_optimizer_reaches_the_vector_recipe():
    base = load_recipe("gan")
    over = load_recipe("gan", parse_overrides(["optimizer.lr_g=0.00123"]))
    budget = base.budget("smoke", "vector")
    assert base.for_run("vector", budget).optimizer["lr_g"] != 0.00123
    assert over.for_run("vector", budget).optimizer["lr_g"] == 0.00123
    assert over.for_run("image", over.budget("smoke", "image")).optimizer["lr_g"] == 0.00123
