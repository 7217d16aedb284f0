"""Clipped density and clipped coverage (Salvy et al., ICLR 2026; nicolassalvy/ClippedDensityCoverage
metrics/Clipped_Density_Coverage.py), k-NN fidelity and diversity that outliers cannot inflate.

- Clipped density: real k-NN radii are clipped at their median; each generated sample counts the
  real balls holding it (distance <= radius), over k, capped at 1; the mean is divided by the same
  quantity for the real samples themselves (each real point in the other real points' clipped
  balls), and the ratio is capped at 1.
- Clipped coverage: the share of each real point's k nearest generated samples that lie strictly
  inside its (unclipped) k-NN radius, averaged over real points, then mapped through g: the share of
  generated samples that would have to come from the real distribution to give that raw coverage
  in expectation (the paper's calibration; f below is its expected raw coverage when m of the M
  samples are real-like, N real points).

Distances are prdc.py's blocked ones, so memory stays O(block x N).
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

from ganbench.errors import GanbenchError
from ganbench.metrics.prdc import DEFAULT_BLOCK, _distance_block, _out_dtype, _sq_norms, knn_radii
from ganbench.metrics.stats import check_features, check_same_dims


def _expected_coverage(m: int, k: int, n: int) -> float:
    """f(m) = (1/k) sum_j min(j, k) C(m, j) B(k+j, n+m-k-j) / B(k, n-k): expected raw coverage."""
    if m < k:
        return 0.0
    j = np.arange(m + 1)
    with np.errstate(divide="ignore"):
        log_min = np.log(np.minimum(j, k))
    log_binom = gammaln(m + 1) - gammaln(j + 1) - gammaln(m - j + 1)
    log_terms = log_min + log_binom + betaln(k + j, n + m - k - j) - betaln(k, n - k)
    return float(np.exp(np.logaddexp.reduce(log_terms)) / k)


def calibrate_coverage(raw: float, k: int, n_real: int, n_fake: int) -> float:
    """g(raw): (first m in 0..M with f(m) >= raw) / (M + 1); f grows with m, so bisection."""
    lo, hi = 0, n_fake + 1  # answer in [lo, hi]; hi = M + 1 means "above f(M)"
    while lo < hi:
        mid = (lo + hi) // 2
        if _expected_coverage(mid, k, n_real) >= raw:
            hi = mid
        else:
            lo = mid + 1
    return lo / (n_fake + 1)


def _counts(real: np.ndarray, fake: np.ndarray, radii: np.ndarray, clipped: np.ndarray, k: int,
            block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per fake: real clipped balls holding it; per real: other real clipped balls holding it, and
    how many of its k nearest fakes are strictly inside its radius."""
    dtype = _out_dtype(real, fake)
    real_sq, fake_sq = _sq_norms(real), _sq_norms(fake)
    fake_count = np.zeros(len(fake), np.int64)
    real_count = np.zeros(len(real), np.int64)
    near_fake = np.zeros(len(real), np.int64)
    for s in range(0, len(real), block):
        rows = slice(s, s + block)
        d = _distance_block(real[rows], real_sq[rows], fake, fake_sq, dtype)
        fake_count += (d <= clipped[rows, None]).sum(axis=0)
        near_fake[rows] = np.minimum((d < radii[rows, None]).sum(axis=1), k)
        dr = _distance_block(real[rows], real_sq[rows], real, real_sq, dtype)
        inside = dr <= clipped[rows, None]
        inside[np.arange(len(dr)), np.arange(s, s + len(dr))] = False  # a point is not its own neighbour
        real_count += inside.sum(axis=0)
        del d, dr, inside
    return fake_count, real_count, near_fake


def clipped_density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5,
                             block: int = DEFAULT_BLOCK) -> dict[str, float]:
    """Clipped density and clipped coverage of ``fake`` against ``real`` (both in [0, 1])."""
    if int(k) != k or k < 1:
        raise GanbenchError(f"k must be a positive integer, got {k}")
    real = check_features(real, "real features", min_rows=k + 2)
    fake = check_features(fake, "generated features", min_rows=k)
    check_same_dims(real, fake)
    radii = knn_radii(real, k, block)
    clipped = np.minimum(radii, np.median(radii))
    fake_count, real_count, near_fake = _counts(real, fake, radii, clipped, k, block)
    real_fidelity = np.minimum(real_count / k, 1.0).mean()
    if real_fidelity == 0:
        raise GanbenchError("clipped density: no real point lies in another's clipped ball (duplicates?)")
    density = min(np.minimum(fake_count / k, 1.0).mean() / real_fidelity, 1.0)
    raw = float(np.mean(near_fake / k))
    return {"clipped_density": float(density),
            "clipped_coverage": calibrate_coverage(raw, k, len(real), len(fake))}
