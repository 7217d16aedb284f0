"""Pictures of uint8 images (PIL only, no matplotlib): the nearest-neighbour grid of memorisation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.io import check_uint8_images


def _to_hwc_uint8(images: Any) -> np.ndarray:
    a = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if a.ndim == 3:
        a = a[:, None]
    a = check_uint8_images(a, "nn_grid").transpose(0, 2, 3, 1)
    return np.repeat(a, 3, axis=3) if a.shape[3] == 1 else a


def nn_grid(gen_images: Any, train_images: Any, idx: np.ndarray, path: str | os.PathLike,
            n: int = 16, scale: int = 2, pad: int = 2) -> Path:
    """Write a PNG: row i = generated sample i, a red bar, then its nearest training images ``idx[i]``."""
    from PIL import Image

    g = _to_hwc_uint8(gen_images)
    idx = np.asarray(idx, np.int64)
    idx = idx[:, None] if idx.ndim == 1 else idx
    rows = min(n, len(g), len(idx))
    if rows == 0:
        raise GanbenchError("nn_grid: no samples to draw")
    t = _to_hwc_uint8(np.asarray(train_images)[idx[:rows].ravel()]).reshape(rows, idx.shape[1], *g.shape[1:])
    h, w = g.shape[1:3]
    if t.shape[2:4] != (h, w):
        raise GanbenchError(f"nn_grid: generated images are {h}x{w}, training images {t.shape[2]}x{t.shape[3]}")
    k, bar = idx.shape[1], 2 * pad
    width = pad + (w + pad) + bar + k * (w + pad) + pad
    canvas = np.full((pad + rows * (h + pad), width, 3), 255, np.uint8)
    for r in range(rows):
        y = pad + r * (h + pad)
        canvas[y:y + h, pad:pad + w] = g[r]
        x0 = pad + w + pad
        canvas[y:y + h, x0:x0 + bar] = (200, 30, 30)  # separates the sample from its neighbours
        for j in range(k):
            x = x0 + bar + pad + j * (w + pad)
            canvas[y:y + h, x:x + w] = t[r, j]
    im = Image.fromarray(canvas)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


__all__ = ["nn_grid"]
