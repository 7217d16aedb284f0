"""Training-time evaluation: thin adapters that score a generator at one step.

``make_evaluator(dataset, budget, seed, ...)`` returns a ``VectorEvaluator`` (mode coverage on a
mixture of Gaussians) or an ``ImageEvaluator`` (the engine, ``ganbench.evaluation.evaluate``, with
the budget's counts and the reference features kept between steps). Both answer
``evaluate(g) -> Evaluation``: the values travel with the protocol they were computed under, so
the trainer never reads a protocol that changes after it was handed over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.config import Budget
from ganbench.data.base import Dataset
from ganbench.data.mog import MixtureOfGaussians
from ganbench.errors import GanbenchError
from ganbench.evaluation.engine import Evaluation, Reference, evaluate, make_extractor, prepare_reference
from ganbench.evaluation.images import extract, extractor_protocol, parse_image_metrics, reference_count, \
    resolve_features
from ganbench.evaluation.options import DEFAULT_BOOTSTRAP, DEFAULT_METRICS, REF_SEED, EvalOptions
from ganbench.features.base import as_extractor
from ganbench.generators import Generator, sample, sample_all
from ganbench.metrics.modes import mode_metrics, mode_protocol
from ganbench.registry import METRICS

# At most this many final samples are kept by ImageEvaluator.samples (the suite saves them for plots).
SAVE_SAMPLES = 1024
# Stacked datasets: 1000-mode coverage is added to every evaluation (docs/reference.md section 4).
STACKED = ("stacked-mnist", "stacked-fashion-mnist")
# Memorisation at the end of a run compares the final samples with at most this many training
# images (seeded subset, REF_SEED): NN search and k-means stay seconds on CPU; copies of images
# outside the subset are missed, which the protocol's n_train says.
MEMO_N_TRAIN = 10_000


def eval_seed(run_seed: int) -> int:
    """Evaluation draws use a seed derived from, but distinct from, the training seed."""
    return 10_000 + run_seed


@dataclass
class VectorEvaluator:
    """Mode coverage of a generator on a mixture of Gaussians (docs/reference.md section 4), and the
    classifier two-sample test on the raw vectors when ``extra`` names ``c2st``."""

    dataset: MixtureOfGaussians
    n_gen: int
    seed: int
    resamples: int = 50  # half-samples for the evaluation-spread intervals (metrics.stats.intervals)
    rule: str = "3sigma"  # the papers' rule by default: these numbers are compared with PacGAN/VEEGAN
    extra: tuple[str, ...] = ()  # metrics besides modes: only "c2st" reads raw vectors
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_real: int | None = None  # real draws for c2st (None: n_gen)
    protocol: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        from ganbench.metrics.stats import IntervalSpec

        self.ci = IntervalSpec(self.resamples, seed=self.seed)
        self.protocol = {"metrics": ["modes"], "n_gen": self.n_gen, "sample_seed": self.seed,
                         **mode_protocol(self.dataset.centers, self.dataset.sigma, rule=self.rule),
                         **(self.ci.protocol() if self.resamples else {"bootstrap": 0})}
        unknown = [m for m in self.extra if m != "c2st"]
        if unknown:
            raise GanbenchError(f"the mixture evaluator computes modes and c2st on raw vectors, not "
                                f"{', '.join(unknown)}")
        if self.extra:
            n_real = self.n_real or self.n_gen
            self.c2st_params = METRICS.get("c2st").used_params(n_real, self.n_gen, self.metric_options.get("c2st"))
            self.protocol.update({"metrics": ["modes", "c2st"], "n_real": n_real, "real_seed": REF_SEED,
                                  **METRICS.get("c2st").protocol_of(self.c2st_params)})

    def samples(self, g: Generator) -> np.ndarray:
        x, _ = sample_all(g, self.n_gen, self.seed, batch_size=self.n_gen)
        return x

    def evaluate(self, g: Generator) -> Evaluation:
        from ganbench.metrics.stats import intervals

        x = self.samples(g)
        c, s = self.dataset.centers, self.dataset.sigma
        values = mode_metrics(x, c, s, rule=self.rule)
        if self.resamples:
            bounds = {"hq_share": (0.0, 1.0), "modes": (0.0, float(len(c))), "reverse_kl": (0.0, np.inf)}
            cis = intervals(lambda h: mode_metrics(h, c, s, rule=self.rule), [x], values, self.ci, bounds)
            for k, (lo, hi) in cis.items():
                values[f"{k}_ci_low"], values[f"{k}_ci_high"] = lo, hi
        if self.extra:  # fresh real draws with a fixed seed: every step is compared with the same set
            real, _ = self.dataset.reference(self.protocol["n_real"], REF_SEED)
            values.update(METRICS.get("c2st")(real, x, **self.c2st_params))
        return Evaluation(values, dict(self.protocol))

    def __call__(self, g: Generator) -> dict[str, float]:
        return self.evaluate(g).values


class ImageEvaluator:
    """Scores a generator at one training step: ``options.n_gen`` samples vs ``options.n_real``
    images of the dataset, through the engine.

    The extractor is built at construction (a missing weights file fails before training starts);
    reference features are computed on the first call, then kept in memory and in the feature cache.
    ``protocol`` is the last evaluation's (before any, what is known already); records take theirs
    from ``evaluate(g)``.
    """

    def __init__(self, dataset: Dataset, options: EvalOptions, preset: str = "") -> None:
        if dataset.modality != "image":
            raise GanbenchError(f"ImageEvaluator needs an image dataset, got {dataset.modality} data")
        data_dir = options.data_dir
        if data_dir is None and Path(getattr(dataset, "source", "") or "/nonexistent").is_dir():
            data_dir = dataset.source  # where the dataset's files were found (for dataset-bound extractors)
        parse_image_metrics(options.metrics)  # a bad name fails before training, not at the first evaluation
        self.dataset = dataset
        self.ext = make_extractor(options.replace(data_dir=data_dir), dataset)
        self.options = options.replace(extractor=self.ext, data_dir=data_dir)
        self._reference: Reference | None = None
        self._last: Evaluation | None = None
        self.info: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}  # protocol parts of this adapter: stacked modes, preset
        self.stacked_clf = None
        if dataset.name in STACKED:  # trained/loaded now, so a missing base dataset fails before training
            from ganbench.features.classifier import get_classifier
            from ganbench.metrics.stacked import stacked_protocol

            self.stacked_clf = get_classifier(dataset.name, data_dir, progress=options.progress)
            self.extra.update(stacked_protocol(self.stacked_clf))
        from ganbench.presets import training_preset

        name = options.extractor if isinstance(options.extractor, str) else as_extractor(self.ext).name
        self.extra.update(training_preset(preset, self.n_gen, self.n_real, options.split, name, options.mode))

    @property
    def n_gen(self) -> int:
        return int(self.options.n_gen)

    @property
    def n_real(self) -> int:
        return reference_count(self.dataset, self.options.n_real, self.options.split)[0]

    @property
    def n_boot(self) -> int:
        return self.options.n_boot

    @property
    def seed(self) -> int:
        return self.options.seed

    @property
    def protocol(self) -> dict[str, Any]:
        if self._last is not None:
            return self._last.protocol
        o = self.options
        n_use, subset = reference_count(self.dataset, o.n_real, o.split)
        return {"metrics_requested": list(o.metrics), "n_gen": self.n_gen, "n_real": n_use, "real_split": o.split,
                "ref_seed": o.ref_seed if subset else None, "sample_seed": o.seed, "ref": self.dataset.name,
                **extractor_protocol(self.ext), "bootstrap": o.n_boot, **self.extra}

    def reference(self) -> Reference:
        if self._reference is None:
            self._reference = prepare_reference(self.dataset, self.ext, self.options, self.options.n_real, self.info)
        return self._reference

    def evaluate(self, g: Generator) -> Evaluation:
        options = self.options.replace(keep_samples=self.stacked_clf is not None)
        ev = evaluate(g, self.reference(), options)
        self.info.update(ev.info)
        if self.stacked_clf is not None:
            from ganbench.metrics.stacked import stacked_mode_metrics

            ev.values.update(stacked_mode_metrics(ev.samples, self.dataset.name, self.options.data_dir,
                                                  classifier=self.stacked_clf))
            ev.protocol["metrics"] = [*ev.protocol["metrics"], "stacked_modes"]
        ev.protocol.update({k: v for k, v in self.extra.items() if k not in ev.protocol})
        ev.samples = None
        self._last = ev
        return ev

    def __call__(self, g: Generator) -> dict[str, float]:
        return self.evaluate(g).values

    def samples(self, g: Generator, n: int | None = None) -> np.ndarray:
        """The first min(n_gen, SAVE_SAMPLES) evaluation samples as uint8 NCHW (same z as the evaluation)."""
        n = min(self.n_gen, SAVE_SAMPLES) if n is None else n
        return np.concatenate([x.numpy() for x, _ in sample(g, n, self.seed, batch_size=self.options.batch_size,
                                                             images=True)])

    def memorization(self, g: Generator, grid_path: str | Path | None = None,
                     n_train: int = MEMO_N_TRAIN) -> tuple[dict[str, float], dict[str, Any]]:
        """Memorisation of the final generator (docs/reference.md section 5); see ``memorization``."""
        return memorization(self, g, grid_path, n_train)


def memorization(ev: ImageEvaluator, g: Generator, grid_path: str | Path | None,
                 n_train: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Copy share and NN distances against a train subset, C_T against the test split, in pixel
    space and, when the run's extractor is the cheap domain CNN, in its feature space (Inception
    features are skipped here for cost). Writes ``grid_path`` (nearest training images).
    Returns (metrics, protocol)."""
    from ganbench.metrics.memorization import MemoOptions, memorization_metrics, memorization_protocol

    seed = ev.options.ref_seed
    gen = ev.samples(g, ev.n_gen)
    n_use, subset = reference_count(ev.dataset, n_train, "train")
    train, _ = ev.dataset.reference(n_use, seed, "train")
    proto: dict[str, Any] = {"n_gen": len(gen), "sample_seed": ev.seed, "n_train": len(train),
                             "train_split": "train", "train_subset_seed": seed if subset else None,
                             "dataset_identity": ev.dataset.identity()}
    try:
        test, _ = ev.dataset.reference(None, seed, "test")
    except GanbenchError as e:
        test = None
        proto["ct_unavailable"] = f"no held-out split: {e}"
    feats: dict[str, Any] = {}
    if getattr(ev.ext, "name", "").startswith("domain-cnn"):  # cheap features (~ms per 1k images)
        def f(x: np.ndarray) -> np.ndarray:
            return extract(x, ev.ext, batch_size=256, progress=False)["pool3"]

        feats = {"gen_feats": f(gen), "train_feats": f(train)}
        if test is not None:
            feats["test_feats"] = f(test)
        proto["feature_space"] = ev.ext.name
    else:
        proto["feature_space"] = None
        proto["feature_space_skipped"] = f"{getattr(ev.ext, 'name', ev.ext)} features are too costly here"
    options = MemoOptions(n_self=min(2000, len(train) - 1), k_cells=min(50, len(train)), seed=seed)
    values = memorization_metrics(gen, train, test, options=options, **feats)
    if grid_path is not None:
        write_nn_grid(gen, train, grid_path)
    ct_space = "features" if "test_feats" in feats else ("pixels" if test is not None else "none")
    proto.update(memorization_protocol(options, ct_space=ct_space))
    proto["metrics"] = ["memorization"]
    if test is not None:
        proto.update(heldout_split="test", n_heldout=len(test))
    return values, proto


