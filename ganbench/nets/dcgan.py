"""DCGAN-style convolutional G and D (Radford et al. 2015) for 8, 28, 32 and 64 pixel images.

The layer plan is picked from the image size (``PLANS``); ``width`` scales every channel count.
G: a k=base transposed conv from z (pytorch/examples dcgan's first layer) to base x base, then k4 s2
transposed convs with BN + ReLU, tanh output. D mirrors it with k4 s2 convs, LeakyReLU 0.2, the
recipe's ``d_norm`` on every conv but the first, and a linear head (nets.layers.DiscriminatorHead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.nets.layers import DiscriminatorHead, check_d_norm, d_layer, d_norm2d, init_normal
from ganbench.registry import ARCHITECTURES


@dataclass(frozen=True)
class Plan:
    base: int  # side of G's first feature map and of D's last
    g_mults: tuple[int, ...]  # G's channels (times width) at base, 2*base, ...
    g_out: str  # "up": a last k4 s2 transposed conv makes the image; "same": a 3x3 conv at full size


PLANS: dict[int, Plan] = {
    # sklearn's 8x8 digits: the smallest plan that still has one up/down stage.
    8: Plan(4, (2, 1), "same"),
    # After WGAN-GP's gan_mnist.py (DIM 64): 7x7x2DIM -> 14x14xDIM -> 28x28xC.
    28: Plan(7, (2, 1), "up"),
    # docs/reference.md section 3: z -> 4x4x512 -> 256 -> 128 -> 64 (k4 s2), then a 3x3 conv to C
    # (the CNN of the SNGAN paper and StudioGAN's DCGAN for CIFAR-10).
    32: Plan(4, (8, 4, 2, 1), "same"),
    # pytorch/examples dcgan: 4x4x512 -> 8 -> 16 -> 32x32x64 -> 64x64xC.
    64: Plan(4, (8, 4, 2, 1), "up"),
}


def plan_for(shape: tuple[int, ...], arch: str = "dcgan") -> Plan:
    """The layer plan for images of ``shape`` (C, H, W); a clear error for unsupported sizes."""
    sizes = ", ".join(f"{s}x{s}" for s in sorted(PLANS))
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in PLANS:
        got = "x".join(str(s) for s in shape[1:]) if len(shape) == 3 else str(tuple(shape))
        raise GanbenchError(f"the {arch} nets support square images of {sizes} pixels; got {got}")
    return PLANS[shape[1]]


class DCGANGenerator(nn.Module):
    """z (plus a class embedding, concatenated, when conditional) -> image in [-1, 1]."""

    def __init__(self, out_shape: tuple[int, ...], z_dim: int = 100, width: int = 64, num_classes: int = 0,
                 **_: object) -> None:
        super().__init__()
        plan = plan_for(out_shape)
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, tuple(out_shape)
        # The embedding has z's size and N(0, 1) entries, so both halves of G's input share a scale.
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        ch = [m * width for m in plan.g_mults]
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim * (2 if num_classes else 1), ch[0], plan.base, 1, 0,
                                                      bias=False),
                                   nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        c = out_shape[0]
        layers.append(nn.ConvTranspose2d(ch[-1], c, 4, 2, 1) if plan.g_out == "up" else nn.Conv2d(ch[-1], c, 3, 1, 1))
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional generator needs labels")
            z = torch.cat([z, self.embed(y)], 1)
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """image -> (adversarial score [B], class logits | None)."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 64, d_norm: str = "batch", num_classes: int = 0,
                 conditional: str = "", **_: object) -> None:
        super().__init__()
        plan = plan_for(in_shape)
        check_d_norm(d_norm, arch="dcgan")
        layers: list[nn.Module] = []
        c_in = in_shape[0]
        for i in range(int(math.log2(in_shape[1] // plan.base))):
            c_out = width * 2 ** i
            norm = d_norm2d(d_norm, c_out) if i > 0 else []  # DCGAN: no normalisation on D's first layer
            layers += [d_layer(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm), d_norm), *norm,
                       nn.LeakyReLU(0.2)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = DiscriminatorHead(c_in * plan.base ** 2, num_classes, conditional, d_norm)
        init_normal(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return self.head(self.body(x).flatten(1), y)


ARCHITECTURES.register("dcgan", (DCGANGenerator, DCGANDiscriminator),
                       help="DCGAN conv nets for 8/28/32/64-pixel images, picked by the image size")
