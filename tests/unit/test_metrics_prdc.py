"""Precision/recall/density/coverage: equal to prdc 0.2's compute_prdc, blocking-independent,
and the collapsed-generator scenario (docs/design.md convention 11)."""

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.metrics import prdc as P


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((700, 32))
    fake = 1.15 * rng.standard_normal((600, 32)) + 0.15
    return real, fake


@pytest.fixture(scope="module")
def peer():
    from prdc import compute_prdc

    return lambda r, f, k: {key: float(v) for key, v in compute_prdc(r, f, k).items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [3, 5])
def test_equals_compute_prdc(feats, peer, dtype, k):
    real, fake = (x.astype(dtype) for x in feats)
    ours, ref = P.prdc(real, fake, k), peer(real, fake, k)
    assert ours.keys() == ref.keys()
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-6), key
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1


def test_split_functions_match_peer(feats, peer):
    real, fake = (x.astype(np.float32) for x in feats)
    pr, dc = P.precision_recall(real, fake, k=3), P.density_coverage(real, fake, k=5)
    ref3, ref5 = peer(real, fake, 3), peer(real, fake, 5)
    assert pr == pytest.approx({"precision": ref3["precision"], "recall": ref3["recall"]}, abs=1e-6)
    assert dc == pytest.approx({"density": ref5["density"], "coverage": ref5["coverage"]}, abs=1e-6)


def test_radii_equal_peer_bitwise(feats):
    from prdc.prdc import compute_nearest_neighbour_distances

    real = feats[0].astype(np.float32)
    np.testing.assert_array_equal(P.knn_radii(real, 5), compute_nearest_neighbour_distances(real, 5))


def test_precision_and_recall_swap_roles(feats):
    real, fake = feats
    a, b = P.precision_recall(real, fake, k=3), P.precision_recall(fake, real, k=3)
    assert a["precision"] == b["recall"] and a["recall"] == b["precision"]


def test_block_size_does_not_change_results(feats):
    real, fake = feats[0][:150], feats[1][:130]  # small: block 7 means many tiny blocks
    ref = P.prdc(real, fake, 5, block=len(real))
    for block in (7, 64):
        assert P.prdc(real, fake, 5, block=block) == ref


def test_collapsed_generator_high_precision_low_recall(feats, peer):
    real, _ = feats
    rng = np.random.default_rng(1)
    fake = real[0] + 1e-3 * rng.standard_normal((300, real.shape[1]))  # every fake near one real point
    out = P.prdc(real, fake, 5)
    assert out["precision"] > 0.95 and out["recall"] < 0.05 and out["coverage"] < 0.05
    assert out == pytest.approx(peer(real, fake, 5), abs=1e-6)


def test_coincident_points_give_zero_like_prdc(peer):
    # prdc issue 7 (docs/reference.md section 6): all points equal -> radii 0 -> nothing strictly inside.
    x = np.ones((50, 8), dtype=np.float32)
    out = P.prdc(x, x.copy(), 5)
    assert out == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    assert out == peer(x, x.copy(), 5)


@pytest.mark.parametrize("kw", [
    dict(real=np.zeros((5, 4)), fake=np.zeros((10, 4)), k=5),        # k+1 > N real
    dict(real=np.zeros((10, 4)), fake=np.zeros((10, 3)), k=3),       # mismatched dims
    dict(real=np.full((10, 4), np.nan), fake=np.zeros((10, 4)), k=3),
    dict(real=np.zeros((10, 4)), fake=np.zeros((10, 4)), k=0),
])
def test_bad_input_raises(kw):
    with pytest.raises(GanbenchError):
        P.prdc(**kw)
