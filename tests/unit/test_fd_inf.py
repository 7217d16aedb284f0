"""FD∞ (Chong & Forsyth 2020): agreement with the authors' released code, and debiasing on real data."""

from __future__ import annotations

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.metrics.fd_inf import fd_infinity, linear_fit, subset_sizes
from ganbench.metrics.fid import fid_from_features


def _fixture():
    rng = np.random.default_rng(11)
    real = rng.standard_normal((3000, 16))
    fake = 0.3 + rng.standard_normal((1500, 16)) @ np.diag(np.linspace(0.6, 1.4, 16))
    return real, fake


# mchong6/FID_IS_infinity score_infinity.py, calculate_FID_infinity_path(min_fake=150, num_points=15),
# run unmodified outside this repository on _fixture() (its Inception and image loading replaced by
# returning these features), after np.random.seed(seed).
AUTHORS = {0: 2.479014773693764, 1: 2.45647780024404}


def _authors_draws(n_fake: int, seed: int) -> list[np.ndarray]:
    """The rows the authors' loop takes: one cumulative np.random.shuffle per size, then the first N."""
    ns = np.linspace(150, n_fake, 15).astype("int32")
    rs, order, out = np.random.RandomState(seed), np.arange(n_fake), []
    for n in ns:
        rs.shuffle(order)
        out.append(order[:n].copy())
    return out


@pytest.mark.parametrize("seed", sorted(AUTHORS))
def test_matches_the_authors_code(seed):
    real, fake = _fixture()
    r = fd_infinity(real, fake, mode="fake", subsets=_authors_draws(len(fake), seed))
    # 1e-9: their sqrtm and our eigh-based trace differ in rounding only (measured 5e-15).
    assert r.value == pytest.approx(AUTHORS[seed], rel=1e-9)
    assert len(r.ns) == 15 and r.slope > 0 and 0 <= r.r2 <= 1


def test_fit_is_reported_and_exact_on_a_line():
    ns = np.array([100, 200, 400, 800])
    assert linear_fit(ns, 2.0 + 300.0 / ns) == pytest.approx((2.0, 300.0, 1.0))
    assert list(subset_sizes(1000, 4)) == [100, 400, 700, 1000]
    real, fake = _fixture()
    m = fd_infinity(real, fake).metrics()
    assert set(m) == {"fd_inf", "fd_inf_slope", "fd_inf_r2"}
    # FD∞ lies below the biased full-sample FD.
    assert m["fd_inf"] < fid_from_features(real, fake)


def test_bad_input():
    real, fake = _fixture()
    with pytest.raises(GanbenchError, match="mode"):
        fd_infinity(real, fake, mode="real")
    with pytest.raises(GanbenchError, match="subset sizes"):
        fd_infinity(real, fake, ns=[10, 5000])
    with pytest.raises(GanbenchError, match="2 different"):
        fd_infinity(real, fake, ns=[100, 100])
    with pytest.raises(GanbenchError):
        fd_infinity(real[:, :3], fake)


def _pooled(ds, split: str, seed: int, n: int = 1000) -> np.ndarray:
    """Fashion-MNIST pixels mean-pooled 2x2 (196-d): a cheap feature space (FD∞ works in any)."""
    x, _ = ds.reference(n, seed, split)
    return np.asarray(x, np.float64).reshape(-1, 1, 14, 2, 14, 2).mean((1, 3, 5)).reshape(n, -1) / 255


def test_train_vs_test_fd_inf_is_much_closer_to_zero_than_fid(fmnist):
    fid, inf = [], []
    for seed in range(3):
        a, b = _pooled(fmnist, "train", seed), _pooled(fmnist, "test", seed)
        fid.append(fid_from_features(a, b))
        inf.append(fd_infinity(a, b, seed=seed).value)
    # Measured: FID 0.27 (the 1/n bias of 1000 vs 1000) against |FD∞| 0.05.
    assert np.mean(np.abs(inf)) < 0.35 * np.mean(fid)
