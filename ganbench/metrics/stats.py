"""Uncertainty over metrics (bootstrap intervals, mean and spread over seeds) and the input checks
every metric function shares."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ganbench.errors import GanbenchError


def check_features(x: Any, name: str, min_rows: int = 1) -> np.ndarray:
    """Return ``x`` as a finite 2-D float ndarray (float32 stays float32), else raise GanbenchError."""
    if hasattr(x, "detach"):  # torch tensor: the metric math is numpy (see fid.py for why)
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim != 2:
        raise GanbenchError(f"{name}: expected a 2-D array [samples, dims], got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    if a.shape[0] < min_rows:
        raise GanbenchError(f"{name}: needs at least {min_rows} samples, got {a.shape[0]}")
    if not np.isfinite(a).all():
        raise GanbenchError(f"{name}: contains NaN or infinite values")
    return a


def check_same_dims(a: np.ndarray, b: np.ndarray) -> None:
    """Raise GanbenchError when two feature sets have different widths."""
    if a.shape[1] != b.shape[1]:
        raise GanbenchError(f"feature sets have different dimensions: {a.shape[1]} vs {b.shape[1]}")


def bootstrap_ci(
    fn: Callable[[np.ndarray, np.ndarray], float],
    a: np.ndarray,
    b: np.ndarray,
    n_boot: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``fn(a, b)``, resampling both sets with replacement.

    Statistics that are biased under duplicated samples (FID: resampling shrinks the covariance
    rank and inflates the score) get an interval shifted away from the point estimate; report it
    as the sampling spread, not as a bound around the point estimate.
    """
    if n_boot < 2:
        raise GanbenchError(f"bootstrap needs n_boot >= 2, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise GanbenchError(f"bootstrap alpha must be in (0, 1), got {alpha}")
    a = np.asarray(a)
    b = np.asarray(b)
    if len(a) < 2 or len(b) < 2:
        raise GanbenchError(f"bootstrap needs at least 2 samples per set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    for i in range(n_boot):
        ia = rng.integers(0, len(a), size=len(a))
        ib = rng.integers(0, len(b), size=len(b))
        values[i] = fn(a[ia], b[ib])
    low, high = np.percentile(values, [100.0 * alpha / 2, 100.0 * (1 - alpha / 2)])
    return float(low), float(high)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) over seeds; the spread of one value is 0."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise GanbenchError("mean_std needs at least one value")
    if not np.isfinite(v).all():
        raise GanbenchError("mean_std: values contain NaN or infinity")
    std = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return float(np.mean(v)), std
