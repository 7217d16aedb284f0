"""Metrics of the newer evaluation protocols, for any feature space: FD, CMMD, clipped
density/coverage and the Vendi score (registered in ``ganbench.registry.METRICS``).

They read the extractor's embedding (key ``"pool3"``, which the DINOv2, CLIP and domain
extractors use for theirs), so ``--extractor dinov2-vit-l14 --metrics fd`` is FD_DINOv2 and
``--extractor clip-vit-l14-336 --metrics cmmd`` is CMMD.
"""

from __future__ import annotations

import numpy as np

from ganbench.metrics.clipped_dc import clipped_density_coverage
from ganbench.metrics.cmmd import cmmd
from ganbench.metrics.spec import MetricSpec
from ganbench.metrics.vendi import vendi_score
from ganbench.registry import METRICS


def _fd(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    # FID's exact fast path for fewer samples than dimensions (nuclear norm, tested equal to
    # fid_from_features), so that the bootstrap of fd over 1024-d DINOv2 features takes seconds.
    from ganbench.metrics.fid import _fid_for_bootstrap

    return {"fd": _fid_for_bootstrap(np.asarray(real), np.asarray(fake))}


def _cmmd(real: np.ndarray, fake: np.ndarray, **kw) -> dict[str, float]:
    return {"cmmd": cmmd(real, fake, **kw)}


def _cdc(real: np.ndarray, fake: np.ndarray, **kw) -> dict[str, float]:
    return clipped_density_coverage(real, fake, **kw)


def _vendi(real: np.ndarray | None, fake: np.ndarray, **kw) -> dict[str, float]:
    return {"vendi": vendi_score(fake, **kw)}


# Constants: CMMD's sigma 10 and scale 1000 (google-research cmmd/distance.py _SIGMA, _SCALE) on
# L2-normalised CLIP embeddings (its CLIP encode_image normalises); clipped D/C with K = 5
# (nicolassalvy/ClippedDensityCoverage README); Vendi with q = 1 and the cosine kernel
# (Friedman & Dieng 2023; vendi-score's score_dual with normalize=True).
SPECS = (
    MetricSpec("fd", ("pool3",), {"fd": False}, _fd,
               help="Fréchet distance in the extractor's space (FID over Inception; FD_DINOv2 over dinov2-vit-l14)"),
    MetricSpec("cmmd", ("pool3",), {"cmmd": False}, _cmmd, {"sigma": 10.0, "scale": 1000.0, "normalize": True},
               help="CMMD: Gaussian-kernel MMD² (sigma 10, x1000, biased estimator) on unit-norm embeddings"),
    MetricSpec("cdc", ("pool3",), {"clipped_density": True, "clipped_coverage": True}, _cdc, {"k": 5},
               help="clipped density and coverage (k=5; radii clipped at the median, scores capped at 1)"),
    MetricSpec("vendi", ("pool3",), {"vendi": True}, _vendi, {"q": 1.0},
               help="Vendi score of the generated set: exp entropy of the cosine-kernel eigenvalues",
               uses_real=False),
)

for _spec in SPECS:
    METRICS.register(_spec.name, _spec, help=_spec.help)
