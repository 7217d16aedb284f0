"""KID: agreement with torch-fidelity's kid_features_to_metric on identical subsets, and invariants.

torch-fidelity draws its subsets from np.random.RandomState(rng_seed) (one choice from set 1, then
one from set 2, per subset); ganbench draws from a numpy Generator. To compare the same
computation the test rebuilds torch-fidelity's draws and passes them as ``subsets=``.
"""

import numpy as np
import pytest
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.kid import kid_from_features

N_SUB, SUB, SEED = 10, 150, 2020


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((400, 64))
    b = 1.2 * rng.standard_normal((300, 64)) + 0.1
    return a, b


def _torch_fidelity_subsets(n1, n2):
    rng = np.random.RandomState(SEED)
    return [(rng.choice(n1, SUB, replace=False), rng.choice(n2, SUB, replace=False)) for _ in range(N_SUB)]


def _torch_fidelity_kid(a, b):
    from torch_fidelity.metric_kid import kid_features_to_metric

    out = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=N_SUB,
                                 kid_subset_size=SUB, rng_seed=SEED, verbose=False)
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


def test_agrees_with_torch_fidelity_float64(feats):
    a, b = feats
    ref = _torch_fidelity_kid(a, b)  # float64 tensors: torch-fidelity computes in float64 too
    ours = kid_from_features(a, b, subsets=_torch_fidelity_subsets(len(a), len(b)))
    assert ref[0] > 1e-3
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


def test_agrees_with_torch_fidelity_float32(feats):
    a, b = (x.astype(np.float32) for x in feats)
    ref = _torch_fidelity_kid(a, b)  # torch-fidelity keeps float32 arithmetic; ganbench upcasts
    ours = kid_from_features(a, b, subsets=_torch_fidelity_subsets(len(a), len(b)))
    np.testing.assert_allclose(ours, ref, rtol=1e-4)


def test_seeded_and_near_zero_for_same_distribution(feats):
    a, b = feats
    assert kid_from_features(a, b, N_SUB, SUB, seed=3) == kid_from_features(a, b, N_SUB, SUB, seed=3)
    assert kid_from_features(a, b, N_SUB, SUB, seed=3) != kid_from_features(a, b, N_SUB, SUB, seed=4)
    rng = np.random.default_rng(2)
    same = kid_from_features(a, rng.standard_normal((400, 64)), N_SUB, SUB)[0]
    assert abs(same) < 0.2 * kid_from_features(a, b, N_SUB, SUB)[0]


def test_subset_size_is_clipped(feats):
    a, b = feats
    mean, std = kid_from_features(a[:50], b[:30], num_subsets=5, subset_size=1000)
    assert np.isfinite(mean) and std >= 0


@pytest.mark.parametrize("bad", [
    dict(a=np.zeros((1, 4)), b=np.zeros((5, 4))),          # fewer than 2 samples
    dict(a=np.zeros((5, 4)), b=np.zeros((5, 3))),          # mismatched dims
    dict(a=np.full((5, 4), np.nan), b=np.zeros((5, 4))),   # NaN
])
def test_bad_input_raises(bad):
    with pytest.raises(GanbenchError):
        kid_from_features(bad["a"], bad["b"], num_subsets=2, subset_size=5)
