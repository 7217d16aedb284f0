"""Sweep options of `ganbench run` (--plan, --executor, resources), `ganbench run-task` and `ganbench status`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ganbench.cli.app import cli
from ganbench.errors import GanbenchError

_OPTIONS = [
    click.option("--plan", "plan", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Write the task manifest (one task per model and dataset: its seeds stacked, or one task per "
                      "seed where a recipe cannot stack them) to FILE and exit without "
                      "training; run a task with `ganbench run-task FILE --index I`."),
    click.option("--executor", default="local", show_default=True, type=click.Choice(["local", "ray", "slurm"]),
                 help="local: process pool; ray: Ray tasks (extra 'ray'); slurm: a job array (extra 'slurm')."),
    click.option("--cpus-per-task", type=int, default=1, show_default=True, help="ray/slurm: CPUs per task."),
    click.option("--max-retries", type=int, default=3, show_default=True,
                 help="ray: re-runs of a task whose worker died; each resumes from its checkpoint."),
    click.option("--ray-address", default=None,
                 help="ray: join this cluster (e.g. HEAD:6379) [default: start a local one]."),
    click.option("--ray-gpus", type=float, default=0.0, show_default=True, help="ray: GPUs per task."),
    click.option("--slurm-partition", default=None, help="slurm: partition to submit to."),
    click.option("--slurm-gpus", type=int, default=0, show_default=True, help="slurm: GPUs per task."),
    click.option("--slurm-time", type=int, default=240, show_default=True,
                 help="slurm: minutes per job; a job that times out is requeued and resumes."),
    click.option("--slurm-parallelism", type=int, default=None, help="slurm: array tasks running at once."),
    click.option("--slurm-cluster", type=click.Choice(["slurm", "local"]), default="slurm", show_default=True,
                 help="local: submitit's local executor, to try the Slurm flow on one machine."),
]

# The keyword names these options arrive under (a command separates them from its own flags).
# click's option decorators keep the option on the function as __click_params__, which its types omit.
SWEEP_FLAGS = frozenset(o(lambda: None).__click_params__[0].name for o in _OPTIONS)  # type: ignore[attr-defined]


def sweep_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the sweep options to a command; they arrive as keyword arguments."""
    for opt in reversed(_OPTIONS):
        fn = opt(fn)
    return fn


def executor_options(sweep: dict[str, Any], progress: bool):
    """ExecutorOptions from the sweep flags, checked now (a missing extra fails before any work)."""
    from ganbench.sweep.executors import ExecutorOptions

    opts = ExecutorOptions(name=sweep["executor"], progress=progress,
                           **{k: v for k, v in sweep.items() if k not in ("executor", "plan")})
    opts.check()
    return opts


@cli.command("run-task")
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--index", "-i", type=int, default=None,
              help="Task index [default: $SLURM_ARRAY_TASK_ID, so a plain job array can call this].")
@click.option("--threads", type=int, default=None, help="Torch CPU threads [default: torch's].")
def run_task_cmd(plan_file: Path, index: int | None, threads: int | None) -> None:
    """Run task INDEX of PLAN_FILE: skipped when done, resumed from its checkpoint when interrupted."""
    import os

    from ganbench.sweep.plan import load_plan
    from ganbench.sweep.state import run_task_of_plan

    if index is None:
        if "SLURM_ARRAY_TASK_ID" not in os.environ:
            raise GanbenchError("give --index I (or run inside a Slurm job array)")
        index = int(os.environ["SLURM_ARRAY_TASK_ID"])
    outcomes = run_task_of_plan(plan_file, index, threads)
    name = f"task {index} ({load_plan(plan_file).task(index).label})"
    failed = [o for o in outcomes if o.error]
    if failed:
        from ganbench.sweep.status import last_error_line

        raise GanbenchError(f"{name} failed: {last_error_line(failed[0].error)}")
    where = outcomes[0].cfg.run_dir().parent if len(outcomes) > 1 else outcomes[0].cfg.run_dir()
    click.echo(f"{name}: " + ("already done, skipped" if all(o.skipped for o in outcomes)
                              else f"done in {max(o.wall_s for o in outcomes):.1f} s") + f"; records in {where}")


@cli.command("status")
@click.argument("run_dir", type=click.Path(path_type=Path))
def status_cmd(run_dir: Path) -> None:
    """Tasks of a sweep done / running / failed (with the error's last line) / pending."""
    from ganbench.sweep.status import STATES, sweep_status

    _, statuses = sweep_status(run_dir)
    counts = {s: sum(t.state == s for t in statuses) for s in STATES}
    click.echo(f"{run_dir}: {len(statuses)} tasks: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n or
                                                                  s in ("done", "running", "failed")))
    for t in statuses:
        if t.state != "done":
            k = t.task
            click.echo(f"  {t.state:<11} [{k.index}] {k.label}"
                       + (f": {t.detail}" if t.detail else ""))
    if counts["failed"] or counts["interrupted"]:
        from ganbench.layout import SuiteLayout

        click.echo(f"continue with: ganbench run-task {SuiteLayout(Path(run_dir)).plan} --index I "
                   "(or the same `ganbench run ... --resume`)", err=True)
