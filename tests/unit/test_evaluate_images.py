"""Image evaluation plumbing: metrics over features, protocol, reference cache, the training evaluator.

A cheap deterministic pixel extractor stands in for Inception here (Inception costs ~0.15 s per
image on these cores); tests/integration/test_eval_cli.py goes through the real one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.config import Budget
from ganbench.data.base import ImageDataset
from ganbench.errors import GanbenchError
from ganbench.evaluation import images as ei
from ganbench.evaluation.engine import evaluate
from ganbench.evaluation.options import DEFAULT_BOOTSTRAP, REF_SEED, EvalOptions
from ganbench.evaluation.training import ImageEvaluator, eval_seed, make_evaluator
from ganbench.features.base import FeatureExtractor, register_extractor
from ganbench.features.cache import FeatureCache
from ganbench.generators import sample_all
from ganbench.metrics.fid import fid_from_features
from ganbench.metrics.stats import IntervalSpec, intervals
from ganbench.registry import EXTRACTORS, METRICS


def evaluate_images(fake, ref, metrics=ei.DEFAULT_METRICS, n=None, **options):
    """The engine called with the old keyword names (``n`` is EvalOptions.n_gen): (values, protocol)."""
    ev = evaluate(fake, ref, EvalOptions(metrics=metrics, n_gen=n, **options))
    return ev.values, ev.protocol


def reference_features(dataset, n, ext, info=None, seed=REF_SEED, **options):
    return ei.reference_features(dataset, ext, EvalOptions(ref_seed=seed, **options), n, info)


class PixelExtractor(FeatureExtractor):
    """uint8 NCHW -> 8x8 average-pooled RGB pixels (192-d "pool3") and 10 random-projection logits."""

    def __init__(self, logits: bool = True, mode: str = "legacy-tf", device=None) -> None:
        self.name = "test-pixels" + ("+logits" if logits else "") + f"/{mode}"
        self.weights_sha256, self.mode, self.has_logits = None, mode, logits
        self.dims = {"pool3": 192, **({"logits": 10} if logits else {})}
        self.w = torch.randn(192, 10, generator=torch.Generator().manual_seed(0))
        self.calls = 0

    def __call__(self, x):
        self.calls += len(x)
        x = torch.as_tensor(x)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        f = F.adaptive_avg_pool2d(x.float() / 255, 8).flatten(1)
        return {"pool3": f, **({"logits": f @ self.w * 4} if self.has_logits else {})}

    def missing_reason(self, outputs):
        return "the test extractor has no logits head" if "logits" in outputs else super().missing_reason(outputs)


if "test-pixels" not in EXTRACTORS:
    register_extractor("test-pixels", lambda opts: PixelExtractor(True, opts.mode or "legacy-tf"),
                       modes=("legacy-tf", "clean"), help="test only")


BOUND: dict = {}


def _bound_factory(opts):
    """Like the "domain" extractor: built for one dataset, named by the caller."""
    BOUND.update(dataset=opts.dataset, data_dir=opts.data_dir)
    return PixelExtractor(False)


if "test-bound" not in EXTRACTORS:
    register_extractor("test-bound", _bound_factory, per_dataset=True, help="test only")


def blobs(n: int, seed: int, size: int = 16, channels: int = 3) -> np.ndarray:
    """Images with a bright square at a random place: structured enough for k-NN metrics."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, (n, channels, size, size)).astype(np.uint8)
    for i in range(n):
        r, c = rng.integers(0, size - 6, 2)
        x[i, :, r:r + 6, c:c + 6] = rng.integers(150, 255)
    return x


@pytest.fixture
def dataset():
    return ImageDataset("blobs", blobs(120, 0), np.arange(120) % 4, blobs(40, 1), np.arange(40) % 4,
                        num_classes=4, source="test")


class TinyG(nn.Module):
    """A deterministic conv generator for 16x16 RGB images."""

    def __init__(self, z_dim: int = 8, num_classes: int = 0) -> None:
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        torch.manual_seed(0)
        self.fc = nn.Linear(z_dim, 4 * 4 * 8)
        self.up = nn.Sequential(nn.Upsample(scale_factor=4), nn.Conv2d(8, 3, 3, padding=1), nn.Tanh())

    def forward(self, z, y=None):
        return self.up(self.fc(z).view(-1, 8, 4, 4))


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("na,nb,d", [(20, 30, 64), (50, 40, 16), (6, 6, 512)])
def test_fast_fid_equals_metrics_fid(na, nb, d):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(na, d)).astype(np.float32)
    b = (rng.normal(size=(nb, d)) * 1.3 + 0.2).astype(np.float32)
    ref = fid_from_features(a, b)
    assert ei._fid_fast(a, b) == pytest.approx(ref, rel=1e-6, abs=1e-6)
    assert ei._fid_for_bootstrap(a, b) == pytest.approx(ref, rel=1e-6, abs=1e-6)
    # (1e-6: metrics.fid sums square roots of rounding-level eigenvalues in the null space.)
    # Duplicated rows: the identity still holds.
    idx = rng.integers(0, na, na)
    assert ei._fid_fast(a[idx], b) == pytest.approx(fid_from_features(a[idx], b), rel=1e-6, abs=1e-6)