def write_nn_grid(gen: np.ndarray, train: np.ndarray, path: str | Path, n: int = 16, k: int = 3) -> Path:
    """The memorisation picture: each of the first ``n`` samples beside its ``k`` nearest training images."""
    from ganbench.metrics.memorization import nearest_neighbours
    from ganbench.pictures import nn_grid  # PIL, loaded only when a picture is asked for

    g = np.asarray(gen)[:n]
    idx, _ = nearest_neighbours(g, train, k=k)
    return nn_grid(g, train, idx, path, n=n)


def image_options(dataset: Dataset, budget: Budget, seed: int, **options: Any) -> EvalOptions:
    """The EvalOptions of training-time evaluation: budget.n_eval samples vs budget.n_real train
    images, the budget's extractor ("auto": the domain CNN where the dataset has one) and bootstrap.

    Options: extractor (a registered name or an extractor object), mode, weights, metrics, n_boot,
    batch_size, device, progress, split, cache, data_dir. None values mean "the default"."""
    options = {k: v for k, v in options.items() if v is not None}
    ext = options.pop("extractor", None) or getattr(budget, "features", None)
    if ext is None or isinstance(ext, str):
        ext = resolve_features(ext, dataset)
    extra = tuple(getattr(budget, "extra_metrics", ()) or ())
    if extra:  # only then: a budget without them gives the options (and records) it always gave
        base = tuple(options.pop("metrics", DEFAULT_METRICS))
        options["metrics"] = base + tuple(m for m in extra if m not in base)
        options["metric_options"] = {**getattr(budget, "metric_options", {}), **options.get("metric_options", {})}
    return EvalOptions(n_gen=budget.n_eval, n_real=budget.n_real, seed=seed, extractor=ext,
                       split=options.pop("split", budget.split), progress=options.pop("progress", False),
                       n_boot=options.pop("n_boot", getattr(budget, "n_boot", DEFAULT_BOOTSTRAP)), **options)


def make_evaluator(dataset: Dataset, budget: Budget, seed: int, **options: Any) -> VectorEvaluator | ImageEvaluator:
    """The evaluator of one training run with seed ``seed`` (evaluation draws use ``eval_seed(seed)``)."""
    if isinstance(dataset, MixtureOfGaussians):
        return VectorEvaluator(dataset, budget.n_eval, eval_seed(seed), rule=options.get("hq_rule", budget.hq_rule),
                               extra=tuple(getattr(budget, "extra_metrics", ()) or ()),
                               metric_options=dict(getattr(budget, "metric_options", {}) or {}),
                               n_real=budget.n_real)
    if dataset.modality == "image":
        return ImageEvaluator(dataset, image_options(dataset, budget, eval_seed(seed), **options),
                              getattr(budget, "preset", ""))
    raise ValueError(f"no evaluator for {dataset.modality} data")


__all__ = ["ImageEvaluator", "MEMO_N_TRAIN", "REF_SEED", "SAVE_SAMPLES", "STACKED", "VectorEvaluator",
           "eval_seed", "image_options", "make_evaluator", "memorization"]
