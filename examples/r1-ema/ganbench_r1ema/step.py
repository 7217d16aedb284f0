"""The R1 + EMA training step: ganbench's alternating step with two changes.

- D's loss adds R1 = reg_param * E_real ||grad_x D(x)||^2, the penalty on real data of Mescheder,
  Geiger & Nowozin 2018 ("Which Training Methods for GANs do actually Converge?", eq. 9, written there
  as gamma/2; LMescheder/GAN_stability gan_training/train.py: ``reg = self.reg_param *
  compute_grad2(d_real, x_real).mean()``, i.e. reg_param = gamma/2).
- After each G step, an exponential moving average of G's parameters (LMescheder/GAN_stability
  train.py ``update_average(generator_test, generator, beta)`` after every iteration; Yazici et al.
  2019), which evaluation uses; G's buffers (batch-norm statistics) are the live ones.

Written only with ganbench's ``Players`` operations, so the seeds of a run train stacked.
"""

from __future__ import annotations

import torch

from ganbench.training.method import AlternatingStep
from ganbench.training.players import Players


class R1EMAStep(AlternatingStep):
    """Alternating updates, R1 on real data in D's loss, an EMA of G for evaluation."""

    def check(self, players: Players) -> None:
        from ganbench.errors import GanbenchError

        p = self.recipe.params
        for key in ("r1", "ema_beta"):
            if not isinstance(p.get(key), (int, float)):
                raise GanbenchError(f"{self.recipe.name}: params.{key} must be a number (the recipe's [params] table)")
        if not 0.0 <= p["ema_beta"] < 1.0:
            raise GanbenchError(f"{self.recipe.name}: params.ema_beta must be in [0, 1), got {p['ema_beta']}")

    def start(self, players: Players) -> None:
        self.ema = {k: v.detach().clone() for k, v in players.g_params().items()}  # a resume replaces it

    def discriminator_loss(self, players, x_real, y_real, x_fake, y_fake):
        x_real = x_real.detach().requires_grad_(True)
        real, _ = players.d(x_real, y_real)
        fake, _ = players.d(x_fake, y_fake)
        (grad,) = torch.autograd.grad(real.sum(), x_real, create_graph=True)
        r1 = (players.example_norms(grad) ** 2).mean(-1)
        return self.objective.d_loss(real, fake) + self.recipe.params["r1"] * r1

    def generator_step(self, players: Players) -> torch.Tensor:
        loss = super().generator_step(players)
        beta = self.recipe.params["ema_beta"]
        with torch.no_grad():
            live = players.g_params()
            for k, v in self.ema.items():
                v.lerp_(live[k].detach(), 1.0 - beta)
        return loss

    def state(self, players: Players) -> dict[str, torch.Tensor]:
        return self.ema

    def load_state(self, players: Players, state: dict[str, torch.Tensor]) -> None:
        self.ema = {k: v.clone() for k, v in state.items()}

    def eval_state(self, players: Players) -> dict[str, torch.Tensor]:
        return {**players.g_state(), **self.ema}
