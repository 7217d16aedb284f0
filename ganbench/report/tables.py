"""Tables from records with pandas: final-step metrics over seeds, each column's best group marked.

One summary frame (``summary``), one cell layout (``table_cells``: models x (dataset, metric) strings
plus a mask of the best-group cells), and one renderer per format: markdown, CSV (tidy, numeric),
LaTeX and HTML (both through pandas' Styler). The best group is ``ganbench compare``'s: the best
mean and every model not significantly worse than it over seeds (``group_note`` says which test).
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _stats

from ganbench.compare import stats as compare_stats
from ganbench.compare.result import ColumnResult, compare_records
from ganbench.metrics.spec import HIGHER, LOWER, ZERO, direction, display_order, is_quality_metric
from ganbench.records import ResultRecord

ARROWS = {LOWER: "↓", HIGHER: "↑", ZERO: "→0"}
INTERVALS = ("std", "ci")
BEST_BG = "#dcf1da"  # background of the best-group cells (also in report.html)
BEST_CSS = f"font-weight: bold; background-color: {BEST_BG};"


def records_frame(records: Iterable[ResultRecord]) -> pd.DataFrame:
    """One row per (record, metric) with the record's identity columns."""
    rows = [{"kind": r.kind, "model": r.model, "dataset": r.dataset, "seed": r.seed, "step": r.step,
             "metric": k, "value": np.nan if v is None else float(v)}
            for r in records for k, v in r.metrics.items()]
    return pd.DataFrame(rows, columns=["kind", "model", "dataset", "seed", "step", "metric", "value"])


def final_frame(records: Iterable[ResultRecord]) -> pd.DataFrame:
    """Only each (model, dataset, seed)'s last evaluated step."""
    df = records_frame(records)
    if df.empty:
        return df
    last = df.groupby(["kind", "model", "dataset", "seed"])["step"].transform("max")
    return df[df["step"] == last]


def summary(records: Iterable[ResultRecord], metrics: list[str] | None = None) -> pd.DataFrame:
    """Per (model, dataset, metric) at the final step: mean, std (ddof=1), n_seeds (finite values),
    n_runs, the 95% t-interval of the mean over seeds (seed_ci_low/high, NaN below 2 seeds) and the
    records' own interval (ci_low/ci_high: mean over seeds of ``<metric>_ci_low/_ci_high``)."""
    df = final_frame(records)
    cols = ["model", "dataset", "metric", "mean", "std", "n_seeds", "n_runs", "seed_ci_low", "seed_ci_high",
            "ci_low", "ci_high"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    g = df.groupby(["model", "dataset", "metric"], sort=False)["value"]
    out = g.agg(mean="mean", std="std", n_seeds="count", n_runs="size").reset_index()
    out["std"] = out["std"].fillna(0.0)
    half = [t_half_width(sd, n) for sd, n in zip(out["std"], out["n_seeds"], strict=True)]
    bounds = [metric_range(k) for k in out["metric"]]
    # A t-interval can leave the metric's range (modes [-16.6, 21.6] from 2 seeds): clip it there.
    out["seed_ci_low"] = np.maximum(out["mean"] - half, [lo for lo, _ in bounds])
    out["seed_ci_high"] = np.minimum(out["mean"] + half, [hi for _, hi in bounds])
    comp = out.set_index(["model", "dataset", "metric"])["mean"]
    for side in ("low", "high"):
        out[f"ci_{side}"] = [comp.get((m, d, f"{k}_ci_{side}"), np.nan)
                             for m, d, k in zip(out["model"], out["dataset"], out["metric"], strict=True)]
    keep = out["metric"].map(is_quality_metric)
    if metrics:
        keep &= out["metric"].isin(metrics)
    return out[keep].reset_index(drop=True)[cols]


# Values a metric can take (a share in [0, 1], a count or distance >= 0). KID's unbiased estimate
# and C_T's Z-score can be negative, so they are unbounded.
METRIC_RANGES: dict[str, tuple[float, float]] = {
    **{k: (0.0, 1.0) for k in ("precision", "recall", "coverage", "hq_share", "copy_share")},
    **{k: (0.0, np.inf) for k in ("fid", "density", "modes", "reverse_kl",
                                  "kl_to_uniform", "nn_dist_median", "ct_cells_used")},
    "is": (1.0, np.inf),
}


def metric_range(metric: str) -> tuple[float, float]:
    return METRIC_RANGES.get(metric, (-np.inf, np.inf))


def t_half_width(std: float, n: int, level: float = 0.95) -> float:
    """Half-width of the t-interval of a mean of ``n`` values; NaN for fewer than 2."""
    if n < 2 or not np.isfinite(std):
        return np.nan
    return float(_stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n))


