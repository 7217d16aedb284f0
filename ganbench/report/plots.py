"""Plots: metric curves over training, precision vs recall, sample grids, the mixture-of-Gaussians
scatter, and discovery of nearest-neighbour grid images written by the memorisation checks."""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: files only
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from ganbench.records import ResultRecord

DPI = 110


def slug(text: str) -> str:
    """A file-name-safe version of a model or dataset name ("folder:/data/x" -> "folder-data-x")."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-") or "x"


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def mog_grid(panels: dict[tuple[str, str], np.ndarray], centers: dict[str, np.ndarray], path: Path,
             max_points: int = 2500, radii: dict[str, float] | None = None) -> Path:
    """One panel per (model, dataset): samples as dots, true centres as red crosses and, where
    ``radii`` gives it, the high-quality radius around each centre as a dashed circle.

    ``panels`` maps (model, dataset) to an [N, 2] array; high-dimensional data are shown in
    their first two coordinates, which the caption says.
    """
    radii = radii or {}
    models = list(dict.fromkeys(m for m, _ in panels))
    datasets = list(dict.fromkeys(d for _, d in panels))
    # At least 3.6 in wide so the title fits over a single column.
    # Constrained layout keeps the figure title clear of the panel titles (tight_layout does not).
    width = max(3.6, 2.6 * len(datasets))
    fig, axes = plt.subplots(len(models), len(datasets), figsize=(width, 2.6 * len(models)),
                             squeeze=False, layout="constrained")
    for i, m in enumerate(models):
        for j, d in enumerate(datasets):
            ax = axes[i][j]
            x = panels.get((m, d))
            c = centers[d]
            if x is not None:
                ax.scatter(x[:max_points, 0], x[:max_points, 1], s=1.5, alpha=0.4, color="#1f77b4", rasterized=True)
            ax.scatter(c[:, 0], c[:, 1], s=25, marker="x", color="#d62728", linewidths=1.2)
            if d in radii and c.shape[1] == 2:  # shaded: tiny at ring/grid scale, so its value is in the title
                for cx, cy in c:
                    ax.add_patch(plt.Circle((cx, cy), radii[d], fc="#d62728", alpha=0.25, ec="#d62728", lw=0.8))
            pad = 0.25 * (np.ptp(c[:, 0]) or 1.0)
            ax.set_xlim(c[:, 0].min() - pad, c[:, 0].max() + pad)
            ax.set_ylim(c[:, 1].min() - pad, c[:, 1].max() + pad)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            if i == 0:
                hq = f" (HQ r={radii[d]:.2g})" if d in radii else ""
                ax.set_title(d + (" (dims 1-2)" if c.shape[1] > 2 else hq), fontsize=10)
            if j == 0:
                ax.set_ylabel(m, fontsize=10)
    title = "generated samples (blue) over true mode centres (red)"
    if radii:
        title += "; shaded: high-quality radius"
    # Wrapped to the figure's width (about 11 characters per inch at 10 pt), so no word is cut off.
    lines = [textwrap.fill(part, int(width * 11)) for part in title.split("; ")]
    fig.suptitle(";\n".join(lines) if len(title) > width * 11 else title, fontsize=10)
    return _save(fig, path)


def metric_curves(records: Iterable[ResultRecord], out_dir: Path) -> dict[str, Path]:
    """Per dataset, one PNG ``curves_<dataset>.png``: each metric against training step, a line per
    model (mean over seeds, band = std). Datasets evaluated at fewer than two steps are skipped."""
    import seaborn as sns

    from ganbench.check import is_quality_metric
    from ganbench.report.tables import metric_order, records_frame

    df = records_frame(records)
    if df.empty:
        return {}
    df = df[df["metric"].map(is_quality_metric) & df["value"].notna()]
    out: dict[str, Path] = {}
    for dataset, d in df.groupby("dataset", sort=False):
        if d["step"].nunique() < 2:
            continue
        metrics = metric_order(d["metric"])
        wrap = min(4, len(metrics))
        with sns.axes_style("whitegrid"):
            g = sns.relplot(data=d, x="step", y="value", hue="model", col="metric", col_order=metrics,
                            col_wrap=wrap, kind="line", errorbar="sd", marker="o", markersize=4,
                            height=2.6, aspect=1.25, facet_kws={"sharey": False, "sharex": True})
            g.set_titles("{col_name}")
            g.set_axis_labels("generator step", "")
            g.figure.suptitle(f"{dataset}: metrics over training (mean over seeds, band = std)", fontsize=11)
            g.tight_layout()  # the FacetGrid's own layout keeps the legend outside the panels
            out[dataset] = _save(g.figure, out_dir / f"curves_{slug(dataset)}.png")
    return out


def precision_recall(records: Iterable[ResultRecord], path: Path) -> Path | None:
    """Precision against recall at each run's final step: small points per seed, large per model mean."""
    import seaborn as sns

    from ganbench.report.tables import final_frame

    df = final_frame(records)
    if df.empty:
        return None
    df = df[df["metric"].isin(["precision", "recall"])]
    wide = df.pivot_table(index=["model", "dataset", "seed"], columns="metric", values="value").reset_index()
    if not {"precision", "recall"} <= set(wide.columns):
        return None
    wide = wide.dropna(subset=["precision", "recall"])
    if wide.empty:
        return None
    means = wide.groupby(["model", "dataset"], sort=False)[["precision", "recall"]].mean().reset_index()
    style = "dataset" if wide["dataset"].nunique() > 1 else None
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(5.6, 4.6))
        sns.scatterplot(data=wide, x="recall", y="precision", hue="model", style=style, s=22, alpha=0.45,
                        ax=ax, legend=False)
        sns.scatterplot(data=means, x="recall", y="precision", hue="model", style=style, s=110,
                        edgecolor="black", ax=ax)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=0.8, ls="--", zorder=0)
        ax.set_title("precision vs recall (final step; large = mean over seeds)", fontsize=10)
        ax.legend(fontsize=8, loc="lower left", framealpha=0.8)
        fig.tight_layout()
        return _save(fig, path)


