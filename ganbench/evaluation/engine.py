"""The one evaluation engine: ``evaluate(source, reference, options) -> Evaluation(values, protocol)``.

``ganbench eval``, the Python API, training-time evaluation (``ganbench.evaluation.training``) and
the suite all call it, so a number means the same wherever it was computed. The order of work:
reference resolved (a bad REF fails before minutes of features), extractor built, generated
features, reference features (cached for datasets), metrics over features with their protocol.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.data.base import Dataset
from ganbench.errors import GanbenchError
from ganbench.evaluation.against_stats import check_stats, score_stats
from ganbench.evaluation.images import (
    _as_images,
    _is_generator,
    build_extractor,
    compute_image_metrics,
    extract,
    extractor_protocol,
    parse_image_metrics,
    reference_features,
    resolve_reference,
)
from ganbench.evaluation.options import EvalOptions
from ganbench.features.base import as_extractor
from ganbench.generators import sample
from ganbench.refstats import ReferenceStats
from ganbench.registry import METRICS

CLASS_SAMPLING = "even: sample i gets label i mod num_classes (ganbench.generators.class_labels)"


@dataclass
class Evaluation:
    """What one evaluation gives: metric values (intervals as ``<name>_ci_low/_ci_high``) and the
    protocol that makes them comparable. ``info`` holds timings and cache hits (not protocol);
    ``samples`` the generated uint8 images when ``EvalOptions.keep_samples`` asked for them."""

    values: dict[str, float]
    protocol: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    samples: np.ndarray | None = None


@dataclass
class Reference:
    """Reference features with their protocol part, computed once and reusable across evaluations
    (training evaluates the same reference at every step). ``source``: the Dataset or image array
    they came from, for the metrics that read images (nnd)."""

    features: dict[str, np.ndarray]
    protocol: dict[str, Any]
    source: Any = None


@dataclass
class _Generated:
    features: dict[str, np.ndarray]
    protocol: dict[str, Any]
    samples: np.ndarray | None


def make_extractor(options: EvalOptions, reference: Any = None) -> Any:
    """``options.extractor`` as an object: a registered name is built with the options' mode, weights
    and device (and the reference dataset, for extractors built for one dataset)."""
    if not isinstance(options.extractor, str):
        return as_extractor(options.extractor)
    return build_extractor(options.extractor, mode=options.mode, weights=options.weights, device=options.device,
                           data_dir=options.data_dir, dataset=reference if isinstance(reference, Dataset) else None)


def _generator_features(g: Any, ext: Any, options: EvalOptions) -> _Generated:
    n = options.n_gen
    if n is None:
        raise GanbenchError("give the number of samples to draw from a generator (-n)")
    num_classes = int(getattr(g, "num_classes", 0) or 0)
    proto: dict[str, Any] = {"n_gen": n, "sample_seed": options.seed, "z_dim": int(g.z_dim),
                             "num_classes": num_classes}
    # Probe with two samples: a wrong --z-dim or output fails now, not inside the progress bar.
    probe, _ = next(sample(g, min(n, 2), options.seed, batch_size=2, images=True))
    if probe.dim() != 4:
        raise GanbenchError(f"the generator returned shape {tuple(probe.shape)}; expected images N,C,H,W")
    if num_classes:
        proto["class_sampling"] = CLASS_SAMPLING
    kept: list[np.ndarray] = []

    def batches() -> Iterable[torch.Tensor]:
        for x, _ in sample(g, n, options.seed, batch_size=options.batch_size, images=True):
            if options.keep_samples:
                kept.append(x.numpy())
            yield x

    feats = extract(batches(), ext, batch_size=options.batch_size, progress=options.progress, total=n,
                    desc="generated images")
    return _Generated(feats, proto, np.concatenate(kept) if kept else None)


def _set_features(images: Any, ext: Any, options: EvalOptions) -> _Generated:
    from ganbench.features.cache import array_fingerprint

    x = _as_images(images, "generated images")
    if options.n_gen is not None:
        if options.n_gen > len(x):
            raise GanbenchError(f"-n {options.n_gen} asks for more images than the {len(x)} given")
        x = x[:options.n_gen]
    feats = extract(x, ext, batch_size=options.batch_size, progress=options.progress, desc="generated images")
    return _Generated(feats, {"n_gen": len(x), "samples_sha256": array_fingerprint(x)},
                      x if options.keep_samples else None)


def generated_features(source: Any, ext: Any, options: EvalOptions) -> _Generated:
    """Features of the generated set: ``options.n_gen`` draws of a generator, or the first
    ``options.n_gen`` images of an array."""
    return _generator_features(source, ext, options) if _is_generator(source) else _set_features(source, ext, options)


def prepare_reference(reference: Any, ext: Any, options: EvalOptions, n: int | None = None,
                      info: dict[str, Any] | None = None) -> Reference:
    """Features of a resolved reference: a Dataset (``n`` images of ``options.split``, all when n is
    None, seeded subset, cached) or an image array (its first ``n``, all when None)."""
    from ganbench.features.cache import array_fingerprint

    if isinstance(reference, Dataset):
        feats, proto = reference_features(reference, ext, options, n, info)
        return Reference(feats, {"ref": reference.name, **proto}, reference)
    x = reference
    if n is not None:
        if n > len(x):
            raise GanbenchError(f"--n-real {n} asks for more images than the {len(x)} in the reference set")
        x = x[:n]
    t1 = time.perf_counter()
    feats = extract(x, ext, batch_size=options.batch_size, progress=options.progress, desc="real images")
    if info is not None:
        info.update(ref_features_s=round(time.perf_counter() - t1, 3), ref_cache="off")
    return Reference(feats, {"ref": "array", "n_real": len(x), "real_split": None, "ref_seed": None,
                             "dataset_identity": "images:" + array_fingerprint(x)[:16]}, reference)


def evaluate(source: Any, reference: Any, options: EvalOptions = EvalOptions()) -> Evaluation:
    """Score ``source`` against ``reference``.

    source: uint8 images (N,C,H,W or N,H,W,C array/tensor) or a Generator (``options.n_gen``
      samples drawn with ``options.seed``, conditional ones evenly per class).
    reference: a Dataset, a dataset spec ("cifar10", "npz:PATH"), an image-set path, an array,
      statistics (ReferenceStats or a stats file), or a ``Reference`` prepared before (then
      ``options.extractor`` must be the extractor object it was computed with).
    Metrics read from images (nnd) are computed after the feature metrics; with only those, no
    extractor is built.
    """
    from ganbench.evaluation.pixels import image_source, pixel_metrics

    names = parse_image_metrics(options.metrics)
    pixels = [n for n in names if METRICS.get(n).kind == "pixels"]
    ref = reference if isinstance(reference, Reference) else resolve_reference(reference, options.data_dir)
    for name, opts in options.metric_options.items():  # a bad option fails before minutes of features
        METRICS.get(name).used_params(2, 2, opts)
    for name in pixels:  # so does a reference without images
        image_source(ref, name)
    if len(pixels) == len(names):
        info: dict[str, Any] = {}
        values, proto = pixel_metrics(source, ref, pixels, options, info)
        named = str(reference) if isinstance(reference, (str, Path)) else "array"
        head = {"metrics_requested": names, "ref": getattr(ref, "name", None) or named}
        return Evaluation(values, {**head, **proto, "metrics": pixels}, info)
    features = tuple(n for n in names if n not in pixels)
    ev = _feature_evaluation(source, reference, ref, options.replace(
        metrics=features, metric_options={k: v for k, v in options.metric_options.items() if k in features}))
    ev.protocol["metrics_requested"] = names
    if pixels:
        values, proto = pixel_metrics(source, ref, pixels, options, ev.info)
        ev.values.update(values)
        ev.protocol.update({**{k: v for k, v in proto.items() if k not in ev.protocol},
                            "metrics": [*ev.protocol.get("metrics", []), *pixels]})
    return ev


def _feature_evaluation(source: Any, reference: Any, ref: Any, options: EvalOptions) -> Evaluation:
    """The feature metrics of ``options.metrics``: extractor, generated and reference features, values."""
    info: dict[str, Any] = {}
    names = list(options.metrics)
    ext = make_extractor(options, ref)
    stats = isinstance(ref, ReferenceStats)
    if stats:  # check its protocol before minutes of features
        check_stats(ref, ext, names)
    t0 = time.perf_counter()
    gen = generated_features(source, ext, options)
    info["fake_features_s"] = round(time.perf_counter() - t0, 3)
    head = {"metrics_requested": names, **gen.protocol}
    if stats:
        values, mproto, ref_proto = score_stats(ref, gen.features, names, ext, n_boot=options.n_boot,
                                                seed=options.seed)
        protocol = {**head, "ref": ref.path or str(reference), **ref_proto, **extractor_protocol(ext), **mproto}
        return Evaluation(values, protocol, info, gen.samples)
    if not isinstance(ref, Reference):
        # A dataset gives as many images as were generated unless told; an image set all of its own.
        n_real = options.n_real if options.n_real is not None or not isinstance(ref, Dataset) else gen.protocol["n_gen"]
        ref = prepare_reference(ref, ext, options, n_real, info)
        if isinstance(reference, (str, Path)) and ref.protocol["ref"] == "array":
            ref.protocol["ref"] = str(reference)
    values, mproto = compute_image_metrics(ref.features, gen.features, names, n_boot=options.n_boot,
                                           seed=options.seed, extractor=ext, metric_options=options.metric_options)
    protocol = {**head, **ref.protocol, **extractor_protocol(ext), **mproto}
    return Evaluation(values, protocol, info, gen.samples)
