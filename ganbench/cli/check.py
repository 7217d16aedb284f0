"""`ganbench check`: fail CI when current records regress against a committed baseline."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import click

from ganbench.check import FAILING, NOT_JUDGED, Comparison, compare, fmt_num as _num, parse_tolerance
from ganbench.cli.app import cli
from ganbench.errors import GanbenchError


def format_table(cmp: Comparison) -> str:
    """The pass/fail table as GitHub markdown (readable in a terminal and in CI logs)."""
    from tabulate import tabulate

    rows = []
    for r in cmp.rows:
        arrow = {"lower": "↓", "higher": "↑", "closer to 0": "→0"}.get(r.better or "", "?")
        delta = "" if math.isnan(r.current) else f"{r.delta:+.4g}"
        rows.append([r.status, r.model, r.dataset, f"{r.metric} {arrow}", f"{_num(r.baseline)} (n={r.baseline_n})",
                     f"{_num(r.current)} (n={r.current_n})", delta, r.allowed_signed(),
                     "; ".join(p for p in (r.source, r.note) if p)])
    return tabulate(rows, headers=["status", "model", "dataset", "metric", "baseline", "current", "change",
                                   "allowed", "allowance / note"], tablefmt="github", disable_numparse=True)


def write_junit(cmp: Comparison, path: Path) -> None:
    """One <testcase> per compared metric; regressions and missing metrics are <failure>s."""
    counts = cmp.counts()
    failures = sum(counts.get(s, 0) for s in FAILING)
    tests, failed = str(len(cmp.rows)), str(failures)
    suite = ET.Element("testsuite", name="ganbench check", tests=tests, failures=failed,
                       errors="0", skipped=str(counts.get(NOT_JUDGED, 0)))
    for r in cmp.rows:
        case = ET.SubElement(suite, "testcase", classname=f"ganbench.{r.model}.{r.dataset}", name=r.metric)
        text = (f"{r.metric}: baseline {_num(r.baseline)} (n={r.baseline_n}), current {_num(r.current)} "
                f"(n={r.current_n}), allowed {r.allowed_signed() or 'n/a'} [{r.source}]")
        if r.note:
            text += f"; {r.note}"
        if r.failed:
            ET.SubElement(case, "failure", message=f"{r.status}: {text}", type=r.status).text = text
        elif r.status == NOT_JUDGED:
            ET.SubElement(case, "skipped", message=r.note)
        else:
            ET.SubElement(case, "system-out").text = f"{r.status}: {text}"
    root = ET.Element("testsuites", name="ganbench", tests=tests, failures=failed)
    root.append(suite)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


@cli.command("check")
@click.argument("current", nargs=-1, required=True)
@click.option("--baseline", "baselines", multiple=True, required=True,
              help="Baseline records: a JSONL/JSON file or run directory (repeatable).")
@click.option("--tolerance", default=None, metavar="SPEC",
              help="Signed allowances overriding the baseline's spread, e.g. fid=+2.0,precision=-0.02,kid=+10%.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write JUnit XML (one testcase per compared metric) for CI systems.")
@click.option("--allow-protocol-mismatch", is_flag=True,
              help="Compare even when n_gen, extractor, mode, budget, ... differ from the baseline (never the preset).")
@click.option("--compare", "kind", type=click.Choice(["auto", "re-evaluation", "retrained"]), default="auto",
              show_default=True,
              help="re-evaluation (same checkpoints, new sampling seeds): allow the evaluation spread of the "
                   "records' intervals; retrained (new training runs): allow the spread over training seeds; "
                   "auto: re-evaluation when both sides are eval records of the same files.")
def check_cmd(current: tuple[str, ...], baselines: tuple[str, ...], tolerance: str | None, junit: Path | None,
              allow_protocol_mismatch: bool, kind: str) -> None:
    """Compare CURRENT records (run dirs or JSONL files) with --baseline, metric by metric.

    Each (model, dataset) is compared on its final step, averaged over seeds. A metric regresses when
    it worsens by more than its allowance: --tolerance, else the evaluation spread (a re-evaluation of
    the same checkpoints) or the training spread over seeds (a retrained model), else 5% (see
    ganbench/check.py). Exit 0: nothing regressed; 1: a regression or a missing metric; 2: bad input.
    """
    from ganbench.io import check_output_file
    from ganbench.records import read_records

    check_output_file(junit, "--junit")  # before reading and comparing
    tols = parse_tolerance(tolerance)
    base = read_records(baselines)
    cur = read_records(current)
    if not base:
        raise GanbenchError(f"no records in baseline {', '.join(baselines)}")
    if not cur:
        raise GanbenchError(f"no records in {', '.join(current)}")
    cmp = compare(base, cur, tols, allow_protocol_mismatch, kind)
    click.echo(format_table(cmp))
    for g, d in cmp.protocol_diffs.items():
        click.echo(f"warning: protocol differs for {g[0]}/{g[1]}: "
                   + "; ".join(f"{k} {b} vs {c}" for k, (b, c) in d.items()), err=True)
    if cmp.baseline_only:
        click.echo("not in current (not compared): " + ", ".join(f"{m}/{d}" for m, d in cmp.baseline_only))
    if cmp.current_only:
        click.echo("not in baseline (not compared): " + ", ".join(f"{m}/{d}" for m, d in cmp.current_only))
    if junit:
        write_junit(cmp, junit)
    counts = cmp.counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    verdict = "FAIL" if cmp.regressed else "PASS"
    failed = [r for r in cmp.rows if r.failed]
    why = "; ".join(f"{r.model}/{r.dataset} {r.metric} {r.status}: "
                    f"{r.note or f'{_num(r.baseline)} -> {_num(r.current)}'}" for r in failed[:3])
    why += f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    click.echo(f"\nganbench check: {verdict} ({len(cmp.rows)} metrics compared: {summary})"
               + (f": {why}" if why else ""))
    if cmp.regressed:
        raise SystemExit(1)