def metric_order(names: Iterable[str]) -> list[str]:
    """The metric specs' display order (MetricSpec.order) first; anything else alphabetically."""
    names = list(dict.fromkeys(names))
    order = display_order()
    return [m for m in order if m in names] + sorted(m for m in names if m not in order)


def _digits(mean: float, spread: float = 0.0) -> int:
    a = max(abs(mean), abs(spread) if np.isfinite(spread) else 0.0)
    return 1 if a >= 10 else 2 if a >= 1 else 3


def _fmt(mean: float, std: float, n: int, n_runs: int | None = None) -> str:
    if np.isnan(mean):
        return "n/a"
    d = _digits(mean, std)
    if n > 1 and std == 0 and float(mean).is_integer():
        s = f"{mean:.0f} ± 0"  # counts (modes) identical over seeds
    else:
        s = f"{mean:.{d}f} ± {std:.{d}f}" if n > 1 else f"{mean:.{d}f}"
    if n_runs is not None and n < n_runs:
        s += f" ({n}/{n_runs} seeds)"  # the others had no value (e.g. reverse KL without HQ samples)
    return s


def _fmt_ci(mean: float, lo: float, hi: float) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    d = _digits(mean, hi - lo)
    return f"[{lo:.{d}f}, {hi:.{d}f}]"


@dataclass
class TableCells:
    """Display strings (models x columns), the best-group mask, each column's (dataset, metric, label),
    and the comparison that made each column's group."""

    cells: pd.DataFrame
    best: pd.DataFrame
    columns: list[tuple[str, str, str]]  # (dataset, metric, kind): kind "value" or "ci"
    groups: dict[tuple[str, str], ColumnResult] | None = None

    @property
    def empty(self) -> bool:
        return self.cells.empty


def best_mask(s: pd.DataFrame) -> pd.Series:
    """True where a model has the best mean of its (dataset, metric); needs 2+ models with values."""
    best = pd.Series(False, index=s.index)
    for (_, metric), grp in s.groupby(["dataset", "metric"], sort=False):
        d = direction(metric)
        vals = grp["mean"].dropna()
        if d is None or len(vals) < 2 or vals.nunique() < 2:
            continue
        if d == ZERO:
            vals = vals.abs()
        target = vals.min() if d in (LOWER, ZERO) else vals.max()
        best[vals.index[np.isclose(vals, target, rtol=1e-12, atol=0)]] = True
    return best


def best_groups(records: Iterable[ResultRecord], metrics: list[str] | None = None) -> dict[tuple[str, str],
                                                                                          ColumnResult]:
    """(dataset, metric) -> ``ganbench compare``'s result for it (groups only; incomparable records give
    a column without a group and the reason, never an error: a report still shows them)."""
    cmp = compare_records(records, metrics, strict=False, detail=False)
    return {(c.dataset, c.metric): c for c in cmp.columns}


def in_group(groups: dict[tuple[str, str], ColumnResult], dataset: str, metric: str, model: str) -> bool:
    c = groups.get((dataset, metric))
    return bool(c and c.best_group and model in c.best_group)


