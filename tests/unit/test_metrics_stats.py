"""Bootstrap intervals and mean/std over seeds."""

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import bootstrap_ci, mean_std


def _mean_gap(a, b):
    return float(a.mean() - b.mean())


def _sets(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n)


def test_bootstrap_contains_estimate_and_narrows():
    a, b = _sets(200)
    low, high = bootstrap_ci(_mean_gap, a, b, n_boot=300, seed=0)
    assert low < _mean_gap(a, b) < high
    a2, b2 = _sets(5000)
    low2, high2 = bootstrap_ci(_mean_gap, a2, b2, n_boot=300, seed=0)
    assert low2 < _mean_gap(a2, b2) < high2
    assert (high2 - low2) < 0.3 * (high - low)  # width ~ 1/sqrt(n): 0.2 expected


def test_bootstrap_is_seeded_and_resamples_rows():
    a, b = _sets(100)
    assert bootstrap_ci(_mean_gap, a, b, n_boot=50, seed=3) == bootstrap_ci(_mean_gap, a, b, n_boot=50, seed=3)
    feats = np.random.default_rng(0).standard_normal((100, 4))  # 2-D sets are resampled by row
    low, high = bootstrap_ci(lambda x, y: float(x.shape[0] + y.shape[1]), feats, feats, n_boot=10)
    assert low == high == 104.0


def test_mean_std():
    assert mean_std([3.0]) == (3.0, 0.0)
    m, s = mean_std([1.0, 2.0, 3.0])
    assert m == 2.0 and s == pytest.approx(1.0)  # ddof=1
    with pytest.raises(GanbenchError):
        mean_std([])
    with pytest.raises(GanbenchError):
        mean_std([1.0, float("nan")])


def test_bootstrap_bad_input():
    a, b = _sets(10)
    with pytest.raises(GanbenchError):
        bootstrap_ci(_mean_gap, a[:1], b)
    with pytest.raises(GanbenchError):
        bootstrap_ci(_mean_gap, a, b, n_boot=1)
    with pytest.raises(GanbenchError):
        bootstrap_ci(_mean_gap, a, b, alpha=1.5)


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
