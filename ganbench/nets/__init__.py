"""Networks only: architectures register a (Generator, Discriminator) pair in ARCHITECTURES."""

from __future__ import annotations

from typing import Any

from torch import nn

from ganbench.nets import dcgan, mlp, resnet  # noqa: F401  (register "dcgan", "mlp", "resnet")
from ganbench.registry import ARCHITECTURES


def build_networks(arch: dict[str, Any], shape: tuple[int, ...], num_classes: int = 0,
                   conditional: str = "") -> tuple[nn.Module, nn.Module]:
    """Build G and D for data of ``shape`` from one modality's architecture section of a recipe.

    The section names the architectures; image architectures pick their layer plan from the image
    size (8, 28, 32 or 64 pixels) and fail with one line listing the sizes.
    """
    g_cls, _ = ARCHITECTURES.get(arch["generator"])
    _, d_cls = ARCHITECTURES.get(arch["discriminator"])
    opts = {k: v for k, v in arch.items() if k not in ("generator", "discriminator")}
    g_classes = num_classes if conditional else 0
    if len(shape) == 1:
        g = g_cls(out_dim=shape[0], num_classes=g_classes, **opts)
        d = d_cls(in_dim=shape[0], num_classes=g_classes, conditional=conditional, **opts)
    else:
        g = g_cls(out_shape=shape, num_classes=g_classes, **opts)
        d = d_cls(in_shape=shape, num_classes=g_classes, conditional=conditional, **opts)
    return g, d
