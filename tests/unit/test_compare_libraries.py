"""ganbench compare equals the libraries it follows, on the same arrays: rliable (probability of
improvement, interval estimates), scipy and statsmodels (Welch's test, Holm, power, Hedges' g), and
autorank / scipy / Demšar's formula (the ranking across datasets)."""

from __future__ import annotations

import functools
import importlib
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganbench.compare import stats as S
from ganbench.compare.ranking import rank
from ganbench.compare.result import ColumnResult, ModelSummary

RNG = np.random.default_rng(20)
CASES = [
    (RNG.normal(size=3), RNG.normal(size=3) + 1),
    (RNG.normal(size=10), RNG.normal(size=7) + 0.3),
    (np.array([8.0, 8, 8, 7]), np.array([8.0, 7, 7, 7, 6])),  # ties (mode counts)
    (np.array([1.0, 2, 3]), np.array([1.0, 2, 3])),  # identical
]


@pytest.fixture(scope="module")
def rliable_library():
    """rliable.library, imported under pandas 3: rliable 1.2 pins arch < 8, and arch 7.x calls pandas'
    ``deprecate_kwarg`` without the warning class pandas 3 added as its first argument; passing
    FutureWarning (what pandas 2 used) lets arch import. Nothing else is changed."""
    import pandas.util._decorators as dec

    original = dec.deprecate_kwarg
    dec.deprecate_kwarg = functools.partial(original, FutureWarning)
    try:
        return importlib.import_module("rliable.library")
    finally:
        dec.deprecate_kwarg = original


@pytest.mark.parametrize("a, b", CASES)
def test_probability_of_improvement_equals_rliable(a, b):
    from rliable import metrics

    want = metrics.probability_of_improvement(a[:, None], b[:, None])
    assert S.prob_improvement(a, b) == pytest.approx(want, abs=1e-15)
    assert S.prob_improvement(b, a) == pytest.approx(1 - want, abs=1e-15)
    # The definition written out: P(a > b) + P(a = b) / 2 over every pair of seeds.
    direct = np.mean([(x > y) + 0.5 * (x == y) for x in a for y in b])
    assert S.prob_improvement(a, b) == pytest.approx(direct, abs=1e-15)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_bootstrap_interval_equals_rliable_get_interval_estimates(rliable_library, n):
    x = np.random.default_rng(n).normal(size=n) * 2 + 5
    for seed in (0, 7):
        np.random.seed(seed)  # rliable's StratifiedBootstrap draws from numpy's global RandomState
        _, ci = rliable_library.get_interval_estimates({"m": x[:, None]}, lambda s: np.array([np.mean(s)]),
                                                       reps=2000)
        got = S.bootstrap_interval(x, reps=2000, seed=seed)
        assert got == pytest.approx(tuple(ci["m"].ravel()), abs=1e-12)


def test_t_interval_is_scipys_and_holds_the_mean():
    x = np.array([23.0, 25, 24, 22, 25])
    lo, hi = S.t_interval(x)
    want = stats.t.interval(0.95, 4, loc=x.mean(), scale=stats.sem(x))
    assert (lo, hi) == pytest.approx(want, abs=1e-12) and lo < x.mean() < hi
    assert S.t_interval(np.array([8.0, 8.0])) == (8.0, 8.0)
    assert all(math.isnan(v) for v in S.t_interval(np.array([1.0])))


@pytest.mark.parametrize("a, b", CASES[:3])
def test_welch_p_equals_scipy_ttest_ind(a, b):
    p = S.welch_p((np.array([a.mean()]), np.array([a.std(ddof=1)]), np.array([len(a)])),
                  (np.array([b.mean()]), np.array([b.std(ddof=1)]), np.array([len(b)])))
    assert p[0] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-12)


def test_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.uniform(size=rng.integers(1, 46)) ** 3
        p[: len(p) // 3] = p[0]  # ties
        assert S.holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-15)


def test_compare_records_p_adj_is_scipy_welch_then_statsmodels_holm_over_every_pair():
    from statsmodels.stats.multitest import multipletests

    from ganbench.compare.result import compare_records
    from ganbench.records import ResultRecord

    rng = np.random.default_rng(11)
    sizes = [(5, 0.0), (7, 0.5), (4, 2.0), (6, 3.0)]
    vals = {f"m{i}": rng.normal(size=n) + shift for i, (n, shift) in enumerate(sizes)}
    recs = [ResultRecord(m, "ring", s, 10, {"fid": float(v)}, {"selection": "final step"})
            for m, x in vals.items() for s, v in enumerate(x)]
    (col,) = compare_records(recs).columns
    pairs = [(p.a, p.b) for p in col.pairs]
    raw = [stats.ttest_ind(vals[a], vals[b], equal_var=False).pvalue for a, b in pairs]
    assert [p.p for p in col.pairs] == pytest.approx(raw, rel=1e-12)
    assert [p.p_adj for p in col.pairs] == pytest.approx(multipletests(raw, method="holm")[1], rel=1e-12)
    assert col.best == "m0"  # fid: lower is better


