"""The only orchestrator of evaluation: generator -> samples -> features -> metrics.

``make_evaluator`` returns a callable that scores a generator at one training step and carries
its protocol (sample counts, seeds, rules), so every record describes how it was computed.
"""

from __future__ import annotations

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
    """Mode coverage of a generator on a mixture of Gaussians (REFERENCE.md section 4)."""

    dataset: MixtureOfGaussians
    n_gen: int
    seed: int
    rule: str = "3sigma"  # the papers' rule by default: these numbers are compared with PacGAN/VEEGAN
    protocol: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.protocol = {"metrics": ["modes"], "n_gen": self.n_gen, "sample_seed": self.seed,
                         **mode_protocol(self.dataset.centers, self.dataset.sigma, rule=self.rule)}

    def samples(self, g: Generator) -> np.ndarray:
        x, _ = sample_all(g, self.n_gen, self.seed, batch_size=self.n_gen)
        return x

    def __call__(self, g: Generator) -> dict[str, float]:
        return mode_metrics(self.samples(g), self.dataset.centers, self.dataset.sigma, rule=self.rule)


# Image evaluation registers a factory here (ganbench.evaluate_images), keeping this module light.
IMAGE_EVALUATOR: dict[str, Callable[..., Any]] = {}


def eval_seed(run_seed: int) -> int:
    """Evaluation draws use a seed derived from, but distinct from, the training seed."""
    return 10_000 + run_seed


def make_evaluator(dataset: Dataset, budget: Budget, seed: int, **options: Any) -> Callable[[Generator], dict]:
    if isinstance(dataset, MixtureOfGaussians):
        return VectorEvaluator(dataset, budget.n_eval, eval_seed(seed), options.get("hq_rule", budget.hq_rule))
    if dataset.modality == "image":
        if "factory" not in IMAGE_EVALUATOR:
            import ganbench.evaluate_images  # noqa: F401  (registers the factory)
        return IMAGE_EVALUATOR["factory"](dataset, budget, eval_seed(seed), **{"split": budget.split, **options})
    raise ValueError(f"no evaluator for {dataset.modality} data")
