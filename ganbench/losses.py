"""GAN objectives: each a pair of small functions from discriminator outputs to (d_loss, g_loss).

The training step (ganbench.training.method) adds penalties and owns the update; the loop owns the
schedule (docs/design.md convention 7). Outputs are raw (pre-sigmoid) scores of shape [B], or
[S, B] for S stacked seeds: every mean is over the last axis, so stacked seeds get one loss each
(ganbench.training.players). A user's objective is an ``Objective`` a recipe names as
``package.module:NAME`` or an installed package registers (entry point group ``ganbench.objectives``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn.functional as F
from torch import Tensor

from ganbench.registry import OBJECTIVES


@dataclass(frozen=True)
class Objective:
    """The discriminator's and the generator's loss as functions of D's raw scores."""

    d_loss: Callable[[Tensor, Tensor], Tensor]  # (real_scores, fake_scores) -> mean over the last axis
    g_loss: Callable[[Tensor], Tensor]  # fake_scores -> mean over the last axis


def _bce_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.softplus(-real).mean(-1) + F.softplus(fake).mean(-1)  # -log D(x) - log(1 - D(G(z)))


# Registered in ganbench.registry.OBJECTIVES (a recipe's ``objective``), where their help lines are.
# Goodfellow et al. 2014: non-saturating G loss -log D(G(z)).
OBJECTIVES.register("ns", Objective(_bce_d, lambda fake: F.softplus(-fake).mean(-1)))
# The minimax objective: G minimises log(1 - D(G(z))) = -softplus(fake).
OBJECTIVES.register("mm", Objective(_bce_d, lambda fake: -F.softplus(fake).mean(-1)))
# Mao et al. 2017 with a=0, b=1, c=1 (docs/reference.md section 3); 1/2 factors as in the paper.
OBJECTIVES.register("ls", Objective(lambda real, fake: 0.5 * ((real - 1) ** 2).mean(-1) + 0.5 * (fake ** 2).mean(-1),
                                    lambda fake: 0.5 * ((fake - 1) ** 2).mean(-1)))
# Arjovsky et al. 2017: the critic maximises E[D(x)] - E[D(G(z))].
OBJECTIVES.register("wasserstein", Objective(lambda real, fake: fake.mean(-1) - real.mean(-1),
                                             lambda fake: -fake.mean(-1)))
# Lim & Ye 2017, Miyato et al. 2018.
OBJECTIVES.register("hinge", Objective(lambda real, fake: F.relu(1 - real).mean(-1) + F.relu(1 + fake).mean(-1),
                                       lambda fake: -fake.mean(-1)))


