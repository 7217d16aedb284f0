"""`ganbench run`: train baselines under a named budget, evaluate, and write records, tables and plots."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from ganbench.cli.app import MODE_CHOICES, cli, parse_int_list
from ganbench.cli.sweep import SWEEP_FLAGS, executor_options, sweep_options
from ganbench.config import RunConfig, parse_overrides
from ganbench.errors import GanbenchError
from ganbench.registry import BUDGETS, DATASETS

from ganbench.suites import DEFAULT_SUITE, SUITES, get_suite

DEFAULT_MODELS = SUITES[DEFAULT_SUITE].models
DEFAULT_DATASETS = SUITES[DEFAULT_SUITE].datasets


def _check_datasets(spec: str) -> list[str]:
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise GanbenchError("--dataset is empty")
    for n in names:
        kind, sep, _ = n.partition(":")
        DATASETS.get(kind if sep else n)
    return names


def _eval_options(features: str | None, mode: str | None, bootstrap: int | None,
                  weights: str | None) -> dict[str, object]:
    """Image evaluator options from the flags (checked now; None = the budget's or evaluator's default)."""
    from ganbench.features.base import ExtractorOptions, extractor_spec

    if features is not None and features != "auto":  # unknown -> did-you-mean; a mode it lacks -> error
        extractor_spec(features).check(ExtractorOptions(mode=mode, weights=weights))
    if bootstrap is not None and bootstrap < 0:
        raise GanbenchError(f"--bootstrap must be >= 0, got {bootstrap}")
    if weights is not None and not Path(weights).is_file():
        raise GanbenchError(f"--inception-weights {weights}: no such file")
    opts = {"extractor": features, "mode": mode, "n_boot": bootstrap, "weights": weights}
    return {k: v for k, v in opts.items() if v is not None}


def _print_estimate(plan: Any, workers: int, resume: bool) -> None:
    from ganbench.estimate import run_estimate

    click.echo(f"ganbench run: {run_estimate(plan, workers, resume=resume)}", err=True)


@cli.command("run")
@click.option("--suite", "suite", default=None, help=f"A named suite: {', '.join(SUITES)} "
              f"[default: {DEFAULT_SUITE}]; --models/--dataset/--seeds override its parts.")
@click.option("--models", "-m", default=None, help=f"Comma-separated baselines [default: {DEFAULT_MODELS}].")
@click.option("--dataset", "--datasets", "-d", "datasets", default=None,
              help=f"Comma-separated datasets (registered names, folder:PATH, npz:PATH) [default: {DEFAULT_DATASETS}].")
@click.option("--seeds", default=None, help="Comma-separated seeds [default: 0,1,2].")
@click.option("--budget", "-b", default="cpu", show_default=True, help="smoke | cpu | paper")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Output directory [default: runs/<timestamp>].")
@click.option("--data-dir", default=None, help="Where to look for dataset files first.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
@click.option("--resume", is_flag=True, help="Continue interrupted runs in --out; finished ones are kept.")
@click.option("--workers", type=int, default=None, help="Parallel runs [default: 2 on CPU, 1 on GPU].")
@click.option("--steps", type=int, default=None, help="Override the budget's generator steps.")
@click.option("--batch-size", type=int, default=None, help="Override the budget's batch size.")
@click.option("--eval-every", type=int, default=None, help="Override the budget's evaluation interval.")
@click.option("--checkpoint-every", type=int, default=None, help="Override the budget's checkpoint interval.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe field, e.g. --set optimizer.lr_g=1e-4 (repeatable).")
@click.option("--features", default=None,
              help="Image feature extractor: inception | domain | auto [default: the budget's; auto = domain "
                   "for MNIST-family 28x28 data, else inception]. Domain FID is not Inception FID.")
@click.option("--mode", default=None, type=click.Choice(MODE_CHOICES),
              help="Inception preprocessing [default: legacy-tf]. Inception only.")
@click.option("--bootstrap", type=int, default=None, help="Bootstrap resamples for the CIs (0: none) [default: 50].")
@click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
              help="Inception weights file (FID Inception, TF-ported).")
@click.option("--tensorboard/--no-tensorboard", default=True, show_default=True,
              help="Write TensorBoard logs (losses, metrics, samples, recipe) in each run directory.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@sweep_options
def run_cmd(**flags: Any) -> None:
    """Train and evaluate MODELS x DATASETS x SEEDS; with no options, the default mixture suite."""
    from ganbench.layout import SuiteLayout
    from ganbench.sweep.grid import grid, refuse_overwrite
    from ganbench.sweep.plan import build_plan

    f = SimpleNamespace(**{k: v for k, v in flags.items() if k not in SWEEP_FLAGS})
    sweep = {k: v for k, v in flags.items() if k in SWEEP_FLAGS}
    lists, base = _parse(f)
    executor = executor_options(sweep, progress=not f.quiet)
    plan, suite_dir = build_plan(grid(*lists, base)), SuiteLayout(base.out_dir)  # the one plan of this command
    if sweep["plan"] is not None:  # also in the run directory, where status and report look for it
        plan.write(suite_dir.plan)
        plan.write(sweep["plan"])
        click.echo(f"wrote {len(plan.tasks)} tasks to {sweep['plan']}; run task I with: "
                   f"ganbench run-task {sweep['plan']} --index I", err=True)
        return
    if not f.resume:
        refuse_overwrite(plan)
    if not (f.resume and _current_plan(suite_dir.plan)):  # a resume (that may fail) leaves a readable plan alone
        plan.write(suite_dir.plan)  # `ganbench status` and `run-task` read it
    _run(plan, lists, base, f.workers, executor)


def _current_plan(path: Path) -> bool:
    """Whether ``path`` holds a plan this ganbench reads (an older format is rewritten on resume)."""
    from ganbench.sweep.plan import load_plan

    try:
        load_plan(path)
    except GanbenchError:
        return False
    return True


def _parse(f: SimpleNamespace) -> tuple[tuple[list[Any], list[str], list[int]], RunConfig]:
    """(models, datasets, seeds) and the base RunConfig; every name, number and path is checked
    before any work starts: a typo costs nothing."""
    from ganbench.data import get_dataset
    from ganbench.io import check_output_dir
    from ganbench.sweep.grid import parse_models

    named = get_suite(f.suite or DEFAULT_SUITE)
    models = parse_models(f.models or named.models)
    dataset_list = _check_datasets(f.datasets or named.datasets)
    seed_list = parse_int_list(f.seeds or named.seeds, "--seeds")
    BUDGETS.get(f.budget)
    _check_counts({"--workers": f.workers, "--steps": f.steps, "--batch-size": f.batch_size,
                   "--checkpoint-every": f.checkpoint_every}, {"--eval-every": f.eval_every, "--bootstrap": f.bootstrap})
    eval_options = _eval_options(f.features, f.mode, f.bootstrap, f.inception_weights)
    if f.resume and f.out is None:
        raise GanbenchError("--resume needs --out DIR, the directory of the run to continue")
    out = check_output_dir(f.out or Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    base = RunConfig(model=models[0].name, dataset=dataset_list[0], budget=f.budget, out_dir=out, data_dir=f.data_dir,
                     device=f.device, resume=f.resume, progress=not f.quiet, tensorboard=f.tensorboard,
                     recipe_overrides=parse_overrides(f.sets),
                     budget_overrides={"steps": f.steps, "batch_size": f.batch_size, "eval_every": f.eval_every,
                                       "checkpoint_every": f.checkpoint_every}, eval_options=eval_options)
    for m in models:  # each recipe loaded once here, so a bad --set or budget fails before training
        dataclasses.replace(base, model=m.name, recipe_file=m.recipe_file).recipe()
    for d in dataset_list:  # a missing dataset fails here, before any output is written
        get_dataset(d, f.data_dir)
    return (models, dataset_list, seed_list), base


def _check_counts(positive: dict[str, int | None], non_negative: dict[str, int | None]) -> None:
    for flag, v in positive.items():
        if v is not None and v < 1:
            raise GanbenchError(f"{flag} must be >= 1, got {v}")
    for flag, v in non_negative.items():
        if v is not None and v < 0:
            raise GanbenchError(f"{flag} must be >= 0, got {v}")


def _run(plan: Any, lists: tuple[list[Any], list[str], list[int]], base: RunConfig, workers: int | None,
         executor: Any = None) -> None:
    """Run the plan, then write the tables and report from every per-run record."""
    from ganbench.report.write import write_run_report
    from ganbench.sweep.grid import run_grid
    from ganbench.sweep.local import default_workers

    models, datasets, seeds = lists
    out = Path(plan.base["out_dir"])
    click.echo(f"ganbench run: {len(models)} models x {len(datasets)} datasets x {len(seeds)} "
               f"seeds, budget {base.budget!r} -> {out}", err=True)
    for t in {(t.model, t.dataset): t for t in plan.tasks if not t.stacked and len(seeds) > 1}.values():
        click.echo(f"ganbench run: {t.model} on {t.dataset} trains one seed at a time: {t.reason}", err=True)
    workers = workers or default_workers(base.device)
    if base.progress:
        _print_estimate(plan, workers, base.resume)
    written: dict[str, Any] = {}
    result = run_grid(plan, base.resume, base.progress, workers, executor, say=lambda s: click.echo(s, err=True),
                      finish=lambda records, wall: written.update(write_run_report(out, records, wall_s=wall)))
    click.echo(written["table_text"])
    if written.get("reproduction_text"):
        click.echo("\n" + written["reproduction_text"])
    click.echo(f"\nwall time {result.wall_s:.1f} s; results in {out}/: records.jsonl, table.md"
               + (f", {Path(written['report']).name}" if "report" in written else ""))
