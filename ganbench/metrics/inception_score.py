"""Inception Score from classifier logits: exp(E_x KL(p(y|x) || p(y))) per split, mean and std.

Reproduces torch-fidelity's ``isc_features_to_metric`` (docs/reference.md section 1: softmax over the
1008 logits computed WITHOUT the output bias, 10 splits, shuffled with a fixed seed, seed 2020 in
torch-fidelity's published CIFAR-10 value, section 2): the shuffle is the legacy
``np.random.RandomState(seed).permutation(N)`` on purpose, so that the same logits give the same
splits and the same number as torch-fidelity; the split boundaries are i*N//splits; the std is
the population std (np.std, ddof=0); the arithmetic is float64.
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import check_features


def _log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def inception_score_from_logits(
    logits: np.ndarray,
    splits: int = 10,
    seed: int | None = 2020,
    permutation: np.ndarray | None = None,
) -> tuple[float, float]:
    """IS (mean, std over splits) of [N, C] logits (C = 1008 for the TF Inception head).

    The rows are shuffled by ``np.random.RandomState(seed).permutation(N)`` (torch-fidelity's
    shuffle), by ``permutation`` when given, and not at all when ``seed`` is None.
    """
    x = check_features(logits, "IS logits")
    n = x.shape[0]
    if x.shape[1] < 2:
        raise GanbenchError(f"IS logits need at least 2 classes, got {x.shape[1]}")
    if not 1 <= splits <= n:
        raise GanbenchError(f"IS needs 1 <= splits <= number of samples, got splits={splits}, N={n}")
    if permutation is not None:
        perm = np.asarray(permutation)
        if perm.shape != (n,) or not np.array_equal(np.sort(perm), np.arange(n)):
            raise GanbenchError(f"IS permutation must be a permutation of range({n})")
        x = x[perm]
    elif seed is not None:
        x = x[np.random.RandomState(seed).permutation(n)]
    log_p = _log_softmax(x.astype(np.float64))
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_c, log_p_c = p[lo:hi], log_p[lo:hi]
        log_q = np.log(p_c.mean(axis=0, keepdims=True))
        kl = (p_c * (log_p_c - log_q)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    s = np.asarray(scores)
    return float(s.mean()), float(s.std())
