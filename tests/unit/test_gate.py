"""The regression gate on the new intervals: an unchanged generator re-evaluated under new seeds passes
(95%+ of independent baseline/current pairs), a degraded one (a fixed ratio of noise) fails, on a
Gaussian mixture and on images (Fashion-MNIST, pooled-pixel features so it runs in seconds)."""

from __future__ import annotations

import numpy as np
from test_check import MixtureSampler
from threadpoolctl import threadpool_limits

from ganbench.check import compare
from ganbench.data import get_dataset
from ganbench.evaluation.images import compute_image_metrics
from ganbench.evaluation.training import VectorEvaluator
from ganbench.records import ResultRecord


def _record(metrics, protocol, seed, target="fixed-generator"):
    return ResultRecord("g", "d", seed, 0, metrics, protocol, {"target_sha256": target}, kind="eval")


def _pass_rate(evaluate, pairs):
    """Share of (baseline seed 2i, current seed 2i+1) pairs that ``check`` passes, as re-evaluations."""
    passed = 0
    for i in range(pairs):
        cmp = compare([evaluate(2 * i)], [evaluate(2 * i + 1)])
        assert set(cmp.kinds.values()) == {"re-evaluation"}
        passed += not cmp.regressed
    return passed / pairs


def test_mixture_gate_passes_reevaluations_and_fails_added_noise():
    ds = get_dataset("ring")

    def evaluate(g):
        def run(seed):
            ev = VectorEvaluator(ds, 2500, seed, resamples=30)
            return _record(ev(g), ev.protocol, seed)
        return run

    with threadpool_limits(1):
        same = _pass_rate(evaluate(MixtureSampler(ds.centers, ds.sigma)), 100)
        # Noise 1.5x the mode's sigma (a fixed ratio): HQ share drops from ~0.997 to ~0.93.
        noisy = evaluate(MixtureSampler(ds.centers, ds.sigma, noise=1.5))
        base = evaluate(MixtureSampler(ds.centers, ds.sigma))
        degraded = [compare([base(2 * i)], [noisy(2 * i + 1)]).regressed for i in range(20)]
    assert same >= 0.95, same
    assert all(degraded)


def _pooled(x):
    """uint8 N,1,28,28 -> 7x7 mean-pooled pixels in [0, 1] (49-d features)."""
    return x.astype(np.float64).reshape(-1, 1, 7, 4, 7, 4).mean((1, 3, 5)).reshape(len(x), -1) / 255


def test_image_gate_passes_reevaluations_and_fails_added_noise(fmnist):
    ref = {"pool3": _pooled(fmnist.reference(300, 0, "train")[0])}
    pool = fmnist.reference(None, 0, "test")[0]

    def evaluate(noise):
        def run(seed):
            rng = np.random.default_rng(seed)
            x = pool[rng.choice(len(pool), 300, replace=False)].astype(np.float64)
            x = np.clip(x + noise * 255 * rng.standard_normal(x.shape), 0, 255)
            v, p = compute_image_metrics(ref, {"pool3": _pooled(x)}, ["fid", "kid", "pr", "dc"], n_boot=20, seed=seed)
            return _record(v, p, seed)
        return run

    with threadpool_limits(1):
        same = _pass_rate(evaluate(0.0), 40)
        # Pixel noise of 0.2 x the 0-255 range (fixed ratio), clipped.
        degraded = [compare([evaluate(0.0)(2 * i)], [evaluate(0.2)(2 * i + 1)]).regressed for i in range(5)]
    assert same >= 0.95, same
    assert all(degraded)
