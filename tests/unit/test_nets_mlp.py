"""The mixtures' networks are PacGAN's (fjxmlzn/PacGAN synthetic_data_experiments/*/pacgan_task.py)."""

import pytest
import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.nets import build_networks


@pytest.mark.parametrize("model,pack", [("gan", 1), ("pacgan4", 4)])
def test_pacgan_networks(model, pack):
    recipe, budget = RunConfig(model=model, dataset="ring", budget="paper").run_recipe("vector")
    torch.manual_seed(0)
    g, d = build_networks(recipe.arch["vector"], (2,))
    linears = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias is not None) for m in linears] == \
        [(2, 400, False), (400, 400, False), (400, 400, False), (400, 400, False), (400, 2, True)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in g.modules()) == 4
    # three maxout layers of 200 units x 5 pieces and a linear head: the count Blocks prints
    n_d = sum(p.numel() for p in d.parameters())
    assert n_d == (2 * pack * 1000 + 1000) + 2 * (200 * 1000 + 1000) + 201
    assert abs(float(linears[1].weight.detach().std()) - 0.02) < 0.001 and float(d.head.adv.bias.detach().abs().max()) == 0
    assert recipe.optimizer["lr_g"] == 1e-4 and recipe.optimizer["betas"][0] == 0.8 and recipe.update == "simultaneous"
    assert (budget.steps, budget.batch_size, budget.train_size) == (400_000, 100, 100_000)
    x = torch.randn(100 * pack, 2)
    assert d(x)[0].shape == (100,)  # pack samples per D input
