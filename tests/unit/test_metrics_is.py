"""Inception Score: agreement with torch-fidelity's isc_features_to_metric on the same logits.

ganbench shuffles with np.random.RandomState(seed).permutation(N) exactly as torch-fidelity does,
so with the same seed both compute the same splits; the explicit ``permutation=`` path is
checked against the same draw.
"""

import numpy as np
import pytest
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics.inception_score import inception_score_from_logits


@pytest.fixture(scope="module")
def logits():
    rng = np.random.default_rng(0)
    # Peaked, class-dependent logits over 1008 classes so that IS is well above 1.
    x = rng.standard_normal((1003, 1008)).astype(np.float32)  # N not a multiple of the splits
    x[np.arange(1003), rng.integers(0, 50, 1003)] += 8.0
    return x


def _torch_fidelity(x, splits, seed, shuffle=True):
    from torch_fidelity.metric_isc import isc_features_to_metric

    out = isc_features_to_metric(torch.from_numpy(x), splits=splits, shuffle=shuffle, rng_seed=seed)
    return out["inception_score_mean"], out["inception_score_std"]


@pytest.mark.parametrize("splits,seed", [(10, 2020), (7, 5)])
def test_agrees_with_torch_fidelity(logits, splits, seed):
    ref = _torch_fidelity(logits, splits, seed)
    assert ref[0] > 5
    np.testing.assert_allclose(inception_score_from_logits(logits, splits, seed), ref, rtol=1e-10)
    perm = np.random.RandomState(seed).permutation(len(logits))
    np.testing.assert_allclose(inception_score_from_logits(logits, splits, permutation=perm), ref, rtol=1e-10)


def test_unshuffled_agrees(logits):
    ref = _torch_fidelity(logits, 10, 0, shuffle=False)
    np.testing.assert_allclose(inception_score_from_logits(logits, 10, seed=None), ref, rtol=1e-10)


def test_known_values():
    # Uniform predictions: every KL is 0, IS = 1. Confident and evenly spread over C classes: IS = C.
    assert inception_score_from_logits(np.zeros((100, 1008)), splits=4) == pytest.approx((1.0, 0.0))
    onehot = np.full((400, 20), -1e4)
    onehot[np.arange(400), np.arange(400) % 20] = 0.0
    mean, std = inception_score_from_logits(onehot, splits=1)
    assert mean == pytest.approx(20.0, rel=1e-9) and std == 0.0


@pytest.mark.parametrize("kw", [
    dict(logits=np.zeros((5, 1008)), splits=10),            # more splits than samples
    dict(logits=np.full((20, 1008), np.nan)),               # NaN
    dict(logits=np.zeros(1008)),                            # 1-D
    dict(logits=np.zeros((20, 1008)), permutation=np.zeros(20, dtype=int)),  # not a permutation
])
def test_bad_input_raises(kw):
    with pytest.raises(GanbenchError):
        inception_score_from_logits(**kw)
