import math

import pytest
import torch
from torch import nn

import ganbench.losses  # noqa: F401  (registers the objectives)
from ganbench.registry import OBJECTIVES
from ganbench.training.method import gradient_penalty
from ganbench.training.players import SingleSeed

Z = torch.zeros(4)


def test_gan_objectives_at_zero_logits():
    # D(x) = 1/2 everywhere: each BCE term is log 2.
    assert OBJECTIVES.get("ns").d_loss(Z, Z).item() == pytest.approx(2 * math.log(2))
    assert OBJECTIVES.get("ns").g_loss(Z).item() == pytest.approx(math.log(2))
    assert OBJECTIVES.get("mm").g_loss(Z).item() == pytest.approx(-math.log(2))


def test_minimax_saturates_where_non_saturating_does_not():
    # When D confidently rejects fakes, the minimax G loss has a vanishing gradient.
    fake = torch.full((4,), -10.0, requires_grad=True)
    OBJECTIVES.get("mm").g_loss(fake).backward()
    g_mm = fake.grad.abs().max().item()
    fake.grad = None
    OBJECTIVES.get("ns").g_loss(fake).backward()
    assert g_mm < 1e-3 < fake.grad.abs().max().item()


def test_ls_hinge_wasserstein():
    one = torch.ones(4)
    assert OBJECTIVES.get("ls").d_loss(one, Z).item() == 0.0
    assert OBJECTIVES.get("hinge").d_loss(one, -one).item() == 0.0
    assert OBJECTIVES.get("wasserstein").d_loss(one, Z).item() == -1.0


def _players(d_net):
    """SingleSeed players around a critic, without building the recipe's networks."""
    from ganbench.config import RunConfig
    from ganbench.data import get_dataset
    from ganbench.data.stream import SeedStream
    from ganbench.training.method import Method

    cfg = RunConfig(model="wgan-gp", dataset="ring", budget="smoke")
    recipe, budget = cfg.run_recipe("vector")
    ds = get_dataset("ring")
    players = SingleSeed(recipe, budget, ds, 0, torch.device("cpu"), Method(recipe).networks)
    players.d_net = d_net
    players.stream = SeedStream(ds, 0, 2)
    return players


def test_gradient_penalty_is_zero_for_unit_gradient_critic():
    class Unit(nn.Module):
        def forward(self, x, y=None):
            return x[:, 0], None  # gradient norm exactly 1 everywhere

    x = torch.randn(8, 2)
    gp = gradient_penalty(_players(Unit()), x, torch.randn(8, 2), None)
    assert gp.item() == pytest.approx(0.0, abs=1e-12)


def test_clip_weights():
    m = nn.Linear(3, 3)
    nn.init.constant_(m.weight, 5.0)
    _players(m).clip_d(0.01)
    assert m.weight.abs().max().item() == pytest.approx(0.01)
