"""Image evaluation: images -> features (once per set per extractor) -> metrics (pure functions).

Two users:
- ``evaluate_images`` scores generated images (an array or a generator) against a reference
  (a registered dataset, an image set on disk, or an array); ``ganbench eval`` calls it.
- ``make_image_evaluator`` is the factory ``ganbench.evaluate.make_evaluator`` uses for image
  datasets during training (registered in ``IMAGE_EVALUATOR["factory"]``).

Reference features of datasets are cached on disk (FeatureCache, keyed by dataset identity, split,
n, subset seed and the extractor's name, weights and mode); generated sets never are.
Every score travels with its protocol: sample counts, split, extractor, preprocessing, k, KID
subsets, IS splits, bootstrap size (docs/reference.md section 6: unstored protocols make numbers
irreproducible).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from ganbench.config import Budget
from ganbench.data.base import Dataset
from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.evaluate import IMAGE_EVALUATOR
from ganbench.features.base import as_extractor, build_extractor  # noqa: F401  (build_extractor: old import path)
from ganbench.generators import Generator, sample
from ganbench.registry import DATASETS, EXTRACTORS, METRICS

IMAGE_METRICS = ("fid", "kid", "is", "pr", "dc", "fd_inf", "fd", "cmmd", "cdc", "vendi")
DEFAULT_METRICS = ("fid", "kid", "is", "pr", "dc")
# Half-sample resamples for the intervals of fid, kid, is, precision/recall and density/coverage
# (metrics.stats.intervals). 50 estimate the standard error to about +-10%; at n <= 4096 one FID
# resample costs milliseconds (see _fid_fast), above it ~2 s.
DEFAULT_BOOTSTRAP = 50
CI_ALPHA = 0.05
CI_OUTPUTS = {"fid": ("fid",), "kid": ("kid",), "is": ("is",), "pr": ("precision", "recall"),
              "dc": ("density", "coverage"), "fd": ("fd",), "cmmd": ("cmmd",),
              "cdc": ("clipped_density", "clipped_coverage")}
# Ranges intervals are clipped to (never past the estimate itself).
CI_BOUNDS = {"fid": (0.0, np.inf), "is": (1.0, np.inf), "precision": (0.0, 1.0), "recall": (0.0, 1.0),
             "coverage": (0.0, 1.0), "density": (0.0, np.inf), "fd": (0.0, np.inf), "cmmd": (0.0, np.inf),
             "clipped_density": (0.0, 1.0), "clipped_coverage": (0.0, 1.0)}
# Above the KID subset size, each half-sample uses num_subsets / this many subsets (cost).
KID_HALF_SUBSET_DIVISOR = 10
# The reference subset is drawn with a fixed seed, independent of the run or sampling seed, so
# every model and seed is compared with the same real images and shares one cache entry.
REF_SEED = 0
CLASS_SAMPLING = "even: sample i gets label i mod num_classes (ganbench.generators.class_labels)"
# At most this many final samples are kept by ImageEvaluator.samples (the suite saves them for plots).
SAVE_SAMPLES = 1024
# Stacked datasets: 1000-mode coverage is added to every evaluation (docs/reference.md section 4).
STACKED = ("stacked-mnist", "stacked-fashion-mnist")
# Memorisation at the end of a run compares the final samples with at most this many training
# images (seeded subset, REF_SEED): NN search and k-means stay seconds on CPU; copies of images
# outside the subset are missed, which the protocol's n_train says.
MEMO_N_TRAIN = 10_000


# --------------------------------------------------------------------------------------------
# Names: metrics and extractors


def parse_image_metrics(spec: str | Sequence[str] | None) -> list[str]:
    """``"fid,kid"`` -> ["fid", "kid"]; unknown names fail with did-you-mean, non-image ones too."""
    if spec is None:
        return list(DEFAULT_METRICS)
    names = METRICS.parse_list(spec)  # unknown -> "unknown metric 'fdi'; did you mean 'fid'?"
    for n in names:
        if n not in IMAGE_METRICS:
            raise GanbenchError(f"metric {n!r} is not computed by the image evaluator; it computes "
                                f"{', '.join(IMAGE_METRICS)}")
    if not names:
        raise GanbenchError("no metrics given; image metrics: " + ", ".join(IMAGE_METRICS))
    return list(dict.fromkeys(names))


def extractor_protocol(ext: Any) -> dict[str, Any]:
    """Extractor identity for records: name (incl. weights label and mode), weights sha256, mode."""
    return as_extractor(ext).protocol()


def _extractor_key(ext: Any) -> dict[str, Any]:
    return as_extractor(ext).identity()


# --------------------------------------------------------------------------------------------
# Features


def extract(images: Any, ext: Any, *, batch_size: int = 64, progress: bool = True, total: int | None = None,
            device: torch.device | str | None = None, desc: str | None = None) -> dict[str, np.ndarray]:
    """Features of uint8 NCHW images (array, tensor or iterable of batches), float32 per output;
    ``desc`` names what the progress bar counts ("generated images", "real images (train)")."""
    from ganbench.features.inception import extract_features

    return extract_features(images, ext, batch_size=batch_size, device=device, progress=progress, total=total,
                            desc=desc)


def _as_images(x: Any, where: str) -> np.ndarray:
    from ganbench.data.images import to_uint8_nchw

    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return to_uint8_nchw(np.asarray(x), where)


def _is_generator(x: Any) -> bool:
    return callable(x) and hasattr(x, "z_dim") and not isinstance(x, (np.ndarray, torch.Tensor))


def reference_features(dataset: Dataset, n: int | None, ext: Any, *, split: str = "train", seed: int = REF_SEED,
                       batch_size: int = 64, progress: bool = True, cache: Any = True,
                       info: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Features of ``n`` reference images of ``dataset`` (all when n is None or larger), cached.

    Returns (features, protocol part: n_real, real_split, ref_seed, dataset_identity).
    """
    from ganbench.features.cache import FeatureCache

    if dataset.modality != "image":
        raise GanbenchError(f"dataset {dataset.name!r} holds {dataset.modality}s, not images")
    x_all, _ = dataset.split_arrays(split) if hasattr(dataset, "split_arrays") else dataset.reference(None, seed, split)
    n_avail = len(x_all)
    n_use = n_avail if n is None or n >= n_avail else int(n)
    subset = n_use < n_avail
    proto = {"n_real": n_use, "real_split": split, "ref_seed": seed if subset else None,
             "dataset_identity": dataset.identity()}
    key = {"dataset": dataset.name, "identity": dataset.identity(), "split": split, "n": n_use,
           "seed": seed if subset else None, **_extractor_key(ext)}

    def compute() -> dict[str, np.ndarray]:
        x, _ = dataset.reference(n_use, seed, split)
        return extract(x, ext, batch_size=batch_size, progress=progress, desc=f"real images ({split})")

    t0 = time.perf_counter()
    if cache is False or cache is None:
        feats, hit = compute(), False
    else:
        fc = cache if isinstance(cache, FeatureCache) else FeatureCache()
        feats = fc.load(key)
        hit = feats is not None
        if feats is None:
            feats = fc.get_or_compute(key, compute)  # computes and stores (a miss again, by now)
    if info is not None:
        info.update({"ref_features_s": round(time.perf_counter() - t0, 3), "ref_cache": "hit" if hit else "miss"})
    return feats, proto


