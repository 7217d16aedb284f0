"""k-NN precision, recall, density and coverage (Kynkäänniemi et al. 2019; Naeem et al. 2020).

Numbers equal prdc 0.2's ``compute_prdc`` with the same k; the difference is memory. prdc builds
full N x N distance matrices (plus an N x N int64 argpartition index), 1.6 GB at 10k and tens of
GB at 50k (docs/reference.md section 6); here distances are computed one block of rows at a time, so
peak memory is O(block x N), and the real-fake distances are computed once for all four metrics.

prdc's semantics, kept on purpose so that the numbers agree:
- the radius of a point is the distance to its k-th nearest neighbour *with the point itself
  counted as the 0-th* (prdc takes the (k+1) smallest distances of each row, self-distance 0
  included, and their maximum);
- "inside a ball" is strict: distance < radius. A consequence (prdc issue 7): when a set's points
  coincide (e.g. real = fake = many copies of one vector) every radius is 0, nothing is strictly
  inside, and precision = recall = density = coverage = 0 although the sets are identical;
- distances follow scikit-learn's ``euclidean_distances`` used by prdc: ||a||² + ||b||² - 2 a·b
  accumulated in float64 (sklearn upcasts float32 inputs in chunks), then cast to float32 when
  both inputs are float32, clamped at 0, square-rooted, self-distances set to exactly 0. Computing
  the products in float32 would flip strict comparisons that sit within float32 rounding of a
  radius, so agreement would only be approximate.
"""

from __future__ import annotations

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import check_features, check_same_dims

# Rows per block: peak memory is about block x N x (4 or 8 bytes) for the distance block plus
# two boolean masks of that size; 1024 keeps it near 150 MB at N = 20k.
DEFAULT_BLOCK = 1024
# Centre rows upcast to float64 at a time (bounds the float64 temporaries at any feature width).
_CENTRE_CHUNK = 1024


def _out_dtype(*xs: np.ndarray) -> np.dtype:
    # sklearn keeps float32 only when every input is float32, else computes and returns float64.
    return np.dtype(np.float32) if all(x.dtype == np.float32 for x in xs) else np.dtype(np.float64)


def _sq_norms(x: np.ndarray) -> np.ndarray:
    out = np.empty(len(x), dtype=np.float64)
    for s in range(0, len(x), _CENTRE_CHUNK):
        c = x[s:s + _CENTRE_CHUNK].astype(np.float64, copy=False)
        out[s:s + _CENTRE_CHUNK] = np.einsum("ij,ij->i", c, c)
    return out


def _distance_block(q: np.ndarray, q_sq: np.ndarray, c: np.ndarray, c_sq: np.ndarray,
                    dtype: np.dtype) -> np.ndarray:
    """Euclidean distances [len(q), len(c)] as sklearn computes them (see module docstring)."""
    q64 = q.astype(np.float64, copy=False)
    out = np.empty((len(q), len(c)), dtype=dtype)
    for s in range(0, len(c), _CENTRE_CHUNK):
        c64 = c[s:s + _CENTRE_CHUNK].astype(np.float64, copy=False)
        d = q64 @ c64.T
        d *= -2.0
        d += q_sq[:, None]
        d += c_sq[None, s:s + _CENTRE_CHUNK]
        out[:, s:s + _CENTRE_CHUNK] = d
    np.maximum(out, 0, out=out)
    np.sqrt(out, out=out)
    return out


def _distance_block_torch(q, q_sq, c, c_sq, dtype):
    """The distances of ``_distance_block`` (same float64 formula and order) on a torch device; its
    BLAS may add the products in another order, moving a distance by at most a float32 ulp.

    Not torch.cdist: its matrix-product path folds the norms into one product, which rounds
    differently and flips strict comparisons near a radius, so the numbers would stop equalling prdc's.
    """
    d = q @ c.T
    d *= -2.0
    d += q_sq[:, None]
    d += c_sq[None, :]
    return d.to(dtype).clamp_min_(0).sqrt_()


def _merge_smallest(best: np.ndarray, start: int, d: np.ndarray, k: int) -> None:
    """Keep in ``best[start:start+len(d)]`` the k+1 smallest of its values and of the rows of ``d``."""
    rows = slice(start, start + len(d))
    cand = np.concatenate((best[rows], d), axis=1)
    cand.partition(k, axis=1)
    best[rows] = cand[:, :k + 1]


