"""MLP generator and discriminators for vector data (the mixtures of Gaussians).

The PacGAN layout (Lin et al. 2018; fjxmlzn/PacGAN synthetic_data_experiments/*/pacgan_task.py):
G = Linear without bias + batch norm + ReLU hidden layers and a linear output with bias; D = maxout
layers and a linear head, fed ``pack`` samples concatenated into one input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from ganbench.nets.layers import DiscriminatorHead, d_layer
from ganbench.registry import ARCHITECTURES

# Blocks' BatchNormalization (used by PacGAN's code) keeps population statistics with the update
# m * 0.05 + p * 0.95 (pacgan_task.py, create_models) and epsilon 1e-4 (blocks.bricks.bn default).
BN_MOMENTUM, BN_EPS = 0.05, 1e-4


def init_pacgan(module: nn.Module, std: float) -> None:
    """Weights N(0, std), biases 0, batch-norm scale 1 and shift 0 (Blocks' IsotropicGaussian/Constant)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            w = getattr(m, "parametrizations", None)
            nn.init.normal_(w.weight.original if w is not None else m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@dataclass(frozen=True)
class MLPArch:
    """A recipe's ``[arch.vector]`` section: widths, depths, normalisation, packing and init.

    ``hidden``/``layers`` are both nets' defaults; ``g_*``/``d_*`` override them per net. A width of
    None means the net's own default (128 units, 200 for the maxout D, PacGAN's).
    """

    z_dim: int = 16
    hidden: int | None = None
    layers: int = 3
    g_hidden: int | None = None
    g_layers: int | None = None
    g_norm: str = "none"
    d_hidden: int | None = None
    d_layers: int | None = None
    d_norm: str = "none"
    pack: int = 1
    init_std: float = 0.0
    maxout_pieces: int = 5

    @classmethod
    def of(cls, section: dict[str, Any]) -> MLPArch:
        """From the section's keys; keys of other parts (the architecture names) are not ours."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in section.items() if k in names})

    def g_width(self) -> int:
        return self.g_hidden or self.hidden or 128

    def d_width(self, default: int = 128) -> int:
        return self.d_hidden or self.hidden or default


class MLPGenerator(nn.Module):
    """z -> ``g_layers`` hidden layers of ``g_hidden`` units -> out_dim.

    ``g_norm="batch"``: each hidden layer is Linear (no bias) + BatchNorm + ReLU, as PacGAN's G.
    ``section``: the recipe's architecture keys (``MLPArch``).
    """

    def __init__(self, out_dim: int, num_classes: int = 0, **section: Any) -> None:
        super().__init__()
        arch = MLPArch.of(section)
        z_dim = arch.z_dim
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, (out_dim,)
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        dims = [z_dim] + [arch.g_width()] * (arch.g_layers or arch.layers)
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            if arch.g_norm == "batch":
                blocks += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b, eps=BN_EPS, momentum=BN_MOMENTUM)]
            else:
                blocks += [nn.Linear(a, b)]
            blocks.append(nn.ReLU())
        self.net = nn.Sequential(*blocks, nn.Linear(dims[-1], out_dim))
        if arch.init_std:
            init_pacgan(self, arch.init_std)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional generator needs labels")
            z = z * self.embed(y)  # multiplicative conditioning, as BigGAN-style embeddings
        return self.net(z)


def packed(x: torch.Tensor, pack: int) -> torch.Tensor:
    """PacGAN's packing: m consecutive samples concatenated into one D input ([B*m, d] -> [B, m*d])."""
    return x if pack == 1 else x.reshape(x.shape[0] // pack, pack * x.shape[1])


class MLPDiscriminator(nn.Module):
    """``d_layers`` LeakyReLU layers of ``d_hidden`` units and a head, fed ``pack`` samples at once."""

    def __init__(self, in_dim: int, num_classes: int = 0, conditional: str = "", **section: Any) -> None:
        super().__init__()
        arch = MLPArch.of(section)
        self.pack = arch.pack
        dims = [in_dim * arch.pack] + [arch.d_width()] * (arch.d_layers or arch.layers)
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [d_layer(nn.Linear(a, b), arch.d_norm), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(dims[-1], num_classes, conditional, arch.d_norm)
        if arch.init_std:
            init_pacgan(self, arch.init_std)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return self.head(self.body(packed(x, self.pack)), y)


class Maxout(nn.Module):
    """Goodfellow et al. 2013 maxout: the max over ``pieces`` linear pieces (Blocks' LinearMaxout)."""

    def __init__(self, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.unflatten(-1, (-1, self.pieces)).amax(-1)


class MaxoutDiscriminator(MLPDiscriminator):
    """PacGAN's D: ``d_layers`` maxout layers of ``d_hidden`` units x ``maxout_pieces``, linear head."""

    def __init__(self, in_dim: int, num_classes: int = 0, conditional: str = "", **section: Any) -> None:
        arch = MLPArch.of(section)
        width = arch.d_width(default=200)
        # The parent builds a one-layer body (replaced below) and the head, uninitialised: the same
        # modules in the same order as before, so a seed gives the same weights.
        parent = dataclasses.replace(arch, hidden=width, d_hidden=None, layers=1, d_layers=1, init_std=0.0)
        super().__init__(in_dim, num_classes, conditional, **dataclasses.asdict(parent))
        dims = [in_dim * arch.pack] + [width] * (arch.d_layers or arch.layers)
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [d_layer(nn.Linear(a, b * arch.maxout_pieces), arch.d_norm), Maxout(arch.maxout_pieces)]
        self.body = nn.Sequential(*blocks)
        if arch.init_std:
            init_pacgan(self, arch.init_std)


ARCHITECTURES.register("mlp", (MLPGenerator, MLPDiscriminator), help="MLP G and D for vector data")
ARCHITECTURES.register("maxout", (MLPGenerator, MaxoutDiscriminator),
                       help="MLP G and maxout D for vector data (PacGAN, Lin et al. 2018)")