def resolve_reference(ref: Any, data_dir: str | None = None) -> Dataset | np.ndarray:
    """A reference given as a Dataset, an image array, an image-set path or a dataset spec."""
    from ganbench.data import get_dataset
    from ganbench.data.images import load_images
    from ganbench.refstats import ReferenceStats, is_stats_file, load_stats

    if isinstance(ref, (Dataset, ReferenceStats)):
        return ref
    if isinstance(ref, (np.ndarray, torch.Tensor)):
        return _as_images(ref, "reference images")
    spec = str(ref)
    p = Path(spec).expanduser()
    if p.is_file() and is_stats_file(p):  # precomputed statistics (ganbench stats, pytorch-fid, clean-fid)
        return load_stats(p)
    if p.exists():
        return load_images(p)
    kind = spec.partition(":")[0]
    looks_like_path = ("/" in spec or "\\" in spec or p.suffix.lower() in (".npz", ".npy", ".zip")) \
        and kind not in DATASETS
    if looks_like_path:
        raise DataNotFoundError(f"{spec}: no such file or folder")
    return get_dataset(spec, data_dir)


# --------------------------------------------------------------------------------------------
# Metrics over features


def _fid_fast(a: np.ndarray, b: np.ndarray) -> float:
    """FID for few samples: tr sqrt(S1 S2) = ||A B^T||_* / sqrt((n1-1)(n2-1)), A, B centred features.

    The non-zero eigenvalues of S1 S2 = A^T A B^T B / ((n1-1)(n2-1)) are those of C C^T with
    C = A B^T (n1 x n2), so their square roots are C's singular values: exact, and with n1, n2
    below the feature width far cheaper than the D x D eigen-decompositions of metrics.fid
    (2048-d: ms instead of ~2 s), which matters for bootstrap resamples. Agreement with
    ``fid_from_features`` is tested.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = a - mu_a, b - mu_b
    na, nb = len(a), len(b)
    tr = np.einsum("ij,ij->", ca, ca) / (na - 1) + np.einsum("ij,ij->", cb, cb) / (nb - 1)
    nuc = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / np.sqrt((na - 1) * (nb - 1))
    d = mu_a - mu_b
    return max(float(d @ d + tr - 2.0 * nuc), 0.0)


def _fid_for_bootstrap(a: np.ndarray, b: np.ndarray) -> float:
    from ganbench.metrics.fid import fid_from_features

    return _fid_fast(a, b) if max(len(a), len(b)) <= a.shape[1] else fid_from_features(a, b)


def _half_fn(name: str, spec: Any, params: Mapping[str, Any]) -> Any:
    """The statistic recomputed on each half-sample (see metrics.stats.intervals)."""
    if name == "fid":
        return lambda a, b: {"fid": _fid_for_bootstrap(a, b)}
    if name == "is":
        return lambda f: {"is": spec(None, f, **params)["is"]}
    if name == "kid":
        def kid(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
            p = dict(params)
            if len(a) == len(b) <= int({**spec.params, **p}["subset_size"]):
                # Every subset is the whole half and MMD² is permutation-invariant: one suffices.
                p["num_subsets"] = 1
            else:  # cost: fewer subsets per half; adds Monte-Carlo spread, so the interval widens
                p["num_subsets"] = max(1, int(spec.params["num_subsets"]) // KID_HALF_SUBSET_DIVISOR)
            return {"kid": spec(a, b, **p)["kid"]}
        return kid
    return lambda a, b: spec(a, b, **params)


def compute_image_metrics(real: Mapping[str, np.ndarray], fake: Mapping[str, np.ndarray],
                          metrics: Sequence[str] = DEFAULT_METRICS, *, n_boot: int = DEFAULT_BOOTSTRAP,
                          seed: int = 0, extractor: Any = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Metric values and their protocol from real/fake feature dicts (pure: no images, no network).

    IS is left out of the values when the extractor has no logits; the protocol then carries
    ``is_unavailable`` with the reason (never approximated). ``n_boot`` half-samples (seeded by
    ``seed``) give each output's interval (metrics.stats.intervals; 0: none).
    """
    from ganbench.metrics.stats import IntervalSpec, intervals

    ci = IntervalSpec(resamples=int(n_boot), level=1 - CI_ALPHA, seed=seed)
    values: dict[str, float] = {}
    proto: dict[str, Any] = {}
    done: list[str] = []
    n_gen = len(next(iter(fake.values())))
    n_real = len(next(iter(real.values()))) if real else 0
    for name in parse_image_metrics(list(metrics)):
        spec = METRICS.get(name)
        missing = [k for k in spec.needs if k not in fake or (spec.uses_real and k not in real)]
        if missing:
            reason = as_extractor(extractor).missing_reason(missing) if extractor is not None else (
                f"the features hold {sorted(fake)}, not {missing}")
            if name == "is":
                proto["is_unavailable"] = reason
                continue
            raise GanbenchError(f"metric {name!r} needs extractor output(s) {missing}: {reason}")
        key = spec.needs[0]
        r = real[key] if spec.uses_real else None
        f = fake[key]
        params: dict[str, Any] = {}
        if name == "is":
            params["splits"] = min(int(spec.params.get("splits", 10)), n_gen)
            proto.update(is_splits=params["splits"], is_shuffle_seed=int(spec.params["seed"]))
        elif name == "kid":
            m = min(int(spec.params["subset_size"]), n_real, n_gen)
            proto.update(kid_subsets=int(spec.params["num_subsets"]), kid_subset_size=m,
                         kid_degree=int(spec.params["degree"]), kid_seed=int(spec.params["seed"]))
        elif name == "pr":
            proto["pr_k"] = int(spec.params["k"])
        elif name == "dc":
            proto["dc_k"] = int(spec.params["k"])
        elif name == "fd_inf":
            proto.update(fd_inf_mode=spec.params["mode"], fd_inf_seed=int(spec.params["seed"]))
        elif spec.params:  # the newer metrics: every parameter is protocol
            proto.update({f"{name}_{k}": v for k, v in spec.params.items()})
        out = spec(r, f, **params)
        values.update(out)
        if ci.resamples and name in CI_OUTPUTS:
            try:
                cis = intervals(_half_fn(name, spec, params), [f] if name == "is" else [r, f], out, ci, CI_BOUNDS)
            except GanbenchError as e:  # e.g. k-NN metrics on halves smaller than k + 1
                proto.setdefault("ci_unavailable", {})[name] = f"half-samples too small: {e}"
                cis = {}
            for k, (lo, hi) in cis.items():
                values[f"{k}_ci_low"], values[f"{k}_ci_high"] = lo, hi
        done.append(name)
    proto["metrics"] = done
    proto.update(ci.protocol() if ci.resamples else {"bootstrap": 0})
    return values, proto


