"""Write a report directory from records: tables (md, csv, tex, html), plots, and report.html.

Layout of ``out``: table.md, table.csv, table.tex, table.html, report.html, mog_samples.png (the
mixture scatter, where vectors ran) and plots/ (metric curves, precision vs recall, sample grids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.io import atomic_write_text
from ganbench.layout import RunLayout, SuiteLayout
from ganbench.records import ResultRecord
from ganbench.report import html as html_report
from ganbench.report import plots, tables
from ganbench.report.reproduce import html_reproduction, markdown_reproduction

REPRO_TITLE = "## Beside the published numbers (PacGAN Lin et al. 2018, VEEGAN Srivastava et al. 2017, Table 1)"

FORMATS = ("md", "csv", "tex", "html")
SUMMARY_KEYS = ("budget", "steps", "batch_size", "n_gen", "hq_rule", "n_real", "split", "extractor", "mode")


def parse_formats(spec: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(s.strip().lower() for s in spec.split(",") if s.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise GanbenchError(f"--format takes a comma-separated subset of {','.join(FORMATS)}, got {spec!r}")
    return out


def _protocol_lines(records: list[ResultRecord]) -> list[str]:
    seen: dict[str, set[str]] = {}
    for r in records:
        for k in SUMMARY_KEYS:
            if k in r.protocol:
                seen.setdefault(k, set()).add(str(r.protocol[k]))
    return [f"- {k}: {', '.join(sorted(v))}" for k, v in seen.items()]


def table_note(records: list[ResultRecord], interval: str) -> str:
    seeds = sorted({r.seed for r in records})
    from ganbench.selection import selection_labels

    how = ("mean ± training spread (std over training seeds, ddof=1)" if interval == "std"
           else "mean [95% t-interval of the mean over training seeds]")
    last = {}
    for r in records:  # the records the table shows: each run's final evaluation
        k = (r.kind, r.model, r.dataset, r.seed)
        if k not in last or r.step >= last[k].step:
            last[k] = r
    text = (f"Selection: {'; '.join(selection_labels(last.values()))}. Metrics {how}; seeds {seeds}. "
            f"↓ lower is better, ↑ higher is better, →0 closest to 0 is best; bold: each column's best group "
            f"(the test that made it is named under the table).")
    if any(k.endswith("_ci_low") for r in records for k in r.metrics):
        text += (" \"evaluation 95% CI\" columns: evaluation spread, the records' own half-sampling interval "
                 "(resampling the evaluation sets), mean over seeds.")
    return text


def find_samples(records: list[ResultRecord], roots: Iterable[Path]) -> dict[tuple[str, str], Path]:
    """(model, dataset) -> the samples.npz of its lowest seed found under any root."""
    found: dict[tuple[str, str], Path] = {}
    roots = [Path(r) for r in roots]
    for r in sorted(records, key=lambda r: r.seed):
        key = (r.model, r.dataset)
        if key in found:
            continue
        for root in roots:
            f = RunLayout.of(root, r.model, r.dataset, r.seed).samples
            if f.exists():
                found[key] = f
                break
    return found


def find_run_images(records: list[ResultRecord], roots: Iterable[Path]) -> list[tuple[str, Path]]:
    """(label, path) of the nearest-neighbour grid of each run the records name, found by the run
    directory's layout (never by searching), so a report shows only its own runs' figures. The label
    is the path inside its root, e.g. "dcgan/fashion-mnist/seed0/nn_grid.png"."""
    found: dict[Path, str] = {}
    runs = sorted({(r.model, r.dataset, r.seed) for r in records})
    for root in (Path(r) for r in roots):
        for model, dataset, seed in runs:
            p = RunLayout.of(root, model, dataset, seed).nn_grid
            if p.is_file():
                found.setdefault(p.resolve(), str(p.relative_to(root)))
    return sorted(((lbl, p) for p, lbl in found.items()), key=lambda t: t[0])


def _load_samples(path: Path) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as z:  # samples files may come from elsewhere: no pickles
            return np.asarray(z["samples"]) if "samples" in z.files else None
    except (OSError, ValueError):
        return None


def _mog_centers(dataset: str) -> np.ndarray | None:
    from ganbench.data import get_dataset
    from ganbench.data.mog import MixtureOfGaussians

    try:
        ds = get_dataset(dataset)
    except GanbenchError:
        return None
    return ds.centers if isinstance(ds, MixtureOfGaussians) else None


def _hq_radii(centers: dict[str, np.ndarray]) -> dict[str, float]:
    """The high-quality radius (in data units) of each 2-d mixture, as ganbench.metrics.modes counts it."""
    from ganbench.data import get_dataset
    from ganbench.metrics.modes import hq_radius

    out = {}
    for name, c in centers.items():
        sigma = getattr(get_dataset(name), "sigma", None)
        if sigma is not None and c.shape[1] == 2:
            out[name] = float(hq_radius(2) * sigma)
    return out


def write_plots(out: Path, records: list[ResultRecord], roots: Iterable[Path]) -> dict[str, Any]:
    """All plots; returns {"mog_plot": path?, "curves": {dataset: path}, "pr": path?, "samples": {...},
    "run_images": [(label, path)]}."""
    roots = list(roots)
    pdir = out / "plots"
    res: dict[str, Any] = {"curves": plots.metric_curves(records, pdir),
                           "pr": plots.precision_recall(records, pdir / "precision_recall.png"),
                           "samples": {}, "run_images": find_run_images(records, roots)}
    panels: dict[tuple[str, str], np.ndarray] = {}
    centers: dict[str, np.ndarray] = {}
    for (model, dataset), f in find_samples(records, roots).items():
        x = _load_samples(f)
        if x is None:
            continue
        if plots.is_image_batch(x):
            p = pdir / f"samples_{plots.slug(model)}_{plots.slug(dataset)}.png"
            res["samples"][(model, dataset)] = plots.sample_grid(x, p)
        elif x.ndim == 2 and np.issubdtype(x.dtype, np.floating):
            c = centers.get(dataset)
            if c is None and dataset not in centers:
                c = centers[dataset] = _mog_centers(dataset)
            if c is not None and c.shape[1] == x.shape[1]:
                panels[(model, dataset)] = x
    centers = {k: v for k, v in centers.items() if v is not None}
    if panels:
        res["mog_plot"] = plots.mog_grid(panels, centers, out / "mog_samples.png", radii=_hq_radii(centers))
    res["comparisons"] = comparison_figures(records, pdir)
    return res


def comparison_figures(records: list[ResultRecord], pdir: Path) -> list[tuple[str, Path, str]]:
    """Per (dataset, metric) with two or more comparable models: each model's per-seed values and the
    probability-of-improvement matrix, as ``ganbench compare`` computes them. (kind, path, caption)."""
    from ganbench.compare.result import compare_records
    from ganbench.layout import CompareLayout

    lay, out = CompareLayout(pdir), []
    for c in compare_records(records, strict=False).compared:
        if c.problem:
            continue
        stem = f"{plots.slug(c.dataset)}_{plots.slug(c.metric)}"
        group = (f"best group: {', '.join(c.best_group)}" if c.best_group is not None
                 else f"no best group ({c.no_test})")
        out.append(("seeds", plots.seed_points(c, lay.figure("seeds", stem)),
                    f"{c.dataset} / {c.metric}: each model's value per training seed; {group}"))
        if c.pairs:
            out.append(("poi", plots.poi_heatmap(c, lay.figure("poi", stem)),
                        f"{c.dataset} / {c.metric}: P(row better than column) over seeds"))
    return out


def _figure_sections(pl: dict[str, Any]) -> list[tuple[str, list, str]]:
    F = html_report.FigureItem
    secs = []
    curves = [F(p, f"{d}: each metric against generator step, one line per model") for d, p in pl["curves"].items()]
    secs.append(("Training curves", curves, "Mean over seeds; the band is ± one std."))
    if pl.get("pr"):
        secs.append(("Precision vs recall", [F(pl["pr"], "precision against recall at the final step")], ""))
    if pl["samples"]:
        sample_figs = [F(p, f"{m} on {d}: generated samples (lowest seed)", pixels=True)
                       for (m, d), p in pl["samples"].items()]
        secs.append(("Samples", sample_figs, "The first 64 samples of each model's final generator."))
    if pl.get("mog_plot"):
        secs.append(("Mixture of Gaussians", [F(pl["mog_plot"], "generated samples (blue) over the true mode "
                                                                "centres (red), lowest seed", wide=True)], ""))
    if pl["run_images"]:
        secs.append(("Nearest neighbours and other run figures",
                     [F(p, lbl) for lbl, p in pl["run_images"]],
                     "PNG files found in the run directories (nn_grid*.png: each generated sample beside its "
                     "nearest training images)."))
    if pl.get("comparisons"):  # last: long, and the table above already marks the groups
        from ganbench.compare.stats import ALPHA
        from ganbench.report.compare import header

        secs.append(("Model comparisons", [F(p, cap) for _, p, cap in pl["comparisons"]],
                     "Per (dataset, metric): each model's value per training seed (points; diamond: mean, bar: 95% "
                     "t-interval; green: the best group, as bold in the table) and the probability of improvement "
                     "matrix. " + header(ALPHA) + " `ganbench compare` prints every number."))
    return secs


def write_run_report(out: Path, records: list[ResultRecord], wall_s: float | None = None,
                     sources: Iterable[Path] | None = None, formats: Iterable[str] = FORMATS,
                     interval: str = "std", title: str | None = None) -> dict[str, Any]:
    """Write tables, plots and report.html into ``out``; ``sources`` are the run directories to look
    for samples and figures in (default: ``out``). Returns the written paths and "table_text"."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = list(records)
    formats = tuple(formats)
    sources = [out] if sources is None else [Path(s) for s in sources]
    written: dict[str, Any] = {}
    table = tables.markdown_table(records, interval=interval)
    written["table_text"] = tables.terminal_table(records, interval=interval, note=True)  # table.md: the full one
    repro = markdown_reproduction(records)
    if repro:  # the published numbers beside ours (PacGAN, VEEGAN)
        written["reproduction_text"] = f"{REPRO_TITLE}\n\n{repro}"
    note = table_note(records, interval)
    footer = ["", "Protocol:", *_protocol_lines(records)]
    if wall_s is not None:
        footer.append(f"- wall time: {wall_s:.1f} s")
    if "md" in formats:
        repro_md = ["", written["reproduction_text"]] if repro else []
        text = "\n".join([f"# ganbench results: {out.name}", "", note, "", table, *repro_md, *footer]) + "\n"
        atomic_write_text(SuiteLayout(out).table, text)
        written["table"] = SuiteLayout(out).table
    if "csv" in formats:
        atomic_write_text(out / "table.csv", tables.csv_table(records))
        written["csv"] = out / "table.csv"
    if "tex" in formats:
        atomic_write_text(out / "table.tex", tables.latex_table(records, interval=interval))
        written["tex"] = out / "table.tex"
    table_html = tables.html_table(records, interval=interval)
    if "html" in formats:
        atomic_write_text(out / "table.html", f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
                                              f"<body>{table_html}</body></html>\n")
        written["html_table"] = out / "table.html"

    pl = write_plots(out, records, sources)
    if pl.get("mog_plot"):
        written["mog_plot"] = pl["mog_plot"]
    if (out / "plots").is_dir():
        written["plots"] = out / "plots"
    if "html" in formats:
        extra = [f"wall time {wall_s:.1f} s"] if wall_s is not None else []
        page = html_report.render_report(title or f"ganbench report: {out.resolve().name}", records,
                                         table_html + html_reproduction(records),
                                         note, _figure_sections(pl), extra)
        atomic_write_text(SuiteLayout(out).report, page)
        written["report"] = SuiteLayout(out).report
    return written