def _knn_radii_torch(x, x_sq, k: int, block: int, dtype):
    import torch

    n = len(x)
    best = torch.full((n, k + 1), float("inf"), dtype=dtype, device=x.device)
    for i in range(0, n, block):
        for j in range(i, n, block):
            d = _distance_block_torch(x[i:i + block], x_sq[i:i + block], x[j:j + block], x_sq[j:j + block], dtype)
            if i == j:
                d.fill_diagonal_(0.0)
            for rows, part in ((i, d), (j, d.T)) if j != i else ((i, d),):
                cand = torch.cat((best[rows:rows + len(part)], part), dim=1)
                best[rows:rows + len(part)] = cand.topk(k + 1, dim=1, largest=False).values
            del d
    return best.max(dim=1).values


def knn_radii(x: np.ndarray, k: int, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """Distance of each row of ``x`` to its k-th nearest neighbour within ``x`` (self counted as 0-th).

    Each distance block between row blocks i <= j serves both (rows of i against j, and through its
    transpose rows of j against i), so the matrix products cost half of a full N x N pass.
    """
    dtype = _out_dtype(x)
    x_sq = _sq_norms(x)
    n = len(x)
    best = np.full((n, k + 1), np.inf, dtype=dtype)  # the k+1 smallest distances seen per row
    for i in range(0, n, block):
        for j in range(i, n, block):
            d = _distance_block(x[i:i + block], x_sq[i:i + block], x[j:j + block], x_sq[j:j + block], dtype)
            if i == j:
                np.fill_diagonal(d, 0.0)  # self-distance exactly 0, as sklearn sets the diagonal
            _merge_smallest(best, i, d, k)
            if j != i:
                _merge_smallest(best, j, d.T, k)
            del d
    return best.max(axis=1)  # max of the k+1 smallest = prdc's get_kth_value(k+1)


def _ball_stats(dist: np.ndarray, centre_radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For distances [centres, queries]: how many centre balls hold each query (strict <, as prdc),
    and whether each centre's ball holds any query. Written once, used for both roles."""
    inside = dist < centre_radii[:, None]
    return inside.sum(axis=0), np.any(inside, axis=1)  # np.any: its stub types an axis reduction as an array


def _fraction_inside(counts: np.ndarray) -> float:
    """Share of queries inside at least one ball: precision (fake in real balls) and recall
    (real in fake balls) are this same quantity with the roles swapped (docs/design.md convention 6)."""
    return float(np.mean(counts > 0))


def _scan(real: np.ndarray, fake: np.ndarray, real_radii: np.ndarray,
          fake_radii: np.ndarray | None, block: int) -> dict[str, np.ndarray]:
    """One blocked pass over real-fake distances, computed once and read in both roles."""
    dtype = _out_dtype(real, fake)
    real_sq, fake_sq = _sq_norms(real), _sq_norms(fake)
    fake_in_real = np.zeros(len(fake), dtype=np.int64)   # real balls holding each fake point
    real_hit = np.zeros(len(real), dtype=bool)            # real ball holds some fake point
    real_in_fake = np.zeros(len(real), dtype=np.int64)   # fake balls holding each real point
    for s in range(0, len(real), block):
        d = _distance_block(real[s:s + block], real_sq[s:s + block], fake, fake_sq, dtype)
        cnt, hit = _ball_stats(d, real_radii[s:s + block])
        fake_in_real += cnt
        real_hit[s:s + block] = hit
        if fake_radii is not None:
            real_in_fake[s:s + block], _ = _ball_stats(d.T, fake_radii)
        del d  # free before the next block is allocated: peak stays one block
    return {"fake_in_real": fake_in_real, "real_hit": real_hit, "real_in_fake": real_in_fake}


def _scan_torch(real: np.ndarray, fake: np.ndarray, k: int, need_fake_radii: bool, block: int,
                device: str) -> dict[str, np.ndarray]:
    """knn radii and the real-fake scan of ``_scan`` with distance blocks on a torch device (a GPU):
    the float64 products of 50k x 50k features are where the time goes."""
    import torch

    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[_out_dtype(real, fake)]
    def on_device(a: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a)).to(device, torch.float64)

    # Squared norms from numpy: a torch sum adds in another order and moves the last bits.
    r, f, r_sq, f_sq = on_device(real), on_device(fake), on_device(_sq_norms(real)), on_device(_sq_norms(fake))
    real_radii = _knn_radii_torch(r, r_sq, k, block, dtype)
    fake_radii = _knn_radii_torch(f, f_sq, k, block, dtype) if need_fake_radii else None
    fake_in_real = torch.zeros(len(f), dtype=torch.int64, device=device)
    real_hit = torch.zeros(len(r), dtype=torch.bool, device=device)
    real_in_fake = torch.zeros(len(r), dtype=torch.int64, device=device)
    for s in range(0, len(r), block):
        d = _distance_block_torch(r[s:s + block], r_sq[s:s + block], f, f_sq, dtype)
        inside = d < real_radii[s:s + block, None]
        fake_in_real += inside.sum(dim=0)
        real_hit[s:s + block] = inside.any(dim=1)
        if fake_radii is not None:
            real_in_fake[s:s + block] = (d < fake_radii[None, :]).sum(dim=1)
        del d, inside
    return {k_: v.cpu().numpy() for k_, v in
            {"fake_in_real": fake_in_real, "real_hit": real_hit, "real_in_fake": real_in_fake}.items()}


def _device(device: str | None) -> str:
    """None: a CUDA GPU when there is one, else numpy; "numpy", or a torch device such as "cuda:1"."""
    if device is None:
        import torch

        return "cuda" if torch.cuda.is_available() else "numpy"
    return device


def _run_scan(real: np.ndarray, fake: np.ndarray, k: int, need_fake_radii: bool, block: int,
              device: str | None) -> dict[str, np.ndarray]:
    dev = _device(device)
    if dev != "numpy":
        return _scan_torch(real, fake, k, need_fake_radii, block, dev)
    fake_radii = knn_radii(fake, k, block) if need_fake_radii else None
    return _scan(real, fake, knn_radii(real, k, block), fake_radii, block)


def _check(real: np.ndarray, fake: np.ndarray, k: int, need_fake_radii: bool, block: int):
    if int(k) != k or k < 1:
        raise GanbenchError(f"k must be a positive integer, got {k}")
    if int(block) != block or block < 1:
        raise GanbenchError(f"block size must be a positive integer, got {block}")
    real = check_features(real, "real features", min_rows=k + 1)
    fake = check_features(fake, "fake features", min_rows=k + 1 if need_fake_radii else 1)
    check_same_dims(real, fake)
    return real, fake


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3, block: int = DEFAULT_BLOCK,
                     device: str | None = None) -> dict[str, float]:
    """Improved precision (fake inside the real k-NN manifold) and recall (real inside the fake one).

    device: None = a CUDA GPU when present, else numpy; or "numpy", or a torch device (same numbers).
    """
    real, fake = _check(real, fake, k, True, block)
    r = _run_scan(real, fake, k, True, block, device)
    return {"precision": _fraction_inside(r["fake_in_real"]), "recall": _fraction_inside(r["real_in_fake"])}


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5, block: int = DEFAULT_BLOCK,
                     device: str | None = None) -> dict[str, float]:
    """Density (mean real balls holding a fake point, over k) and coverage (real balls holding one)."""
    real, fake = _check(real, fake, k, False, block)
    r = _run_scan(real, fake, k, False, block, device)
    return {"density": float(r["fake_in_real"].sum() / (k * len(fake))), "coverage": float(r["real_hit"].mean())}


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5, block: int = DEFAULT_BLOCK,
         device: str | None = None) -> dict[str, float]:
    """Precision, recall, density and coverage with one k, equal to prdc 0.2's ``compute_prdc``."""
    real, fake = _check(real, fake, k, True, block)
    r = _run_scan(real, fake, k, True, block, device)
    return {
        "precision": _fraction_inside(r["fake_in_real"]),
        "recall": _fraction_inside(r["real_in_fake"]),
        "density": float(r["fake_in_real"].sum() / (k * len(fake))),
        "coverage": float(r["real_hit"].mean()),
    }
