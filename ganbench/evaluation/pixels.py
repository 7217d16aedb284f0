"""Metrics the engine computes from images rather than features (``MetricSpec.kind == "pixels"``: nnd).

Such a metric reads two pools of real images, one its critic trains on and one held out for its
score, and the generated side as given: a generator (drawn afresh as often as the metric needs) or
an image set. ``ganbench.evaluation.engine.evaluate`` calls ``pixel_metrics`` after the feature
metrics (or alone, with no extractor built, when only pixel metrics were asked for).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ganbench.data.base import Dataset
from ganbench.errors import GanbenchError
from ganbench.evaluation.options import EvalOptions
from ganbench.metrics.nnd import halves
from ganbench.registry import METRICS


def image_source(ref: Any, name: str) -> Dataset | np.ndarray:
    """The images behind a resolved reference (a Dataset or a uint8 array), else a one-line error."""
    source = getattr(ref, "source", None) if not isinstance(ref, (Dataset, np.ndarray)) else ref
    if hasattr(ref, "score") or source is None:  # ReferenceStats, or a Reference without its images
        where = getattr(ref, "path", None) or "the reference"
        raise GanbenchError(f"{name} needs real images; {where} holds only feature statistics")
    if isinstance(source, Dataset) and source.modality != "image":
        raise GanbenchError(f"{name} trains a convolutional critic on images; dataset {source.name!r} holds "
                            f"{source.modality}s")
    return source


def real_pools(ref: Any, critic_split: str, eval_split: str, seed: int,
               name: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(critic images, held-out images, their protocol) from a resolved reference: a Dataset gives its
    two splits (disjoint seeded halves when both name the same split); an image array its two halves."""
    source = image_source(ref, name)
    if isinstance(source, np.ndarray):
        a, b = halves(source, seed)
        return a, b, {f"{name}_real": f"the reference image set in two seeded halves of {len(a)} and {len(b)}"}
    try:
        if critic_split == eval_split:
            a, b = halves(source.reference(None, seed, critic_split)[0], seed)
            said = f"{source.name} {critic_split} split in two seeded halves of {len(a)} and {len(b)}"
        else:
            a, b = source.reference(None, seed, critic_split)[0], source.reference(None, seed, eval_split)[0]
            said = f"critic on {source.name} {critic_split} ({len(a)}), held out: {eval_split} ({len(b)})"
    except GanbenchError as e:
        raise GanbenchError(f"{name} needs its critic's and its held-out real images: {e}") from None
    return a, b, {f"{name}_real": said, "dataset_identity": source.identity()}


def _generated(source: Any, options: EvalOptions) -> tuple[Any, str]:
    from ganbench.evaluation.images import _as_images, _is_generator

    if _is_generator(source):
        return source, "a generator: fresh latents for every batch (training and evaluation draws independent)"
    x = _as_images(source, "generated images")
    if options.n_gen is not None:
        if options.n_gen > len(x):
            raise GanbenchError(f"-n {options.n_gen} asks for more images than the {len(x)} given")
        x = x[:options.n_gen]
    return x, f"an image set of {len(x)} in two seeded halves (critic training, evaluation)"


def pixel_metrics(source: Any, ref: Any, names: Sequence[str], options: EvalOptions,
                  info: dict[str, Any] | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Values and protocol of the pixel metrics ``names`` of ``source`` against the resolved ``ref``."""
    values: dict[str, float] = {}
    proto: dict[str, Any] = {}
    fake, fake_said = _generated(source, options)
    overrides: Mapping[str, Mapping[str, Any]] = options.metric_options
    for name in names:
        spec = METRICS.get(name)
        t0 = time.perf_counter()
        params = spec.used_params(0, 0, overrides.get(name))
        real_a, real_b, real_proto = real_pools(ref, params["critic_split"], params["eval_split"],
                                                int(params["seed"]), name)
        values.update(spec((real_a, real_b), fake, device=options.device, progress=options.progress, **params))
        proto.update({**spec.protocol_of(params), **real_proto, f"{name}_generated": fake_said})
        if info is not None:
            info[f"{name}_s"] = round(time.perf_counter() - t0, 3)
    return values, proto
