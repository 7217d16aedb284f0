"""Uncertainty over metrics (half-sampling intervals of one evaluation, mean and spread over seeds) and the input checks
every metric function shares."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


# The interval method every image and mixture metric uses (docs/statistics.md has the simulation
# that chose it). Half-sampling: each resample keeps a random half of every set, drawn WITHOUT
# replacement, so no point is duplicated (duplicates are what biased the old with-replacement
# bootstrap: FID up, k-NN metrics down). The spread of the half-sample values, rescaled by the
# finite-population factor sqrt(f / (1 - f)) = 1 at f = 1/2, estimates the standard error of the
# full-sample estimate (delete-d jackknife with d = n/2: Shao & Wu 1989, Ann. Statist. 17(3);
# m-out-of-n subsampling: Politis, Romano & Wolf 1999, "Subsampling", ch. 2). The interval is
# centred on the estimate, so it always holds it; it covers E[estimate at this n], not the
# population value of a biased estimator (FID: see metrics/fd_inf.py for the n -> infinity fit).
CI_METHOD = "half-sampling"
CI_METHOD_TEXT = ("half-sampling (m-out-of-n subsampling without replacement, m = n/2 of each set): "
                  "estimate ± z x sd(half-sample values) x sqrt(f/(1-f)), f = 1/2")


@dataclass(frozen=True)
class IntervalSpec:
    """How intervals are computed: resamples (0: none), confidence level, seed, subsample fraction."""

    resamples: int = 50
    level: float = 0.95
    seed: int = 0
    fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.resamples < 0 or self.resamples == 1:
            raise GanbenchError(f"interval resamples must be 0 (off) or >= 2, got {self.resamples}")
        if not 0.0 < self.level < 1.0:
            raise GanbenchError(f"interval level must be in (0, 1), got {self.level}")
        if not 0.0 < self.fraction < 1.0:
            raise GanbenchError(f"subsample fraction must be in (0, 1), got {self.fraction}")

    @property
    def z(self) -> float:
        from scipy.stats import norm

        return float(norm.ppf(0.5 + self.level / 2))

    def protocol(self) -> dict[str, Any]:
        return {"ci_method": CI_METHOD, "ci_method_text": CI_METHOD_TEXT, "ci_level": self.level,
                "bootstrap": self.resamples, "ci_seed": self.seed, "ci_subsample_fraction": self.fraction}


def half_sample_values(fn: Callable[..., Mapping[str, float]], sets: Sequence[np.ndarray],
                       spec: IntervalSpec) -> dict[str, np.ndarray]:
    """``fn(*subsets)`` on ``spec.resamples`` draws, each keeping round(fraction x n) rows of every set
    (without replacement, independently per set); returns {output: values}."""
    rng = np.random.default_rng(spec.seed)
    out: dict[str, list[float]] = {}
    for _ in range(spec.resamples):
        subs = []
        for x in sets:
            m = max(2, int(round(spec.fraction * len(x))))
            if m >= len(x):
                raise GanbenchError(f"half-sampling needs at least 3 samples per set, got {len(x)}")
            subs.append(x[rng.choice(len(x), m, replace=False)])
        for k, v in fn(*subs).items():
            out.setdefault(k, []).append(float(v))
    return {k: np.asarray(v) for k, v in out.items()}


def subsample_interval(estimate: float, values: np.ndarray, spec: IntervalSpec,
                       bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float]:
    """estimate ± z x se, se = sd(values) x sqrt(f/(1-f)); clipped to the metric's ``bounds`` but
    never so far that the estimate falls outside. NaN values (undefined on a half) are dropped."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2 or not math.isfinite(estimate):
        return math.nan, math.nan
    se = float(np.std(v, ddof=1)) * math.sqrt(spec.fraction / (1.0 - spec.fraction))
    lo, hi = estimate - spec.z * se, estimate + spec.z * se
    lo, hi = max(lo, min(bounds[0], estimate)), min(hi, max(bounds[1], estimate))
    return float(lo), float(hi)


def intervals(fn: Callable[..., Mapping[str, float]], sets: Sequence[np.ndarray], estimates: Mapping[str, float],
              spec: IntervalSpec, bounds: Mapping[str, tuple[float, float]] | None = None
              ) -> dict[str, tuple[float, float]]:
    """Half-sampling interval of every output of ``fn`` that ``estimates`` holds."""
    vals = half_sample_values(fn, sets, spec)
    bounds = bounds or {}
    return {k: subsample_interval(estimates[k], vals[k], spec, bounds.get(k, (-math.inf, math.inf)))
            for k in vals if k in estimates}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) over seeds; the spread of one value is 0."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise GanbenchError("mean_std needs at least one value")
    if not np.isfinite(v).all():
        raise GanbenchError("mean_std: values contain NaN or infinity")
    std = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return float(np.mean(v)), std
