"""Memorisation checks: nearest neighbours, copy share, Meehan et al.'s C_T, the NN grid."""

import math
from pathlib import Path

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.evaluation.training import write_nn_grid
from ganbench.metrics import memorization as mem
from ganbench.metrics.memorization import (
    MemoOptions,
    copy_share,
    copy_threshold,
    ct_test,
    mann_whitney_z,
    memorization_metrics,
    nearest_neighbours,
    train_self_nn_distances,
)
from ganbench.pictures import nn_grid

FMNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian dataset-fashion-mnist (`make test` installs it)


def _brute(q, t):
    q, t = q.reshape(len(q), -1).astype(np.float64), t.reshape(len(t), -1).astype(np.float64)
    return np.sqrt(((q[:, None, :] - t[None, :, :]) ** 2).sum(-1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_nearest_neighbours_match_brute_force_across_blocks(dtype, monkeypatch):
    monkeypatch.setattr(mem, "_TRAIN_CHUNK", 13)  # many train chunks: exercises the running merge
    rng = np.random.default_rng(0)
    if dtype == np.uint8:
        q, t = rng.integers(0, 256, (37, 1, 5, 5), dtype=np.uint8), rng.integers(0, 256, (101, 1, 5, 5), dtype=np.uint8)
    else:
        q, t = rng.standard_normal((37, 6)).astype(dtype), rng.standard_normal((101, 6)).astype(dtype)
    idx, dist = nearest_neighbours(q, t, k=4, block=8)
    d = _brute(q, t)
    np.testing.assert_array_equal(idx, np.argsort(d, axis=1, kind="stable")[:, :4])
    np.testing.assert_allclose(dist, np.sort(d, axis=1)[:, :4], rtol=1e-12, atol=1e-9)


def test_copies_are_at_distance_exactly_zero_and_exclude_skips_self():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 256, (300, 784), dtype=np.uint8)
    idx, dist = nearest_neighbours(t[:50], t)
    assert (dist == 0).all() and (idx[:, 0] == np.arange(50)).all()
    sub, self_d = train_self_nn_distances(t, n=40, seed=0)
    d = _brute(t[sub], t)
    d[np.arange(len(sub)), sub] = np.inf
    np.testing.assert_allclose(self_d, d.min(1), rtol=1e-12)
    # A duplicated training image is a true neighbour at distance 0 (only the point itself is excluded).
    t2 = np.concatenate([t, t[:1]])
    _, d2 = nearest_neighbours(t2[:1], t2, exclude=np.array([0]))
    assert d2[0, 0] == 0


def test_copy_share_rule():
    self_d = np.arange(1, 101, dtype=float)  # 1..100: the 1% quantile is 1.99
    assert copy_threshold(self_d, 0.01) == pytest.approx(1.99)
    assert copy_share(np.array([0.0, 1.0, 1.99, 2.5, 50.0]), self_d, 0.01) == pytest.approx(3 / 5)
    # Exact copies count even when duplicates in the training set make the threshold 0.
    assert copy_share(np.zeros(4), np.zeros(10), 0.01) == 1.0
    with pytest.raises(GanbenchError, match="quantile"):
        copy_share(np.zeros(4), self_d, 1.5)


def test_mann_whitney_z_matches_scipy():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(2)
    a, b = rng.random(40), np.concatenate([rng.random(55), [0.5, 0.5]])  # with ties
    a[:3] = 0.5
    u = mannwhitneyu(a, b, alternative="less").statistic  # U of the first sample
    n, m = len(b), len(a)
    # Meehan et al.'s continuity correction: mean nm/2 - 0.5.
    sd = math.sqrt(n * m * (n + m + 1) / 12)
    assert mann_whitney_z(a, b) == pytest.approx((u - n * m / 2 + 0.5) / sd)
    assert mann_whitney_z(np.zeros(20), np.ones(30)) == pytest.approx((0.5 - 300) / math.sqrt(20 * 30 * 51 / 12))


def _ct_fixture():
    """Three far-apart clusters in 8-d (k-means finds them whatever its dtype or start), a copier and an
    underfitting generator."""
    rng = np.random.default_rng(5)
    centres = np.array([[0.0] * 8, [10.0] * 8, [-10.0] * 4 + [10.0] * 4])

    def draw(n, scale):
        return centres[np.arange(n) % 3] + scale * rng.standard_normal((n, 8))

    train, test = draw(600, 1.0), draw(300, 1.0)
    copier = train[rng.choice(600, 240, replace=False)] + 0.05 * rng.standard_normal((240, 8))
    return train, test, copier, draw(240, 1.6)


# casey-meehan/data-copying, data_copying_tests.py ``C_T``, run unmodified outside this repository on
# _ct_fixture() with sklearn KMeans(n_clusters=3, n_init=1, random_state=0) cells and tau = 20/m.
# (Shim in that run only: numpy >= 2 refuses their (1,)-shaped U in a float slot, so their module's
# ``mannwhitneyu`` was wrapped to return the same value as a scalar.)
MEEHAN_CT = {"copier": -11.511250031140134, "under": 9.020612790187663}


def test_ct_equals_meehan_reference():
    train, test, copier, under = _ct_fixture()
    for name, gen in (("copier", copier), ("under", under)):
        assert ct_test(train, test, gen, k_cells=3, seed=0).ct == pytest.approx(MEEHAN_CT[name], abs=1e-9)


def test_ct_signs_on_gaussians():
    rng = np.random.default_rng(3)
    train, test = rng.standard_normal((3000, 4)), rng.standard_normal((2000, 4))
    fresh = rng.standard_normal((2000, 4))
    copies = train[rng.choice(3000, 2000, replace=False)] + 1e-3 * rng.standard_normal((2000, 4))
    spread = rng.standard_normal((2000, 4)) * 1.3  # farther from the training points than test data
    null = ct_test(train, test, fresh, k_cells=10, seed=0)
    assert abs(null.ct) < 2 and null.cells_used >= 8
    assert ct_test(train, test, copies, k_cells=10).ct < -10
    assert ct_test(train, test, spread, k_cells=10).ct > 2
    # Weighted by test share over the cells used (docs/reference.md section 5).
    w = null.test_share[null.used]
    assert null.ct == pytest.approx(float(np.dot(w, null.z[null.used]) / w.sum()))
    assert np.all(null.gen_share[null.used] > 20 / 2000)


def test_ct_cells_need_more_than_tau_generated():
    rng = np.random.default_rng(4)
    train, test = rng.standard_normal((500, 2)), rng.standard_normal((300, 2))
    with pytest.warns(UserWarning, match="no cell"):
        r = ct_test(train, test, rng.standard_normal((30, 2)), k_cells=5)  # 30 samples, > 20 per cell: none
    assert math.isnan(r.ct) and r.cells_used == 0
    with pytest.raises(GanbenchError, match="width"):
        ct_test(train, test[:, :1], test)


def test_nn_grid_layout(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(5)
    gen = rng.integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    train = rng.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8)
    idx = np.array([[3, 1, 2]] * 5)
    p = nn_grid(gen, train, idx, tmp_path / "sub" / "grid.png", n=4, scale=1, pad=2)
    im = np.asarray(Image.open(p))
    assert im.shape == (2 + 4 * 30, 2 + 30 + 4 + 3 * 30 + 2, 3)
    np.testing.assert_array_equal(im[2:30, 2:30, 0], gen[0, 0])           # row 0: the sample ...
    x = 2 + 30 + 4 + 2                                                    # ... bar, then neighbours
    np.testing.assert_array_equal(im[2 + 30:60, x:x + 28, 1], train[3, 0])
    rgb = nn_grid(np.repeat(gen, 3, axis=1), np.repeat(train, 3, axis=1), idx[:, 0], tmp_path / "c.png")
    assert Image.open(rgb).size == (2 * (2 + 30 + 4 + 30 + 2), 2 * (2 + 5 * 30))
    with pytest.raises(GanbenchError, match="uint8"):
        nn_grid(gen.astype(float), train, idx, tmp_path / "x.png")


# --------------------------------------------------------------------------------------------
# Real data: Fashion-MNIST, with the domain classifier's features for C_T


@pytest.fixture(scope="module")
def real(fmnist, clf):
    ds = fmnist
    rng = np.random.default_rng(0)
    train = ds.train_x[np.sort(rng.choice(len(ds.train_x), 10_000, replace=False))]
    test, heldout = ds.test_x[:4000], ds.test_x[4000:5000]        # C_T reference / honest "samples"
    copies = train[rng.choice(len(train), 1000, replace=False)]    # a generator that memorised
    images = {"train": train, "test": test, "heldout": heldout, "copies": copies}
    feats = {k: clf.features(v) for k, v in images.items()}
    return images, feats


# 1,000 samples: 20 cells leave ~50 generated samples per cell, above tau*m = 20 (the default 50
# cells is Meehan's MNIST setting for larger sample sets).
SETTINGS = {"k_cells": 20, "n_self": 1000, "seed": 0}
OPTIONS = MemoOptions(**SETTINGS)


def _metrics(real, which, grid_path=None, **grid):
    """The metrics, and the grid drawn from their nearest neighbours as a run's end draws it."""
    images, feats = real
    out = memorization_metrics(images[which], images["train"], images["test"], gen_feats=feats[which],
                               train_feats=feats["train"], test_feats=feats["test"], options=OPTIONS)
    if grid_path is not None:
        write_nn_grid(images[which], images["train"], grid_path, **grid)
    return out


def test_heldout_images_pass(real, tmp_path):
    m = _metrics(real, "heldout", grid_path=tmp_path / "heldout.png")
    # Held-out data are as far from the training set as training points are from each other:
    # C_T ~ N(0, 1/cells) under the null, copy share ~ the 1% quantile by construction.
    assert abs(m["ct"]) < 3 and m["ct_cells_used"] >= 15
    assert m["copy_share"] < 0.05 and m["copy_share_features"] < 0.05
    assert m["nn_dist_median"] > 500  # pixel units (0..255 per pixel): measured ~900
    assert (tmp_path / "heldout.png").stat().st_size > 0


def test_copied_training_images_are_flagged(real, tmp_path):
    from PIL import Image

    m = _metrics(real, "copies", grid_path=tmp_path / "copies.png", n=8, k=2)
    assert m["ct"] < -5  # every copy is at distance 0 inside its cell: measured ~ -15
    assert m["copy_share"] >= 0.9 and m["copy_share_features"] >= 0.9
    assert m["nn_dist_median"] == 0.0
    im = Image.open(tmp_path / "copies.png")
    assert im.size == (2 * (2 + 30 + 4 + 2 * 30 + 2), 2 * (2 + 8 * 30))
    # Each copy's nearest training image is itself: left and right of the bar are equal.
    a = np.asarray(im)[::2, ::2, 0]
    np.testing.assert_array_equal(a[2:30, 2:30], a[2:30, 38:66])


def test_pixel_space_ct_without_features(real):
    images, _ = real
    train, test = images["train"][:5000], images["test"][:2000]  # k-means on 784-d pixels: keep it small
    honest = memorization_metrics(images["heldout"], train, test, options=OPTIONS)
    copied = memorization_metrics(train[:1000], train, test, options=OPTIONS)
    assert abs(honest["ct"]) < 3 and copied["ct"] < -5
    assert "copy_share_features" not in honest


def test_registered_metric(real):
    from ganbench.registry import METRICS

    _images, feats = real
    spec = METRICS.get("memorization")
    out = spec(feats["train"], feats["copies"], heldout=feats["test"], **SETTINGS)
    assert set(out) <= set(spec.higher_is_better) and out["ct"] < -5 and out["copy_share_features"] >= 0.9
    with pytest.raises(GanbenchError, match="held-out"):
        spec(feats["train"], feats["copies"])