def test_compute_metrics_values_protocol_and_ci():
    rng = np.random.default_rng(1)
    real = {"pool3": rng.normal(size=(30, 24)).astype(np.float32), "logits": rng.normal(size=(30, 10))}
    fake = {"pool3": (rng.normal(size=(25, 24)) + 0.3).astype(np.float32), "logits": rng.normal(size=(25, 10))}
    values, proto = ei.compute_image_metrics(real, fake, ["fid", "kid", "is", "pr", "dc"], n_boot=20, seed=3)
    assert values["fid"] == pytest.approx(fid_from_features(real["pool3"], fake["pool3"]))
    for k in ("kid", "kid_std", "is", "is_std", "precision", "recall", "density", "coverage"):
        assert np.isfinite(values[k]), k
    for k in ("fid", "kid", "is", "precision", "recall", "density", "coverage"):
        assert values[f"{k}_ci_low"] <= values[k] <= values[f"{k}_ci_high"], k  # holds its estimate
        assert values[f"{k}_ci_low"] < values[f"{k}_ci_high"], k
    # The FID interval is exactly metrics.stats.intervals' (same half-samples, same rule).
    fid_ci = intervals(lambda a, b: {"fid": fid_from_features(a, b)}, [real["pool3"], fake["pool3"]],
                       {"fid": values["fid"]}, IntervalSpec(20, seed=3), ei.CI_BOUNDS)["fid"]
    assert (values["fid_ci_low"], values["fid_ci_high"]) == pytest.approx(fid_ci, rel=1e-8)
    assert proto["ci_method"] == "half-sampling" and "m = n/2" in proto["ci_method_text"]
    assert proto["kid_seed"] == METRICS.get("kid").params["seed"] and proto["is_shuffle_seed"] == 2020
    assert proto["metrics"] == ["fid", "kid", "is", "pr", "dc"]
    assert proto["pr_k"] == 3 and proto["dc_k"] == 5
    assert proto["kid_subsets"] == 100 and proto["kid_subset_size"] == 25  # clipped to the smaller set
    assert proto["is_splits"] == 10 and proto["bootstrap"] == 20 and proto["ci_level"] == 0.95
    # No bootstrap: no CI keys.
    v0, p0 = ei.compute_image_metrics(real, fake, ["fid", "pr"], n_boot=0)
    assert not any(k.endswith("_ci_low") for k in v0) and p0["bootstrap"] == 0
    assert v0["fid"] == values["fid"] and v0["precision"] == values["precision"]


def test_is_without_logits_is_reported_unavailable_not_approximated():
    rng = np.random.default_rng(2)
    real = {"pool3": rng.normal(size=(12, 8))}
    fake = {"pool3": rng.normal(size=(12, 8))}
    ext = PixelExtractor(logits=False)
    values, proto = ei.compute_image_metrics(real, fake, ["fid", "is"], n_boot=0, extractor=ext)
    assert "is" not in values and "is_std" not in values
    assert proto["is_unavailable"] == "the test extractor has no logits head"
    assert proto["metrics"] == ["fid"]


def test_parse_metrics_names():
    assert ei.parse_image_metrics("fid, kid,fid") == ["fid", "kid"]
    assert ei.parse_image_metrics(None) == list(ei.DEFAULT_METRICS)
    with pytest.raises(GanbenchError, match=r"did you mean .*'fid'"):
        ei.parse_image_metrics("fdi")


