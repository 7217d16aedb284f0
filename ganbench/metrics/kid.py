"""Kernel Inception Distance: unbiased MMD² with a polynomial kernel, averaged over random subsets.

Same math as torch-fidelity's ``kid_features_to_metric`` (itself from Binkowski et al.'s MMD-GAN
code): kernel k(x, y) = (gamma x·y + coef0)^degree with gamma = 1/D by default, per subset
MMD² = (sum_{i!=j} K_XX + sum_{i!=j} K_YY) / (m(m-1)) - 2 sum K_XY / m², reported as the mean and the
population standard deviation (np.std, ddof=0) over subsets, like torch-fidelity.

Differences, on purpose: subsets come from a numpy Generator seeded by ``seed`` (torch-fidelity
uses a legacy RandomState; pass ``subsets=`` to reproduce its draws exactly); the subset size is
clipped to the smaller set (clean-fid does the same; torch-fidelity refuses); arithmetic is float64.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import check_features, check_same_dims


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None,
                      coef0: float = 1.0) -> np.ndarray:
    """(gamma x·yᵀ + coef0)^degree, gamma = 1/D when None (torch-fidelity ``kernel_poly``)."""
    if gamma is None:
        gamma = 1.0 / x.shape[1]
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    """Unbiased MMD² from the three kernel matrices of two equal-size samples."""
    m = k_xx.shape[0]
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


@dataclass(frozen=True)
class PolyKernel:
    """KID's kernel (gamma x·y + coef0)^degree; gamma None = 1/D (torch-fidelity's defaults)."""

    degree: int = 3
    gamma: float | None = None
    coef0: float = 1.0

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return polynomial_kernel(x, y, self.degree, self.gamma, self.coef0)


def kid_from_features(
    a: np.ndarray,
    b: np.ndarray,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
    subsets: Iterable[tuple[np.ndarray, np.ndarray]] | None = None,
    kernel: PolyKernel = PolyKernel(),
) -> tuple[float, float]:
    """KID (mean, std over subsets) between two [N, D] feature sets.

    Defaults are torch-fidelity's (100 subsets of 1000, degree 3, coef0 1, seed 2020).
    ``subsets``: optional explicit (indices into a, indices into b) per subset, which replaces
    the seeded draw (and ``num_subsets``/``subset_size``); used to reproduce a peer's draws.
    """
    a = check_features(a, "KID features a")
    b = check_features(b, "KID features b")
    check_same_dims(a, b)
    # float64 kernels: the MMD² is a small difference of large kernel sums.
    a = a.astype(np.float64, copy=False)
    b = b.astype(np.float64, copy=False)
    if subsets is None:
        if num_subsets < 1:
            raise GanbenchError(f"KID needs num_subsets >= 1, got {num_subsets}")
        m = min(subset_size, len(a), len(b))
        if m < 2:
            raise GanbenchError(
                f"KID needs subsets of at least 2 samples; got subset_size={subset_size} with "
                f"{len(a)} and {len(b)} samples")
        if m == len(a) == len(b):
            # Every draw is a permutation of both whole sets and MMD² is permutation-invariant:
            # all subsets give the same value (std 0), so compute it once.
            subsets = [(np.arange(m), np.arange(m))]
        else:
            rng = np.random.default_rng(seed)
            # One draw from a then one from b per subset, the order torch-fidelity uses.
            subsets = [(rng.choice(len(a), m, replace=False), rng.choice(len(b), m, replace=False))
                       for _ in range(num_subsets)]
    mmds = []
    for ia, ib in subsets:
        ia = np.asarray(ia)
        ib = np.asarray(ib)
        if len(ia) != len(ib) or len(ia) < 2:
            raise GanbenchError(f"KID subsets must have equal sizes >= 2, got {len(ia)} and {len(ib)}")
        x, y = a[ia], b[ib]
        mmds.append(mmd2_unbiased(kernel(x, x), kernel(x, y), kernel(y, y)))
    if not mmds:
        raise GanbenchError("KID: no subsets given")
    v = np.asarray(mmds)
    return float(v.mean()), float(v.std())
