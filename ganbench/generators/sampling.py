"""The Generator protocol and seeded sampling.

Any callable module with ``z_dim`` and ``num_classes`` is a generator: ganbench's own, TorchScript,
state dict + architecture, or a user's factory. Images leave ``sample`` as uint8 NCHW.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from ganbench.data.base import to_uint8


@runtime_checkable
class Generator(Protocol):
    z_dim: int
    num_classes: int  # 0 = unconditional

    def __call__(self, z: Tensor, y: Tensor | None = None) -> Tensor: ...


def device_of(g: object) -> torch.device:
    try:
        return next(g.parameters()).device  # type: ignore[attr-defined]
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def class_labels(n: int, num_classes: int) -> Tensor:
    """Labels spread evenly over classes (0, 1, ..., K-1, 0, 1, ...): conditional models sampled per class."""
    return torch.arange(n) % num_classes


@torch.inference_mode()
def sample(g: Generator, n: int, seed: int, batch_size: int = 256, images: bool | None = None,
           ) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Yield ``(samples, labels)`` batches; the same seed gives the same samples at any batch size.

    Latents are drawn all at once from a CPU generator seeded with ``seed``, so batching does not
    change which z each sample gets. Images (4-D outputs in [-1, 1]) are returned as uint8 NCHW.
    """
    gen = torch.Generator().manual_seed(seed)
    z_all = torch.randn(n, g.z_dim, generator=gen)
    y_all = class_labels(n, g.num_classes) if g.num_classes else None
    dev = device_of(g)
    was_training = getattr(g, "training", False)
    if hasattr(g, "eval"):
        g.eval()
    try:
        for i in range(0, n, batch_size):
            z = z_all[i:i + batch_size].to(dev)
            y = None if y_all is None else y_all[i:i + batch_size].to(dev)
            x = g(z, y) if y is not None else g(z)
            is_image = x.dim() == 4 if images is None else images
            x = to_uint8(x) if is_image else x.float()
            yield x.cpu(), (None if y is None else y.cpu())
    finally:
        if was_training and hasattr(g, "train"):
            g.train()


def sample_all(g: Generator, n: int, seed: int, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
    """All ``n`` samples as one array (uint8 NCHW for images, float32 for vectors) and labels."""
    xs, ys = [], []
    for x, y in sample(g, n, seed, batch_size):
        xs.append(x.numpy())
        if y is not None:
            ys.append(y.numpy())
    return np.concatenate(xs), (np.concatenate(ys) if ys else None)
