"""--set KEY=VALUE wins over a recipe's modality section ([vector.optimizer] etc.), never silently lost."""

from ganbench.config import load_recipe, parse_overrides


def test_set_optimizer_reaches_the_vector_recipe():
    base = load_recipe("gan")
    over = load_recipe("gan", parse_overrides(["optimizer.lr_g=0.00123"]))
    budget = base.budget("smoke", "vector")
    assert base.for_run("vector", budget).optimizer["lr_g"] != 0.00123
    assert over.for_run("vector", budget).optimizer["lr_g"] == 0.00123
    assert over.for_run("image", over.budget("smoke", "image")).optimizer["lr_g"] == 0.00123


def test_set_wins_over_the_budgets_own_recipe():
    """The cpu mixture budget sets its own widths and learning rate; --set still decides."""
    from ganbench.config import RunConfig

    over = parse_overrides(["arch.vector.d_hidden=200", "optimizer.lr_d=0.00077"])
    plain, _ = RunConfig(model="gan", dataset="grid", budget="cpu").run_recipe("vector")
    mine, _ = RunConfig(model="gan", dataset="grid", budget="cpu", recipe_overrides=over).run_recipe("vector")
    budget_says = RunConfig(model="gan", dataset="grid", budget="cpu").recipe().budget("cpu", "vector").recipe
    assert plain.arch["vector"]["d_hidden"] == budget_says["arch"]["vector"]["d_hidden"] != 200
    assert plain.optimizer["lr_d"] == budget_says["vector"]["optimizer"]["lr_d"] != 0.00077
    assert (mine.arch["vector"]["d_hidden"], mine.optimizer["lr_d"]) == (200, 0.00077)
    assert mine.optimizer["lr_g"] == plain.optimizer["lr_g"]  # what --set does not name stays the budget's


def test_a_key_only_a_budget_sets_can_be_set():
    """optimizer.decay_from exists only in the cpu mixture protocol; --set accepts and applies it."""
    from ganbench.config import RunConfig, check_overrides

    over = parse_overrides(["optimizer.decay_from=0.25"])
    check_overrides(over)
    mine, _ = RunConfig(model="gan", dataset="grid", budget="cpu", recipe_overrides=over).run_recipe("vector")
    assert mine.optimizer["decay_from"] == 0.25