def test_evaluate_arrays_and_generator_agree(dataset):
    g = TinyG()
    x, _ = sample_all(g, 24, seed=5)
    ext = PixelExtractor()
    v1, p1 = evaluate_images(x, dataset, n=None, extractor=ext, seed=5, n_boot=5, progress=False)
    v2, p2 = evaluate_images(g, dataset, n=24, extractor=ext, seed=5, n_boot=5, progress=False)
    assert v1 == v2
    assert p1["n_gen"] == p2["n_gen"] == 24 and p2["sample_seed"] == 5 and p2["z_dim"] == 8
    assert p1["n_real"] == 24 and p1["real_split"] == "train" and p1["ref_seed"] == REF_SEED
    assert p1["dataset_identity"] == dataset.identity() and p1["extractor"] == ext.name
    # The reference as an array: the same real images give the same numbers.
    xr, _ = dataset.reference(24, REF_SEED, "train")
    v3, p3 = evaluate_images(x, xr, extractor=ext, seed=5, n_boot=5, progress=False)
    assert v3 == v1 and p3["real_split"] is None
    # NHWC input is read as NCHW.
    v4, _ = evaluate_images(x.transpose(0, 2, 3, 1), xr, extractor=ext, seed=5, n_boot=5, progress=False)
    assert v4 == v1


def test_reference_features_are_cached(dataset, tmp_path):
    cache = FeatureCache(tmp_path / "fc")
    ext = PixelExtractor()
    info: dict = {}
    f1, _p1 = reference_features(dataset, 50, ext, seed=0, cache=cache, progress=False, info=info)
    assert info["ref_cache"] == "miss" and ext.calls == 50
    f2, _ = reference_features(dataset, 50, ext, seed=0, cache=cache, progress=False, info=info)
    assert info["ref_cache"] == "hit" and ext.calls == 50
    np.testing.assert_array_equal(f1["pool3"], f2["pool3"])
    # Another n, seed, split or mode is another entry.
    reference_features(dataset, 50, ext, seed=1, cache=cache, progress=False, info=info)
    assert info["ref_cache"] == "miss"
    reference_features(dataset, 50, PixelExtractor(mode="clean"), seed=0, cache=cache, progress=False, info=info)
    assert info["ref_cache"] == "miss"
    _, p = reference_features(dataset, 10_000, ext, split="test", cache=cache, progress=False, info=info)
    assert p["n_real"] == 40 and p["ref_seed"] is None  # the whole split: no subset seed


def test_bad_inputs(dataset):
    ext = PixelExtractor()
    with pytest.raises(GanbenchError, match="1 or 3 channels"):
        evaluate_images(np.zeros((8, 5, 16, 16), np.uint8), dataset, extractor=ext, progress=False)
    bad = np.full((8, 3, 16, 16), np.nan, np.float32)
    with pytest.raises(GanbenchError, match="NaN"):
        evaluate_images(bad, dataset, extractor=ext, progress=False)
    with pytest.raises(GanbenchError, match="more images"):
        evaluate_images(blobs(8, 0), dataset, n=9, extractor=ext, progress=False)
    with pytest.raises(GanbenchError, match="no such file"):
        evaluate_images(blobs(8, 0), "missing/ref.npz", extractor=ext, progress=False)
    with pytest.raises(GanbenchError, match="did you mean 'cifar10'"):
        evaluate_images(blobs(8, 0), "cifar1", extractor=ext, progress=False)


def test_training_evaluator_factory(dataset):
    budget = Budget("smoke", steps=2, batch_size=4, eval_every=1, n_eval=20, n_real=30, checkpoint_every=2)
    ev = make_evaluator(dataset, budget, seed=3, extractor="test-pixels", n_boot=4)
    assert isinstance(ev, ImageEvaluator)
    assert ev.protocol["n_gen"] == 20 and ev.protocol["n_real"] == 30
    assert ev.protocol["sample_seed"] == eval_seed(3) and ev.protocol["extractor"].startswith("test-pixels")
    g = TinyG()
    m = ev(g)
    assert {"fid", "fid_ci_low", "kid", "kid_std", "is", "is_std", "precision", "recall", "density",
            "coverage"} <= set(m)
    assert ev.protocol["metrics"] == ["fid", "kid", "is", "pr", "dc"] and ev.protocol["kid_subset_size"] == 20
    # Same generator, same numbers; evaluate_images with the same seeds agrees.
    assert ev(g) == m
    v, _ = evaluate_images(g, dataset, n=20, n_real=30, extractor=ev.ext, seed=eval_seed(3), n_boot=4,
                              progress=False)
    assert v == m
    assert g.training  # restored after sampling
    assert ev.samples(g).shape == (20, 3, 16, 16) and ev.samples(g).dtype == np.uint8
    # No preset named by this budget; a budget's preset is recorded only when its counts are followed.
    assert ev.protocol["preset"] is None
    named = make_evaluator(dataset, Budget("smoke", 2, 4, 1, 32, 32, 2, preset="smoke32_train"), seed=3,
                           extractor="test-pixels", n_boot=0)
    assert named.protocol["preset"] is None  # counts follow it, the extractor does not
    assert named.protocol["preset_not_followed"] == "smoke32_train: extractor test-pixels (preset inception)"
    off = make_evaluator(dataset, Budget("smoke", 2, 4, 1, 20, 30, 2, preset="smoke32_train"), seed=3,
                         extractor="test-pixels", n_boot=0)
    assert off.protocol["preset"] is None and "n_gen 20 (preset 32)" in off.protocol["preset_not_followed"]


