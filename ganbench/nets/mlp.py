"""MLP generator and discriminator for vector data (the mixtures of Gaussians)."""

from __future__ import annotations

import torch
from torch import nn

from ganbench.nets.layers import DiscriminatorHead, d_layer
from ganbench.registry import ARCHITECTURES


class MLPGenerator(nn.Module):
    def __init__(self, out_dim: int, z_dim: int = 16, hidden: int = 128, layers: int = 3,
                 num_classes: int = 0, **_: object) -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, (out_dim,)
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        dims = [z_dim] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*blocks, nn.Linear(dims[-1], out_dim))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional generator needs labels")
            z = z * self.embed(y)  # multiplicative conditioning, as BigGAN-style embeddings
        return self.net(z)


class MLPDiscriminator(nn.Module):
    def __init__(self, in_dim: int, hidden: int = 128, layers: int = 3, d_norm: str = "none",
                 num_classes: int = 0, conditional: str = "", **_: object) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [d_layer(nn.Linear(a, b), d_norm), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(dims[-1], num_classes, conditional, d_norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return self.head(self.body(x), y)


ARCHITECTURES.register("mlp", (MLPGenerator, MLPDiscriminator), help="MLP G and D for vector data")
