"""Scoring one target ganbench did not necessarily train (``ganbench eval``): load it, run the engine,
return the record. The CLI parses the flags into a ``TargetSpec`` and ``EvalOptions``, calls
``evaluate_target`` and prints; every decision about what a target is and how many images it
gives lives here.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.evaluation.engine import Evaluation, evaluate, make_extractor
from ganbench.evaluation.images import resolve_reference
from ganbench.evaluation.options import CPU_DEFAULT_N, EvalOptions
from ganbench.records import ResultRecord
from ganbench.registry import METRICS

DEFAULT_N_GENERATOR = 10_000  # Lucic et al. 2018 compare 10k vs 10k (docs/reference.md section 2)
# Generator kinds that carry no dataset, so they cannot supply a default reference.
NO_DEFAULT_REF = ("samples", "torchscript", "safetensors", "entry-point")


@dataclass(frozen=True)
class TargetSpec:
    """What to score and, for a generator file, how to build it."""

    target: str
    ref: str | None = None              # None: a ganbench checkpoint's own dataset
    arch: str | None = None
    arch_options: Mapping[str, Any] = field(default_factory=dict)
    z_dim: int | None = None
    num_classes: int | None = None
    shape: str | None = None
    output_range: str | None = None
    name: str | None = None             # the record's model name
    preset_fields: Mapping[str, Any] = field(default_factory=dict)  # ganbench.presets.preset_fields
    recipe: str | None = None           # the recipe file naming a checkpoint's own networks (their code)


@dataclass
class Scored:
    """A scored target: the record and the evaluation it was built from (``warnings``: the loaders' own)."""

    record: ResultRecord
    evaluation: Evaluation
    warnings: list[str]


@dataclass
class _Loaded:
    fake: Any
    reference: Any
    ref: str
    model: str
    step: int
    seed: int
    provenance: dict[str, Any]


def default_n(device: Any, notify: Callable[[str], None]) -> int:
    """The protocol's count on a GPU; on a CPU a smaller stated count (the estimate says what -n N costs)."""
    if device.type == "cuda":
        return DEFAULT_N_GENERATOR
    notify(f"on a CPU -n defaults to {CPU_DEFAULT_N} generated images (the protocol's {DEFAULT_N_GENERATOR} is "
           f"the default on a GPU; pass -n {DEFAULT_N_GENERATOR} for it)")
    return CPU_DEFAULT_N


def _check_generator_memory(n: int, n_real: int | None, z_dim: int, shape: tuple, keep: bool) -> None:
    from ganbench.limits import check_memory

    # Latents (float32) and features (pool3 2048 + logits 1008, float32) per generated sample;
    # the generated images too when they are kept for --save-samples; reference features likewise.
    per = 4 * (z_dim + 2048 + 1008) + (int(np.prod(shape)) if keep and len(shape) == 3 else 0)
    check_memory(n * per + (n_real or n) * 4 * (2048 + 1008), f"-n {n}")


def _ref_shape(reference: Any) -> tuple[int, ...]:
    return tuple(reference.shape[1:]) if isinstance(reference, np.ndarray) else tuple(reference.shape)


def _load(spec: TargetSpec, options: EvalOptions, notify: Callable[[str], None]) -> tuple[_Loaded, EvalOptions]:
    """The target (images or a generator) and the resolved reference; a generator's default -n."""
    from ganbench.generators import loading

    kind = loading.target_kind(spec.target)
    build = {"arch": spec.arch, "z_dim": spec.z_dim, "num_classes": spec.num_classes,
             "output_range": spec.output_range, "arch_options": dict(spec.arch_options), "recipe": spec.recipe}
    loaded, ref = None, spec.ref
    if ref is None:
        if kind not in NO_DEFAULT_REF:
            loaded = loading.load_generator(spec.target, options.device, shape=spec.shape, **build)
        if loaded is None or loaded.dataset is None:
            raise GanbenchError("--ref REF is required: a dataset name or an image set to compare with")
        ref = loaded.dataset
    reference = resolve_reference(ref, options.data_dir)
    if kind == "samples":
        from ganbench.data.images import load_images
        from ganbench.io import sha256_file

        prov: dict[str, Any] = {"target": spec.target, "target_kind": "samples"}
        if Path(spec.target).is_file():
            prov["target_sha256"] = sha256_file(spec.target)
        name = Path(spec.target).name or spec.target
        return _Loaded(load_images(spec.target), reference, str(ref), name, 0, options.seed, prov), options
    if loaded is None:
        loaded = loading.load_generator(spec.target, options.device, shape=spec.shape or _ref_shape(reference),
                                         **build)
    g = loaded.generator
    if options.n_gen is None:
        options = options.replace(n_gen=default_n(options.device, notify))
    assert options.n_gen is not None  # given, or the default just set
    _check_generator_memory(options.n_gen, options.n_real, g.z_dim, _ref_shape(reference), options.keep_samples)
    seed = loaded.seed if loaded.seed is not None else options.seed
    return _Loaded(g, reference, str(ref), loaded.name, loaded.step, seed, dict(loaded.provenance)), options


def evaluate_target(spec: TargetSpec, options: EvalOptions, notify: Callable[[str], None] = lambda line: None,
                    estimate: Callable[[Any, Any, Any, EvalOptions], str] | None = None) -> Scored:
    """Load ``spec.target``, score it against its reference with ``options``, build its record.
    ``notify`` receives the lines said before the work (the default -n; with ``options.progress``,
    ``estimate(images or generator, reference, extractor, options)``, e.g. ganbench.estimate's)."""
    from ganbench.records import finite_metrics, provenance

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        t, options = _load(spec, options, notify)
        features = [m for m in options.metrics if METRICS.get(m).kind == "features"]
        ext = make_extractor(options, t.reference) if features else options.extractor  # nnd alone needs none
        if options.progress and estimate is not None and features:
            notify(estimate(t.fake, t.reference, ext, options))
        if options.progress and "nnd" in options.metrics:
            notify(_nnd_note(options))
        ev = evaluate(t.fake, t.reference, options.replace(extractor=ext))
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    ev.protocol.update({"ref": t.ref, **spec.preset_fields, "selection": "single evaluation"})
    dataset_name = t.ref if not Path(t.ref).exists() else Path(t.ref).name
    rec = ResultRecord(model=spec.name or t.model, dataset=dataset_name, seed=int(t.seed), step=int(t.step),
                       metrics=finite_metrics(ev.values), protocol=ev.protocol,
                       provenance=provenance(**t.provenance, **ev.info, wall_s=round(time.perf_counter() - t0, 3),
                                             device_used=str(options.device)),
                       kind="eval")
    return Scored(rec, ev, said)


def _nnd_note(options: EvalOptions) -> str:
    from ganbench.metrics.nnd import used_budget

    b = used_budget({**METRICS.get("nnd").params, **options.metric_options.get("nnd", {})})
    return (f"nnd trains a critic for {b.iters} iterations of batch {b.batch_size} (width {b.dim}) and scores "
            f"{b.eval_iters} batches: {b.source}; its 'cpu' budget takes about 10 minutes on one CPU core, the "
            "paper's days (a GPU job)")


def evaluate_over_seeds(spec: TargetSpec, options: EvalOptions, n_seeds: int, statistic: str,
                        notify: Callable[[str], None] = lambda line: None,
                        estimate: Callable[[Any, Any, Any, EvalOptions], str] | None = None) -> Scored:
    """A preset's statistic over evaluation seeds: the generator sampled with seeds ``options.seed``,
    ``options.seed + 1``, ... (``n_seeds`` evaluations), combined as the preset's sources report it:
    mimicry's mean ± std over evaluation seeds, EDM2's minimum (ganbench.presets). The record keeps
    every evaluation's values in its protocol (``per_eval_seed``). A sample set has no sampling
    seed: it is evaluated once, and its record says the statistic did not apply."""
    from ganbench.generators import loading
    from ganbench.presets import MEAN_EVAL, MIN_EVAL

    first = evaluate_target(spec, options, notify, estimate)
    if n_seeds <= 1 or statistic not in (MEAN_EVAL, MIN_EVAL):
        return first
    if loading.target_kind(spec.target) == "samples":
        first.record.protocol["selection_note"] = (f"a sample set has no sampling seed: one evaluation, not the "
                                                   f"preset's {statistic} ({n_seeds})")
        return first
    n_gen = first.record.protocol.get("n_gen", options.n_gen)
    runs = [first] + [evaluate_target(spec, options.replace(seed=options.seed + i, n_gen=n_gen))
                      for i in range(1, n_seeds)]
    records = [r.record for r in runs]
    seeds = [options.seed + i for i in range(n_seeds)]
    outputs = [k for k in records[0].metrics if not k.endswith(("_ci_low", "_ci_high", "_std"))]
    per_seed = {k: [r.metrics.get(k) for r in records] for k in outputs}
    if statistic == MIN_EVAL:
        rec = _min_over_seeds(records)
    else:
        rec = _mean_over_seeds(records, outputs)
    rec.protocol.update({"eval_seeds": seeds, "per_eval_seed": per_seed})
    return Scored(rec, runs[0].evaluation, [w for r in runs for w in r.warnings])


def _min_over_seeds(records: list[ResultRecord]) -> ResultRecord:
    from ganbench.metrics.spec import direction
    from ganbench.selection import min_over_eval_seeds

    judged = [k for k in records[0].metrics if direction(k) in ("lower", "higher")]
    if not judged:
        raise GanbenchError("no metric with a direction to take the minimum over evaluation seeds of")
    key = judged[0]  # the preset's own metric comes first (fd for fd_dinov2_50k_train)
    return min_over_eval_seeds(records, key, lower_is_better=direction(key) == "lower")


def _mean_over_seeds(records: list[ResultRecord], outputs: list[str]) -> ResultRecord:
    import dataclasses

    metrics: dict[str, float | None] = {}
    for k in outputs:
        vals = np.array([r.metrics[k] for r in records if r.metrics.get(k) is not None], dtype=float)
        if len(vals) == len(records):
            metrics[k] = float(vals.mean())
            metrics[f"{k}_std"] = float(vals.std(ddof=1))
    # The per-evaluation intervals describe one evaluation, not this mean: the spread is the std.
    proto = {k: v for k, v in records[0].protocol.items() if not k.startswith("ci_")}
    proto.update({"selection": f"mean ± std over {len(records)} evaluation seeds",
                  "selection_evaluations": len(records)})
    return dataclasses.replace(records[0], metrics=metrics, protocol=proto)
