"""Regression checks: compare current records with a baseline, metric by metric.

Pure: records in, verdict rows out (``compare``). The CLI (``ganbench check``) prints the rows,
writes JUnit XML and picks the exit code.

Matching: records are grouped by (model, dataset); each (model, dataset, seed) contributes its final
step; values are averaged over seeds (NaN/None ignored). Only metrics the baseline has are judged.

Two kinds of spread, never mixed (docs/statistics.md):
- a re-evaluation (both sides are ``eval`` records of the same checkpoints or sample sets, by file
  hash, under other sampling seeds) differs only by evaluation noise: the allowance comes from the
  records' own intervals (evaluation spread), z x sqrt(se_baseline² + se_current²);
- a retrained model (training records, or other checkpoints) differs by training noise too: the
  allowance comes from the baseline's spread over training seeds (training spread),
  t(k-1) x std x sqrt(1/k_baseline + 1/k_current).
Both are one-sided and Bonferroni-corrected over the metrics judged per (model, dataset), so an
unchanged generator fails at most ``FAMILY_ALPHA`` of the time. ``--tolerance`` replaces them;
without the spread they need, 5% of the baseline value. Statistical allowances are never below
``floor()``: a std from 3 seeds comes out near zero by chance (exactly zero for counts such as modes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.spec import (
    HIGHER,
    LOWER,
    ZERO,
    compared_keys,
    direction as spec_direction,
    display_order,
    floor_of,
    is_quality_metric,
)
from ganbench.records import ResultRecord

# Which way each metric is better, its floor and its protocol keys are the metric's own
# (ganbench.metrics.spec); names no spec judges are reported but not judged, unless --tolerance gives a sign.

FAMILY_ALPHA = 0.05  # the chance that an unchanged generator fails some metric of one (model, dataset)
REEVALUATION, RETRAINED = "re-evaluation", "retrained"
COMPARE_KINDS = ("auto", REEVALUATION, RETRAINED)
DEFAULT_RELATIVE = 0.05  # without CI or spread: 5% of the baseline value
MIN_RELATIVE = 0.01  # floor on statistical allowances: 1% of the baseline value ...
# ... or the absolute floor the metric's spec declares (MetricSpec.floors), whichever is larger.

# Protocol keys of every evaluation whose difference makes numbers incomparable (absent on one side
# counts as a value); each metric adds the keys its spec declares (MetricSpec.compared).
GENERAL_KEYS = ("n_gen", "n_real", "real_split", "extractor", "weights_sha256", "mode", "budget", "steps",
                "dataset_identity", "preset")
# A preset difference is never overridden by --allow-protocol-mismatch (ganbench/presets.py).
HARD_KEYS = ("preset",)
CI_Z = 1.959964  # records' intervals are 95% (metrics.stats.IntervalSpec.level)

PASS, IMPROVED, REGRESSED, MISSING, NOT_JUDGED = "pass", "improved", "REGRESSED", "missing", "not judged"
FAILING = (REGRESSED, MISSING)


@dataclass(frozen=True)
class Tolerance:
    """An explicit allowance: ``amount`` >= 0 in the worse direction; ``sign`` +1 rise, -1 drop, 0 unsigned."""

    amount: float
    sign: int
    relative: bool = False

    def allowed(self, baseline: float) -> float:
        return self.amount * abs(baseline) if self.relative else self.amount

    def __str__(self) -> str:
        s = {1: "+", -1: "-", 0: ""}[self.sign]
        return f"{s}{self.amount * 100:g}%" if self.relative else f"{s}{self.amount:g}"


_TOL_RE = re.compile(r"^\s*([A-Za-z][\w.\-]*)\s*=\s*([+-]?)\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)\s*(%?)\s*$")


def parse_tolerance(spec: str | None) -> dict[str, Tolerance]:
    """``"fid=+2.0,precision=-0.02,kid=+10%"`` -> {metric: Tolerance}; GanbenchError on bad syntax."""
    out: dict[str, Tolerance] = {}
    if not spec:
        return out
    for part in spec.split(","):
        if not part.strip():
            continue
        m = _TOL_RE.match(part)
        if not m:
            raise GanbenchError(f"bad --tolerance item {part.strip()!r}: expected METRIC=+X or METRIC=-X "
                                f"(e.g. fid=+2.0,precision=-0.02 or fid=+5%)")
        name, sign, num, pct = m.groups()
        amount = float(num) / (100.0 if pct else 1.0)
        if not math.isfinite(amount):
            raise GanbenchError(f"bad --tolerance item {part.strip()!r}: not a finite number")
        out[name] = Tolerance(amount, {"+": 1, "-": -1, "": 0}[sign], bool(pct))
    return out


def protocol_keys() -> tuple[str, ...]:
    """The keys the protocol guard compares: the general ones and those the metric specs declare."""
    return tuple(dict.fromkeys(GENERAL_KEYS + tuple(compared_keys())))


def direction(metric: str, tol: Tolerance | None = None) -> str | None:
    """"lower"/"higher"/"closer to 0" is better (the metric's spec), or None when unknown; a signed
    tolerance names the direction of a metric no spec judges."""
    d = spec_direction(metric)
    if d is None and tol is not None and tol.sign:
        d = LOWER if tol.sign > 0 else HIGHER  # "may rise by X": rising is the worse way
    return d


def floor(metric: str, baseline: float) -> float:
    return max(MIN_RELATIVE * abs(baseline), floor_of(metric))


@dataclass
class Aggregate:
    """One (model, dataset)'s final-step values over seeds."""

    values: dict[str, list[float]] = field(default_factory=dict)  # metric -> per-seed finite values
    seeds: set[int] = field(default_factory=set)
    protocol: dict[str, set[str]] = field(default_factory=dict)  # key -> distinct values (as text)
    kinds: set[str] = field(default_factory=set)  # record kinds ("eval", "train-eval")
    targets: set[str] = field(default_factory=set)  # what was evaluated: file hash, else model/step

    def mean(self, metric: str) -> float:
        v = self.values.get(metric, [])
        return float(np.mean(v)) if v else math.nan

    def std(self, metric: str) -> float:
        v = self.values.get(metric, [])
        return float(np.std(v, ddof=1)) if len(v) > 1 else math.nan


def _validate(r: ResultRecord, where: str) -> None:
    if not isinstance(r.metrics, dict):
        raise GanbenchError(f"{where}: record {r.model}/{r.dataset}/seed{r.seed}: 'metrics' is not an object")
    for k, v in r.metrics.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise GanbenchError(f"{where}: record {r.model}/{r.dataset}/seed{r.seed}: metric {k!r} is not a number")
    if not isinstance(r.step, int) or not isinstance(r.seed, int):
        raise GanbenchError(f"{where}: record {r.model}/{r.dataset}: 'seed' and 'step' must be integers")


def aggregate(records: Iterable[ResultRecord], where: str = "records") -> dict[tuple[str, str], Aggregate]:
    """Group by (model, dataset); keep each seed's final step; collect values and protocols."""
    records = list(records)
    for r in records:
        _validate(r, where)
    last: dict[tuple[str, str, int], int] = {}
    for r in records:
        run = (r.model, r.dataset, r.seed)
        last[run] = max(last.get(run, r.step), r.step)
    per_seed: dict[tuple[str, str, int], dict[str, float]] = {}
    out: dict[tuple[str, str], Aggregate] = {}
    keys = protocol_keys()
    for r in records:
        if r.step != last[(r.model, r.dataset, r.seed)]:
            continue
        agg = out.setdefault((r.model, r.dataset), Aggregate())
        agg.seeds.add(r.seed)
        agg.kinds.add(r.kind)
        agg.targets.add(_target(r))
        for key in keys:
            agg.protocol.setdefault(key, set()).add(str(r.protocol.get(key, "(absent)")))
        # Several records at one seed's final step (e.g. a train-eval and an eval) merge their metrics; a
        # null (NaN) stays as NaN, so "no value" is told from "no such metric", and never hides a value.
        seed_metrics = per_seed.setdefault((r.model, r.dataset, r.seed), {})
        for k, v in r.metrics.items():
            if not math.isfinite(seed_metrics.get(k, math.nan)):
                seed_metrics[k] = math.nan if v is None else float(v)
    for (model, dataset, _), metrics in per_seed.items():
        agg = out[(model, dataset)]
        for k, v in metrics.items():
            agg.values.setdefault(k, [])
            if math.isfinite(v):
                agg.values[k].append(v)
    return out


@dataclass
class Row:
    model: str
    dataset: str
    metric: str
    better: str | None  # "lower" | "higher" | None
    baseline: float
    baseline_n: int
    current: float
    current_n: int
    allowed: float  # amount the metric may worsen (>= 0); NaN when not judged
    source: str
    status: str
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    def allowed_signed(self) -> str:
        if math.isnan(self.allowed) or self.better is None:
            return ""
        if self.allowed == 0:
            return "0"
        sign = {LOWER: "+", HIGHER: "-"}.get(self.better, "±")
        return f"{sign}{fmt_num(self.allowed)}"


@dataclass
class Comparison:
    rows: list[Row]
    protocol_diffs: dict[tuple[str, str], dict[str, tuple[str, str]]]  # group -> key -> (baseline, current)
    baseline_only: list[tuple[str, str]]
    current_only: list[tuple[str, str]]
    kinds: dict[tuple[str, str], str] = field(default_factory=dict)  # group -> re-evaluation | retrained

    @property
    def regressed(self) -> bool:
        return any(r.failed for r in self.rows)

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for r in self.rows:
            c[r.status] = c.get(r.status, 0) + 1
        return c


def protocol_differences(base: Aggregate, cur: Aggregate) -> dict[str, tuple[str, str]]:
    diffs = {}
    for key in protocol_keys():
        b, c = base.protocol.get(key, {"(absent)"}), cur.protocol.get(key, {"(absent)"})
        if b != c:
            diffs[key] = (", ".join(sorted(b)), ", ".join(sorted(c)))
    return diffs


def _target(r: ResultRecord) -> str:
    prov = r.provenance if isinstance(r.provenance, dict) else {}
    sha = prov.get("target_sha256") or prov.get("module_sha256")
    return f"sha256:{sha}" if sha else f"{r.model}@step{r.step}"


def comparison_kind(base: Aggregate, cur: Aggregate) -> str:
    """Re-evaluation when both sides are ``eval`` records of the same targets; else retrained."""
    same = base.kinds == cur.kinds == {"eval"} and base.targets == cur.targets
    return REEVALUATION if same else RETRAINED


def eval_se(agg: Aggregate, metric: str) -> float | None:
    """Standard error of the seed-mean from the records' own intervals (evaluation spread)."""
    lo, hi = agg.values.get(f"{metric}_ci_low", []), agg.values.get(f"{metric}_ci_high", [])
    if not lo or len(lo) != len(hi):
        return None
    se = (np.asarray(hi) - np.asarray(lo)) / (2 * CI_Z)
    return float(np.sqrt(np.sum(se ** 2)) / len(se))


def _statistical(metric: str, b: Aggregate, c: Aggregate, kind: str, alpha: float) -> tuple[float, str] | None:
    from scipy import stats as _scipy_stats  # imported here: `ganbench list` must not load scipy

    if kind == REEVALUATION:
        sb = eval_se(b, metric)
        if sb is None:
            return None
        sc = eval_se(c, metric)
        z = float(_scipy_stats.norm.ppf(1 - alpha))
        return z * math.hypot(sb, sb if sc is None else sc), f"evaluation spread (intervals, z={z:.2f})"
    kb, kc = len(b.values.get(metric, [])), max(1, len(c.values.get(metric, [])))
    if kb < 2:
        return None
    # Two-sample t-test with the seeds' variance pooled over both sides (retrained runs of one recipe
    # share it under the null), df = kb + kc - 2. The baseline's variance alone with df = kb - 1 let
    # grid modes drop by 6 of 25 with 3 seeds (t = 5.34) and still pass.
    df = kb - 1 + (kc - 1 if len(c.values.get(metric, [])) > 1 else 0)
    var = (kb - 1) * b.std(metric) ** 2 + (c.std(metric) ** 2 * (kc - 1) if kc > 1 else 0.0)
    t = float(_scipy_stats.t.ppf(1 - alpha, df))
    a = t * math.sqrt(var / df) * math.sqrt(1 / kb + 1 / kc)
    return a, f"training spread ({kb}+{kc} seeds pooled, t={t:.2f})"


def _allowance(metric: str, b: Aggregate, c: Aggregate, mean: float, tol: Tolerance | None, kind: str,
               alpha: float) -> tuple[float, str]:
    if tol is not None:
        return tol.allowed(mean), f"--tolerance {metric}={tol}"
    got = _statistical(metric, b, c, kind, alpha)
    if got is None:
        need = "intervals in the baseline" if kind == REEVALUATION else "2+ baseline seeds"
        return DEFAULT_RELATIVE * abs(mean), f"default {DEFAULT_RELATIVE:.0%} of baseline (no {need})"
    a, src = got
    f = floor(metric, mean)
    if a < f:
        return f, src + f", floored to {fmt_num(f)}"
    return a, src


def compare(baseline: Iterable[ResultRecord], current: Iterable[ResultRecord],
            tolerances: dict[str, Tolerance] | None = None, allow_protocol_mismatch: bool = False,
            kind: str = "auto") -> Comparison:
    """Judge every baseline metric of every (model, dataset) present in both record sets.

    kind: "auto" (``comparison_kind`` per group), "re-evaluation" or "retrained": which spread
    the allowances use. Raises GanbenchError on no overlap, on a tolerance that names no metric
    here or points the wrong way, on different presets, and on other protocol differences unless
    ``allow_protocol_mismatch``.
    """
    if kind not in COMPARE_KINDS:
        raise GanbenchError(f"comparison kind must be one of {', '.join(COMPARE_KINDS)}, got {kind!r}")
    tolerances = tolerances or {}
    base = aggregate(baseline, "baseline")
    cur = aggregate(current, "current")
    if not base:
        raise GanbenchError("the baseline holds no records")
    if not cur:
        raise GanbenchError("the current input holds no records")
    shared = [k for k in base if k in cur]
    if not shared:
        raise GanbenchError(f"no (model, dataset) in common: baseline has {_groups(base)}, current has {_groups(cur)}")

    known = {m for a in (*base.values(), *cur.values()) for m in a.values}
    for name, tol in tolerances.items():
        if name not in known:
            close = sorted(m for m in known if is_quality_metric(m))
            raise GanbenchError(f"--tolerance names {name!r}, which no record has (metrics: {', '.join(close)})")
        d = spec_direction(name)
        if d in (LOWER, HIGHER) and tol.sign and (d == LOWER) != (tol.sign > 0):
            want = "+" if d == LOWER else "-"
            raise GanbenchError(f"--tolerance {name}={tol}: {d} {name} is better, so the allowance is how far it may "
                                f"{'rise' if d == LOWER else 'drop'}; write {name}={want}{tol.amount:g}"
                                f"{'%' if tol.relative else ''}")

    diffs = {g: diff for g in shared if (diff := protocol_differences(base[g], cur[g]))}
    _refuse_protocol_differences(diffs, allow_protocol_mismatch)
    kinds = {g: comparison_kind(base[g], cur[g]) if kind == "auto" else kind for g in shared}
    rows: list[Row] = []
    for g in shared:
        note = "protocol differs: " + ", ".join(diffs[g]) if g in diffs else ""
        rows += _judge_group(g, base[g], cur[g], tolerances, kinds[g], note)
    _refuse_nothing_compared(rows, {g: base[g] for g in shared})
    return Comparison(rows, diffs, [k for k in base if k not in cur], [k for k in cur if k not in base], kinds)


def _refuse_nothing_compared(rows: list[Row], base: dict[tuple[str, str], Aggregate]) -> None:
    """A gate that judged no metric must not pass: say why in one line."""
    if any(r.status != NOT_JUDGED for r in rows):
        return
    why = [f"{r.model}/{r.dataset} {r.metric}: {r.note}" for r in rows]
    why += [f"{m}/{d} {k}: no finite value in the baseline (null or NaN in every seed)"
            for (m, d), agg in base.items() for k in agg.values if is_quality_metric(k) and math.isnan(agg.mean(k))]
    text = "; ".join(why[:4]) + (f" (and {len(why) - 4} more)" if len(why) > 4 else "")
    raise GanbenchError(f"compared no metric ({text or 'the baseline has no quality metric'}); a gate that compares "
                        f"nothing cannot pass")


def _refuse_protocol_differences(diffs: dict[tuple[str, str], dict[str, tuple[str, str]]], allow: bool) -> None:
    for g, d in diffs.items():
        hard = [k for k in HARD_KEYS if k in d]
        if hard or not allow:
            what = "; ".join(f"{k} {b} (baseline) vs {c} (current)" for k, (b, c) in d.items())
            more = f" (and {len(diffs) - 1} more model/dataset pairs)" if len(diffs) > 1 else ""
            how = ("different presets are never compared" if hard
                   else "pass --allow-protocol-mismatch to compare anyway")
            raise GanbenchError(f"protocol differs for {g[0]}/{g[1]}: {what}{more}; the numbers are not comparable "
                                f"({how})")


def _judge_group(g: tuple[str, str], b: Aggregate, c: Aggregate, tolerances: dict[str, Tolerance], kind: str,
                 note: str) -> list[Row]:
    """Rows for one (model, dataset); alpha is split over the metrics judged statistically here."""
    metrics = [m for m in sorted(b.values, key=_metric_key) if is_quality_metric(m) and not math.isnan(b.mean(m))]
    judged = [m for m in metrics if direction(m, tolerances.get(m)) and m not in tolerances]
    alpha = FAMILY_ALPHA / max(1, len(judged))
    rows = []
    for metric in metrics:
        tol = tolerances.get(metric)
        better = direction(metric, tol)
        bm, cm = b.mean(metric), c.mean(metric)
        bn, cn = len(b.values[metric]), len(c.values.get(metric, []))
        head = (g[0], g[1], metric, better, bm, bn, cm, cn)
        if math.isnan(cm):
            why = ("no finite value in current (null or NaN in every seed)" if metric in c.values
                   else "metric absent from current")
            rows.append(Row(*head, math.nan, "", MISSING, _join(why, note)))
        elif cn < len(c.seeds) and bn == len(b.seeds):
            # A seed whose value became undefined (reverse KL with no high-quality sample: a collapsed
            # run) must not drop out of the mean, which would then look better than it is.
            why = (f"no value for {len(c.seeds) - cn} of {len(c.seeds)} current seeds (undefined there), while "
                   f"every baseline seed has one")
            rows.append(Row(*head, math.nan, "", MISSING, _join(why, note)))
        elif better is None:
            rows.append(Row(*head, math.nan, "", NOT_JUDGED,
                            _join("direction unknown (give a signed --tolerance to judge it)", note)))
        else:
            allowed, src = _allowance(metric, b, c, bm, tol, kind, alpha)
            worse_by = {LOWER: cm - bm, HIGHER: bm - cm, ZERO: abs(cm) - abs(bm)}[better]
            eps = 1e-9 * max(1.0, abs(bm))  # float noise in means of identical values
            status = REGRESSED if worse_by > allowed + eps else IMPROVED if -worse_by > allowed + eps else PASS
            rows.append(Row(*head, allowed, f"{kind}: {src}", status, note))
    return rows


def _metric_key(name: str) -> tuple[int, str]:
    order = display_order()
    return (order.index(name) if name in order else len(order), name)


def _groups(aggs: dict[tuple[str, str], Any]) -> str:
    names = [f"{m}/{d}" for m, d in aggs]
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def fmt_num(x: float) -> str:
    """4 significant digits, "n/a" for NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.4g}"
