"""Records in, one column per (dataset, metric) out: each model's value per training seed.

Which record a seed contributes: the one whose ``protocol.selection`` is ``final step`` (or
``single evaluation``, what ``ganbench eval`` writes); where a seed's records carry another stated
selection (``best over training by fid (of 20 evaluations)``), that one, said in the output. Records
without ``selection`` (older ones, and the stacked mixture runs' records, ``protocol.vectorised_seeds``)
count their last step as final, and the output says so. A seed whose last record says ``step k of N``
is an unfinished run, never silently compared.

What makes a column incomparable (``Column.problem``; ``strict`` raises it as one line): models
selected differently (final step against best over training), different budgets, or any evaluation
protocol key that differs (``ganbench.check.GENERAL_KEYS`` and the metric's own ``compared`` keys from
the metric catalogue). ``steps`` is not compared: a budget fixes each model's steps, and models
whose critic takes 5 steps per generator step train fewer generator steps under the same budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ganbench.check import GENERAL_KEYS
from ganbench.errors import GanbenchError
from ganbench.metrics.spec import compared_keys_of, direction, display_order, is_quality_metric
from ganbench.records import ResultRecord
from ganbench.selection import FINAL, SINGLE

UNSTATED = "last step (selection not stated)"
FINAL_LIKE = (FINAL, SINGLE, UNSTATED)  # one evaluation of each run's final generator
_STEP = re.compile(r"^step \d+ of \d+$")
NOT_COMPARED = ("steps",)
BUDGET = "budget"


@dataclass
class Column:
    """One (dataset, metric): each model's per-seed values and where they came from."""

    dataset: str
    metric: str
    direction: str
    values: dict[str, np.ndarray] = field(default_factory=dict)  # model -> finite values, seed order
    seeds: dict[str, list[int]] = field(default_factory=dict)  # model -> seeds of those values
    runs: dict[str, int] = field(default_factory=dict)  # model -> seeds with a record of the metric
    eval_var: dict[str, float | None] = field(default_factory=dict)  # mean within-run evaluation variance
    seed_eval_var: dict[str, list[float | None]] = field(default_factory=dict)  # per seed, from its interval
    selection: dict[str, str] = field(default_factory=dict)  # model -> how its records were chosen
    protocol: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # key -> value -> models
    problem: str | None = None  # why the column's models must not be tested against each other

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.metric}"


def pick_records(recs: list[ResultRecord]) -> tuple[list[ResultRecord], str] | str:
    """The records one (model, dataset, seed) contributes and how they were chosen, or why none."""
    final = [r for r in recs if r.protocol.get("selection") in (FINAL, SINGLE)]
    if final:
        step = max(r.step for r in final)
        chosen = [r for r in final if r.step == step]
        return chosen, str(chosen[0].protocol["selection"])
    stated = sorted({str(s) for r in recs if (s := r.protocol.get("selection")) is not None
                     and not _STEP.match(str(s))})
    if len(stated) > 1:
        return f"its records carry several selections ({'; '.join(stated)}); compare one"
    if stated:
        own = [r for r in recs if r.protocol.get("selection") == stated[0]]
        step = max(r.step for r in own)
        return [r for r in own if r.step == step], stated[0]
    step = max(r.step for r in recs)
    last = [r for r in recs if r.step == step]
    said = sorted({str(r.protocol["selection"]) for r in last if r.protocol.get("selection") is not None})
    if said:
        return f"its last record is '{said[0]}', not the final step (an unfinished run); compare finished runs"
    return last, UNSTATED


def selection_class(label: str) -> str:
    """Selections that may be compared with each other share a class (counts of evaluations aside)."""
    return FINAL if label in FINAL_LIKE else re.sub(r"\d+", "N", label)


def _eval_var(r: ResultRecord, metric: str, value: float) -> float | None:
    """Within-run evaluation variance from the record's own interval: se = the larger half-width / z.

    The larger half-width, not (high - low) / 2: intervals are clipped to the metric's range but never
    past the estimate (docs/statistics.md), so a clipped side (modes [7.94, 8.00] at 8) is short.
    """
    from scipy import stats

    lo, hi = r.metrics.get(f"{metric}_ci_low"), r.metrics.get(f"{metric}_ci_high")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    level = float(r.protocol.get("ci_level", 0.95))
    z = float(stats.norm.isf((1 - level) / 2))
    return (max(hi - value, value - lo, 0.0) / z) ** 2


def compared_keys(metric: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for k in (*GENERAL_KEYS, *compared_keys_of(metric)) if k not in NOT_COMPARED))


