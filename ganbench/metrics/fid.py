"""Fréchet Inception Distance over features: features -> (mu, sigma) -> distance.

The matrix square root never goes through scipy.linalg.sqrtm: it fails or returns imaginary parts
when there are fewer samples than dimensions and is slow (docs/reference.md section 6). Instead
tr sqrt(S1 S2) = tr sqrt(sqrt(S1) S2 sqrt(S1)), whose argument is symmetric positive semi-definite,
so two symmetric eigen-decompositions (eigh, eigvalsh) give it exactly and stably.

numpy, not torch: at 2048-d on 2 CPU cores numpy's eigh took 0.94 s against torch's 1.18 s
(float64 both; measured for this module), and the rest is two matrix products.
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import check_features, check_same_dims

# Rows per chunk when accumulating the covariance, so a float32 [50k, 2048] input never needs a
# full float64 copy (800 MB) on top of itself.
_COV_CHUNK = 8192


def fid_features_to_statistics(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64, ddof=1 as pytorch-fid's ``np.cov(rowvar=False)``) of [N, D] features."""
    x = check_features(feats, "FID features", min_rows=2)
    n = x.shape[0]
    mu = x.mean(axis=0, dtype=np.float64)
    sigma = np.zeros((x.shape[1], x.shape[1]), dtype=np.float64)
    for start in range(0, n, _COV_CHUNK):
        c = x[start:start + _COV_CHUNK].astype(np.float64) - mu
        sigma += c.T @ c
    sigma /= n - 1
    return mu, sigma


def _check_statistics(mu: np.ndarray, sigma: np.ndarray, which: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise GanbenchError(f"FID statistics {which}: mean {mu.shape} and covariance {sigma.shape} do not match")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise GanbenchError(f"FID statistics {which} contain NaN or infinite values")
    return mu, sigma


def fid_statistics_to_metric(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Fréchet distance ||mu1-mu2||² + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2) between two Gaussians."""
    mu1, s1 = _check_statistics(mu1, s1, "1")
    mu2, s2 = _check_statistics(mu2, s2, "2")
    if mu1.shape != mu2.shape:
        raise GanbenchError(f"FID statistics have different dimensions: {mu1.shape[0]} vs {mu2.shape[0]}")
    # Symmetrise: a covariance loaded from a file may carry asymmetric rounding, and eigh reads one
    # triangle only.
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    w, v = np.linalg.eigh(s1)
    # Covariances are PSD; negative eigenvalues are rounding (exact zeros when N < D).
    sqrt_s1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = sqrt_s1 @ s2 @ sqrt_s1
    m = (m + m.T) / 2
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(m), 0.0, None)).sum()
    diff = mu1 - mu2
    fid = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    # The distance is >= 0; a tiny negative value (identical statistics) is rounding only.
    return max(fid, 0.0)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two [N, D] feature sets (N may be smaller than D)."""
    a = check_features(a, "FID features a", min_rows=2)
    b = check_features(b, "FID features b", min_rows=2)
    check_same_dims(a, b)
    return fid_statistics_to_metric(*fid_features_to_statistics(a), *fid_features_to_statistics(b))


def _fid_fast(a: np.ndarray, b: np.ndarray) -> float:
    """FID for few samples: tr sqrt(S1 S2) = ||A B^T||_* / sqrt((n1-1)(n2-1)), A, B centred features.

    The non-zero eigenvalues of S1 S2 = A^T A B^T B / ((n1-1)(n2-1)) are those of C C^T with
    C = A B^T (n1 x n2), so their square roots are C's singular values: exact, and with n1, n2
    below the feature width far cheaper than the D x D eigen-decompositions of metrics.fid
    (2048-d: ms instead of ~2 s), which matters for bootstrap resamples. Agreement with
    ``fid_from_features`` is tested.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = a - mu_a, b - mu_b
    na, nb = len(a), len(b)
    tr = np.einsum("ij,ij->", ca, ca) / (na - 1) + np.einsum("ij,ij->", cb, cb) / (nb - 1)
    nuc = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / np.sqrt((na - 1) * (nb - 1))
    d = mu_a - mu_b
    return max(float(d @ d + tr - 2.0 * nuc), 0.0)


def _fid_for_bootstrap(a: np.ndarray, b: np.ndarray) -> float:
    return _fid_fast(a, b) if max(len(a), len(b)) <= a.shape[1] else fid_from_features(a, b)