def is_image_batch(x: np.ndarray) -> bool:
    """uint8 NCHW with 1 or 3 channels: what ``sample`` returns for image generators."""
    return x.dtype == np.uint8 and x.ndim == 4 and x.shape[1] in (1, 3)


def sample_grid(images: np.ndarray, path: Path, n: int = 64, nrow: int = 8, pad: int = 2,
                min_cell: int = 64) -> Path:
    """Tile the first ``n`` uint8 NCHW images into a PNG; small images are enlarged (nearest) to about
    ``min_cell`` pixels, so two grids of 32 px images sit side by side in the report."""
    x = np.asarray(images)[:n]
    if not is_image_batch(x):
        raise ValueError(f"expected uint8 NCHW images with 1 or 3 channels, got {x.dtype} {x.shape}")
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    k, _, h, w = x.shape
    ncol = min(nrow, k)
    nrows = -(-k // ncol)
    canvas = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for i in range(k):
        r, c = divmod(i, ncol)
        y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
        canvas[y0:y0 + h, x0:x0 + w] = x[i].transpose(1, 2, 0)
    img = Image.fromarray(canvas)
    scale = max(1, round(min_cell / max(h, w)))  # 28 px -> x2, 32 px -> x2, 8 px -> x8
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def seed_points(col, path: Path) -> Path:
    """Each model's per-seed values as points (a strip plot), its mean and 95% t-interval beside them,
    best-first; best-group models in green. ``col`` is a ganbench.compare ColumnResult. The jitter is
    drawn from a fixed seed (seaborn's stripplot draws it from numpy's global state), so the same
    records give the same picture."""
    import seaborn as sns

    rng = np.random.default_rng(0)
    group = set(col.best_group or ())
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(max(4.0, 0.62 * len(col.models) + 1.5), 3.4))
        for i, m in enumerate(col.models):
            x = i + rng.uniform(-0.18, 0.18, len(m.values))
            ax.scatter(x, m.values, s=20, alpha=0.75, color="#2ca02c" if m.model in group else "#7f7f7f", lw=0)
            lo, hi = m.ci_t
            if np.isfinite(lo) and np.isfinite(hi):
                ax.errorbar(i + 0.32, m.mean, yerr=[[m.mean - lo], [hi - m.mean]], fmt="D", color="black",
                            ms=4, capsize=3, lw=1)
            elif np.isfinite(m.mean):
                ax.plot(i + 0.32, m.mean, "D", color="black", ms=4)
        ax.set_xticks(range(len(col.models)), [m.model for m in col.models], rotation=45, ha="right")
        ax.set_ylabel(col.metric)
        ax.set_title(f"{col.dataset} / {col.metric}: one point per seed; diamond = mean, bar = 95% t-interval; "
                     f"green = best group", fontsize=9, wrap=True)
        fig.tight_layout()
        return _save(fig, path)


def poi_heatmap(col, path: Path) -> Path:
    """P(row better than column) over seeds (rliable's probability of improvement) as a seaborn
    heatmap, models best-first. ``col`` is a ganbench.compare ColumnResult."""
    import pandas as pd
    import seaborn as sns

    names = [m.model for m in col.models]
    mat = pd.DataFrame(np.nan, index=names, columns=names)
    for p in col.pairs:
        mat.loc[p.a, p.b], mat.loc[p.b, p.a] = p.prob_improvement, 1 - p.prob_improvement
    size = max(3.6, 0.55 * len(names) + 1.8)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    with warnings.catch_warnings():  # seaborn 0.13 calls matplotlib's soon-deprecated Colormap.set_bad
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        sns.heatmap(mat, vmin=0, vmax=1, center=0.5, cmap="RdBu_r", annot=len(names) <= 12, fmt=".2f",
                    annot_kws={"fontsize": 7}, square=True, linewidths=0.5, cbar_kws={"label": "P(row > column)"},
                    ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(f"{col.dataset} / {col.metric}: P(row better than column) over seeds", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def cd_diagram(ranking, path: Path) -> Path:
    """autorank's critical-difference diagram of a Friedman/Nemenyi ranking (ganbench.compare.ranking)."""
    from autorank import plot_stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ax = plot_stats(ranking.result, allow_insignificant=True, width=7)
    fig = ax.figure
    fig.suptitle(f"mean rank over {len(ranking.blocks)} blocks ({ranking.name}); bars join models within the "
                 f"critical difference {ranking.cd:.2f}", fontsize=9, y=1.1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")  # autorank's axes fill the figure: the title sits above
    plt.close(fig)
    return path