def _chosen(records: list[ResultRecord]) -> tuple[dict[tuple[str, str, int], tuple[list[ResultRecord], str]],
                                                   dict[tuple[str, str], str]]:
    """Per (model, dataset, seed): its chosen records; per (model, dataset): why a seed has none."""
    by_run: dict[tuple[str, str, int], list[ResultRecord]] = {}
    for r in records:
        by_run.setdefault((r.model, r.dataset, r.seed), []).append(r)
    chosen: dict[tuple[str, str, int], tuple[list[ResultRecord], str]] = {}
    bad: dict[tuple[str, str], str] = {}
    for (model, dataset, seed), recs in sorted(by_run.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        got = pick_records(recs)
        if isinstance(got, str):
            bad.setdefault((model, dataset), f"{model}/{dataset} seed {seed}: {got}")
        else:
            chosen[(model, dataset, seed)] = got
    return chosen, bad


def _add_seed(col: Column, model: str, seed: int, recs: list[ResultRecord], label: str) -> None:
    holder = next((r for r in recs if col.metric in r.metrics and r.metrics[col.metric] is not None),
                  next((r for r in recs if col.metric in r.metrics), None))
    if holder is None:
        return
    col.runs[model] = col.runs.get(model, 0) + 1
    col.selection.setdefault(model, label)
    for key in compared_keys(col.metric):
        val = str(holder.protocol.get(key, "(absent)"))
        col.protocol.setdefault(key, {}).setdefault(val, set()).add(model)
    v = holder.metrics[col.metric]
    if v is None or not math.isfinite(float(v)):
        return
    col.values[model] = np.append(col.values.get(model, np.empty(0)), float(v))
    col.seeds.setdefault(model, []).append(seed)
    col.seed_eval_var.setdefault(model, []).append(_eval_var(holder, col.metric, float(v)))


def _finish(col: Column) -> None:
    for m, per_seed in col.seed_eval_var.items():
        known = [v for v in per_seed if v is not None]
        col.eval_var[m] = float(np.mean(known)) if len(known) == len(per_seed) else None
    col.problem = col.problem or _protocol_problem(col)


def _protocol_problem(col: Column) -> str | None:
    classes: dict[str, list[str]] = {}
    for m, label in col.selection.items():
        classes.setdefault(selection_class(label), []).append(m)
    if len(classes) > 1:
        what = " vs ".join(f"{col.selection[ms[0]]} ({', '.join(ms)})" for ms in classes.values())
        return f"{col.name}: models are selected differently: {what}; compare records under one selection"
    for key, vals in col.protocol.items():
        if len(vals) > 1:
            what = " vs ".join(f"{v} ({', '.join(sorted(ms))})" for v, ms in sorted(vals.items()))
            if key == BUDGET:
                return f"{col.name}: mixed budgets: {what}; compare runs trained under one budget"
            return (f"{col.name}: protocol differs in {key}: {what}; records of different protocols are not "
                    f"comparable")
    return None


def collect(records: Iterable[ResultRecord], metrics: list[str] | None = None,
            strict: bool = True) -> tuple[list[Column], list[str]]:
    """Every (dataset, metric) with a direction, in the catalogue's order; and notes on what was
    left out. ``strict``: raise the first problem as a GanbenchError instead of recording it."""
    records = list(records)
    chosen, bad = _chosen(records)
    if strict and bad:
        raise GanbenchError(next(iter(bad.values())))
    present = {k for recs, _ in chosen.values() for r in recs for k in r.metrics}
    _check_metric_names(metrics, present, strict)
    wanted = [m for m in _ordered(present) if direction(m) is not None and (not metrics or m in metrics)]
    datasets = list(dict.fromkeys(r.dataset for r in records))
    cols, notes = [], [f"left out: {why}" for why in bad.values()]
    for dataset in datasets:
        for metric in wanted:
            better = direction(metric)
            assert better is not None  # wanted holds only metrics with a direction
            col = Column(dataset, metric, better)
            for (model, ds, seed), (recs, label) in chosen.items():
                if ds == dataset:
                    _add_seed(col, model, seed, recs, label)
            if not col.runs:
                continue
            _finish(col)
            if strict and col.problem:
                raise GanbenchError(col.problem)
            cols.append(col)
    return cols, notes


def _ordered(names: set[str]) -> list[str]:
    order = display_order()
    return [m for m in order if m in names] + sorted(m for m in names if m not in order)


def _check_metric_names(metrics: list[str] | None, present: set[str], strict: bool) -> None:
    if not metrics or not strict:
        return
    have = sorted(m for m in present if is_quality_metric(m) and direction(m) is not None)
    for m in metrics:
        if m not in present:
            raise GanbenchError(f"no record has metric {m!r} (metrics here: {', '.join(have) or 'none'})")
        if direction(m) is None:
            raise GanbenchError(f"metric {m!r} has no direction in the metric catalogue, so no model is better "
                                f"at it (metrics with one: {', '.join(have)})")
