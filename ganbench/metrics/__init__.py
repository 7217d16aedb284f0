"""Metric math over features, registered in ``ganbench.registry.METRICS``.

Every entry is a MetricSpec: which extractor outputs it needs, which of its outputs are better
when higher, its default parameters (recorded with every score as protocol, docs/design.md
convention 2) and ``compute(real, fake, **params) -> {output: value}``. Only this package's own
modules are imported here; modes and memorisation register themselves from their own modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ganbench.metrics import fid, inception_score, kid, prdc, stats
from ganbench.registry import METRICS

__all__ = ["MetricSpec", "fid", "inception_score", "kid", "prdc", "stats"]


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: what it reads, what it returns, and how to compute it."""

    name: str
    needs: tuple[str, ...]                 # extractor outputs: "pool3" (2048-d) or "logits" (1008)
    higher_is_better: Mapping[str, bool]   # one entry per output key
    compute: Callable[..., dict[str, float]]
    params: Mapping[str, Any] = field(default_factory=dict)
    help: str = ""
    uses_real: bool = True                 # False: only the generated set is read (IS)

    def __call__(self, real: np.ndarray | None, fake: np.ndarray, **params: Any) -> dict[str, float]:
        return self.compute(real, fake, **{**self.params, **params})


def _fid(real, fake) -> dict[str, float]:
    return {"fid": fid.fid_from_features(real, fake)}


def _kid(real, fake, **kw) -> dict[str, float]:
    mean, std = kid.kid_from_features(real, fake, **kw)
    return {"kid": mean, "kid_std": std}


def _is(real, fake, **kw) -> dict[str, float]:
    mean, std = inception_score.inception_score_from_logits(fake, **kw)
    return {"is": mean, "is_std": std}


def _pr(real, fake, **kw) -> dict[str, float]:
    return prdc.precision_recall(real, fake, **kw)


def _dc(real, fake, **kw) -> dict[str, float]:
    return prdc.density_coverage(real, fake, **kw)


# Defaults: torch-fidelity's for KID and IS (docs/reference.md section 1; torch_fidelity/defaults.py:
# 100 subsets of 1000, degree 3, 10 IS splits, rng seed 2020); k=3 for precision/recall
# (Kynkäänniemi et al. 2019) and k=5 for density/coverage (Naeem et al. 2020, prdc README).
_SPECS = (
    MetricSpec("fid", ("pool3",), {"fid": False}, _fid,
               help="Fréchet Inception Distance between pool3 feature Gaussians (lower is better)"),
    MetricSpec("kid", ("pool3",), {"kid": False, "kid_std": False}, _kid,
               {"num_subsets": 100, "subset_size": 1000, "degree": 3, "coef0": 1.0, "seed": 2020},
               help="Kernel Inception Distance, unbiased cubic-kernel MMD² over random subsets"),
    MetricSpec("is", ("logits",), {"is": True, "is_std": False}, _is, {"splits": 10, "seed": 2020},
               help="Inception Score from the 1008 unbiased logits, 10 shuffled splits",
               uses_real=False),
    MetricSpec("pr", ("pool3",), {"precision": True, "recall": True}, _pr, {"k": 3},
               help="k-NN improved precision and recall (k=3)"),
    MetricSpec("dc", ("pool3",), {"density": True, "coverage": True}, _dc, {"k": 5},
               help="k-NN density and coverage (k=5), prdc semantics"),
)

for _spec in _SPECS:
    METRICS.register(_spec.name, _spec, help=_spec.help)

from ganbench.metrics import fd_inf, memorization, modes, stacked  # noqa: E402,F401  (register themselves; need MetricSpec)

modes._register()
fd_inf._register()

from ganbench.metrics import embedding  # noqa: E402,F401  (fd, cmmd, cdc, vendi; needs MetricSpec)