# --------------------------------------------------------------------------------------------
# One evaluation: generated images vs a reference


def evaluate_images(fake: Any, ref: Any, metrics: str | Sequence[str] | None = DEFAULT_METRICS,
                    n: int | None = None, extractor: Any = "inception", mode: str | None = None, seed: int = 0,
                    *, n_real: int | None = None, split: str = "train", data_dir: str | None = None,
                    weights: str | Path | None = None, batch_size: int = 64, n_boot: int = DEFAULT_BOOTSTRAP,
                    ref_seed: int = REF_SEED, device: torch.device | str | None = None, progress: bool = True,
                    cache: Any = True, save_samples: list | None = None,
                    info: dict[str, Any] | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Score generated images against a reference; returns (metrics, protocol).

    fake: uint8 images (N,C,H,W or N,H,W,C array/tensor; the first ``n`` are used) or a Generator
      (``n`` samples drawn with ``seed``, conditional ones evenly per class).
    ref: a Dataset, a dataset spec ("cifar10", "npz:PATH"; ``split``, ``n_real`` images drawn with
      ``ref_seed``, cached), an image-set path (folder/zip/npz/npy) or an array (first ``n_real``).
    n_real defaults to the number of generated images for datasets and to all images of a set.
    extractor: a registered name (built with ``mode``/``weights``/``device``) or an extractor object.
    save_samples: a list that receives the generated uint8 batches (for saving them).
    info: a dict that receives timings and cache hits (not part of the protocol).
    """
    info = info if info is not None else {}
    names = parse_image_metrics(metrics)
    if n is not None and n < 2:
        raise GanbenchError(f"-n must be at least 2, got {n}")
    # Reference first: a bad REF fails before minutes of feature extraction.
    reference = resolve_reference(ref, data_dir)
    ext = build_extractor(extractor, mode=mode, weights=weights, device=device, data_dir=data_dir,
                          dataset=reference if isinstance(reference, Dataset) else None) \
        if isinstance(extractor, str) else as_extractor(extractor)
    if hasattr(reference, "score"):  # ReferenceStats: check its protocol before minutes of features
        reference.check(ext, names)
    proto: dict[str, Any] = {}

    t0 = time.perf_counter()
    if _is_generator(fake):
        if n is None:
            raise GanbenchError("give the number of samples to draw from a generator (-n)")
        num_classes = int(getattr(fake, "num_classes", 0) or 0)
        proto.update(n_gen=n, sample_seed=seed, z_dim=int(fake.z_dim), num_classes=num_classes)
        # Probe with two samples: a wrong --z-dim or output fails now, not inside the progress bar.
        probe, _ = next(sample(fake, min(n, 2), seed, batch_size=2, images=True))
        if probe.dim() != 4:
            raise GanbenchError(f"the generator returned shape {tuple(probe.shape)}; expected images N,C,H,W")
        if num_classes:
            proto["class_sampling"] = CLASS_SAMPLING

        def batches() -> Iterable[torch.Tensor]:
            for x, _ in sample(fake, n, seed, batch_size=batch_size, images=True):
                if save_samples is not None:
                    save_samples.append(x.numpy())
                yield x

        fake_feats = extract(batches(), ext, batch_size=batch_size, progress=progress, total=n,
                             desc="generated images")
    else:
        x = _as_images(fake, "generated images")
        if n is not None:
            if n > len(x):
                raise GanbenchError(f"-n {n} asks for more images than the {len(x)} given")
            x = x[:n]
        from ganbench.features.cache import array_fingerprint

        proto.update(n_gen=len(x), samples_sha256=array_fingerprint(x))
        if save_samples is not None:
            save_samples.append(x)
        fake_feats = extract(x, ext, batch_size=batch_size, progress=progress, desc="generated images")
    info["fake_features_s"] = round(time.perf_counter() - t0, 3)
    n_gen = proto["n_gen"]

    if hasattr(reference, "score"):  # ReferenceStats
        values, mproto, ref_proto = reference.score(fake_feats, names, ext, n_boot=n_boot, seed=seed)
        return values, {"metrics_requested": names, **proto, "ref": reference.path or str(ref), **ref_proto,
                        **extractor_protocol(ext), **mproto}
    if isinstance(reference, Dataset):
        real_feats, ref_proto = reference_features(
            reference, n_real if n_real is not None else n_gen, ext, split=split, seed=ref_seed,
            batch_size=batch_size, progress=progress, cache=cache, info=info)
        proto["ref"] = reference.name
        proto.update(ref_proto)
    else:
        from ganbench.features.cache import array_fingerprint

        xr = reference
        if n_real is not None:
            if n_real > len(xr):
                raise GanbenchError(f"--n-real {n_real} asks for more images than the {len(xr)} in the reference set")
            xr = xr[:n_real]
        t1 = time.perf_counter()
        real_feats = extract(xr, ext, batch_size=batch_size, progress=progress, desc="real images")
        info.update(ref_features_s=round(time.perf_counter() - t1, 3), ref_cache="off")
        proto.update(ref=str(ref) if isinstance(ref, (str, Path)) else "array", n_real=len(xr), real_split=None,
                     ref_seed=None, dataset_identity="images:" + array_fingerprint(xr)[:16])

    values, mproto = compute_image_metrics(real_feats, fake_feats, names, n_boot=n_boot, seed=seed, extractor=ext)
    protocol = {"metrics_requested": names, **proto, **extractor_protocol(ext), **mproto}
    return values, protocol


# --------------------------------------------------------------------------------------------
# The evaluator used during training (ganbench.evaluate.make_evaluator)


class ImageEvaluator:
    """Scores a generator at one training step: budget.n_eval samples vs budget.n_real train images.

    The extractor is built and the protocol fixed at construction (a missing weights file fails
    before training starts); reference features are computed on the first call, then kept in
    memory and in the feature cache.
    """

    def __init__(self, dataset: Dataset, n_gen: int, n_real: int, seed: int, *, extractor: Any = "inception",
                 mode: str | None = None, weights: str | Path | None = None, metrics: Sequence[str] | None = None,
                 n_boot: int = DEFAULT_BOOTSTRAP, batch_size: int = 64, device: torch.device | str | None = None,
                 progress: bool = False, split: str = "train", ref_seed: int = REF_SEED, cache: Any = True,
                 data_dir: str | None = None) -> None:
        if dataset.modality != "image":
            raise GanbenchError(f"ImageEvaluator needs an image dataset, got {dataset.modality} data")
        self.dataset, self.n_gen, self.n_real, self.seed = dataset, int(n_gen), int(n_real), int(seed)
        self.metrics = parse_image_metrics(metrics)
        self.n_boot, self.batch_size, self.progress = int(n_boot), int(batch_size), progress
        self.split, self.ref_seed, self.cache = split, ref_seed, cache
        if data_dir is None and Path(getattr(dataset, "source", "") or "/nonexistent").is_dir():
            data_dir = dataset.source  # where the dataset's files were found (for dataset-bound extractors)
        self.ext = build_extractor(extractor, mode=mode, weights=weights, device=device, dataset=dataset,
                                   data_dir=data_dir) if isinstance(extractor, str) else as_extractor(extractor)
        self._real: dict[str, np.ndarray] | None = None
        self.info: dict[str, Any] = {}
        n_avail = len(dataset.split_arrays(split)[0]) if hasattr(dataset, "split_arrays") else self.n_real
        n_use = min(self.n_real, n_avail)
        # Filled in place after the first call (is_unavailable, kid_subset_size...): the trainer
        # reads this dict when it writes each record, after the evaluation.
        self.protocol: dict[str, Any] = {
            "metrics_requested": list(self.metrics), "n_gen": self.n_gen, "n_real": n_use,
            "real_split": split, "ref_seed": ref_seed if n_use < n_avail else None, "sample_seed": self.seed,
            "ref": dataset.name, **extractor_protocol(self.ext),
            "bootstrap": self.n_boot}
        self.data_dir = data_dir
        self.stacked_clf = None
        if dataset.name in STACKED:  # trained/loaded now, so a missing base dataset fails before training
            from ganbench.features.classifier import get_classifier
            from ganbench.metrics.stacked import stacked_protocol

            self.stacked_clf = get_classifier(dataset.name, data_dir, progress=progress)
            self.protocol.update({k: v for k, v in stacked_protocol(self.stacked_clf).items()
                                  if k not in self.protocol})

    def real_features(self) -> dict[str, np.ndarray]:
        if self._real is None:
            self._real, _ = reference_features(self.dataset, self.n_real, self.ext, split=self.split,
                                               seed=self.ref_seed, batch_size=self.batch_size,
                                               progress=self.progress, cache=self.cache, info=self.info)
        return self._real

    def samples(self, g: Generator, n: int | None = None) -> np.ndarray:
        """The first min(n_eval, SAVE_SAMPLES) evaluation samples as uint8 NCHW (same z as the evaluation)."""
        n = min(self.n_gen, SAVE_SAMPLES) if n is None else n
        return np.concatenate([x.numpy() for x, _ in sample(g, n, self.seed, batch_size=self.batch_size,
                                                             images=True)])

    def __call__(self, g: Generator) -> dict[str, float]:
        real = self.real_features()
        t0 = time.perf_counter()
        kept: list[np.ndarray] | None = [] if self.stacked_clf is not None else None

        def batches() -> Iterable[torch.Tensor]:
            for x, _ in sample(g, self.n_gen, self.seed, batch_size=self.batch_size, images=True):
                if kept is not None:
                    kept.append(x.numpy())
                yield x

        fake = extract(batches(), self.ext, batch_size=self.batch_size, progress=self.progress, total=self.n_gen,
                       desc="generated images")
        self.info["fake_features_s"] = round(time.perf_counter() - t0, 3)
        values, mproto = compute_image_metrics(real, fake, self.metrics, n_boot=self.n_boot, seed=self.seed,
                                               extractor=self.ext)
        if kept is not None:
            from ganbench.metrics.stacked import stacked_mode_metrics

            values.update(stacked_mode_metrics(np.concatenate(kept), self.dataset.name, self.data_dir,
                                               classifier=self.stacked_clf))
            mproto["metrics"] = [*mproto["metrics"], "stacked_modes"]
        if getattr(g, "num_classes", 0):
            mproto["class_sampling"] = CLASS_SAMPLING
        self.protocol.update(mproto)
        return values

    def memorization(self, g: Generator, grid_path: str | Path | None = None,
                     n_train: int = MEMO_N_TRAIN) -> tuple[dict[str, float], dict[str, Any]]:
        """Memorisation of the final generator (docs/reference.md section 5): copy share and NN distances
        against a train subset, C_T against the test split, in pixel space and, when the run's
        extractor is the cheap domain CNN, in its feature space (Inception features are skipped
        here for cost). Writes ``grid_path`` (nearest training images). Returns (metrics, protocol).
        """
        from ganbench.metrics.memorization import memorization_metrics, memorization_protocol

        gen = self.samples(g, self.n_gen)
        n_avail = len(self.dataset.split_arrays("train")[0]) if hasattr(self.dataset, "split_arrays") else n_train
        n_use = min(int(n_train), n_avail)
        train, _ = self.dataset.reference(n_use, self.ref_seed, "train")
        proto: dict[str, Any] = {"n_gen": len(gen), "sample_seed": self.seed, "n_train": len(train),
                                 "train_split": "train", "train_subset_seed": self.ref_seed if n_use < n_avail else None,
                                 "dataset_identity": self.dataset.identity()}
        try:
            test, _ = self.dataset.reference(None, self.ref_seed, "test")
        except GanbenchError as e:
            test = None
            proto["ct_unavailable"] = f"no held-out split: {e}"
        feats: dict[str, Any] = {}
        if self.ext.name.startswith("domain-cnn"):  # cheap features (~ms per 1k images)
            def f(x: np.ndarray) -> np.ndarray:
                return extract(x, self.ext, batch_size=256, progress=False)["pool3"]

            feats = {"gen_feats": f(gen), "train_feats": f(train)}
            if test is not None:
                feats["test_feats"] = f(test)
            proto["feature_space"] = self.ext.name
        else:
            proto["feature_space"] = None
            proto["feature_space_skipped"] = f"{self.ext.name} features are too costly here"
        n_self = min(2000, len(train) - 1)
        k_cells = min(50, len(train))
        values = memorization_metrics(gen, train, test, n_self=n_self, k_cells=k_cells, seed=self.ref_seed,
                                      grid_path=grid_path, **feats)
        ct_space = "features" if "test_feats" in feats else ("pixels" if test is not None else "none")
        proto.update(memorization_protocol(n_self=n_self, k_cells=k_cells, seed=self.ref_seed, ct_space=ct_space))
        proto["metrics"] = ["memorization"]
        if test is not None:
            proto.update(heldout_split="test", n_heldout=len(test))
        return values, proto


def resolve_features(name: str | None, dataset: Dataset | str) -> str:
    """The extractor name for ``--features``/``budget.features``: "auto" -> "domain" for the 28x28
    datasets that have a domain classifier (MNIST family and their stacked variants), else "inception"."""
    from ganbench.features.classifier import BASES

    name = name or "inception"
    if name == "auto":
        ds = dataset if isinstance(dataset, str) else dataset.name
        return "domain" if ds in BASES else "inception"
    EXTRACTORS.get(name)  # unknown -> one-line error with did-you-mean
    return name


def make_image_evaluator(dataset: Dataset, budget: Budget, seed: int, **options: Any) -> ImageEvaluator:
    """IMAGE_EVALUATOR factory: budget.n_eval samples vs budget.n_real train images.

    Options: extractor (or its alias ``features``: "inception", "domain", "auto", another registered
    name, or an extractor object; default ``budget.features``), mode, weights, metrics, n_boot,
    batch_size, device, progress, split, cache, data_dir. None values mean "the default".
    """
    options = {k: v for k, v in options.items() if v is not None}
    options.setdefault("n_boot", getattr(budget, "n_boot", DEFAULT_BOOTSTRAP))
    ext = options.pop("extractor", None) or options.pop("features", None) or getattr(budget, "features", None)
    options.pop("features", None)
    if ext is None or isinstance(ext, str):
        ext = resolve_features(ext, dataset)
    ev = ImageEvaluator(dataset, budget.n_eval, budget.n_real, seed, extractor=ext, **options)
    from ganbench.presets import training_preset

    ev.protocol.update(training_preset(getattr(budget, "preset", ""), ev.n_gen, ev.protocol["n_real"], ev.split,
                                       ext if isinstance(ext, str) else as_extractor(ext).name,
                                       options.get("mode")))
    return ev


IMAGE_EVALUATOR["factory"] = make_image_evaluator

__all__ = ["IMAGE_METRICS", "DEFAULT_METRICS", "DEFAULT_BOOTSTRAP", "REF_SEED", "ImageEvaluator",
           "MEMO_N_TRAIN", "STACKED", "build_extractor", "resolve_features", "compute_image_metrics", "evaluate_images", "extract", "extractor_protocol",
           "make_image_evaluator", "parse_image_metrics", "reference_features", "resolve_reference"]
