"""Image evaluation's parts: names, extractors, features (once per set per extractor) and metrics
(pure functions over features). ``ganbench.evaluation.engine.evaluate`` puts them in order.

Reference features of datasets are cached on disk (FeatureCache, keyed by dataset identity, split,
n, subset seed and the extractor's name, weights and mode); generated sets never are.
Every score travels with its protocol: sample counts, split, extractor, preprocessing, k, KID
subsets, IS splits, bootstrap size (docs/reference.md section 6: unstored protocols make numbers
irreproducible).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganbench.data.base import Dataset
from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.evaluation.options import DEFAULT_BOOTSTRAP, DEFAULT_METRICS, EvalOptions
from ganbench.features.base import as_extractor, build_extractor, extract_features  # noqa: F401  (build_extractor: the engine's import)
from ganbench.metrics.fid import _fid_fast, _fid_for_bootstrap  # noqa: F401  (_fid_fast: tests)
from ganbench.metrics.spec import feature_metrics, pixel_metrics
from ganbench.registry import DATASETS, EXTRACTORS, METRICS

if TYPE_CHECKING:  # for the annotation; resolve_reference imports it when called
    from ganbench.refstats import ReferenceStats

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


# --------------------------------------------------------------------------------------------
# Names: metrics and extractors


def parse_image_metrics(spec: str | Sequence[str] | None) -> list[str]:
    """``"fid,kid"`` -> ["fid", "kid"]; unknown names fail with did-you-mean, non-image ones too."""
    if spec is None:
        return list(DEFAULT_METRICS)
    names = METRICS.parse_list(spec)  # unknown -> "unknown metric 'fdi'; did you mean 'fid'?"
    image_metrics = feature_metrics() + pixel_metrics()
    for n in names:
        if n not in image_metrics:
            raise GanbenchError(f"metric {n!r} is not computed by the image evaluator; it computes "
                                f"{', '.join(image_metrics)}")
    if not names:
        raise GanbenchError("no metrics given; image metrics: " + ", ".join(image_metrics))
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
    return extract_features(images, ext, batch_size=batch_size, device=device, progress=progress, total=total,
                            desc=desc)


def _as_images(x: Any, where: str) -> np.ndarray:
    from ganbench.data.images import to_uint8_nchw

    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return to_uint8_nchw(np.asarray(x), where)


def _is_generator(x: Any) -> bool:
    return callable(x) and hasattr(x, "z_dim") and not isinstance(x, (np.ndarray, torch.Tensor))


def reference_count(dataset: Dataset, n: int | None, split: str = "train") -> tuple[int, bool]:
    """(how many reference images of ``split`` are used, whether they are a seeded subset): all of
    them when ``n`` is None or larger. The one place that counts a dataset's images."""
    avail = dataset.size(split)
    if avail is None:  # drawn on demand: exactly n (no subset of a fixed set)
        if n is None:
            raise GanbenchError(f"dataset {dataset.name!r} is drawn on demand; give the number of reference samples")
        return int(n), False
    n_use = avail if n is None or n >= avail else int(n)
    return n_use, n_use < avail


def reference_features(dataset: Dataset, ext: Any, options: EvalOptions, n: int | None = None,
                       info: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Features of ``n`` reference images of ``dataset`` (all when n is None or larger; the subset
    drawn with ``options.ref_seed`` from ``options.split``), cached per ``options.cache``.

    Returns (features, protocol part: n_real, real_split, ref_seed, dataset_identity).
    """
    from ganbench.features.cache import FeatureCache

    if dataset.modality != "image":
        raise GanbenchError(f"dataset {dataset.name!r} holds {dataset.modality}s, not images")
    split, seed = options.split, options.ref_seed
    n_use, subset = reference_count(dataset, n, split)
    proto = {"n_real": n_use, "real_split": split, "ref_seed": seed if subset else None,
             "dataset_identity": dataset.identity()}
    key = {"dataset": dataset.name, "identity": dataset.identity(), "split": split, "n": n_use,
           "seed": seed if subset else None, **_extractor_key(ext)}

    def compute() -> dict[str, np.ndarray]:
        x, _ = dataset.reference(n_use, seed, split)
        return extract(x, ext, batch_size=options.batch_size, progress=options.progress,
                       desc=f"real images ({split})")

    t0 = time.perf_counter()
    if options.cache is False or options.cache is None:
        feats, hit = compute(), False
    else:
        fc = options.cache if isinstance(options.cache, FeatureCache) else FeatureCache()
        cached = fc.load(key)
        hit = cached is not None
        # a miss computes and stores (a miss again, by now)
        feats = cached if cached is not None else fc.get_or_compute(key, compute)
    if info is not None:
        info.update({"ref_features_s": round(time.perf_counter() - t0, 3), "ref_cache": "hit" if hit else "miss"})
    return feats, proto


def resolve_reference(ref: Any, data_dir: str | None = None) -> Dataset | np.ndarray | ReferenceStats:
    """A reference given as a Dataset, an image array, an image-set path or a dataset spec; statistics
    (a ReferenceStats or a statistics file) come back as they are."""
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
                          seed: int = 0, extractor: Any = None,
                          metric_options: Mapping[str, Mapping[str, Any]] | None = None,
                          ) -> tuple[dict[str, float], dict[str, Any]]:
    """Metric values and their protocol from real/fake feature dicts (pure: no images, no network).

    IS is left out of the values when the extractor has no logits; the protocol then carries
    ``is_unavailable`` with the reason (never approximated). ``n_boot`` half-samples (seeded by
    ``seed``) give each output's interval (metrics.stats.intervals; 0: none). ``metric_options``:
    per-metric parameters replacing the defaults (EvalOptions.metric_options).
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
        if spec.kind != "features":
            raise GanbenchError(f"metric {name!r} is computed from images, not features")
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
        # the values used are the values recorded
        params = spec.used_params(n_real, n_gen, (metric_options or {}).get(name))
        proto.update(spec.protocol_of(params))
        out = spec(r, f, **params)
        values.update(out)
        if ci.resamples and name in CI_OUTPUTS:
            try:
                # r is None for IS alone here (uses_real=False): it reads the generated set only.
                cis = intervals(_half_fn(name, spec, params), [f] if r is None else [r, f], out, ci, CI_BOUNDS)
            except GanbenchError as e:  # e.g. k-NN metrics on halves smaller than k + 1
                proto.setdefault("ci_unavailable", {})[name] = f"half-samples too small: {e}"
                cis = {}
            for k, (lo, hi) in cis.items():
                values[f"{k}_ci_low"], values[f"{k}_ci_high"] = lo, hi
        done.append(name)
    proto["metrics"] = done
    proto.update(ci.protocol() if ci.resamples else {"bootstrap": 0})
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
