"""Write a run directory's report files: the markdown table and the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganbench.records import ResultRecord
from ganbench.report.plots import mog_grid
from ganbench.report.tables import markdown_table


def _protocol_lines(records: list[ResultRecord]) -> list[str]:
    seen: dict[str, Any] = {}
    for r in records:
        for k in ("budget", "steps", "batch_size", "n_gen", "hq_rule", "n_real", "extractor", "mode"):
            if k in r.protocol:
                seen.setdefault(k, set()).add(str(r.protocol[k]))
    return [f"- {k}: {', '.join(sorted(v))}" for k, v in seen.items()]


def write_run_report(out: Path, records: list[ResultRecord], wall_s: float | None = None) -> dict[str, Any]:
    """table.md (mean ± std over seeds at the final step) and mog_samples.png where vectors ran."""
    from ganbench.data import get_dataset
    from ganbench.data.mog import MixtureOfGaussians
    from ganbench.suite import SAMPLES

    out = Path(out)
    written: dict[str, Any] = {}
    seeds = sorted({r.seed for r in records})
    table = markdown_table(records)
    header = [f"# ganbench results: {out.name}", "",
              f"Final-step metrics, mean ± std over seeds {seeds} (std with ddof=1).", ""]
    footer = ["", "Protocol:", *_protocol_lines(records)]
    if wall_s is not None:
        footer.append(f"- wall time: {wall_s:.1f} s")
    text = "\n".join(header + [table] + footer) + "\n"
    (out / "table.md").write_text(text, encoding="utf-8")
    written["table"] = out / "table.md"
    written["table_text"] = table

    panels: dict[tuple[str, str], np.ndarray] = {}
    centers: dict[str, np.ndarray] = {}
    for r in records:
        if (r.model, r.dataset) in panels or r.seed != seeds[0]:
            continue
        f = out / r.model / r.dataset / f"seed{r.seed}" / SAMPLES
        if not f.exists():
            continue
        ds = get_dataset(r.dataset)
        if isinstance(ds, MixtureOfGaussians):
            centers[r.dataset] = ds.centers
            with np.load(f) as z:
                panels[(r.model, r.dataset)] = z["samples"]
    if panels:
        written["mog_plot"] = mog_grid(panels, centers, out / "mog_samples.png")
    return written
