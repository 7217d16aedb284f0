"""Speed and memory of the metric math against the peers, on the same inputs.

Run (several minutes on 2 cores, the 20k PRDC peer alone takes minutes):
    .venv/bin/python -m pytest benchmarks/bench_metrics.py --benchmark-only -q -o python_files=bench_*.py

FID: ganbench's eigh route vs pytorch-fid's scipy.linalg.sqrtm route on the same 2048-d statistics.
PRDC: ganbench's blocked computation vs prdc 0.2's compute_prdc on the same float32 2048-d
features (the width and dtype of Inception pool3), N = 10k and 20k.

Peak memory: both PRDC implementations are numpy (prdc through scikit-learn), whose array buffers
tracemalloc records, so tracemalloc's peak over the call is a like-for-like measure of what each
allocates (inputs are made before tracing starts and count for neither). It is taken in the same
single round as the time, so both sides run under the same (small, per-allocation) tracing cost;
one round each because the peer takes minutes at 20k.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from ganbench.metrics import fid as F, prdc as P

D = 2048
K = 5
_PRDC_RESULTS: dict[int, dict] = {}  # the peer's figures per N, read by the ganbench test


# --------------------------------------------------------------------------------------------- FID
@pytest.fixture(scope="module")
def fid_stats():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, D), dtype=np.float32)
    mix = np.eye(D) + 0.3 * rng.standard_normal((D, D)) / np.sqrt(D)
    b = (rng.standard_normal((4096, D)) @ mix + 0.05).astype(np.float32)
    return (*F.fid_features_to_statistics(a), *F.fid_features_to_statistics(b))


@pytest.mark.benchmark(group="fid-2048d-statistics")
def test_fid_ganbench_eigh(benchmark, fid_stats):
    value = benchmark.pedantic(F.fid_statistics_to_metric, args=fid_stats, rounds=3, iterations=1)
    benchmark.extra_info.update(fid=value, dims=D)
    assert value > 1.0


@pytest.mark.benchmark(group="fid-2048d-statistics")
@pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")
def test_fid_pytorch_fid_sqrtm(benchmark, fid_stats):
    from pytorch_fid.fid_score import calculate_frechet_distance

    value = benchmark.pedantic(calculate_frechet_distance, args=fid_stats, rounds=2, iterations=1)
    ours = F.fid_statistics_to_metric(*fid_stats)
    benchmark.extra_info.update(fid=float(value), ganbench_fid=ours, rel_diff=abs(ours - value) / value, dims=D)
    assert abs(ours - value) / value < 1e-6


# -------------------------------------------------------------------------------------------- PRDC
def _features(n: int) -> tuple[np.ndarray, np.ndarray]:
    # Two independent draws of N(0, I): docs/reference.md section 2 lists prdc's figures for this case
    # at 10k (P 0.448 R 0.464 D 0.937 C 0.963), a check on the numbers as well as the speed.
    rng = np.random.default_rng(n)
    return rng.standard_normal((n, D), dtype=np.float32), rng.standard_normal((n, D), dtype=np.float32)


def _measured(benchmark, fn):
    """One timed round of ``fn`` with tracemalloc's peak over it; returns (result, seconds, bytes)."""
    result = benchmark.pedantic(fn, setup=tracemalloc.start, rounds=1, iterations=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, benchmark.stats.stats.min, peak


def _peer(real, fake):
    from prdc import compute_prdc

    return {k: float(v) for k, v in compute_prdc(real, fake, K).items()}


@pytest.mark.parametrize("n", [10_000, 20_000])
def test_prdc_peer(benchmark, n):
    benchmark.group = f"prdc-{n // 1000}k-{D}d"
    real, fake = _features(n)
    values, seconds, peak = _measured(benchmark, lambda: _peer(real, fake))
    _PRDC_RESULTS[n] = dict(values=values, seconds=seconds, peak=peak)
    benchmark.extra_info.update(n=n, dims=D, k=K, seconds=seconds, peak_mb=peak / 2**20, **values)


@pytest.mark.parametrize("n", [10_000, 20_000])
def test_prdc_ganbench(benchmark, n):
    benchmark.group = f"prdc-{n // 1000}k-{D}d"
    real, fake = _features(n)
    values, seconds, peak = _measured(benchmark, lambda: P.prdc(real, fake, K))
    if n not in _PRDC_RESULTS:  # the peer test was deselected: measure it here, same way
        tracemalloc.start()
        t0 = time.perf_counter()
        peer_values = _peer(real, fake)
        _PRDC_RESULTS[n] = dict(values=peer_values, seconds=time.perf_counter() - t0,
                                peak=tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    peer = _PRDC_RESULTS[n]
    benchmark.extra_info.update(
        n=n, dims=D, k=K, block=P.DEFAULT_BLOCK, seconds=seconds, peak_mb=peak / 2**20, **values,
        peer_seconds=peer["seconds"], peer_peak_mb=peer["peak"] / 2**20,
        memory_ratio=peak / peer["peak"], time_ratio=seconds / peer["seconds"])
    assert values == pytest.approx(peer["values"], abs=1e-6)
    assert peak <= peer["peak"] / 4
    assert seconds <= peer["seconds"]
