"""FID math: agreement with pytorch-fid and clean-fid on the same inputs, and invariants."""

import numpy as np
import pytest
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics import fid as F

D = 128
# The peers call scipy.linalg.sqrtm(disp=False), deprecated in SciPy 1.17 (docs/reference.md section 6).
pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3000, D))
    mix = np.eye(D) + 0.5 * rng.standard_normal((D, D)) / np.sqrt(D)
    b = rng.standard_normal((2500, D)) @ mix + 0.3  # other mean and covariance: FID clearly > 0
    return a, b


def test_statistics_match_numpy_cov(feats, monkeypatch):
    a, _ = feats
    monkeypatch.setattr(F, "_COV_CHUNK", 700)  # exercise the chunked accumulation
    mu, sigma = F.fid_features_to_statistics(a.astype(np.float32))
    ref = a.astype(np.float32).astype(np.float64)
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_allclose(mu, ref.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(ref, rowvar=False), rtol=0, atol=1e-12)


def test_agrees_with_pytorch_fid(feats):
    from pytorch_fid.fid_score import calculate_frechet_distance

    a, b = feats
    s1, s2 = F.fid_features_to_statistics(a), F.fid_features_to_statistics(b)
    ours = F.fid_statistics_to_metric(*s1, *s2)
    ref = calculate_frechet_distance(*s1, *s2)
    assert ours > 1.0
    assert abs(ours - ref) / ref < 1e-4


def test_agrees_with_clean_fid(feats):
    from cleanfid.fid import fid_from_feats, frechet_distance

    a, b = feats
    ours = F.fid_from_features(a, b)
    s1, s2 = F.fid_features_to_statistics(a), F.fid_features_to_statistics(b)
    assert abs(ours - frechet_distance(*s1, *s2)) / ours < 1e-4
    assert abs(ours - fid_from_feats(a, b)) / ours < 1e-4  # clean-fid's own mean/cov from features


def test_self_distance_is_zero_and_symmetric(feats):
    a, b = feats
    scale = np.trace(np.cov(a, rowvar=False))
    assert 0.0 <= F.fid_from_features(a, a) < 1e-6 * scale
    ab, ba = F.fid_from_features(a, b), F.fid_from_features(b, a)
    assert abs(ab - ba) <= 1e-9 * ab


def test_fewer_samples_than_dims(feats):
    a, b = feats
    a, b = a[:50], b[:40]  # rank-deficient covariances, where sqrtm fails (docs/reference.md section 6)
    ours = F.fid_from_features(a, b)
    assert np.isfinite(ours) and ours >= 0
    # Independent route: tr sqrt(S1 S2) from the eigenvalues of the (non-symmetric) product.
    (m1, s1), (m2, s2) = F.fid_features_to_statistics(a), F.fid_features_to_statistics(b)
    ev = np.linalg.eigvals(s1 @ s2).real
    ref = ((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum()
    assert abs(ours - ref) / ref < 1e-6
    assert F.fid_from_features(a[:10], a[:10]) < 1e-8 * np.trace(s1)


def test_accepts_torch_and_float32(feats):
    a, b = feats
    ref = F.fid_from_features(a.astype(np.float32), b.astype(np.float32))
    assert F.fid_from_features(torch.from_numpy(a).float(), torch.from_numpy(b).float()) == ref


@pytest.mark.parametrize("bad", [
    lambda a, b: (a[:1], b),                       # one sample: no covariance
    lambda a, b: (a, b[:, :10]),                   # mismatched dims
    lambda a, b: (np.where(np.arange(len(a))[:, None] == 3, np.nan, a), b),
    lambda a, b: (a[0], b),                        # 1-D input
])
def test_bad_input_raises(feats, bad):
    a, b = feats
    with pytest.raises(GanbenchError):
        F.fid_from_features(*bad(a[:100], b[:100]))


def test_bad_statistics_raise():
    with pytest.raises(GanbenchError):
        F.fid_statistics_to_metric(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(GanbenchError):
        F.fid_statistics_to_metric(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))
