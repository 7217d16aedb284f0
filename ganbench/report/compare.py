"""``ganbench compare`` rendered: markdown (compare.md and the terminal), JSON, and figures (the
probability-of-improvement matrix, each model's per-seed values, critical-difference diagrams).

The numbers are ``ganbench.compare``'s; this module only lays them out.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ganbench.compare import stats as S
from ganbench.compare.ranking import Ranking
from ganbench.compare.result import ColumnResult, Comparison
from ganbench.io import atomic_write_text
from ganbench.layout import CompareLayout
from ganbench.metrics.spec import HIGHER, LOWER, ZERO
from ganbench.report import plots

DIRECTION_TEXT = {LOWER: "↓ lower is better", HIGHER: "↑ higher is better", ZERO: "→0 closer to 0 is better"}


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def _p(x: float | None) -> str:
    if x is None:
        return "–"
    return "<0.0001" if x < 1e-4 else f"{x:.4f}" if x < 0.01 else f"{x:.3f}"


def _seeds(n: int | None) -> str:
    if n is None:
        return "–"
    return f"> {S.MAX_SEEDS:,}" if n > S.MAX_SEEDS else f"{n:,}"


def _interval(ci: tuple[float, float]) -> str:
    return "–" if not all(math.isfinite(v) for v in ci) else f"[{_num(ci[0], 4)}, {_num(ci[1], 4)}]"


def header(alpha: float) -> str:
    return (f"Best group: the best mean and every model not significantly worse than it, by {S.TEST}, "
            f"p-values corrected by {S.CORRECTION}, α = {alpha:g}. Intervals: 95% Student-t of the mean over seeds, "
            f"and rliable's percentile bootstrap over seeds ({S.BOOT_REPS:,} resamples, seed {S.BOOT_SEED}). "
            f"P(a > b): the probability that a seed of a beats a seed of b in the metric's direction, ties 1/2 "
            f"(rliable's probability of improvement). Effect size: {S.EFFECT}. Seeds for {S.POWER:.0%} power: "
            f"{S.POWER_METHOD}, at α (one pair) and at α / pairs (Holm's first step). Spread: variance over seeds "
            f"against the mean within-run evaluation variance from the records' 95% intervals.")


def _vs_best(c: ColumnResult) -> dict[str, Any]:
    out = {}
    for p in c.pairs:
        if c.best in (p.a, p.b):
            other = p.b if p.a == c.best else p.a
            pi = p.prob_improvement if p.a == c.best else 1 - p.prob_improvement
            g = p.hedges_g if p.a == c.best or p.hedges_g is None else -p.hedges_g
            out[other] = (p, pi, g)
    return out


def _model_rows(c: ColumnResult) -> list[list[str]]:
    vs = _vs_best(c)
    rows = []
    for m in c.models:
        p, pi, g = vs.get(m.model, (None, None, None))
        mark = "–" if m.in_best_group is None else "**yes**" if m.in_best_group else "no"
        sp = m.spread or {}
        spread = (f"{_num(sp['training_var'])} / {_num(sp['evaluation_var'])} ({sp['dominant']})" if sp else "–")
        mean = f"{_num(m.mean, 4)} ± {_num(m.sd)}" if m.seeds > 1 else _num(m.mean, 4)
        rows.append([m.model, f"{m.seeds}" + (f"/{m.runs}" if m.seeds < m.runs else ""), mean,
                     _interval(m.ci_t), _interval(m.ci_bootstrap), mark,
                     _p(p.p_adj) if p else "–", _num(pi, 2) if p else "–", _num(g) if p else "–",
                     _seeds(p.seeds_for_power if p else None), spread])
    return rows


def _matrix(c: ColumnResult, what: str) -> str:
    from tabulate import tabulate

    names = [m.model for m in c.models]
    cell: dict[tuple[str, str], str] = {}
    for p in c.pairs:
        if what == "poi":
            cell[(p.a, p.b)], cell[(p.b, p.a)] = _num(p.prob_improvement, 2), _num(1 - p.prob_improvement, 2)
        else:
            cell[(p.a, p.b)] = cell[(p.b, p.a)] = _p(p.p_adj)
    rows = [[a, *(cell.get((a, b), "") for b in names)] for a in names]
    return tabulate(rows, headers=["", *names], tablefmt="github", disable_numparse=True)


def column_markdown(c: ColumnResult, figures: dict[str, str] | None = None) -> str:
    """One (dataset, metric): the group, each model's row (against the best), then both matrices."""
    from tabulate import tabulate

    lines = [f"## {c.dataset} / {c.metric} ({DIRECTION_TEXT.get(c.direction, c.direction)})", ""]
    if c.best_group is None:
        lines.append(f"Best mean: {c.best}. No best group: {c.no_test}.")
    else:
        lines.append(f"Best: {c.best}. Best group ({len(c.best_group)} of {len(c.models)}, not significantly worse "
                     f"than {c.best} at α = {c.alpha:g}): {', '.join(c.best_group)}.")
    if c.untested:
        lines.append(f"Not tested (fewer than {S.MIN_SEEDS} seeds with a value; shown, not judged): "
                     f"{', '.join(c.untested)}.")
    lines += [f"- {n}" for n in c.notes]
    heads = ["model", "seeds", "mean ± sd", "95% t-interval", "95% bootstrap", "best group",
             f"p_adj vs {c.best}", f"P({c.best} > model)", f"Hedges' g ({c.best} vs model)",
             f"seeds for {S.POWER:.0%} power", "training / evaluation var (dominant)"]
    lines += ["", tabulate(_model_rows(c), headers=heads, tablefmt="github", disable_numparse=True)]
    if c.pairs:
        lines += ["", "P(row better than column) over seeds:", "", _matrix(c, "poi"),
                  "", "Holm-adjusted p-values (Welch, two-sided):", "", _matrix(c, "p")]
    for label, f in (figures or {}).items():
        lines += ["", f"![{label}]({f})"]
    return "\n".join(lines)


