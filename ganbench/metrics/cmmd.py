"""CMMD (Jayasumana et al., CVPR 2024): MMD² with a Gaussian kernel over CLIP embeddings.

The estimator is the biased (minimum-variance, V-statistic) one of Gretton et al. 2012 Eq. 5, the
diagonals included, as google-research cmmd/distance.py ``mmd`` computes it; sigma 10 and the
x1000 scale are its ``_SIGMA`` and ``_SCALE``. Kernel means are accumulated one block of rows at a
time in float64, so memory stays O(block x N) instead of N x N.
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import check_features, check_same_dims

_BLOCK = 2048


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    if (n == 0).any():
        raise GanbenchError("cmmd: an embedding is all zeros and cannot be normalised")
    return x / n


def _kernel_mean(a: np.ndarray, b: np.ndarray, gamma: float) -> float:
    a_sq, b_sq = np.einsum("ij,ij->i", a, a), np.einsum("ij,ij->i", b, b)
    total = 0.0
    for s in range(0, len(a), _BLOCK):
        d = a_sq[s:s + _BLOCK, None] + b_sq[None, :] - 2.0 * (a[s:s + _BLOCK] @ b.T)
        total += float(np.exp(-gamma * d).sum())
    return total / (len(a) * len(b))


def cmmd(x: np.ndarray, y: np.ndarray, sigma: float = 10.0, scale: float = 1000.0,
         normalize: bool = True) -> float:
    """``scale`` x MMD²(x, y), Gaussian kernel exp(-||a-b||² / (2 sigma²)), biased estimator."""
    x = check_features(x, "cmmd features x").astype(np.float64)
    y = check_features(y, "cmmd features y").astype(np.float64)
    check_same_dims(x, y)
    if not sigma > 0:
        raise GanbenchError(f"cmmd sigma must be positive, got {sigma}")
    if normalize:
        x, y = _unit(x), _unit(y)
    gamma = 1.0 / (2.0 * sigma ** 2)
    return scale * (_kernel_mean(x, x, gamma) + _kernel_mean(y, y, gamma) - 2.0 * _kernel_mean(x, y, gamma))
