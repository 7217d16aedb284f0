"""Statistics over training seeds for telling models apart: arrays in, numbers out.

Every function takes per-seed values already oriented so that higher is better (``orient``), so
one code path serves "lower is better" (FID), "higher is better" (modes) and "closer to 0" (C_T).

- intervals of a model's mean over seeds: Student-t (scipy) and the percentile bootstrap over seeds
  (rliable's stratified bootstrap, which for one task resamples runs with replacement);
- the best group: the best mean and every model not significantly worse than it, from Welch's t-test
  on every pair of models (two-sided), Holm-corrected over all pairs (``group_tests``);
- per pair: the probability of improvement (rliable's), Hedges' g, and the seeds per model that a
  difference of the observed size needs for 80% power.

Why every pair and two-sided, not "one-sided tests of the best against each other": the best is
chosen by the same data, so the observed best beats the others by chance more often than a fixed
model would. With k identical models, one-sided best-vs-each tests with Holm over k - 1 leave a
model out of the group 10% of the time at k = 2 and more as k grows (docs/statistics.md, "Best
groups"); Holm over all pairs with two-sided tests keeps that rate at or below the level, because
every rejection among identical models is a false one and Holm bounds the chance of any.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ganbench.metrics.spec import HIGHER, LOWER, ZERO

ALPHA = 0.05
LEVEL = 0.95  # intervals of a model's mean over seeds
POWER = 0.8  # the seed-count advice: seeds per model for this power
MIN_SEEDS = 2  # a t-test needs a variance from each side: 2 seeds per model at least
# rliable's get_interval_estimates defaults: 50,000 resamples, percentile intervals.
BOOT_REPS = 50_000
BOOT_SEED = 0
MAX_SEEDS = 100_000  # seed-count advice above this is reported as "more than"
TEST = "Welch's t-test, two-sided (scipy.stats.ttest_ind_from_stats, equal_var=False)"
TEST_SHORT = "Welch's t-test, two-sided"
CORRECTION = "Holm over every pair of models in the column"
EFFECT = "Hedges' g (pooled sd, bias-corrected; statsmodels effectsize_smd)"
POWER_METHOD = ("two-sample t-test, equal seeds per model, two-sided, noncentral t (scipy.stats.nct) "
                "at Cohen's d = observed difference / pooled sd")


def orient(values: ArrayLike, direction: str) -> np.ndarray:
    """``values`` turned so that higher is better: lower -> -x, closer to 0 -> -|x|."""
    x = np.asarray(values, dtype=np.float64)
    if direction == HIGHER:
        return x
    if direction == LOWER:
        return -x
    if direction == ZERO:
        return -np.abs(x)
    raise ValueError(f"no direction to compare in: {direction!r}")


def unorient(value: float, direction: str) -> float:
    """The inverse of ``orient`` for a mean or an interval bound (closer to 0: the distance to 0)."""
    return value if direction == HIGHER else -value


def t_interval(x: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Student-t interval of the mean over seeds; NaN below 2 seeds."""
    from scipy import stats

    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return math.nan, math.nan
    m, se = float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))
    if se == 0:
        return m, m
    lo, hi = stats.t.interval(level, len(x) - 1, loc=m, scale=se)
    return float(lo), float(hi)


def bootstrap_interval(x: np.ndarray, reps: int = BOOT_REPS, level: float = LEVEL,
                       seed: int = BOOT_SEED) -> tuple[float, float]:
    """rliable's interval estimate of the mean over seeds (``get_interval_estimates`` with one task:
    its stratified bootstrap resamples the runs with replacement; percentile interval).

    Written out rather than called: rliable's bootstrap needs ``arch``, whose 7.x releases do not
    import under pandas 3 and whose 8.x releases reject rliable's arguments, and it loops over the
    50,000 resamples in Python. The draws are rliable's (``choice(n, n)`` per resample from a
    legacy RandomState), so with ``np.random.seed(seed)`` rliable returns the same interval
    (tests/unit/test_compare_libraries.py). With 3 seeds it is narrower than the t-interval: the
    bootstrap does not know that 3 values say little about the spread.
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return math.nan, math.nan
    idx = np.random.RandomState(seed).choice(len(x), (reps, len(x)), replace=True)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(x[idx].mean(axis=1), [tail, 100 - tail])
    return float(lo), float(hi)


def prob_improvement(a: np.ndarray, b: np.ndarray) -> float:
    """P(a better than b) over seeds, ties counting 1/2: rliable's ``probability_of_improvement``
    for one task, i.e. the Mann-Whitney U of ``a`` over len(a) x len(b)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.array_equal(a, b):
        return 0.5
    u = stats.mannwhitneyu(a, b, alternative="greater", method="asymptotic").statistic
    return float(u / (len(a) * len(b)))


def pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = len(a), len(b)
    return math.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2))


def hedges_g(a: np.ndarray, b: np.ndarray) -> float | None:
    """Hedges' g of a over b (positive: a better); None below 2 seeds a side or without spread."""
    from statsmodels.stats.meta_analysis import effectsize_smd

    if min(len(a), len(b)) < MIN_SEEDS or pooled_sd(a, b) == 0:
        return None
    g, _ = effectsize_smd(np.mean(a), np.std(a, ddof=1), len(a), np.mean(b), np.std(b, ddof=1), len(b))
    return float(g)


