"""One comparison per (dataset, metric): each model's mean and intervals over seeds, the best group,
every pair's corrected p-value, probability of improvement, effect size and seed-count advice, and
whether the training or the evaluation spread dominates. ``to_json`` is what ``--json`` writes
(docs/statistics.md, "ganbench compare", names every field)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganbench.compare import stats as S
from ganbench.compare.seeds import UNSTATED, Column, collect
from ganbench.errors import GanbenchError
from ganbench.records import ResultRecord


@dataclass
class ModelSummary:
    model: str
    seeds: int  # seeds with a finite value
    runs: int  # seeds with a record of the metric (a value may be undefined: reverse KL of a collapsed run)
    mean: float
    sd: float  # over seeds, ddof=1 (NaN below 2)
    ci_t: tuple[float, float]
    ci_bootstrap: tuple[float, float]
    in_best_group: bool | None
    selection: str
    spread: dict[str, Any] | None = None
    values: list[float] = field(default_factory=list)  # per seed, in the metric's own units
    seed_ids: list[int] = field(default_factory=list)


@dataclass
class PairResult:
    a: str
    b: str
    p: float | None  # two-sided Welch p (None: a side has fewer than 2 seeds)
    p_adj: float | None  # Holm-adjusted over the column's pairs
    prob_improvement: float  # P(a better than b) over seeds, ties 1/2, in the metric's direction
    hedges_g: float | None  # positive: a better
    cohens_d: float | None  # |difference| / pooled sd, what the seed advice uses
    seeds_for_power: int | None  # seeds per model for 80% power at alpha
    seeds_for_power_family: int | None  # ... at alpha / (pairs in the column), Holm's first step


@dataclass
class ColumnResult:
    dataset: str
    metric: str
    direction: str
    alpha: float
    models: list[ModelSummary]
    best: str
    best_group: list[str] | None
    untested: list[str]
    no_test: str | None
    pairs: list[PairResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problem: str | None = None  # the records are not comparable (protocol, budget, selection)

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.metric}"

    @property
    def tested(self) -> bool:
        return any(p.p_adj is not None for p in self.pairs) or bool(self.best_group)

    def to_json(self) -> dict[str, Any]:
        return clean_json({
            "dataset": self.dataset, "metric": self.metric, "direction": self.direction, "alpha": self.alpha,
            "test": S.TEST, "correction": S.CORRECTION, "effect_size": S.EFFECT, "power": S.POWER_METHOD,
            "best": self.best, "best_group": self.best_group, "untested": self.untested, "no_test": self.no_test,
            "models": [vars(m) for m in self.models], "pairs": [vars(p) for p in self.pairs], "notes": self.notes})


def clean_json(x: Any) -> Any:
    """JSON-safe: NaN and inf become null, tuples lists, numpy scalars numbers."""
    if isinstance(x, dict):
        return {k: clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_json(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def spread(values: np.ndarray, eval_var: float | None) -> dict[str, Any] | None:
    """Training against evaluation spread: the variance over seeds holds both, so the training part
    is what it has beyond the mean within-run evaluation variance (from the records' intervals)."""
    if len(values) < 2 or eval_var is None:
        return None
    between = float(np.var(values, ddof=1))
    training = max(between - eval_var, 0.0)
    return {"between_seeds_var": between, "evaluation_var": float(eval_var), "training_var": training,
            "dominant": "training" if training > eval_var else "evaluation"}


def _summaries(col: Column, order: list[str], group: list[str] | None, detail: bool) -> list[ModelSummary]:
    out = []
    for m in order:
        x = col.values.get(m, np.empty(0))
        sd = float(np.std(x, ddof=1)) if len(x) > 1 else math.nan
        boot = S.bootstrap_interval(x) if detail else (math.nan, math.nan)
        out.append(ModelSummary(m, len(x), col.runs[m], float(np.mean(x)) if len(x) else math.nan, sd,
                                S.t_interval(x), boot, None if group is None else m in group,
                                col.selection[m], spread(x, col.eval_var.get(m)) if detail else None,
                                [float(v) for v in x], list(col.seeds.get(m, []))))
    return out


def _pairs(oriented: dict[str, np.ndarray], order: list[str], tests: S.GroupTests, alpha: float) -> list[PairResult]:
    idx = {m: i for i, m in enumerate(tests.models)}
    n_tested = int(np.isfinite(tests.p_adj[np.triu_indices(len(tests.models), 1)]).sum())
    out = []
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            xa, xb = oriented[a], oriented[b]
            if not len(xa) or not len(xb):
                continue
            p, p_adj = tests.p[idx[a], idx[b]], tests.p_adj[idx[a], idx[b]]
            d = S.cohens_d(xa, xb)
            out.append(PairResult(a, b, _or_none(p), _or_none(p_adj), S.prob_improvement(xa, xb), S.hedges_g(xa, xb), d,
                                  None if d is None else S.seeds_for_power(d, alpha),
                                  None if d is None or not n_tested else S.seeds_for_power(d, alpha / n_tested)))
    return out


def _or_none(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def compare_column(col: Column, alpha: float = S.ALPHA, detail: bool = True) -> ColumnResult:
    """The comparison of one column; ``detail=False`` leaves out the bootstrap, the pairs and the
    spreads (what a table needs is the group)."""
    oriented = {m: S.orient(col.values.get(m, np.empty(0)), col.direction) for m in col.runs}
    order = sorted(col.runs, key=lambda m: -np.mean(oriented[m]) if len(oriented[m]) else math.inf)
    tests = S.group_tests(oriented, alpha)
    no_test = col.problem or tests.no_test
    group = None if col.problem else tests.group
    if len(col.runs) < 2:
        no_test, group = f"{col.name}: only {order[0]} has it, nothing to compare", None
    res = ColumnResult(col.dataset, col.metric, col.direction, alpha, _summaries(col, order, group, detail),
                       tests.best, group, tests.untested, no_test, notes=_notes(col), problem=col.problem)
    if detail and not col.problem:
        res.pairs = _pairs(oriented, order, tests, alpha)
    return res


def _notes(col: Column) -> list[str]:
    notes = []
    unstated = sorted(m for m, s in col.selection.items() if s == UNSTATED)
    if unstated:
        notes.append(f"records without a stated selection ({', '.join(unstated)}): each seed's last step taken as "
                     f"final")
    stated: dict[str, list[str]] = {}
    for m, s in sorted(col.selection.items()):
        if s != UNSTATED:
            stated.setdefault(s, []).append(m)
    if stated:
        notes.append("selection stated in the records: "
                     + "; ".join(f"{s} ({', '.join(ms)})" for s, ms in stated.items()))
    for m, n in col.runs.items():
        k = len(col.values.get(m, ()))
        if k < n:
            notes.append(f"{m}: {n - k} of {n} seeds have no value (undefined there); its numbers use the other {k}, "
                         f"which flatters it")
    return notes


@dataclass
class Comparison:
    columns: list[ColumnResult]
    notes: list[str]

    @property
    def compared(self) -> list[ColumnResult]:
        """Columns with two or more models that have a value."""
        return [c for c in self.columns if sum(m.seeds > 0 for m in c.models) >= 2]


def compare_records(records: Iterable[ResultRecord], metrics: list[str] | None = None, alpha: float = S.ALPHA,
                    strict: bool = True, detail: bool = True) -> Comparison:
    """Compare the models of every (dataset, metric) of ``records``; ``strict`` raises incomparable
    input (protocols, budgets, selections, unfinished runs, unknown metrics) as one-line errors."""
    if not 0 < alpha < 1:
        raise GanbenchError(f"--alpha must be between 0 and 1, got {alpha}")
    cols, notes = collect(records, metrics, strict)
    return Comparison([compare_column(c, alpha, detail) for c in cols], notes)
