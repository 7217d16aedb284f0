"""Run a grid of (model, dataset, seed) trainings, in parallel worker processes on CPU.

Each run writes its own checkpoint and records as it goes; the suite gathers them at the end, so
a failed or interrupted run loses nothing the others computed, and ``--resume`` skips finished runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing as mp
import os
import queue
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ganbench.config import RunConfig
from ganbench.errors import GanbenchError
from ganbench.layout import RunLayout
from ganbench.progress import SuiteDisplay
from ganbench.records import ResultRecord


@dataclass
class RunOutcome:
    cfg: RunConfig
    records: list[dict[str, Any]]
    wall_s: float
    error: str | None = None
    skipped: bool = False
    bug: bool = False  # the error is an unexpected exception, not a user error


def run_key(cfg: RunConfig) -> str:
    return f"{cfg.model}/{cfg.dataset}/seed{cfg.seed}"


def make_monitor(cfg: RunConfig, progress_queue: Any = None) -> Any:
    """The run's progress reporter (the suite's display when a queue is given) and TensorBoard logger."""
    from ganbench.monitor import BarMonitor, Monitors, QueueMonitor, TensorBoardMonitor

    bar = QueueMonitor(progress_queue, run_key(cfg)) if progress_queue is not None else (
        BarMonitor() if cfg.progress else None)
    return Monitors(bar, TensorBoardMonitor() if cfg.tensorboard else None)


def run_one(cfg: RunConfig, threads: int | None = None, progress_queue: Any = None) -> RunOutcome:
    """Train and evaluate one run; errors are returned, not raised, so the suite goes on.
    ``progress_queue``: where step updates and warnings go (ganbench.progress.SuiteDisplay)."""
    from ganbench.evaluation.training import ImageEvaluator, make_evaluator
    from ganbench.progress import worker_setup
    from ganbench.train import Trainer

    if threads:
        torch.set_num_threads(threads)
    worker_setup(progress_queue)
    t0 = time.perf_counter()
    trainer = None
    try:
        trainer = Trainer(cfg)
        layout = cfg.layout()
        if cfg.resume and layout.checkpoint.exists() and layout.records.exists():
            trainer.restore(layout.checkpoint)
            if trainer.step >= trainer.budget.steps:
                return RunOutcome(cfg, [r.__dict__ for r in layout.read_records()], 0.0, skipped=True)
            trainer = Trainer(cfg)
        trainer.monitor = make_monitor(cfg, progress_queue)
        options = dict(cfg.eval_options)
        if trainer.dataset.modality == "image":
            options.setdefault("data_dir", cfg.data_dir)
            options.setdefault("device", trainer.device)
        evaluator = make_evaluator(trainer.dataset, trainer.budget, cfg.seed, **options)
        result = trainer.run(evaluator.evaluate)
        x = evaluator.samples(result.generator)  # the final samples, kept for plots
        np.savez_compressed(layout.samples, samples=x)
        if isinstance(evaluator, ImageEvaluator) and result.finished:
            t1 = time.perf_counter()
            metrics, proto = _memorization(evaluator, result, trainer.budget)
            layout.append(trainer.make_record(trainer.step, metrics, proto, time.perf_counter() - t1, {}))
        recs = [r.__dict__ for r in layout.read_records()]
        return RunOutcome(cfg, recs, time.perf_counter() - t0)
    except GanbenchError as e:
        return RunOutcome(cfg, [], time.perf_counter() - t0, error=str(e))
    except Exception as e:  # a bug in one run must not lose the others; keep the traceback
        tb = traceback.format_exc(limit=6)
        return RunOutcome(cfg, [], time.perf_counter() - t0, error=f"{type(e).__name__}: {e}\n{tb}", bug=True)
    finally:
        if trainer is not None:
            trainer.monitor.close()  # flushes TensorBoard even when the run failed


def _memorization(evaluator: Any, result: Any, budget: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """The end-of-run memorisation check on ``budget.memo_n_train`` training images (0: skipped, recorded)."""
    n_train = int(getattr(budget, "memo_n_train", 10_000))
    if n_train <= 0:
        return {}, {"metrics": ["memorization"], "memorization_skipped": f"budget {budget.name!r} skips it"}
    return evaluator.memorization(result.generator, RunLayout(result.run_dir).nn_grid, n_train=n_train)


_WORKER_QUEUE: Any = None


def _init_worker(parent_pid: int, progress_queue: Any) -> None:
    """Pool worker set-up: die with the suite's process (no orphans), report progress to its display."""
    global _WORKER_QUEUE
    from ganbench.rundir import die_with_parent

    die_with_parent(parent_pid)
    _WORKER_QUEUE = progress_queue


def _run_in_worker(task: list[RunConfig]) -> list[RunOutcome]:
    from ganbench.sweep.task import run_tracked

    return run_tracked(task, 1, progress_queue=_WORKER_QUEUE)


def is_vectorised(cfg: RunConfig) -> bool:
    from ganbench.vectorised import supports

    try:
        return supports(cfg)
    except GanbenchError:
        return False


