"""Mixture training speed per seed: S seeds stacked into one network vs the per-seed loop.

Both train the same `gan` recipe on the grid with the same seeds; the per-seed loop is
ganbench.train.Trainer (one network per seed, one after the other), the vectorised path is
ganbench.vectorised.GroupTrainer (all seeds stacked, batched matmuls). Reported: steps per second
per seed for PacGAN's networks at its batch 100 (the `paper` budget) and the small networks at
batch 64 (the `cpu` budget); on a GPU when one is present (GANBENCH_BENCH_DEVICE=cuda), else CPU.

Run: .venv/bin/python -m pytest benchmarks/bench_vectorised.py -o python_files=bench_*.py --benchmark-only -q
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.train import Trainer
from ganbench.vectorised import GroupTrainer

SEEDS = int(os.environ.get("GANBENCH_BENCH_SEEDS", "10"))
DEVICE = os.environ.get("GANBENCH_BENCH_DEVICE", "cpu")
THREADS = int(os.environ.get("GANBENCH_BENCH_THREADS", "1"))
STEPS = 10


def _cfg(budget: str) -> RunConfig:
    return RunConfig(model="gan", dataset="grid", budget=budget, out_dir=Path("/nonexistent"), device=DEVICE,
                     progress=False)


def _per_seed_loop(budget: str):
    trainers = [Trainer(RunConfig(**{**_cfg(budget).__dict__, "seed": s})) for s in range(SEEDS)]

    def run():
        for t in trainers:
            for _ in range(STEPS):
                t.train_step()
    return run


def _vectorised(budget: str):
    group = GroupTrainer(_cfg(budget), list(range(SEEDS)))

    def run():
        for _ in range(STEPS):
            group.train_step()
    return run


def _sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


@pytest.mark.parametrize("budget", ["cpu", "paper"])
@pytest.mark.parametrize("path", ["per-seed", "vectorised"])
def test_steps_per_second_per_seed(benchmark, budget, path):
    torch.set_num_threads(THREADS)
    run = (_per_seed_loop if path == "per-seed" else _vectorised)(budget)
    run()  # warm-up
    _sync()
    benchmark.group = f"mixture training {budget} budget, {SEEDS} seeds, {DEVICE}"

    def timed():
        run()
        _sync()
    benchmark.pedantic(timed, rounds=3, iterations=1)
    per_seed = STEPS * SEEDS / benchmark.stats.stats.mean / SEEDS
    benchmark.extra_info["steps_per_s_per_seed"] = round(per_seed, 1)
    benchmark.extra_info["cpu_s"] = round(time.process_time(), 1)
    assert per_seed > 0
