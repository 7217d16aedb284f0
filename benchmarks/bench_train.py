"""Training-step speed: ganbench's Trainer.train_step against a plain PyTorch loop.

One 32x32 DCGAN step at batch 64 (docs/reference.md section 3 nets), the same networks (copies of the
trainer's, so both start from identical weights) and the same data. The plain loop is the minimal
hand-written version of the same algorithm: a D step on a real batch and G(z) under no_grad, BCE
with logits, then a G step on fresh z (Goodfellow et al. 2014, Algorithm 1). A second plain variant
reuses the D step's fakes for the G step (pytorch/examples dcgan), one G forward fewer: it is
reported for reference, not compared, because it is a different algorithm.

Run: .venv/bin/python -m pytest benchmarks/bench_train.py -o python_files=bench_*.py --benchmark-only -q
(GANBENCH_BENCH_THREADS=N for N torch threads; default 1.)
"""

from __future__ import annotations

import copy
import os
import statistics
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganbench.config import RunConfig
from ganbench.data.base import ImageDataset
from ganbench.train import Trainer, make_optimizer

BATCH = 64
GROUP = "train-step dcgan 32x32 batch 64"
ROUNDS, WARMUP = 8, 2
PAIRS = 8  # interleaved ganbench/plain pairs for the comparison (robust to load drifting on shared cores)
TOLERANCE = 1.10  # ganbench may be at most 10% slower than the plain loop
# One thread by default: the suite trains each run single-threaded, and on shared cores two threads
# fighting other jobs' threads make step times swing 3x.
THREADS = int(os.environ.get("GANBENCH_BENCH_THREADS", "1"))


class Plain:
    """The same algorithm as Trainer.train_step with the ns objective, written out by hand."""

    def __init__(self, trainer: Trainer, reuse_fake: bool = False) -> None:
        self.g, self.d = copy.deepcopy(trainer.g), copy.deepcopy(trainer.d)
        opt = trainer.recipe.optimizer
        self.opt_g = make_optimizer(self.g.parameters(), opt, opt["lr_g"])
        self.opt_d = make_optimizer(self.d.parameters(), opt, opt["lr_d"])
        self.x_real, _ = trainer.dataset.train_batch(BATCH, torch.Generator().manual_seed(1))
        self.ones, self.zeros = torch.ones(BATCH), torch.zeros(BATCH)
        self.z_dim, self.reuse_fake = trainer.g.z_dim, reuse_fake

    def step(self) -> tuple[float, float]:
        z = torch.randn(BATCH, self.z_dim)
        if self.reuse_fake:
            fake = self.g(z)
            fake_d = fake.detach()
        else:
            with torch.no_grad():
                fake_d = self.g(z)
        d_loss = F.binary_cross_entropy_with_logits(self.d(self.x_real)[0], self.ones) + \
            F.binary_cross_entropy_with_logits(self.d(fake_d)[0], self.zeros)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        if not self.reuse_fake:
            fake = self.g(torch.randn(BATCH, self.z_dim))
        g_loss = F.binary_cross_entropy_with_logits(self.d(fake)[0], self.ones)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        return d_loss.item(), g_loss.item()


@pytest.fixture(scope="module", autouse=True)
def threads():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, threads) -> Trainer:
    rng = np.random.default_rng(0)
    ds = ImageDataset("bench", rng.integers(0, 256, (512, 3, 32, 32), dtype=np.uint8))
    cfg = RunConfig(model="dcgan", dataset="bench", budget="paper", progress=False,
                    out_dir=tmp_path_factory.mktemp("bench"), budget_overrides={"batch_size": BATCH})
    t = Trainer(cfg, dataset=ds)
    t.g.train()
    t.d.train()
    return t


def _info(benchmark, name: str) -> None:
    benchmark.extra_info.update({"steps_per_s": round(1.0 / benchmark.stats.stats.mean, 3), "impl": name,
                                 "batch": BATCH, "threads": torch.get_num_threads()})


@pytest.mark.benchmark(group=GROUP)
def test_plain_loop_step(benchmark, trainer):
    plain = Plain(trainer)
    benchmark.pedantic(plain.step, rounds=ROUNDS, warmup_rounds=WARMUP)
    _info(benchmark, "plain PyTorch loop, fresh z for the G step")


@pytest.mark.benchmark(group=GROUP)
def test_plain_loop_reusing_fakes_step(benchmark, trainer):
    plain = Plain(trainer, reuse_fake=True)
    benchmark.pedantic(plain.step, rounds=ROUNDS, warmup_rounds=WARMUP)
    _info(benchmark, "plain PyTorch loop, D-step fakes reused for the G step (pytorch/examples)")


@pytest.mark.benchmark(group=GROUP)
def test_ganbench_train_step(benchmark, trainer):
    benchmark.pedantic(trainer.train_step, rounds=ROUNDS, warmup_rounds=WARMUP)
    _info(benchmark, "ganbench Trainer.train_step")
    # The assertion uses interleaved pairs in alternating order: on shared cores the load drifts
    # between the two benchmark runs above by more than the 10% being tested.
    plain = Plain(trainer)
    plain.step()
    order = [("ganbench", trainer.train_step), ("plain", plain.step)]
    ratios = []
    for i in range(PAIRS):
        times = {}
        for name, fn in (order if i % 2 == 0 else order[::-1]):
            t0 = time.perf_counter()
            fn()
            times[name] = time.perf_counter() - t0
        ratios.append(times["ganbench"] / times["plain"])
    ratio = statistics.median(ratios)
    benchmark.extra_info["interleaved_median_ratio_vs_plain"] = round(ratio, 3)
    assert ratio <= TOLERANCE, f"ganbench step {ratio:.2f}x the plain loop's (median of {PAIRS} interleaved pairs)"
