"""GAN objectives as a dict of small functions, plus penalties.

Each objective maps discriminator outputs to (d_loss, g_loss) terms; the trainer owns the loop
(docs/design.md convention 7). Outputs are raw (pre-sigmoid) scores of shape [B], or [S, B] for S stacked seeds: every mean is
over the last axis, so stacked seeds get one loss each (ganbench.vectorised).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class Objective:
    d_loss: Callable[[Tensor, Tensor], Tensor]  # (real_scores, fake_scores) -> scalar
    g_loss: Callable[[Tensor], Tensor]  # fake_scores -> scalar


def _bce_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.softplus(-real).mean(-1) + F.softplus(fake).mean(-1)  # -log D(x) - log(1 - D(G(z)))


OBJECTIVES: dict[str, Objective] = {
    # Goodfellow et al. 2014: non-saturating G loss -log D(G(z)).
    "ns": Objective(_bce_d, lambda fake: F.softplus(-fake).mean(-1)),
    # The minimax objective: G minimises log(1 - D(G(z))) = -softplus(fake).
    "mm": Objective(_bce_d, lambda fake: -F.softplus(fake).mean(-1)),
    # Mao et al. 2017 with a=0, b=1, c=1 (docs/reference.md section 3); 1/2 factors as in the paper.
    "ls": Objective(lambda real, fake: 0.5 * ((real - 1) ** 2).mean(-1) + 0.5 * (fake ** 2).mean(-1),
                    lambda fake: 0.5 * ((fake - 1) ** 2).mean(-1)),
    # Arjovsky et al. 2017: the critic maximises E[D(x)] - E[D(G(z))].
    "wasserstein": Objective(lambda real, fake: fake.mean(-1) - real.mean(-1), lambda fake: -fake.mean(-1)),
    # Lim & Ye 2017, Miyato et al. 2018.
    "hinge": Objective(lambda real, fake: F.relu(1 - real).mean(-1) + F.relu(1 + fake).mean(-1),
                       lambda fake: -fake.mean(-1)),
}


def gradient_penalty(d: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None,
                     gen: torch.Generator) -> Tensor:
    """Gulrajani et al. 2017: (||grad D(x_hat)||_2 - 1)^2 on random interpolates."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=gen).to(real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    out, _ = d(x_hat, y)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean(-1)


@torch.no_grad()
def clip_weights(d: nn.Module, c: float) -> None:
    """WGAN's weight clipping to [-c, c] after every critic step (Arjovsky et al. 2017)."""
    for p in d.parameters():
        p.clamp_(-c, c)
