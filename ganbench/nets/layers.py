"""Small building blocks shared by the architectures."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.errors import GanbenchError


def d_layer(module: nn.Module, d_norm: str) -> nn.Module:
    """Wrap a discriminator layer with spectral norm when the recipe asks for it (Miyato et al. 2018)."""
    return spectral_norm(module) if d_norm == "spectral" else module


class DiscriminatorHead(nn.Module):
    """The adversarial output plus, for conditional models, the class signal.

    ``conditional``: "" (none), "ac" (auxiliary classifier logits, Odena et al. 2017) or
    "projection" (inner product of a class embedding with the features, Miyato & Koyama 2018).
    Returns ``(adv [B], class_logits [B, K] | None)``.
    """

    def __init__(self, features: int, num_classes: int, conditional: str, d_norm: str) -> None:
        super().__init__()
        self.conditional = conditional if num_classes else ""
        self.adv = d_layer(nn.Linear(features, 1), d_norm)
        if self.conditional == "ac":
            self.cls = d_layer(nn.Linear(features, num_classes), d_norm)
        elif self.conditional == "projection":
            self.embed = d_layer(nn.Embedding(num_classes, features), d_norm)
        elif self.conditional:
            raise ValueError(f"unknown conditioning {conditional!r}")

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        adv = self.adv(h).squeeze(1)
        if self.conditional == "ac":
            return adv, self.cls(h)
        if self.conditional == "projection":
            if y is None:
                raise ValueError("a projection discriminator needs labels")
            adv = adv + (self.embed(y) * h).sum(1)
        return adv, None


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN's N(0, 0.02) initialisation (Radford et al. 2015), BN weights N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = getattr(m, "parametrizations", None)
            weight = m.parametrizations.weight.original if w is not None and hasattr(w, "weight") else m.weight
            nn.init.normal_(weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


# Discriminator normalisations a recipe can ask for with ``d_norm``.
D_NORMS = ("batch", "layer", "none", "spectral")


def check_d_norm(d_norm: str, allowed: tuple[str, ...] = D_NORMS, arch: str = "this") -> None:
    if d_norm not in allowed:
        raise GanbenchError(f"{arch} discriminator: unknown d_norm {d_norm!r}; use one of {', '.join(allowed)}")


def d_norm2d(d_norm: str, channels: int) -> list[nn.Module]:
    """The normalisation layer after a discriminator conv: BatchNorm for "batch", a per-sample
    layer norm over (C, H, W) for "layer" (Gulrajani et al. 2017's suggestion for critics), else none."""
    if d_norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if d_norm == "layer":
        return [nn.GroupNorm(1, channels)]
    return []


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift come from a class embedding (de Vries et al. 2017; the
    conditional generators of Miyato & Koyama 2018). Scale initialised N(1, 0.02), shift 0, as mimicry."""

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.num_features = num_features
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.embed = nn.Embedding(num_classes, 2 * num_features)
        with torch.no_grad():
            self.embed.weight[:, :num_features].normal_(1.0, 0.02)
            self.embed.weight[:, num_features:].zero_()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.embed(y).view(-1, 2 * self.num_features, 1, 1).chunk(2, 1)
        return gamma * self.bn(x) + beta
