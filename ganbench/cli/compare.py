"""`ganbench compare`: which models are better, with significance, probability of improvement,
effect sizes, seed-count advice and rankings across datasets."""

from __future__ import annotations

from pathlib import Path

import click

from ganbench.cli.app import cli
from ganbench.errors import GanbenchError


@cli.command("compare")
@click.argument("inputs", nargs=-1, required=True, metavar="RUN_DIR_OR_RECORDS...")
@click.option("--metrics", default=None, metavar="LIST",
              help="Comma-separated metrics to compare [default: every metric with a direction].")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Family-wise level of each (dataset, metric)'s tests (Holm over its pairs).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write one JSON object per (dataset, metric) to this file (fields: docs/statistics.md).")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write compare.md, compare.json, ranking.json and the figures into this folder.")
def compare_cmd(inputs: tuple[str, ...], metrics: str | None, alpha: float, json_path: Path | None,
                out: Path | None) -> None:
    """Compare the models of RUN_DIR_OR_RECORDS (run directories or JSONL files), per (dataset, metric).

    Each seed contributes its final record. Per (dataset, metric) with two or more models: each
    model's mean with 95% intervals over seeds; the best group (the best mean and every model not
    significantly worse: Welch's t-test, Holm over every pair, --alpha); every pair's corrected
    p-value, probability of improvement and Hedges' g; the seeds per model that the observed
    difference needs for 80% power; whether training or evaluation spread dominates. Then a ranking
    across datasets (Friedman/Nemenyi through autorank). Exit 0: compared; 2: bad input or nothing
    could be tested.
    """
    from ganbench.compare.ranking import rank_models
    from ganbench.compare.result import compare_records
    from ganbench.io import check_output_dir, check_output_file
    from ganbench.records import read_records
    from ganbench.report.compare import compare_markdown, json_columns, write_compare, write_json
    from ganbench.sweep.status import record_sources

    check_output_file(json_path, "--json")
    if out is not None:
        check_output_dir(out)
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    records = read_records(record_sources([Path(p) for p in inputs]))
    if not records:
        raise GanbenchError(f"no records in {', '.join(inputs)}")
    cmp = compare_records(records, names, alpha)
    if not cmp.compared:
        single = "; ".join(c.no_test or c.name for c in cmp.columns[:4])
        raise GanbenchError(f"nothing to compare: no (dataset, metric) has two or more models ({single})")
    rankings = rank_models(cmp.columns, alpha)
    title = f"ganbench compare: {', '.join(inputs)}"
    click.echo(compare_markdown(cmp, rankings, title))
    if json_path is not None:
        write_json(json_path, json_columns(cmp))
        click.echo(f"wrote {json_path}", err=True)
    if out is not None:
        written = write_compare(out, cmp, rankings, title)
        click.echo("wrote " + ", ".join(str(p) for p in written.values()) + f" and the figures in {out}", err=True)
    if not any(c.tested for c in cmp.compared):
        why = "; ".join(dict.fromkeys(c.no_test for c in cmp.compared if c.no_test))
        raise GanbenchError(f"compared nothing: no test could be made in any (dataset, metric) ({why})")
