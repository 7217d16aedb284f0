"""Scoring generated features against a reference statistics file (``ganbench eval --ref FILE``):
the file must come from the same extractor, and hold features when a metric needs them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.evaluation.images import compute_image_metrics, extractor_protocol
from ganbench.metrics.fid import fid_features_to_statistics, fid_statistics_to_metric
from ganbench.refstats import ReferenceStats

# Extractor identity that must agree between the statistics and the evaluation.
_IDENTITY = ("extractor", "weights_sha256", "mode")
_STATS_ONLY = ("fid", "fd")  # metrics that need only the mean and covariance


def check_stats(stats: ReferenceStats, ext: Any, metrics: Sequence[str]) -> None:
    """Fail in one line when ``ext`` is not the extractor these statistics were computed with,
    or a metric needs features that the file does not hold."""
    mine = extractor_protocol(ext)
    theirs = {k: stats.protocol.get(k) for k in _IDENTITY}
    if theirs["extractor"] is not None:
        diff = [k for k in _IDENTITY if theirs[k] is not None and theirs[k] != mine.get(k)]
        if diff:
            raise GanbenchError(
                f"reference statistics {stats.path} were computed with {theirs['extractor']} "
                f"(weights {str(theirs['weights_sha256'])[:12]}..); this evaluation uses {mine['extractor']} "
                f"(weights {str(mine.get('weights_sha256'))[:12]}..): recompute them with `ganbench stats` "
                "and the same --extractor/--mode/--weights")
    dims = ext.dims.get("pool3")
    if dims is not None and dims != len(stats.mu):
        raise GanbenchError(f"reference statistics {stats.path} are {len(stats.mu)}-d; "
                            f"{mine['extractor']} gives {dims}-d features")
    need = [m for m in metrics if m not in _STATS_ONLY and _uses_real(m)]
    if need and stats.features is None:
        raise GanbenchError(f"reference statistics {stats.path} hold only mean and covariance; "
                            f"{', '.join(need)} need features (ganbench stats without --no-features)")


def score_stats(stats: ReferenceStats, fake: Mapping[str, np.ndarray], metrics: Sequence[str], ext: Any, *,
                n_boot: int, seed: int) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:
    """(values, metric protocol, reference protocol) of ``fake`` features against these statistics."""
    check_stats(stats, ext, metrics)
    ref_proto = {k: stats.protocol.get(k) for k in ("n_real", "real_split", "ref_seed", "dataset_identity")}
    ref_proto.update(ref_stats=stats.path, ref_stats_sha256=stats.protocol.get("content_sha256"),
                     ref_stats_source=stats.protocol.get("source", "ganbench stats"))
    if stats.features is not None:
        values, mproto = compute_image_metrics({"pool3": stats.features}, fake, metrics, n_boot=n_boot,
                                               seed=seed, extractor=ext)
        return values, mproto, ref_proto
    rest = [m for m in metrics if m not in _STATS_ONLY]  # only the generated set (is, vendi)
    values, mproto = compute_image_metrics({}, fake, rest, n_boot=n_boot, seed=seed, extractor=ext) \
        if rest else ({}, {"metrics": []})
    mu, sigma = fid_features_to_statistics(fake["pool3"])
    for m in (m for m in metrics if m in _STATS_ONLY):
        values[m] = fid_statistics_to_metric(stats.mu, stats.sigma, mu, sigma)
        mproto["metrics"] = [*mproto["metrics"], m]
    mproto["ci_unavailable"] = "reference statistics without features: fid/fd have no interval"
    return values, mproto, ref_proto


def _uses_real(metric: str) -> bool:
    from ganbench.registry import METRICS

    return bool(METRICS.get(metric).uses_real)