@pytest.mark.parametrize("d", [0.2, 0.5, 1.0, 2.0, 4.0])
@pytest.mark.parametrize("alpha", [0.05, 0.05 / 45])
def test_seeds_for_power_is_statsmodels_ttestindpower_rounded_up(d, alpha):
    from statsmodels.stats.power import TTestIndPower

    n = TTestIndPower().solve_power(effect_size=d, alpha=alpha, power=0.8, ratio=1.0, alternative="two-sided")
    assert S.seeds_for_power(d, alpha) == math.ceil(n)
    assert S.t_power(S.seeds_for_power(d, alpha), d, alpha) >= 0.8 > S.t_power(S.seeds_for_power(d, alpha) - 1,
                                                                                 d, alpha)
    assert S.seeds_for_power(0.0, alpha) is None and S.seeds_for_power(math.inf, alpha) == 2


def test_power_holds_where_scipys_noncentral_t_cdf_returns_nan():
    """At d = 4.77, alpha = 0.05/45 statsmodels' power is NaN (scipy's nct.cdf is NaN far in the lower
    tail) and its solver returns 3.75 seeds; the power of 4 seeds is 0.73 by simulation, so 5 are needed."""
    from statsmodels.stats.power import TTestIndPower

    d, alpha = 4.774657151582102, 0.05 / 45
    assert math.isnan(TTestIndPower().power(d, 4, alpha, ratio=1.0, alternative="two-sided"))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100_000, 4)), rng.normal(size=(100_000, 4)) + d
    simulated = float((stats.ttest_ind(x, y, axis=1).pvalue < alpha).mean())
    assert S.t_power(4, d, alpha) == pytest.approx(simulated, abs=0.005)  # 3.2 Monte-Carlo sd
    assert S.seeds_for_power(d, alpha) == 5


def test_hedges_g_is_the_bias_corrected_standardised_difference():
    a, b = CASES[1]
    sp = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    want = (a.mean() - b.mean()) / sp * (1 - 3 / (4 * (len(a) + len(b)) - 9))  # Hedges & Olkin 1985, eq. 5.10
    assert S.hedges_g(a, b) == pytest.approx(want, rel=1e-12)
    assert S.hedges_g(np.array([1.0, 1.0]), np.array([2.0, 2.0])) is None  # no spread: undefined


def _columns(table: pd.DataFrame, direction: str = "higher") -> list[ColumnResult]:
    """ColumnResults whose model means are the table's rows (blocks) x columns (models)."""
    out = []
    for block, row in table.iterrows():
        ms = [ModelSummary(m, 3, 3, float(v), 0.0, (v, v), (v, v), None, "final step") for m, v in row.items()]
        out.append(ColumnResult(block, "modes", direction, 0.05, ms, ms[0].model, None, [], None))
    return out


def test_ranking_equals_autorank_scipy_friedman_and_demsars_critical_difference():
    from autorank import autorank

    rng = np.random.default_rng(5)
    table = pd.DataFrame(rng.normal(size=(8, 5)) + np.arange(5) * 0.6, columns=[f"m{i}" for i in range(5)],
                         index=[f"d{i}" for i in range(8)])
    r = rank(_columns(table), "modes")
    want = autorank(table, alpha=0.05, order="descending", force_mode="nonparametric")
    assert r.mean_rank == pytest.approx(dict(want.rankdf["meanrank"]), abs=1e-12)
    # Independently: ranks per block with pandas (1 = highest), Friedman from scipy, and Demšar's (2006)
    # CD = q_alpha sqrt(k (k + 1) / (6 N)), q_alpha the studentised range quantile / sqrt(2).
    assert r.mean_rank == pytest.approx(dict(table.rank(axis=1, ascending=False).mean()), abs=1e-12)
    assert r.p_value == pytest.approx(stats.friedmanchisquare(*[table[c] for c in table]).pvalue, rel=1e-9)
    q = stats.studentized_range.ppf(0.95, 5, np.inf) / math.sqrt(2)
    assert r.cd == pytest.approx(q * math.sqrt(5 * 6 / (6 * 8)), rel=1e-3)
    assert next(iter(r.mean_rank)) == "m4"  # the highest values rank first


def test_ranking_orients_lower_is_better_and_reports_too_few_blocks():
    table = pd.DataFrame({"a": [1.0, 2, 3, 1, 2], "b": [2.0, 3, 4, 2, 3], "c": [3.0, 4, 5, 3, 4]},
                         index=[f"d{i}" for i in range(5)])
    low = rank(_columns(table, "lower"), "fid")
    assert list(low.mean_rank) == ["a", "b", "c"] and low.mean_rank["a"] == 1.0
    few = rank(_columns(table.iloc[:2], "lower"), "fid")
    assert few.test is None and few.p_value is None and "needs 5 or more" in few.note
    assert few.mean_rank == {"a": 1.0, "b": 2.0, "c": 3.0}
