"""Memorisation checks (docs/reference.md section 5): nearest training images, copy share, Meehan C_T.

- ``nearest_neighbours``: each query's k nearest training rows (pixels flattened, or features),
  blocked so memory stays O(block x train) and never N x N.
- ``copy_share``: share of generated samples whose nearest-training distance is at most the
  ``COPY_QUANTILE`` (1%) quantile of the training set's own nearest-neighbour distances
  (measured on a seeded subset of training points against the rest of the training set).
  Why 1%: a sample drawn from the data distribution, independent of the training set, falls below
  that quantile with probability ~1%, so ``copy_share`` of an honest generator is ~0.01 by
  construction and anything well above it is excess closeness; 1% keeps that null rate small
  while the threshold still rests on ~20 order statistics at the default 2,000-point subset.
  Exact copies (distance 0) are always counted (``<=``).
- ``ct_test`` / ``ct_statistic``: Meehan, Chaudhuri & Dasgupta (2020) data-copying test C_T.
The picture of each sample beside its nearest training images (Goodfellow et al. 2014, Fig. 2) is
drawn by the caller from ``nearest_neighbours`` (``ganbench.evaluation.training.write_nn_grid``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError

COPY_QUANTILE = 0.01
N_SELF = 2000          # training points whose own NN distance sets the copy threshold
K_CELLS = 50           # Meehan et al.'s MNIST setting (k = 50 on a 64-d latent), docs/reference.md section 5
MIN_GEN_PER_CELL = 20  # tau = 20/m: a cell counts when it holds more than 20 generated samples
CONTINUITY = 0.5       # Mann-Whitney continuity correction of Meehan et al.'s code (see mann_whitney_z)
_QUERY_BLOCK = 1024
_TRAIN_CHUNK = 16384
_RERANK = 8            # extra float32 candidates re-ranked with exact float64 distances


def _as_rows(x: Any, what: str) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim < 2 or len(a) == 0:
        raise GanbenchError(f"{what}: expected a non-empty array [N, ...], got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise GanbenchError(f"{what}: expected numbers, got {a.dtype}")
    a = a.reshape(len(a), -1)
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise GanbenchError(f"{what} contain NaN or infinite values")
    return a


def nearest_neighbours(query: Any, train: Any, k: int = 1, exclude: np.ndarray | None = None,
                       block: int = _QUERY_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Indices [N, k] into ``train`` and Euclidean distances [N, k] (float64) of each query's k NNs.

    Rows are flattened (images -> pixels, on their own scale: 0..255 for uint8). Candidates are
    found with float32 matrix products in blocks; the best ``k + 8`` per query are then re-ranked
    with exact float64 distances, so an exact copy has distance exactly 0.
    ``exclude[i]``: an index of ``train`` that query ``i`` may not match (itself, for self-NN).
    """
    q, t = _as_rows(query, "query"), _as_rows(train, "train")
    if q.shape[1] != t.shape[1]:
        raise GanbenchError(f"query and train have different sizes per row: {q.shape[1]} vs {t.shape[1]}")
    if int(k) != k or not 1 <= k <= len(t) - (exclude is not None):
        raise GanbenchError(f"k must be an integer in 1..{len(t) - (exclude is not None)}, got {k}")
    if exclude is not None:
        exclude = np.asarray(exclude, np.int64)
        if exclude.shape != (len(q),):
            raise GanbenchError(f"exclude must hold one index per query ({len(q)}), got {exclude.shape}")
    c = min(k + _RERANK, len(t))
    tt = torch.from_numpy(np.ascontiguousarray(t, dtype=np.float32))
    t_sq = (tt.double() ** 2).sum(1).float()
    idx_out = np.empty((len(q), k), np.int64)
    dist_out = np.empty((len(q), k), np.float64)
    for s in range(0, len(q), block):
        qb = torch.from_numpy(np.ascontiguousarray(q[s:s + block], dtype=np.float32))
        q_sq = (qb.double() ** 2).sum(1).float()
        best_d = torch.full((len(qb), 0), math.inf)
        best_i = torch.zeros((len(qb), 0), dtype=torch.int64)
        for j in range(0, len(t), _TRAIN_CHUNK):
            d2 = q_sq[:, None] + t_sq[None, j:j + _TRAIN_CHUNK] - 2.0 * (qb @ tt[j:j + _TRAIN_CHUNK].T)
            if exclude is not None:
                ex = torch.from_numpy(exclude[s:s + block]) - j
                rows = torch.nonzero((ex >= 0) & (ex < d2.shape[1])).flatten()
                d2[rows, ex[rows]] = math.inf
            cand_d = torch.cat([best_d, d2], 1)
            cand_i = torch.cat([best_i, torch.arange(j, j + d2.shape[1]).expand(len(qb), -1)], 1)
            top = torch.topk(cand_d, min(c, cand_d.shape[1]), dim=1, largest=False)
            best_d, best_i = top.values, torch.gather(cand_i, 1, top.indices)
        cand = best_i.numpy()
        exact = _exact_distances(q[s:s + block], t, cand)
        if exclude is not None:
            exact[cand == exclude[s:s + block, None]] = math.inf
        order = np.argsort(exact, axis=1, kind="stable")[:, :k]
        idx_out[s:s + block] = np.take_along_axis(cand, order, 1)
        dist_out[s:s + block] = np.take_along_axis(exact, order, 1)
    return idx_out, dist_out