def test_training_evaluator_conditional_samples_evenly(dataset):
    class CondG(TinyG):
        def forward(self, z, y=None):
            assert y is not None
            return super().forward(z) * 0 + (y.float().view(-1, 1, 1, 1) / 2 - 0.75)

    budget = Budget("smoke", steps=1, batch_size=4, eval_every=1, n_eval=20, n_real=20, checkpoint_every=1)
    ev = make_evaluator(dataset, budget, seed=0, extractor="test-pixels", n_boot=0)
    g = CondG(num_classes=4)
    x = ev.samples(g)
    labels = np.round((x[:, 0, 0, 0] / 127.5 - 1 + 0.75) * 2).astype(int)
    assert np.bincount(labels, minlength=4).tolist() == [5, 5, 5, 5]
    assert "class_sampling" not in ev.protocol
    ev(g)
    assert "class_sampling" in ev.protocol


def test_dataset_bound_extractor_is_built_for_the_reference(dataset):
    ext = ei.build_extractor("test-bound", dataset=dataset, data_dir="/data")
    assert BOUND == {"dataset": "blobs", "data_dir": "/data"} and ext.mode == "legacy-tf"
    # An option the factory does not take is an error (issue 10), not silently dropped.
    with pytest.raises(GanbenchError, match="own preprocessing"):
        ei.build_extractor("test-bound", mode="clean", dataset=dataset, data_dir="/data")
    ev = make_evaluator(dataset, Budget("smoke", 1, 4, 1, 10, 10, 1), seed=0, extractor="test-bound")
    assert BOUND["dataset"] == "blobs" and ev.protocol["extractor"].startswith("test-pixels")
    with pytest.raises(GanbenchError, match="registered dataset name"):
        evaluate_images(blobs(8, 0), blobs(8, 1), extractor="test-bound", progress=False)
    with pytest.raises(GanbenchError, match="takes no weights"):
        ei.build_extractor("test-bound", weights="w.pth", dataset=dataset)


def test_features_auto_and_budget_default(dataset):
    assert ei.resolve_features("auto", "fashion-mnist") == "domain"
    assert ei.resolve_features("auto", "stacked-mnist") == "domain"
    assert ei.resolve_features("auto", dataset) == "inception" and ei.resolve_features(None, "mnist") == "inception"
    with pytest.raises(GanbenchError, match="did you mean 'inception'"):
        ei.resolve_features("incepton", dataset)
    # budget.features is the default; an explicit extractor (the CLI's --features) overrides it
    b = Budget("smoke", 1, 4, 1, 10, 10, 1, features="test-bound")
    assert make_evaluator(dataset, b, seed=0).ext.name.startswith("test-pixels/")  # _bound_factory's
    ev = make_evaluator(dataset, b, seed=0, extractor="test-pixels", n_boot=None, mode=None)
    assert ev.protocol["extractor"].startswith("test-pixels+logits") and ev.n_boot == DEFAULT_BOOTSTRAP


def test_memorization_at_end_of_run(dataset, tmp_path):
    ev = make_evaluator(dataset, Budget("smoke", 1, 4, 1, 20, 20, 1), seed=0, extractor="test-pixels", n_boot=0)
    m, p = ev.memorization(TinyG(), tmp_path / "nn_grid.png", n_train=100)
    assert {"copy_share", "nn_dist_median"} <= set(m) and 0 <= m["copy_share"] <= 1
    assert p["n_train"] == 100 and p["train_subset_seed"] == REF_SEED and p["n_heldout"] == 40
    assert p["ct_space"] == "pixels" and p["feature_space"] is None and "copy_rule" in p
    assert (tmp_path / "nn_grid.png").stat().st_size > 0
    # Copies of training images are caught; no test split -> C_T skipped with the reason.
    no_test = ImageDataset("blobs", blobs(120, 0), None, None, None, num_classes=0, source="test")
    ev = make_evaluator(no_test, Budget("smoke", 1, 4, 1, 20, 20, 1), seed=0, extractor="test-pixels", n_boot=0)
    ev.samples = lambda g, n=None: no_test.train_x[:20]
    m, p = ev.memorization(TinyG())
    assert m["copy_share"] == 1.0 and "ct" not in m and "no test split" in p["ct_unavailable"]
