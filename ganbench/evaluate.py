"""The only orchestrator of evaluation: generator -> samples -> features -> metrics.

``make_evaluator`` returns a callable that scores a generator at one training step and carries
its protocol (sample counts, seeds, rules), so every record describes how it was computed.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ganbench.config import Budget
from ganbench.data.base import Dataset
from ganbench.data.mog import MixtureOfGaussians
from ganbench.generators import Generator, sample_all
from ganbench.metrics.modes import mode_metrics, mode_protocol


@dataclass
class VectorEvaluator:
    """Mode coverage of a generator on a mixture of Gaussians (docs/reference.md section 4)."""

    dataset: MixtureOfGaussians
    n_gen: int
    seed: int
    resamples: int = 50  # half-samples for the evaluation-spread intervals (metrics.stats.intervals)
    rule: str = "3sigma"  # the papers' rule by default: these numbers are compared with PacGAN/VEEGAN
    protocol: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        from ganbench.metrics.stats import IntervalSpec

        self.ci = IntervalSpec(self.resamples, seed=self.seed)
        self.protocol = {"metrics": ["modes"], "n_gen": self.n_gen, "sample_seed": self.seed,
                         **mode_protocol(self.dataset.centers, self.dataset.sigma, rule=self.rule),
                         **(self.ci.protocol() if self.resamples else {"bootstrap": 0})}

    def samples(self, g: Generator) -> np.ndarray:
        x, _ = sample_all(g, self.n_gen, self.seed, batch_size=self.n_gen)
        return x

    def __call__(self, g: Generator) -> dict[str, float]:
        from ganbench.metrics.stats import intervals

        x = self.samples(g)
        c, s = self.dataset.centers, self.dataset.sigma
        values = mode_metrics(x, c, s, rule=self.rule)
        if self.resamples:
            bounds = {"hq_share": (0.0, 1.0), "modes": (0.0, float(len(c))), "reverse_kl": (0.0, np.inf)}
            cis = intervals(lambda h: mode_metrics(h, c, s, rule=self.rule), [x], values, self.ci, bounds)
            for k, (lo, hi) in cis.items():
                values[f"{k}_ci_low"], values[f"{k}_ci_high"] = lo, hi
        return values


# Image evaluation registers a factory here (ganbench.evaluate_images), keeping this module light.
IMAGE_EVALUATOR: dict[str, Callable[..., Any]] = {}


def eval_seed(run_seed: int) -> int:
    """Evaluation draws use a seed derived from, but distinct from, the training seed."""
    return 10_000 + run_seed


def make_evaluator(dataset: Dataset, budget: Budget, seed: int, **options: Any) -> Callable[[Generator], dict]:
    if isinstance(dataset, MixtureOfGaussians):
        return VectorEvaluator(dataset, budget.n_eval, eval_seed(seed), rule=options.get("hq_rule", budget.hq_rule))
    if dataset.modality == "image":
        if "factory" not in IMAGE_EVALUATOR:
            import ganbench.evaluate_images  # noqa: F401  (registers the factory)
        return IMAGE_EVALUATOR["factory"](dataset, budget, eval_seed(seed), **{"split": budget.split, **options})
    raise ValueError(f"no evaluator for {dataset.modality} data")


class _CallableModule(types.ModuleType):
    """Once imported, this module is the package attribute ``ganbench.evaluate``, which is also the
    name of the Python API; calling the module calls the API (``ganbench.api.evaluate``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from ganbench.api import evaluate

        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
