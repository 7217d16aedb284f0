"""Run a grid of (model, dataset, seed) trainings, in parallel worker processes on CPU.

Each run writes its own checkpoint and records as it goes; the suite gathers them at the end, so
a failed or interrupted run loses nothing the others computed, and ``--resume`` skips finished runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ganbench.config import RunConfig
from ganbench.errors import GanbenchError
from ganbench.io import atomic_write_text
from ganbench.records import ResultRecord, read_records

SAMPLES = "samples.npz"
NN_GRID = "nn_grid.png"  # final samples beside their nearest training images


@dataclass
class RunOutcome:
    cfg: RunConfig
    records: list[dict[str, Any]]
    wall_s: float
    error: str | None = None
    skipped: bool = False


def run_one(cfg: RunConfig, threads: int | None = None) -> RunOutcome:
    """Train and evaluate one run; errors are returned, not raised, so the suite goes on."""
    from ganbench.evaluate import make_evaluator
    from ganbench.records import append_record
    from ganbench.train import CHECKPOINT, RECORDS, Trainer

    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    try:
        trainer = Trainer(cfg)
        done = cfg.resume and (cfg.run_dir() / CHECKPOINT).exists() and (cfg.run_dir() / RECORDS).exists()
        if done:
            trainer.restore(cfg.run_dir() / CHECKPOINT)
            if trainer.step >= trainer.budget.steps:
                recs = [r.__dict__ for r in read_records([cfg.run_dir() / RECORDS])]
                return RunOutcome(cfg, recs, 0.0, skipped=True)
            trainer = Trainer(cfg)
        options = dict(cfg.eval_options)
        if trainer.dataset.modality == "image":
            options.setdefault("data_dir", cfg.data_dir)
            options.setdefault("device", trainer.device)
        evaluator = make_evaluator(trainer.dataset, trainer.budget, cfg.seed, **options)
        result = trainer.run(evaluator, getattr(evaluator, "protocol", {}))
        if hasattr(evaluator, "samples"):  # keep the final samples for plots
            x = evaluator.samples(result.generator)
            np.savez_compressed(result.run_dir / SAMPLES, samples=x)
        if hasattr(evaluator, "memorization") and result.finished:
            t1 = time.perf_counter()
            metrics, proto = evaluator.memorization(result.generator, result.run_dir / NN_GRID)
            rec = trainer.make_record(trainer.step, metrics, proto, time.perf_counter() - t1, {})
            append_record(result.run_dir / RECORDS, rec)
        recs = [r.__dict__ for r in read_records([result.run_dir / RECORDS])]
        return RunOutcome(cfg, recs, time.perf_counter() - t0)
    except GanbenchError as e:
        return RunOutcome(cfg, [], time.perf_counter() - t0, error=str(e))
    except Exception as e:  # a bug in one run must not lose the others; keep the traceback
        tb = traceback.format_exc(limit=6)
        return RunOutcome(cfg, [], time.perf_counter() - t0, error=f"{type(e).__name__}: {e}\n{tb}")


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
    from ganbench.sweep.task import run_tracked  # run_one plus the task's state (task.json)

    cfgs = grid(models, datasets, seeds, base)
    if executor is not None and executor.name != "local":
        from ganbench.sweep.executors import run_plan

        return _in_grid_order(cfgs, run_plan(cfgs, executor))
    workers = workers or default_workers(base.device)
    outcomes: list[RunOutcome] = []
    bar = tqdm(total=len(cfgs), unit="run", desc="suite", dynamic_ncols=True, disable=not base.progress)
    if workers == 1 or len(cfgs) == 1:
        for c in cfgs:
            bar.set_postfix_str(f"{c.model}/{c.dataset}/seed{c.seed}")
            outcomes.append(run_tracked(c))
            bar.update(1)
    else:
        quiet = [dataclasses.replace(c, progress=False) for c in cfgs]
        ctx = mp.get_context("spawn")  # fork after torch threads start is unsafe
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_tracked, c, 1): c for c in quiet}
            for fut in cf.as_completed(futures):
                c = futures[fut]
                outcomes.append(fut.result())
                bar.set_postfix_str(f"done {c.model}/{c.dataset}/seed{c.seed}")
                bar.update(1)
    bar.close()
    return _in_grid_order(cfgs, outcomes)


def _in_grid_order(cfgs: list[RunConfig], outcomes: list[RunOutcome]) -> tuple[list[ResultRecord], list[RunOutcome]]:
    order = {(c.model, c.dataset, c.seed): i for i, c in enumerate(cfgs)}
    outcomes.sort(key=lambda o: order[(o.cfg.model, o.cfg.dataset, o.cfg.seed)])
    records = [ResultRecord.from_dict(r) for o in outcomes for r in o.records]
    return records, outcomes


def write_records(records: list[ResultRecord], path: Path) -> None:
    atomic_write_text(path, "".join(r.to_json() + "\n" for r in records))
