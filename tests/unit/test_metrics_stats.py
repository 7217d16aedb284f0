"""Half-sampling intervals and mean/std over seeds."""

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import IntervalSpec, half_sample_values, intervals, mean_std, subsample_interval


def _mean_gap(a, b):
    return {"gap": float(a.mean() - b.mean())}


def _sets(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n)


def test_half_sampling_interval_holds_estimate_and_matches_the_standard_error():
    a, b = _sets(400)
    est = _mean_gap(a, b)
    lo, hi = intervals(_mean_gap, [a, b], est, IntervalSpec(400, seed=0))["gap"]
    assert lo < est["gap"] < hi and (lo + hi) / 2 == pytest.approx(est["gap"])  # centred on it
    # For a mean difference the textbook se is sqrt(s_a²/n_a + s_b²/n_b): half-sampling recovers it.
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert (hi - lo) / 2 == pytest.approx(1.959964 * se, rel=0.1)
    lo2, hi2 = intervals(_mean_gap, list(_sets(6400)), _mean_gap(*_sets(6400)), IntervalSpec(100))["gap"]
    assert (hi2 - lo2) < 0.35 * (hi - lo)  # width ~ 1/sqrt(n): 0.25 expected


def test_half_samples_never_duplicate_rows_and_are_seeded():
    feats = np.arange(40, dtype=np.float64).reshape(20, 2)
    seen = []

    def fn(x, y):
        seen.append(len(np.unique(x[:, 0])) == len(x) == 10)
        return {"v": float(x.sum())}

    v1 = half_sample_values(fn, [feats, feats], IntervalSpec(10, seed=3))["v"]
    assert all(seen) and len(seen) == 10
    assert np.array_equal(v1, half_sample_values(fn, [feats, feats], IntervalSpec(10, seed=3))["v"])


def test_interval_clipped_to_bounds_but_never_past_the_estimate():
    spec = IntervalSpec(10)
    lo, hi = subsample_interval(0.99, np.array([0.9, 1.0, 0.95, 0.97]), spec, (0.0, 1.0))
    assert lo < 0.99 <= hi == 1.0
    # An estimate outside the bounds (rounding) stays inside its interval.
    lo, hi = subsample_interval(-1e-12, np.array([0.0, 0.1, 0.2]), spec, (0.0, np.inf))
    assert lo <= -1e-12 <= hi
    assert np.isnan(subsample_interval(1.0, np.array([np.nan, 1.0]), spec)[0])  # too few finite values


def test_mean_std():
    assert mean_std([3.0]) == (3.0, 0.0)
    m, s = mean_std([1.0, 2.0, 3.0])
    assert m == 2.0 and s == pytest.approx(1.0)  # ddof=1
    with pytest.raises(GanbenchError):
        mean_std([])
    with pytest.raises(GanbenchError):
        mean_std([1.0, float("nan")])


def test_interval_bad_input():
    a, b = _sets(10)
    with pytest.raises(GanbenchError):
        half_sample_values(_mean_gap, [a[:2], b], IntervalSpec(5))
    with pytest.raises(GanbenchError):
        IntervalSpec(resamples=1)
    with pytest.raises(GanbenchError):
        IntervalSpec(level=1.5)
    with pytest.raises(GanbenchError):
        IntervalSpec(fraction=1.0)


def test_registered_metrics_run_on_features():
    from ganbench.metrics import MetricSpec
    from ganbench.registry import METRICS

    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((60, 8)), rng.standard_normal((50, 8)) + 0.5
    for name in ("fid", "kid", "is", "pr", "dc"):
        spec = METRICS.get(name)
        assert isinstance(spec, MetricSpec) and METRICS.help(name)
        kw = {"subset_size": 20, "num_subsets": 3} if name == "kid" else {}
        out = spec(None if not spec.uses_real else real, fake, **kw)
        assert set(out) == set(spec.higher_is_better) and all(np.isfinite(v) for v in out.values())