def _run_stacked(cfgs: list[RunConfig], progress_queue: Any = None) -> list[RunOutcome]:
    """The seeds of one (model, dataset) stacked (ganbench.vectorised); errors returned, not raised."""
    from ganbench.progress import worker_setup
    from ganbench.vectorised import run_group

    worker_setup(progress_queue)
    t0 = time.perf_counter()
    try:
        return run_group(cfgs[0], [c.seed for c in cfgs], progress_queue)
    except GanbenchError as e:
        return [RunOutcome(c, [], time.perf_counter() - t0, error=str(e)) for c in cfgs]
    except Exception as e:  # a bug in one group must not lose the others; keep the traceback
        tb = traceback.format_exc(limit=6)
        return [RunOutcome(c, [], time.perf_counter() - t0, error=f"{type(e).__name__}: {e}\n{tb}", bug=True)
                for c in cfgs]


def run_task(cfgs: list[RunConfig], threads: int | None = None, progress_queue: Any = None) -> list[RunOutcome]:
    """One task (ganbench.sweep.manifest.task_groups): the seeds of one (model, dataset) stacked on
    the vectorised path where the recipe allows it (ganbench.vectorised), else one run after the other."""
    if threads:
        torch.set_num_threads(threads)
    if is_vectorised(cfgs[0]):
        return _run_stacked(cfgs, progress_queue)
    return [run_one(c, threads, progress_queue) for c in cfgs]


def default_workers(device: str) -> int:
    # Small MLPs use one core poorly split two ways; two single-threaded runs use both.
    if device != "cpu" and (device == "auto" and torch.cuda.is_available() or device.startswith("cuda")):
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def grid(models: list[str], datasets: list[str], seeds: list[int], base: RunConfig) -> list[RunConfig]:
    return [dataclasses.replace(base, model=m, dataset=d, seed=s) for d in datasets for m in models for s in seeds]


def run_suite(models: list[str], datasets: list[str], seeds: list[int], base: RunConfig,
              workers: int | None = None, executor: Any = None) -> tuple[list[ResultRecord], list[RunOutcome]]:
    """Train every (model, dataset, seed); return all records and each run's outcome.

    ``executor``: ganbench.sweep.executors.ExecutorOptions for Ray or Slurm; None or local: this pool.
    """
    cfgs = grid(models, datasets, seeds, base)
    if executor is not None and executor.name != "local":
        from ganbench.sweep.executors import run_plan

        return _in_grid_order(cfgs, run_plan(cfgs, executor))
    workers = workers or default_workers(base.device)
    outcomes: list[RunOutcome] = []
    display = SuiteDisplay({run_key(c): planned_steps(c) for c in cfgs}, enabled=base.progress)
    quiet = [dataclasses.replace(c, progress=False) for c in cfgs]  # the display shows their progress
    # The plan's tasks (the same for every executor): a (model, dataset)'s seeds stacked where the
    # recipe allows, else one task per seed; each keeps its state in task.json (run_tracked).
    from ganbench.sweep.manifest import task_groups
    from ganbench.sweep.task import run_tracked

    tasks = task_groups(quiet)
    # Longest first (most generator steps), so a long task does not start last and leave a worker idle.
    tasks.sort(key=lambda task: -planned_steps(task[0]))

    def finished(done: list[RunOutcome]) -> None:
        for o in done:
            outcomes.append(o)
            display.handle(("done", run_key(o.cfg), 0, 0, ""))

    if workers == 1 or len(tasks) == 1:
        q: Any = queue.Queue()
        with display.listen(q):
            for task in tasks:
                finished(run_tracked(task, None, progress_queue=q))
    else:
        ctx = mp.get_context("spawn")  # fork after torch threads start is unsafe
        # A plain queue inherited at start-up, not a Manager: a manager's server process would
        # outlive a killed suite, while pool workers die with it (die_with_parent).
        q = ctx.Queue()
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                    initargs=(os.getpid(), q)) as pool:
            with display.listen(q):
                futures = [pool.submit(_run_in_worker, task) for task in tasks]
                for fut in cf.as_completed(futures):
                    finished(fut.result())
    display.close()
    return _in_grid_order(cfgs, outcomes)


def _in_grid_order(cfgs: list[RunConfig], outcomes: list[RunOutcome]) -> tuple[list[ResultRecord], list[RunOutcome]]:
    order = {(c.model, c.dataset, c.seed): i for i, c in enumerate(cfgs)}
    outcomes.sort(key=lambda o: order[(o.cfg.model, o.cfg.dataset, o.cfg.seed)])
    records = [ResultRecord.from_dict(r) for o in outcomes for r in o.records]
    return records, outcomes


def planned_steps(cfg: RunConfig) -> int:
    """The run's generator steps, for the suite's total (0 when unknown: the run reports it)."""
    from ganbench.catalog import DATASETS as LIGHT

    entry = LIGHT.get(cfg.dataset.partition(":")[0])
    modality = "vector" if entry is not None and entry.kind == "generated" else "image"
    try:
        return cfg.resolve_budget(cfg.recipe(), modality).steps
    except GanbenchError:
        return 0

