"""FD∞: the Fréchet distance extrapolated to infinitely many samples (Chong & Forsyth 2020,
"Effectively Unbiased FID and Inception Score and where to find them", CVPR; released code
mchong6/FID_IS_infinity, score_infinity.py ``calculate_FID_infinity_path``).

The FD estimator's bias is, to first order, linear in 1/N (the covariance estimates' sampling
error enters the trace term as c/N). So FD is computed on subsets of N = n_1 < ... < n_k samples,
a line is fitted to (1/N, FD_N) by ordinary least squares, and its value at 1/N = 0 is FD∞. The
fit (slope, r², the points) is returned with it, so a poor fit is visible.

Works on any [N, D] features (Inception, DINOv2, ...). Two subsampling modes:
- "fake" (the authors'): the real statistics stay fixed (all real rows); only the generated set is
  subsampled. Right when the real set is large (their 50k), since its own 1/n_real bias remains.
- "both" (default here): both sets are subsampled to the same fraction, so both sides' bias
  terms vanish at 1/N = 0; N is then the generated count and the real count scales with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.fid import fid_features_to_statistics, fid_statistics_to_metric
from ganbench.metrics.stats import check_features, check_same_dims

# The authors use 15 points from 5k to 50k generated images (min = a tenth of the set); the
# smallest subset here is also never below 2 rows or a tenth of the set.
NUM_POINTS = 15
MIN_FRACTION = 0.1
MODES = ("both", "fake")


@dataclass(frozen=True)
class FDInfResult:
    """FD∞ (the intercept), the fit's slope and r², and the (N, FD_N) points it was fitted to."""

    value: float
    slope: float
    r2: float
    ns: np.ndarray
    fds: np.ndarray

    def metrics(self) -> dict[str, float]:
        return {"fd_inf": self.value, "fd_inf_slope": self.slope, "fd_inf_r2": self.r2}


def subset_sizes(n: int, num_points: int = NUM_POINTS, min_fraction: float = MIN_FRACTION) -> np.ndarray:
    """``num_points`` sizes evenly spaced from ``min_fraction`` x n to n (the authors' linspace, int)."""
    if num_points < 2:
        raise GanbenchError(f"FD∞ needs at least 2 subset sizes, got {num_points}")
    lo = max(2, int(min_fraction * n))
    if lo >= n:
        raise GanbenchError(f"FD∞ needs more samples than {lo} for a fit over subset sizes, got {n}")
    return np.unique(np.linspace(lo, n, num_points).astype(np.int64))


def linear_fit(ns: np.ndarray, fds: np.ndarray) -> tuple[float, float, float]:
    """OLS of FD_N on 1/N: (intercept, slope, r²)."""
    x = 1.0 / np.asarray(ns, dtype=np.float64)
    y = np.asarray(fds, dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss if ss > 0 else 1.0
    return float(intercept), float(slope), r2


def fd_infinity(real: Any, fake: Any, ns: Sequence[int] | None = None, *, mode: str = "both", seed: int = 0,
                subsets: Sequence[np.ndarray] | None = None) -> FDInfResult:
    """FD∞ between [N, D] feature sets.

    ns: generated-subset sizes (default ``subset_sizes(len(fake))``). mode: "both" or "fake" (see the
    module docstring). subsets: explicit index arrays into ``fake``, one per size (mode "fake" only),
    replacing the seeded draws; used to reproduce the authors' draws.
    """
    a = check_features(real, "FD∞ real features", min_rows=2)
    b = check_features(fake, "FD∞ generated features", min_rows=3)
    check_same_dims(a, b)
    if mode not in MODES:
        raise GanbenchError(f"FD∞ mode must be one of {', '.join(MODES)}, got {mode!r}")
    if subsets is not None:
        if mode != "fake":
            raise GanbenchError("FD∞: explicit subsets replace the generated draws of mode 'fake' only")
        idx = [np.asarray(s) for s in subsets]
        ns_arr = np.asarray([len(s) for s in idx])
    else:
        ns_arr = subset_sizes(len(b)) if ns is None else np.asarray(ns, dtype=np.int64)
        if ns_arr.min() < 2 or ns_arr.max() > len(b):
            raise GanbenchError(f"FD∞ subset sizes must lie in 2..{len(b)}, got {ns_arr.min()}..{ns_arr.max()}")
        rng = np.random.default_rng(seed)
        idx = [rng.choice(len(b), int(n), replace=False) for n in ns_arr]
    if len(np.unique(ns_arr)) < 2:
        raise GanbenchError("FD∞ needs at least 2 different subset sizes for the fit")
    fixed = fid_features_to_statistics(a) if mode == "fake" else None
    rng_real = np.random.default_rng(seed + 1)
    fds = []
    for i in idx:
        if fixed is not None:
            ref = fixed
        else:  # the real set at the same fraction as the generated one
            m = max(2, int(round(len(a) * len(i) / len(b))))
            ref = fid_features_to_statistics(a[rng_real.choice(len(a), m, replace=False)])
        fds.append(fid_statistics_to_metric(*fid_features_to_statistics(b[i]), *ref))
    intercept, slope, r2 = linear_fit(ns_arr, np.asarray(fds))
    return FDInfResult(intercept, slope, r2, ns_arr, np.asarray(fds))


def _register() -> None:
    from ganbench.metrics.spec import MetricSpec
    from ganbench.registry import METRICS

    help_ = "FD∞ (Chong & Forsyth 2020): FD at several N extrapolated linearly in 1/N to N -> infinity"

    def _compute(real, fake, **kw):
        return fd_infinity(real, fake, **kw).metrics()

    METRICS.register("fd_inf", MetricSpec(
        "fd_inf", ("pool3",), {"fd_inf": "lower", "fd_inf_slope": None, "fd_inf_r2": None}, _compute,
        {"mode": "both", "seed": 0}, help=help_), help=help_)