def table_cells(records: Iterable[ResultRecord], metrics: list[str] | None = None,
                interval: str = "std") -> TableCells:
    """Models as rows; per dataset, each metric as "mean ± std" (or "mean [95% t-interval]" with
    ``interval="ci"``) plus a "95% CI" column where the records carry their own interval."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")
    records = list(records)
    s = summary(records, metrics)
    if s.empty:
        return TableCells(pd.DataFrame(), pd.DataFrame(), [])
    groups = best_groups(records, metrics)
    s["best"] = [in_group(groups, d, m, model)
                 for d, m, model in zip(s["dataset"], s["metric"], s["model"], strict=True)]
    models = list(dict.fromkeys(s["model"]))
    datasets = list(dict.fromkeys(s["dataset"]))
    columns: list[tuple[str, str, str]] = []
    data: dict[tuple[str, str, str], dict[str, str]] = {}
    best: dict[tuple[str, str, str], dict[str, bool]] = {}
    for d in datasets:
        present = s[s["dataset"] == d]
        for m in metric_order(present["metric"]):
            rows = present[present["metric"] == m].set_index("model")
            col = (d, m, "value")
            columns.append(col)
            data[col], best[col] = {}, {}
            for model, r in rows.iterrows():
                if interval == "ci" and r["n_seeds"] > 1:
                    ci = _fmt_ci(r["mean"], r["seed_ci_low"], r["seed_ci_high"])
                    text = f"{r['mean']:.{_digits(r['mean'])}f} {ci}"
                else:
                    text = _fmt(r["mean"], r["std"], int(r["n_seeds"]), int(r["n_runs"]))
                data[col][model] = text
                best[col][model] = bool(r["best"])
            if rows["ci_low"].notna().any():
                ci_col = (d, m, "ci")
                columns.append(ci_col)
                data[ci_col] = {model: _fmt_ci(r["mean"], r["ci_low"], r["ci_high"]) for model, r in rows.iterrows()}
                best[ci_col] = {model: False for model in rows.index}
    cells = pd.DataFrame({c: pd.Series(data[c]) for c in columns}).reindex(models).fillna("")
    mask = pd.DataFrame({c: pd.Series(best[c]) for c in columns}).reindex(models).fillna(False).astype(bool)
    cells.columns = mask.columns = pd.MultiIndex.from_tuples(columns)
    return TableCells(cells, mask, columns, groups)


def group_note(t: TableCells, mark: str = "Bold") -> str:
    """What the mark (bold) means under a table: the test, its level and correction, and the columns
    without a group."""
    shown = {(d, m) for d, m, k in t.columns if k == "value"}
    cols = [c for key, c in (t.groups or {}).items() if key in shown and len(c.models) >= 2]
    alpha = cols[0].alpha if cols else compare_stats.ALPHA
    text = (f"{mark}: each column's best group, the best mean and every model not significantly worse than it over "
            f"training seeds ({compare_stats.TEST_SHORT}; Holm-corrected over every pair of models in the column; "
            f"α = {alpha:g}; ganbench compare gives the p-values).")
    none = [f"{c.dataset} {c.metric} ({_why(c)})" for c in cols if c.best_group is None]
    if none:
        text += " No group (nothing marked) in " + "; ".join(none) + "."
    everyone = [f"{c.dataset} {c.metric}" for c in cols if c.best_group and len(c.best_group) == len(c.models)]
    if everyone:
        text += f" Every model is in the group (none significantly worse) in {', '.join(everyone)}."
    untested = [f"{', '.join(c.untested)} in {c.dataset} {c.metric}" for c in cols if c.untested and c.best_group]
    if untested:
        text += f" Not tested (fewer than {compare_stats.MIN_SEEDS} seeds): " + "; ".join(untested) + "."
    return text


def _why(c: ColumnResult) -> str:
    if c.problem:
        return "records not comparable: " + c.problem.split(": ", 1)[-1]
    return "no test: fewer than 2 models with 2 or more seeds"


def column_label(metric: str, kind: str, arrow_style: str = "unicode") -> str:
    if kind == "ci":
        return f"{metric} evaluation 95% CI"
    d = direction(metric)
    if d is None:
        return metric
    if arrow_style == "latex":
        return metric + _latex_arrow(metric)
    return f"{metric} {ARROWS[d]}"


def markdown_table(records: Iterable[ResultRecord], metrics: list[str] | None = None,
                   interval: str = "std") -> str:
    """GitHub markdown; each column's best group in bold, and under the table the test that made it."""
    t = table_cells(list(records), metrics, interval)
    if t.empty:
        return "(no records)"
    flat = t.cells.where(~t.best, "**" + t.cells + "**")
    flat.columns = [f"{d} {column_label(m, k)}" for d, m, k in t.columns]
    flat.index.name = "model"
    return flat.to_markdown() + "\n\n" + group_note(t)


def csv_table(records: Iterable[ResultRecord], metrics: list[str] | None = None) -> str:
    """Tidy numeric CSV: one row per (model, dataset, metric) with mean, std, intervals, ``best`` (the
    best mean) and ``best_group`` (in the column's best group)."""
    records = list(records)
    s = summary(records, metrics)
    s["direction"] = s["metric"].map(lambda m: direction(m) or "")
    s["best"] = best_mask(s) if not s.empty else pd.Series(dtype=bool)
    groups = best_groups(records, metrics) if not s.empty else {}
    s["best_group"] = [in_group(groups, d, m, model)
                       for d, m, model in zip(s["dataset"], s["metric"], s["model"], strict=True)]
    return s.to_csv(index=False, float_format="%.6g")


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))
    return out.replace("±", r"$\pm$")


