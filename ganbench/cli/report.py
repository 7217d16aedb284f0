"""`ganbench report`: tables, plots and one self-contained HTML report from records."""

from __future__ import annotations

from pathlib import Path

import click

from ganbench.cli.app import cli
from ganbench.errors import GanbenchError


@cli.command("report")
@click.argument("inputs", nargs=-1, required=True, metavar="RUN_DIR_OR_JSONL...")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write [default: the run directory when one is given, else ./ganbench-report].")
@click.option("--format", "formats", default="md,csv,tex,html", show_default=True,
              help="Table formats; html also writes report.html.")
@click.option("--interval", type=click.Choice(["std", "ci"]), default="std", show_default=True,
              help="Cells as mean ± std over seeds, or mean [95% t-interval of the mean].")
@click.option("--title", default=None, help="Title of the HTML report.")
def report_cmd(inputs: tuple[str, ...], out: Path | None, formats: str, interval: str, title: str | None) -> None:
    """Write tables (md, csv, tex, html), plots and report.html from run directories or JSONL files.

    Samples (samples.npz) and figures (nn_grid*.png) are looked for in the given run directories.
    Prints the markdown table.
    """
    from ganbench.io import check_output_dir
    from ganbench.records import read_records
    from ganbench.report.write import parse_formats, write_run_report
    from ganbench.sweep.status import record_sources

    fmts = parse_formats(formats)
    if out is not None:
        check_output_dir(out)
    paths = [Path(p) for p in inputs]
    records = read_records(record_sources(paths))  # a sweep's finished tasks count even if its driver died
    if not records:
        raise GanbenchError(f"no records in {', '.join(inputs)}")
    dirs = [p if p.is_dir() else p.parent for p in paths]
    if out is None:
        out = paths[0] if len(paths) == 1 and paths[0].is_dir() else Path("ganbench-report")
    written = write_run_report(out, records, sources=list(dict.fromkeys(dirs)), formats=fmts,
                               interval=interval, title=title)
    click.echo(written["table_text"])
    if written.get("reproduction_text"):
        click.echo("\n" + written["reproduction_text"])
    files = [f"{k}: {v}" for k, v in written.items() if k not in ("table_text", "reproduction_text")]
    click.echo("\n" + "; ".join(files), err=True)
