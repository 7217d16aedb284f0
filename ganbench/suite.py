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


def run_task(cfgs: list[RunConfig], threads: int | None = None) -> list[RunOutcome]:
    """One task of the suite: the seeds of one (model, dataset), stacked on the vectorised path
    where the recipe allows it (ganbench.vectorised), else one run after the other."""
    from ganbench.vectorised import run_group, supports

    if threads:
        torch.set_num_threads(threads)
    try:
        vectorised = supports(cfgs[0])
    except GanbenchError:
        vectorised = False
    if not vectorised:
        return [run_one(c, threads) for c in cfgs]
    t0 = time.perf_counter()
    try:
        return run_group(cfgs[0], [c.seed for c in cfgs])
    except GanbenchError as e:
        return [RunOutcome(c, [], time.perf_counter() - t0, error=str(e)) for c in cfgs]
    except Exception as e:  # a bug in one group must not lose the others; keep the traceback
        tb = traceback.format_exc(limit=6)
        return [RunOutcome(c, [], time.perf_counter() - t0, error=f"{type(e).__name__}: {e}\n{tb}") for c in cfgs]


def default_workers(device: str) -> int:
    # Small MLPs use one core poorly split two ways; two single-threaded runs use both.
    if device != "cpu" and (device == "auto" and torch.cuda.is_available() or device.startswith("cuda")):
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def run_suite(models: list[str], datasets: list[str], seeds: list[int], base: RunConfig,
              workers: int | None = None) -> tuple[list[ResultRecord], list[RunOutcome]]:
    """Train every (model, dataset, seed); return all records and each run's outcome."""
    cfgs = [dataclasses.replace(base, model=m, dataset=d, seed=s) for d in datasets for m in models for s in seeds]
    workers = workers or default_workers(base.device)
    outcomes: list[RunOutcome] = []
    bar = tqdm(total=len(cfgs), unit="run", desc="suite", dynamic_ncols=True, disable=not base.progress)
    tasks = [[c for c in cfgs if (c.model, c.dataset) == key] for key in dict.fromkeys((c.model, c.dataset) for c in cfgs)]
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            bar.set_postfix_str(f"{task[0].model}/{task[0].dataset}")
            outcomes += run_task(task)
            bar.update(len(task))
    else:
        ctx = mp.get_context("spawn")  # fork after torch threads start is unsafe
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_task, [dataclasses.replace(c, progress=False) for c in task], 1): task
                       for task in tasks}
            for fut in cf.as_completed(futures):
                task = futures[fut]
                outcomes += fut.result()
                bar.set_postfix_str(f"done {task[0].model}/{task[0].dataset}")
                bar.update(len(task))
    bar.close()
    order = {(c.model, c.dataset, c.seed): i for i, c in enumerate(cfgs)}
    outcomes.sort(key=lambda o: order[(o.cfg.model, o.cfg.dataset, o.cfg.seed)])
    records = [ResultRecord.from_dict(r) for o in outcomes for r in o.records]
    return records, outcomes


def write_records(records: list[ResultRecord], path: Path) -> None:
    atomic_write_text(path, "".join(r.to_json() + "\n" for r in records))