def latex_table(records: Iterable[ResultRecord], metrics: list[str] | None = None, interval: str = "std",
                caption: str | None = None) -> str:
    """A booktabs LaTeX table (pandas Styler.to_latex); each column's best group in \\textbf, and what
    made it in a footnote-size paragraph under the tabular."""
    t = table_cells(list(records), metrics, interval)
    if t.empty:
        return "% (no records)\n"
    df = t.cells.copy()
    df.columns = pd.MultiIndex.from_tuples(
        [(latex_escape(d), latex_escape(m) if k == "value" else latex_escape(f"{m} evaluation 95% CI"))
         for d, m, k in t.columns])
    # Arrows after escaping, so their $...$ survives.
    df.columns = pd.MultiIndex.from_tuples([(d, lbl + _latex_arrow(m) if k == "value" else lbl)
                                            for (d, lbl), (_, m, k) in zip(df.columns, t.columns, strict=True)])
    df.index = [latex_escape(i) for i in df.index]
    df.columns.names = [None, "model"]  # "model" in the header corner, not a row of its own
    best = t.best.copy()
    best.columns, best.index = df.columns, df.index
    sty = df.style.format(latex_escape).apply(lambda _: best.map(lambda b: "textbf:--rwrap;" if b else ""), axis=None)
    note = "\\par\\smallskip{\\footnotesize " + latex_escape(group_note(t)).replace("α", r"$\alpha$") + "}\n"
    tex = sty.to_latex(hrules=True, multicol_align="c", column_format="l" + "r" * df.shape[1],
                       caption=caption, position_float="centering" if caption else None,
                       environment="table" if caption else None)
    return tex.replace("\\end{table}", note + "\\end{table}") if caption else tex + note


def _latex_arrow(metric: str) -> str:
    d = direction(metric)
    if d == ZERO:
        return r" $\to 0$"
    return "" if d is None else f" $\\{'downarrow' if d == LOWER else 'uparrow'}$"


def html_table(records: Iterable[ResultRecord], metrics: list[str] | None = None, interval: str = "std",
               table_id: str = "results") -> str:
    """An HTML table (pandas Styler.to_html); best-group cells carry class "best" and inline bold, and
    a paragraph under the table says which test made the groups."""
    t = table_cells(list(records), metrics, interval)
    if t.empty:
        return "<p>(no records)</p>"
    df = t.cells.copy()
    df.columns = pd.MultiIndex.from_tuples([(d, column_label(m, k)) for d, m, k in t.columns],
                                           names=[None, "model"])  # "model" in the header corner
    best = t.best.copy()
    best.columns = df.columns
    sty = (df.style.format(_html.escape)
           .format_index(_html.escape, axis=0).format_index(_html.escape, axis=1)
           .apply(lambda _: best.map(lambda b: BEST_CSS if b else ""), axis=None)
           .set_td_classes(best.map(lambda b: "best" if b else ""))
           .set_table_attributes('class="results"')
           .set_uuid(table_id))
    return sty.to_html() + f'<p class="note group-note">{_html.escape(group_note(t))}</p>'


def terminal_table(records: Iterable[ResultRecord], metrics: list[str] | None = None, interval: str = "std",
                   width: int | None = None, note: bool = False) -> str:
    """The table for a terminal: one block per dataset, its metric columns wrapped into as many
    blocks as ``width`` (default: the terminal's) needs, each repeating the model column; best-group
    cells end in " *", and ``note`` adds what made the groups, wrapped to ``width``. The files
    (table.md, .csv, .tex, .html) keep the full one-row-per-model table."""
    import shutil
    import textwrap

    from tabulate import tabulate

    width = width or shutil.get_terminal_size((100, 24)).columns
    t = table_cells(list(records), metrics, interval)
    if t.empty:
        return "(no metrics)"
    blocks = []
    for dataset in dict.fromkeys(d for d, _, _ in t.columns):
        cols = [c for c in t.columns if c[0] == dataset]
        blocks.append(f"{dataset}:")
        for chunk in _fit_columns(t, cols, width):
            rows = [[model, *(t.cells.loc[model, c] + (" *" if t.best.loc[model, c] else "") for c in chunk)]
                    for model in t.cells.index]
            heads = ["model", *(column_label(m, k) for _, m, k in chunk)]
            blocks.append(tabulate(rows, headers=heads, tablefmt="simple", disable_numparse=True))
    if note:
        blocks += ["", textwrap.fill(group_note(t, mark="*"), width)]
    return "\n".join(blocks)


def _fit_columns(t: TableCells, cols: list[tuple], width: int) -> list[list[tuple]]:
    """Greedy runs of columns whose rendered width (2 spaces between) fits ``width``."""
    def w(col: tuple) -> int:
        return max([len(column_label(col[1], col[2]))] + [len(str(v)) + 2 for v in t.cells[col]]) + 2  # 2: " *"

    model_w = max(len("model"), *(len(str(m)) for m in t.cells.index)) + 2
    chunks: list[list[tuple]] = [[]]
    used = model_w
    for col in cols:
        if chunks[-1] and used + w(col) > width:
            chunks.append([])
            used = model_w
        chunks[-1].append(col)
        used += w(col)
    return chunks
