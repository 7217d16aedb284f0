"""`ganbench run` on an image dataset: conv baselines train, are evaluated with the image metrics
during and after training (schedule and sample counts from the budget, stored in each record), and
`ganbench eval` of the final checkpoint reproduces the last training evaluation.

Real Inception, real CIFAR-10 file format (python pickle batches) with 240 small synthetic images.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from ganbench.config import load_recipe
from ganbench.evaluation.training import eval_seed
from ganbench.records import read_records

CMD = [sys.executable, "-m", "ganbench.cli"]
IMAGE_METRICS = {"fid", "fid_ci_low", "fid_ci_high", "kid", "kid_std", "precision", "recall", "density", "coverage"}


def write_cifar10(folder, per_batch: int = 40, seed: int = 0) -> None:
    """data_batch_1..5 and test_batch as CIFAR-10 writes them: {b"data": uint8 [N, 3072], b"labels": [...]}."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32]
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, per_batch)
        x = np.empty((per_batch, 3, 32, 32), np.uint8)
        for i, lab in enumerate(labels):  # a coloured disc whose radius depends on the class
            colour = rng.integers(40, 215, 3)
            cy, cx = rng.integers(8, 24, 2)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 < (4 + lab) ** 2
            for c in range(3):
                x[i, c] = np.where(disc, colour[c], 255 - colour[c] // 2)
        x = np.clip(x.astype(int) + rng.integers(-10, 11, x.shape), 0, 255).astype(np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": x.reshape(per_batch, -1)},
                        f, protocol=2)


@pytest.mark.slow
def test_run_conv_baselines_on_cifar10_format_with_image_metrics(tmp_path):
    data = tmp_path / "cifar"
    write_cifar10(data)
    out = tmp_path / "run"
    # Two generator steps with an evaluation after each: one during training, one after it. The
    # smoke budget's n_eval/n_real are kept; WGAN's 100-critic-step warm-up makes 200 D steps. The
    # smoke budget computes no intervals (n_boot 0): --bootstrap 4 asks for them, as a user would.
    r = subprocess.run(CMD + ["run", "--models", "dcgan,wgan", "--dataset", "cifar10", "--data-dir", str(data),
                              "--budget", "smoke", "--seeds", "0", "--steps", "2", "--eval-every", "1",
                              "--bootstrap", "4", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    all_recs = read_records([out / "records.jsonl"])
    # The end of each image run adds a memorisation record at the final step.
    mem = [x for x in all_recs if "copy_share" in x.metrics]
    assert {(x.model, x.step) for x in mem} == {("dcgan", 2), ("wgan", 2)}
    recs = [x for x in all_recs if "copy_share" not in x.metrics]
    assert {(x.model, x.step) for x in recs} == {(m, s) for m in ("dcgan", "wgan") for s in (1, 2)}
    for rec in recs:
        budget = load_recipe(rec.model).budget("smoke", "image")
        assert IMAGE_METRICS <= set(rec.metrics), rec.metrics.keys()
        assert all(v is None or np.isfinite(v) for v in rec.metrics.values())
        p = rec.protocol
        assert p["budget"] == "smoke" and p["steps"] == 2
        assert p["n_gen"] == budget.n_eval and p["n_real"] == budget.n_real
        assert p["real_split"] == "train" and p["sample_seed"] == eval_seed(0) and p["dataset_identity"]
        assert p["extractor"].startswith("inception-tf[") and len(p["weights_sha256"]) == 64
        assert p["pr_k"] == 3 and p["dc_k"] == 5 and p["kid_subset_size"] == min(1000, budget.n_eval, budget.n_real)
        assert ("is" in rec.metrics) != ("is_unavailable" in p)
    with np.load(out / "dcgan" / "cifar10" / "seed0" / "samples.npz") as z:
        s = z["samples"]
    assert s.dtype == np.uint8 and s.shape[1:] == (3, 32, 32)

    # After training: `ganbench eval` of the checkpoint (reference defaults to its dataset; the
    # reference features come from the cache the run filled) reproduces the last evaluation.
    last = next(x for x in recs if x.model == "dcgan" and x.step == 2)
    ck = out / "dcgan" / "cifar10" / "seed0" / "checkpoint.pt"
    js = tmp_path / "eval.json"
    r = subprocess.run(CMD + ["eval", str(ck), "--data-dir", str(data), "-n", str(last.protocol["n_gen"]),
                              "--n-real", str(last.protocol["n_real"]), "--seed", str(eval_seed(0)),
                              "--bootstrap", "4", "--json", str(js), "--quiet"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    (ev,) = read_records([js])
    assert (ev.kind, ev.model, ev.dataset, ev.seed, ev.step) == ("eval", "dcgan", "cifar10", 0, 2)
    assert ev.provenance["ref_cache"] == "hit"
    for k in IMAGE_METRICS:
        assert ev.metrics[k] == pytest.approx(last.metrics[k], rel=1e-4, abs=1e-6), k