def ranking_markdown(r: Ranking, figure: str | None = None) -> str:
    from tabulate import tabulate

    lines = [f"### {r.name} (blocks: {', '.join(r.blocks)})", ""]
    if r.test:
        text = f"{r.test}: p = {_p(r.p_value)}"
        if r.cd is not None:
            apart = [m for m in r.mean_rank if m not in (r.top_group or [])]
            text += (f"; critical difference {r.cd:.2f} in mean rank. Not told apart from the best (within the "
                     f"critical difference of its mean rank): {', '.join(r.top_group or [])}; told apart: "
                     f"{', '.join(apart) or 'none'}")
        lines.append(text + ".")
    if r.note:
        lines.append(f"Note: {r.note}.")
    if r.left_out:
        lines.append(f"Left out (a model has no value there): {', '.join(r.left_out)}.")
    rows = [[m, f"{v:.2f}"] for m, v in r.mean_rank.items()]
    lines += ["", tabulate(rows, headers=["model", "mean rank (1 = best)"], tablefmt="github", disable_numparse=True)]
    if figure:
        lines += ["", f"![critical-difference diagram: {r.name}]({figure})"]
    return "\n".join(lines)


def compare_markdown(cmp: Comparison, rankings: list[Ranking], title: str,
                     figures: dict[str, dict[str, str]] | None = None) -> str:
    figures = figures or {}
    alpha = cmp.compared[0].alpha if cmp.compared else S.ALPHA
    parts = [f"# {title}", "", header(alpha), *[f"- {n}" for n in cmp.notes]]
    for c in cmp.compared:
        parts += ["", column_markdown(c, figures.get(c.name))]
    if rankings:
        parts += ["", "## Ranking across datasets", "",
                  "Mean rank of each model's mean over seeds (Demšar 2006), one block per (dataset, metric)."]
        for r in rankings:
            parts += ["", ranking_markdown(r, figures.get(f"ranking:{r.name}", {}).get("cd"))]
    return "\n".join(parts) + "\n"


def json_columns(cmp: Comparison) -> list[dict[str, Any]]:
    """What ``--json`` writes: one object per (dataset, metric) with two or more models."""
    return [c.to_json() for c in cmp.compared]


def write_json(path: Path, data: Any) -> Path:
    atomic_write_text(Path(path), json.dumps(data, indent=1, allow_nan=False) + "\n")
    return Path(path)


def write_figures(out: Path, cmp: Comparison, rankings: list[Ranking]) -> dict[str, dict[str, str]]:
    """Per column: the probability-of-improvement matrix and the per-seed points; per ranking with a
    Nemenyi test: its critical-difference diagram. Returns {column or "ranking:NAME": {label: file}}."""
    lay = CompareLayout(Path(out))
    figs: dict[str, dict[str, str]] = {}
    for c in cmp.compared:
        stem = f"{plots.slug(c.dataset)}_{plots.slug(c.metric)}"
        got = {"per-seed values": plots.seed_points(c, lay.figure("seeds", stem))}
        if c.pairs:
            got["probability of improvement"] = plots.poi_heatmap(c, lay.figure("poi", stem))
        figs[c.name] = {k: v.name for k, v in got.items() if v is not None}
    for r in rankings:
        if r.cd is not None and r.result is not None:
            p = plots.cd_diagram(r, lay.figure("cd", plots.slug(r.name)))
            figs[f"ranking:{r.name}"] = {"cd": p.name}
    return figs


def write_compare(out: Path, cmp: Comparison, rankings: list[Ranking], title: str) -> dict[str, Path]:
    """compare.md, compare.json (the --json array), ranking.json and the figures, into ``out``."""
    lay = CompareLayout(Path(out))
    lay.root.mkdir(parents=True, exist_ok=True)
    figs = write_figures(lay.root, cmp, rankings)
    written = {"json": write_json(lay.json, json_columns(cmp)),
               "ranking": write_json(lay.ranking, [r.to_json() for r in rankings])}
    atomic_write_text(lay.markdown, compare_markdown(cmp, rankings, title, figs))
    written["markdown"] = lay.markdown
    return written