def _exact_distances(q: np.ndarray, t: np.ndarray, cand: np.ndarray, sub: int = 128) -> np.ndarray:
    out = np.empty(cand.shape, np.float64)
    for s in range(0, len(q), sub):
        diff = t[cand[s:s + sub]].astype(np.float64) - q[s:s + sub, None, :].astype(np.float64)
        out[s:s + sub] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    return out


def train_self_nn_distances(train: Any, n: int = N_SELF, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(subset indices, distance of each to its nearest *other* training point) for a seeded subset."""
    t = _as_rows(train, "train")
    if len(t) < 2:
        raise GanbenchError("the training set needs at least 2 points for nearest-neighbour distances")
    n = min(n, len(t))
    sub = np.sort(np.random.default_rng(seed).choice(len(t), n, replace=False))
    _, d = nearest_neighbours(t[sub], t, k=1, exclude=sub)
    return sub, d[:, 0]


def copy_threshold(train_self_nn_dist: np.ndarray, quantile: float = COPY_QUANTILE) -> float:
    """The distance below which a sample counts as a copy: a low quantile of train self-NN distances."""
    if not 0 < quantile < 1:
        raise GanbenchError(f"copy quantile must be in (0, 1), got {quantile}")
    d = np.asarray(train_self_nn_dist, np.float64).ravel()
    if len(d) == 0:
        raise GanbenchError("no training self-NN distances to take a quantile of")
    return float(np.quantile(d, quantile))


def copy_share(gen_to_train_dist: np.ndarray, train_self_nn_dist: np.ndarray,
               quantile: float = COPY_QUANTILE) -> float:
    """Share of samples at most the ``quantile`` of training self-NN distances from the training set.

    ~``quantile`` for samples independent of the training set; 1.0 when every sample is a copy.
    """
    g = np.asarray(gen_to_train_dist, np.float64)
    g = g[:, 0] if g.ndim == 2 else g.ravel()
    if len(g) == 0:
        raise GanbenchError("no generated distances")
    return float(np.mean(g <= copy_threshold(train_self_nn_dist, quantile)))


# --------------------------------------------------------------------------------------------
# Meehan et al. 2020, C_T
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CTResult:
    """C_T and its per-cell parts (cells are k-means cells of the training features)."""

    ct: float
    z: np.ndarray           # [k] Z_U per cell (NaN where undefined: no test or no generated points)
    test_share: np.ndarray  # [k] P_n(pi): share of test points per cell
    gen_share: np.ndarray   # [k] Q_m(pi): share of generated points per cell
    used: np.ndarray        # [k] bool, cells in Pi_tau (Q_m(pi) > tau) that also hold test points
    tau: float

    @property
    def cells_used(self) -> int:
        return int(self.used.sum())


def mann_whitney_z(gen_dist: np.ndarray, test_dist: np.ndarray) -> float:
    """Z-scored Mann-Whitney U of generated vs test distances, as Meehan et al.'s released code
    computes it (casey-meehan/data-copying, data_copying_tests.py ``Zu``).

    U counts pairs (generated, test) with the generated distance larger (ties 1/2); under the null
    its mean is nm/2 and its std sqrt(nm(n+m+1)/12). Their code subtracts a 0.5 continuity
    correction from the mean (the one-sided "less" test's correction), so Z = (U - nm/2 + 0.5) / std;
    matched here so that C_T equals theirs. Negative: generated samples are closer to the training set.
    """
    from scipy.stats import rankdata

    m, n = len(gen_dist), len(test_dist)
    ranks = rankdata(np.concatenate([gen_dist, test_dist]))
    u = ranks[:m].sum() - m * (m + 1) / 2
    return float((u - (n * m / 2 - CONTINUITY)) / math.sqrt(n * m * (n + m + 1) / 12))


def ct_test(train_feats: Any, test_feats: Any, gen_feats: Any, k_cells: int = K_CELLS,
            tau: float | None = None, seed: int = 0) -> CTResult:
    """Meehan et al.'s C_T: seeded k-means (scikit-learn) on the training features into ``k_cells``;
    in each cell, the distances of test and of generated points to their nearest training point
    *in the same cell* are compared by ``mann_whitney_z``; C_T averages the cell Z-scores weighted
    by the cells' test shares, over cells with more than ``tau`` (default 20/m) of the generated
    samples. C_T << 0: copying; >> 0: underfitting; under the null each Z ~ N(0, 1).
    Cells without test points carry no weight and are skipped (Meehan's code raises there).
    """
    from sklearn.cluster import KMeans

    t = _as_rows(train_feats, "training features").astype(np.float32)
    p = _as_rows(test_feats, "test features").astype(np.float32)
    q = _as_rows(gen_feats, "generated features").astype(np.float32)
    if not (t.shape[1] == p.shape[1] == q.shape[1]):
        raise GanbenchError(f"C_T features differ in width: train {t.shape[1]}, test {p.shape[1]}, "
                            f"generated {q.shape[1]}")
    if int(k_cells) != k_cells or not 1 <= k_cells <= len(t):
        raise GanbenchError(f"k_cells must be an integer in 1..{len(t)} (training points), got {k_cells}")
    m, n = len(q), len(p)
    tau = MIN_GEN_PER_CELL / m if tau is None else float(tau)
    km = KMeans(n_clusters=int(k_cells), n_init=1, random_state=seed).fit(t)
    t_cells, p_cells, q_cells = km.labels_, km.predict(p), km.predict(q)
    test_share = np.bincount(p_cells, minlength=k_cells) / n
    gen_share = np.bincount(q_cells, minlength=k_cells) / m
    z = np.full(k_cells, np.nan)
    for c in range(k_cells):
        pc, qc, tc = p[p_cells == c], q[q_cells == c], t[t_cells == c]
        if len(pc) == 0 or len(qc) == 0 or len(tc) == 0:
            continue
        _, lp = nearest_neighbours(pc, tc, k=1)
        _, lq = nearest_neighbours(qc, tc, k=1)
        z[c] = mann_whitney_z(lq[:, 0], lp[:, 0])
    used = (gen_share > tau) & (test_share > 0) & np.isfinite(z)
    if not used.any():
        warnings.warn(f"C_T: no cell holds more than tau*m = {tau * m:g} generated samples "
                      f"(m = {m}, {k_cells} cells); C_T is NaN. Use more samples or fewer cells.", stacklevel=2)
        ct = math.nan
    else:
        ct = float(np.dot(test_share[used], z[used]) / test_share[used].sum())
    return CTResult(ct, z, test_share, gen_share, used, tau)


def ct_statistic(train_feats: Any, test_feats: Any, gen_feats: Any, k_cells: int = K_CELLS,
                 tau: float | None = None, seed: int = 0) -> float:
    """C_T alone (see ``ct_test``)."""
    return ct_test(train_feats, test_feats, gen_feats, k_cells, tau, seed).ct


# --------------------------------------------------------------------------------------------
# All together
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoOptions:
    """The memorisation check's settings (recorded beside its numbers by ``memorization_protocol``)."""

    quantile: float = COPY_QUANTILE  # copy threshold: this quantile of train self-NN distances
    n_self: int = N_SELF             # training points whose self-NN distances set it
    k_cells: int = K_CELLS           # C_T's k-means cells
    tau: float | None = None         # C_T's minimum generated share per cell (None: 20/m)
    seed: int = 0


def memorization_metrics(gen: Any = None, train: Any = None, test: Any = None, *,
                         gen_feats: Any = None, train_feats: Any = None, test_feats: Any = None,
                         options: MemoOptions = MemoOptions()) -> dict[str, float]:
    """Memorisation numbers for generated samples against the training set.

    Pixel space (``gen``, ``train`` images): ``copy_share``, ``nn_dist_median`` (pixel units).
    Feature space (``gen_feats``, ``train_feats``): ``copy_share_features``, ``nn_dist_median_features``.
    C_T (``ct``, ``ct_cells_used``) against the held-out split: in feature space when
    ``test_feats`` is given (Meehan et al. work in a learned embedding), else in pixel space from
    ``test`` images. The picture of the nearest training images is the caller's (``nearest_neighbours``
    gives the indices), so this module draws nothing.
    """
    o = options
    out: dict[str, float] = {}
    if (gen is None) != (train is None) or (gen_feats is None) != (train_feats is None):
        raise GanbenchError("memorization: give generated and training data together (images and/or features)")
    if gen is None and gen_feats is None:
        raise GanbenchError("memorization: give images (gen, train) or features (gen_feats, train_feats)")
    for prefix, g, t in (("", gen, train), ("_features", gen_feats, train_feats)):
        if g is None:
            continue
        _, d = nearest_neighbours(g, t, k=1)
        _, self_d = train_self_nn_distances(t, o.n_self, o.seed)
        out[f"copy_share{prefix}"] = copy_share(d[:, 0], self_d, o.quantile)
        out[f"nn_dist_median{prefix}"] = float(np.median(d[:, 0]))
    if test_feats is not None and gen_feats is not None:
        r = ct_test(train_feats, test_feats, gen_feats, o.k_cells, o.tau, o.seed)
    elif test is not None and gen is not None:
        r = ct_test(train, test, gen, o.k_cells, o.tau, o.seed)
    else:
        r = None
    if r is not None:
        out["ct"] = r.ct
        out["ct_cells_used"] = float(r.cells_used)
    return out


def memorization_protocol(options: MemoOptions = MemoOptions(), ct_space: str = "features") -> dict[str, Any]:
    """The settings a record stores beside the memorisation numbers."""
    o = options
    return {"copy_rule": f"NN distance to train <= {o.quantile:g} quantile of train self-NN distances "
                         f"({o.n_self} train points, seed {o.seed})",
            "copy_quantile": o.quantile, "n_self": o.n_self, "ct_k_cells": o.k_cells,
            "ct_tau": "20/m" if o.tau is None else o.tau, "ct_space": ct_space, "ct_seed": o.seed}


__all__ = ["nearest_neighbours", "train_self_nn_distances", "copy_threshold", "copy_share", "CTResult",
           "mann_whitney_z", "ct_test", "ct_statistic", "memorization_metrics", "memorization_protocol",
           "MemoOptions", "COPY_QUANTILE", "N_SELF", "K_CELLS"]


def _compute(real: Any, fake: Any, heldout: Any = None, real_images: Any = None, fake_images: Any = None,
             **params: Any) -> dict[str, float]:
    """MetricSpec entry: ``real``/``fake``/``heldout`` are training/generated/held-out features;
    the images, when given, add the pixel-space ``copy_share`` and ``nn_dist_median``."""
    if heldout is None:
        raise GanbenchError("the memorization metric needs held-out (test split) features: pass heldout=...")
    return memorization_metrics(fake_images, real_images, gen_feats=fake, train_feats=real,
                                test_feats=heldout, options=MemoOptions(**params))


def _register() -> None:
    from ganbench.metrics.spec import MetricSpec
    from ganbench.registry import METRICS

    help_ = "memorisation: Meehan C_T vs a held-out split and copy share (1% self-NN quantile)"
    METRICS.register("memorization", MetricSpec(
        "memorization", ("pool3",),
        # Meehan et al.'s C_T: << 0 copies, >> 0 underfits, ~N(0, 1) per cell when neither: best
        # near 0. A larger NN distance to the training set means less copying.
        {"ct": "closer to 0", "ct_cells_used": None, "copy_share": "lower", "copy_share_features": "lower",
         "nn_dist_median": "higher", "nn_dist_median_features": "higher"},
        _compute, {"quantile": COPY_QUANTILE, "n_self": N_SELF, "k_cells": K_CELLS, "tau": None, "seed": 0},
        help=help_, protocol={"quantile": "copy_quantile", "n_self": "n_self", "k_cells": "ct_k_cells",
                              "tau": "ct_tau", "seed": "ct_seed"},
        floors={"copy_share": 0.005, "copy_share_features": 0.005}, kind="run-end"), help=help_)


_register()
