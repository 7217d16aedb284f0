"""The Vendi score (Friedman & Dieng, TMLR 2023): exp of the Shannon entropy of the eigenvalues of
K/n, K the cosine-similarity kernel of the samples (q = 1), or their Rényi entropy of order q.

With unit-norm rows X (n x d), K/n = X X^T / n has the same non-zero eigenvalues as X^T X / n,
so the smaller of the two matrices is decomposed (vendi-score's ``score_dual`` does the same).
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import check_features


def vendi_score(x: np.ndarray, q: float = 1.0) -> float:
    """Vendi score of the rows of ``x`` under the cosine kernel; between 1 and min(n, d)."""
    x = check_features(x, "vendi features", min_rows=1).astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise GanbenchError("vendi: a feature vector is all zeros (cosine similarity undefined)")
    x = x / norms
    n, d = x.shape
    m = x.T @ x if d < n else x @ x.T
    w = np.clip(np.linalg.eigvalsh(m / n), 0.0, None)
    w = w[w > 0]
    if q == 1:
        return float(np.exp(-np.sum(w * np.log(w))))
    if q == np.inf:
        return float(1.0 / w.max())
    return float(np.exp(np.log(np.sum(w ** q)) / (1 - q)))
