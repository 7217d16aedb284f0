"""ResNet G and D of SNGAN / cGAN-PD (Miyato et al. 2018, Miyato & Koyama 2018), as in mimicry's
32x32 models: G with ``g_width`` (256) channels, a 4x4 start and 3 up-blocks (bilinear x2), BN + ReLU,
conditional BN when conditional; D with ``d_width`` (128) channels, an optimized first block, one
more downsampling block, two plain blocks, ReLU and global sum pooling, spectral norm by default.

28x28 starts at 7x7 (2 up-blocks), 64x64 adds one block on each side, 8x8 has one up-block;
initialisation follows mimicry (Xavier-uniform, gain sqrt(2) inside blocks, 1 on shortcuts and heads).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.nets.layers import ConditionalBatchNorm2d, DiscriminatorHead, check_d_norm, d_layer
from ganbench.registry import ARCHITECTURES

# Image side -> (G's first feature map side, number of G up-blocks). 8x8 (sklearn digits) has one.
RESNET_PLANS: dict[int, tuple[int, int]] = {8: (4, 1), 28: (7, 2), 32: (4, 3), 64: (4, 4)}
ROOT2 = math.sqrt(2.0)


def resnet_plan(shape: tuple[int, ...]) -> tuple[int, int]:
    sizes = ", ".join(f"{s}x{s}" for s in sorted(RESNET_PLANS))
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in RESNET_PLANS:
        got = "x".join(str(s) for s in shape[1:]) if len(shape) == 3 else str(tuple(shape))
        raise GanbenchError(f"the resnet nets support square images of {sizes} pixels; got {got}")
    return RESNET_PLANS[shape[1]]


def _xavier(m: nn.Module, gain: float) -> nn.Module:
    p = getattr(m, "parametrizations", None)
    w = p.weight.original if p is not None and hasattr(p, "weight") else m.weight
    assert isinstance(w, torch.Tensor)  # a conv's or linear layer's weight (Module.__getattr__ is untyped)
    nn.init.xavier_uniform_(w, gain)
    return m


def _up(x: torch.Tensor) -> torch.Tensor:
    # mimicry: bilinear, align_corners=False (the Chainer original uses nearest).
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class GBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, num_classes: int) -> None:
        super().__init__()
        self.b1 = ConditionalBatchNorm2d(c_in, num_classes) if num_classes else nn.BatchNorm2d(c_in)
        self.b2 = ConditionalBatchNorm2d(c_out, num_classes) if num_classes else nn.BatchNorm2d(c_out)
        self.c1 = _xavier(nn.Conv2d(c_in, c_out, 3, 1, 1), ROOT2)
        self.c2 = _xavier(nn.Conv2d(c_out, c_out, 3, 1, 1), ROOT2)
        self.c_sc = _xavier(nn.Conv2d(c_in, c_out, 1, 1, 0), 1.0)
        self.conditional = bool(num_classes)

    def _bn(self, bn: nn.Module, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return bn(h, y) if self.conditional else bn(h)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.c1(_up(F.relu(self._bn(self.b1, x, y))))
        h = self.c2(F.relu(self._bn(self.b2, h, y)))
        return h + self.c_sc(_up(x))


class DBlock(nn.Module):
    """Pre-activation block; ``first`` is SNGAN's optimized block (no leading ReLU, pool then 1x1 shortcut)."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool, d_norm: str) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.c1 = d_layer(_xavier(nn.Conv2d(c_in, c_out, 3, 1, 1), ROOT2), d_norm)
        self.c2 = d_layer(_xavier(nn.Conv2d(c_out, c_out, 3, 1, 1), ROOT2), d_norm)
        self.c_sc = d_layer(_xavier(nn.Conv2d(c_in, c_out, 1, 1, 0), 1.0), d_norm) \
            if (c_in != c_out or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Not in place: the shortcut must see x before the activation (the Chainer original).
        h = self.c2(F.relu(self.c1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.c_sc is None:
            return h + x
        if self.first:
            return h + self.c_sc(F.avg_pool2d(x, 2))
        s = self.c_sc(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class ResNetGenerator(nn.Module):
    def __init__(self, out_shape: tuple[int, ...], z_dim: int = 128, g_width: int = 256, num_classes: int = 0,
                 **_: object) -> None:
        super().__init__()
        self.base, n_up = resnet_plan(out_shape)
        self.z_dim, self.num_classes, self.out_shape, self.width = z_dim, num_classes, tuple(out_shape), g_width
        self.l1 = _xavier(nn.Linear(z_dim, self.base ** 2 * g_width), 1.0)
        self.blocks = nn.ModuleList(GBlock(g_width, g_width, num_classes) for _ in range(n_up))
        self.b_out = nn.BatchNorm2d(g_width)
        self.c_out = _xavier(nn.Conv2d(g_width, out_shape[0], 3, 1, 1), 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes and y is None:
            raise ValueError("a conditional generator needs labels")
        h = self.l1(z).view(z.shape[0], self.width, self.base, self.base)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.c_out(F.relu(self.b_out(h))))


class ResNetDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], d_width: int = 128, d_norm: str = "spectral", num_classes: int = 0,
                 conditional: str = "", **_: object) -> None:
        super().__init__()
        n_up = resnet_plan(in_shape)[1]
        check_d_norm(d_norm, ("spectral", "none"), arch="resnet")
        # SNGAN 32x32: optimized block (down), block (down), two blocks; D stops at twice G's start
        # (8x8: at G's start).
        blocks = [DBlock(in_shape[0], d_width, down=True, first=True, d_norm=d_norm)]
        blocks += [DBlock(d_width, d_width, down=True, first=False, d_norm=d_norm) for _ in range(n_up - 2)]
        blocks += [DBlock(d_width, d_width, down=False, first=False, d_norm=d_norm) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(d_width, num_classes, conditional, d_norm)
        for m in self.head.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                _xavier(m, 1.0)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        return self.head(h, y)


ARCHITECTURES.register("resnet", (ResNetGenerator, ResNetDiscriminator),
                       help="SNGAN/cGAN-PD ResNet G (256 ch) and D (128 ch) for 8/28/32/64-pixel images")
