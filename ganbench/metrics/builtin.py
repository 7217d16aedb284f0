"""The built-in metrics, registered in ``ganbench.registry.METRICS`` when this module is imported
(``ganbench.registry`` declares their names and help, and imports this module on first use): FID,
KID, IS, precision/recall and density/coverage here; the others from
their own modules, imported below (one line each: the registry line of a new metric).

Every entry is a MetricSpec (``ganbench.metrics.spec``): which extractor outputs it needs, which
way each output is better, its default parameters (recorded with every score as protocol,
docs/design.md convention 2) and ``compute(real, fake, **params) -> {output: value}``.
"""

from __future__ import annotations

from typing import Any

from ganbench.metrics import fid, inception_score, kid, prdc
from ganbench.metrics.spec import HIGHER, LOWER, MetricSpec
from ganbench.registry import METRICS


def _fid(real, fake) -> dict[str, float]:
    return {"fid": fid.fid_from_features(real, fake)}


def _kid(real, fake, degree: int = 3, coef0: float = 1.0, **kw) -> dict[str, float]:
    mean, std = kid.kid_from_features(real, fake, kernel=kid.PolyKernel(degree, coef0=coef0), **kw)
    return {"kid": mean, "kid_std": std}


def _is(real, fake, **kw) -> dict[str, float]:
    mean, std = inception_score.inception_score_from_logits(fake, **kw)
    return {"is": mean, "is_std": std}


def _pr(real, fake, **kw) -> dict[str, float]:
    return prdc.precision_recall(real, fake, **kw)


def _dc(real, fake, **kw) -> dict[str, float]:
    return prdc.density_coverage(real, fake, **kw)


def _kid_used(p: dict[str, Any], n_real: int, n_gen: int) -> dict[str, Any]:
    return {**p, "subset_size": min(int(p["subset_size"]), n_real, n_gen)}  # subsets of the smaller set


def _is_used(p: dict[str, Any], n_real: int, n_gen: int) -> dict[str, Any]:
    return {**p, "splits": min(int(p["splits"]), n_gen)}  # at least one sample per split


# Defaults: torch-fidelity's for KID and IS (docs/reference.md section 1; torch_fidelity/defaults.py:
# 100 subsets of 1000, degree 3, 10 IS splits, rng seed 2020); k=3 for precision/recall
# (Kynkäänniemi et al. 2019) and k=5 for density/coverage (Naeem et al. 2020, prdc README).
# Floors: about the sampling noise of one evaluation at the smallest budgets (shares at n=2,500:
# binomial std <= 0.01).
_SHARE = 0.005
_SPECS = (
    MetricSpec("fid", ("pool3",), {"fid": LOWER}, _fid, order=1,
               help="Fréchet Inception Distance between pool3 feature Gaussians (lower is better)"),
    MetricSpec("kid", ("pool3",), {"kid": LOWER, "kid_std": None}, _kid,
               {"num_subsets": 100, "subset_size": 1000, "degree": 3, "coef0": 1.0, "seed": 2020},
               help="Kernel Inception Distance, unbiased cubic-kernel MMD² over random subsets",
               protocol={"num_subsets": "kid_subsets", "subset_size": "kid_subset_size", "degree": "kid_degree",
                         "coef0": "kid_coef0", "seed": "kid_seed"},
               compared=("kid_subset_size", "kid_degree"), adjust=_kid_used, order=2),
    MetricSpec("is", ("logits",), {"is": HIGHER, "is_std": None}, _is, {"splits": 10, "seed": 2020},
               help="Inception Score from the 1008 unbiased logits, 10 shuffled splits", uses_real=False,
               protocol={"splits": "is_splits", "seed": "is_shuffle_seed"}, adjust=_is_used, order=3),
    MetricSpec("pr", ("pool3",), {"precision": HIGHER, "recall": HIGHER}, _pr, {"k": 3},
               help="k-NN improved precision and recall (k=3)", order=4,
               floors={"precision": _SHARE, "recall": _SHARE}),
    MetricSpec("dc", ("pool3",), {"density": HIGHER, "coverage": HIGHER}, _dc, {"k": 5},
               help="k-NN density and coverage (k=5), prdc semantics", order=5,
               floors={"density": _SHARE, "coverage": _SHARE}),
)

for _spec in _SPECS:
    METRICS.register(_spec.name, _spec, help=_spec.help)

from ganbench.metrics import fd_inf, memorization, modes, stacked  # noqa: E402,F401  (register themselves; need MetricSpec)

modes._register()
fd_inf._register()

# embedding registers fd, cmmd, cdc and vendi when imported; all three need MetricSpec.
from ganbench.metrics import c2st, embedding, nnd  # noqa: E402,F401

c2st._register()
nnd._register()