def t_power(n: int, d: float, alpha: float) -> float:
    """Power of the two-sided two-sample t-test with n per group at effect d >= 0 (both tails).

    The lower tail is read as the upper tail of the mirrored distribution: scipy's ``nct.cdf``
    returns NaN at some points far in the tail (n = 5, d = 4: at -6), where ``nct.sf`` does not.
    """
    from scipy import stats

    df, nc = 2 * n - 2, d * math.sqrt(n / 2)
    crit = stats.t.isf(alpha / 2, df)
    upper = float(stats.nct.sf(crit, df, nc))
    if not math.isfinite(upper):
        upper = 1.0 - float(stats.nct.cdf(crit, df, nc))
    lower = float(stats.nct.sf(crit, df, -nc))
    return upper + (lower if math.isfinite(lower) else 0.0)


def seeds_for_power(d: float, alpha: float, power: float = POWER) -> int | None:
    """Seeds per model for ``power`` at Cohen's d, two-sided at ``alpha``; None for d = 0.

    The smallest integer n, found around the normal approximation 2((z_a/2 + z_b) / d)^2 and
    stepped with the exact noncentral-t power (statsmodels' TTestIndPower gives the same, as a
    real number: tests/unit/test_compare_libraries.py). Above MAX_SEEDS returns MAX_SEEDS + 1.
    """
    from scipy import stats

    d = abs(d)
    if math.isnan(d) or d == 0:
        return None
    if math.isinf(d):
        return MIN_SEEDS
    z = stats.norm.isf(alpha / 2) + stats.norm.ppf(power)
    approx = 2 * (z / d) ** 2
    if approx > MAX_SEEDS:
        return MAX_SEEDS + 1
    n = max(MIN_SEEDS, int(approx) - 1)
    while n > MIN_SEEDS and t_power(n - 1, d, alpha) >= power:
        n -= 1
    while t_power(n, d, alpha) < power:
        n += 1
    return n


def cohens_d(a: np.ndarray, b: np.ndarray) -> float | None:
    """|mean difference| / pooled sd (inf when both sides have no spread); None below 2 seeds a side."""
    if min(len(a), len(b)) < MIN_SEEDS:
        return None
    diff, sd = abs(float(np.mean(a) - np.mean(b))), pooled_sd(a, b)
    if sd == 0:
        return math.inf if diff > 0 else 0.0
    return diff / sd


@dataclass
class GroupTests:
    """The best group of one column: which models, from which tests."""

    models: list[str]
    best: str  # the best mean among models with MIN_SEEDS or more (among all when none has)
    group: list[str] | None  # None: no test could be made
    untested: list[str]  # fewer than MIN_SEEDS seeds: shown, not tested
    p: np.ndarray  # two-sided p-values, models x models (NaN where not tested)
    p_adj: np.ndarray  # Holm-adjusted over the column's tested pairs
    no_test: str | None = None  # why group is None


def welch_p(stats_a: tuple[np.ndarray, np.ndarray, np.ndarray], stats_b: tuple[np.ndarray, np.ndarray, np.ndarray]
            ) -> np.ndarray:
    """Two-sided Welch p-values from (mean, sd, n) arrays; two spread-free sides: 1 if equal, else 0."""
    from scipy import stats

    (ma, sa, na), (mb, sb, nb) = stats_a, stats_b
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.ttest_ind_from_stats(ma, sa, na, mb, sb, nb, equal_var=False).pvalue
    flat = (sa == 0) & (sb == 0)
    return np.where(flat, np.where(ma == mb, 1.0, 0.0), p)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979): the i-th smallest times (m - i + 1), made
    monotone, capped at 1.

    Written out because statsmodels' ``multipletests(method="holm")``, which it equals
    (tests/unit/test_compare_libraries.py), runs ``gc.collect()`` on every call: 130 ms here, and the
    simulations and every table render call it thousands of times.
    """
    p = np.asarray(p, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    out = np.empty(m)
    out[order] = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p[order]), 1.0)
    return out


def group_tests(values: dict[str, np.ndarray], alpha: float = ALPHA) -> GroupTests:
    """Best group of oriented per-seed ``values`` (model -> array): Welch on every pair of models with
    MIN_SEEDS or more seeds, Holm over those pairs; the group is the best mean and every model whose
    adjusted p against it is at least ``alpha``."""
    models = list(values)
    k = len(models)
    means = np.array([np.mean(values[m]) if len(values[m]) else np.nan for m in models])
    ns = np.array([len(values[m]) for m in models])
    sds = np.array([np.std(values[m], ddof=1) if n > 1 else np.nan for m, n in zip(models, ns, strict=True)])
    tested = [i for i in range(k) if ns[i] >= MIN_SEEDS]
    untested = [models[i] for i in range(k) if ns[i] < MIN_SEEDS]
    p = np.full((k, k), np.nan)
    p_adj = np.full((k, k), np.nan)
    pool = tested if len(tested) >= 2 else [i for i in range(k) if ns[i] > 0]
    best = models[max(pool, key=lambda i: means[i])] if pool else models[0]
    if len(tested) < 2:
        few = ", ".join(f"{m} ({len(values[m])})" for m in untested)
        why = (f"no test can reach the level: a t-test needs {MIN_SEEDS} or more seeds per model for two models, "
               f"and these have fewer: {few}")
        return GroupTests(models, best, None, untested, p, p_adj, why)
    ii, jj = np.triu_indices(len(tested), 1)
    ia, ib = np.array(tested)[ii], np.array(tested)[jj]
    raw = welch_p((means[ia], sds[ia], ns[ia]), (means[ib], sds[ib], ns[ib]))
    adj = holm(raw)
    p[ia, ib] = p[ib, ia] = raw
    p_adj[ia, ib] = p_adj[ib, ia] = adj
    b = models.index(best)
    group = [m for i, m in enumerate(models) if i == b or (i in tested and not p_adj[b, i] < alpha)]
    return GroupTests(models, best, group, untested, p, p_adj)
