"""One way through a run: a grid of (model, dataset, seed) runs, planned once, run by one executor
(the local pool, Ray or Slurm), gathered into one run directory.

``ganbench run`` and ``ganbench.train`` (the Python API) both come through here: ``models`` picks
the methods (registered names, recipe files, or a method object from Python), ``grid`` crosses them
with datasets and seeds, ``build_plan`` (ganbench.sweep.plan) cuts the grid into tasks once, and
``run_grid`` owns the run directory, runs the plan and rebuilds the summary records.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.config import RunConfig, is_recipe_file, load_recipe
from ganbench.errors import GanbenchError
from ganbench.io import atomic_write_text
from ganbench.layout import SuiteLayout
from ganbench.records import ResultRecord, collect_run_records, repair_run_records, write_summary
from ganbench.registry import MODELS
from ganbench.sweep.plan import Plan
from ganbench.training.run import RunOutcome


@dataclass(frozen=True)
class ModelSpec:
    """A model of a grid: its name (records, run directories) and its recipe file if it is not registered."""

    name: str
    recipe_file: str | None = None


def parse_models(spec: str | list[str], allow_empty: bool = False) -> list[ModelSpec]:
    """``gan,./mygan.toml``: registered models (did-you-mean on a typo) and recipe files (read now, so a
    bad file fails before any work); two models of one name are refused."""
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    out = []
    for item in (i for i in items if i):
        if is_recipe_file(item):
            out.append(ModelSpec(load_recipe(item).name, str(Path(item).expanduser().resolve())))
        else:
            MODELS.parse_list([item])
            out.append(ModelSpec(item))
    names = [m.name for m in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        where = ", ".join(m.recipe_file or m.name for m in out if m.name == twice[0])
        raise GanbenchError(f"--models names {twice[0]!r} twice ({where}); "
                            "give the recipe file its own name (name = \"...\" in the file)")
    if not out and not allow_empty:
        raise GanbenchError("--models is empty")
    return out


def grid(models: list[ModelSpec] | list[str], datasets: list[str], seeds: list[int],
         base: RunConfig) -> list[RunConfig]:
    """Every (model, dataset, seed) as a RunConfig, datasets outermost (the tables' order); a model is
    a ``ModelSpec`` or a registered name."""
    specs = [m if isinstance(m, ModelSpec) else ModelSpec(m) for m in models]
    return [dataclasses.replace(base, model=m.name, recipe_file=m.recipe_file, dataset=d, seed=s)
            for d in datasets for m in specs for s in seeds]


@dataclass
class GridResult:
    records: list[ResultRecord]
    outcomes: list[RunOutcome]
    wall_s: float


def refuse_overwrite(plan: Plan) -> None:
    """A finished or interrupted run is never overwritten: say so before any work."""
    taken = [Path(d) for t in plan.tasks for d in t.run_dirs if (Path(d) / "checkpoint.pt").exists()]
    if taken:
        raise GanbenchError(f"{taken[0]} already holds a run ({len(taken)} of the runs do); pass --resume to "
                            "continue them or choose another --out")


def run_grid(plan: Plan, resume: bool, progress: bool, workers: int, executor: Any = None, method: Any = None,
             say: Callable[[str], None] = print,
             finish: Callable[[list[ResultRecord], float], Any] | None = None) -> GridResult:
    """Own the run directory, run every task of ``plan``, and rebuild its summary records from the
    per-run records, only on success; a failure is one line, every message in ``errors.log``.
    ``finish(records, wall_s)`` runs while the directory is still owned (the tables and report)."""
    from ganbench.sweep.lock import RunDirLock

    out = Path(plan.base["out_dir"])
    with RunDirLock(out) as lock:
        if lock.took_over:
            say(f"ganbench: took over the lock of pid {lock.took_over.get('pid')}, which has ended")
        for note in repair_run_records(out) if resume else []:
            say(f"ganbench: warning: {note}")
        t0 = time.perf_counter()
        if executor is not None and executor.name != "local":
            from ganbench.sweep.executors import run_plan

            outcomes = run_plan(plan, executor)
        else:
            from ganbench.sweep.local import run_local

            outcomes = run_local(plan, workers, progress, resume, method)
        wall = time.perf_counter() - t0
        failed = [o for o in outcomes if o.error]
        if failed:
            raise _failure(out, failed, len(outcomes))
        records = collect_run_records(out)
        write_summary(out, records)
        if finish is not None:
            finish(records, wall)
    order = {(t.model, t.dataset, s): (i, j) for i, t in enumerate(plan.tasks) for j, s in enumerate(t.seeds)}
    outcomes.sort(key=lambda o: order.get((o.cfg.model, o.cfg.dataset, o.cfg.seed), (0, 0)))
    return GridResult(records, outcomes, wall)


def _failure(out: Path, failed: list[RunOutcome], total: int) -> GanbenchError:
    """One line for failed runs; every message goes to a log file beside the runs."""
    log = SuiteLayout(out).errors
    atomic_write_text(log, "".join(f"{o.cfg.model}/{o.cfg.dataset}/seed{o.cfg.seed}:\n{o.error}\n\n" for o in failed))
    o = failed[0]
    first = o.error.splitlines()[0] if o.error else ""
    err = GanbenchError(f"{len(failed)} of {total} runs failed ({o.cfg.model}/{o.cfg.dataset}/seed{o.cfg.seed}: "
                        f"{first}); summaries in {out}/ left as they were; all errors in {log}")
    if any(x.bug for x in failed):
        err.exit_code = 1
    return err
