"""Checkpoint selection, stated: which of several evaluations a reported number is.

Published numbers mix rules (docs/statistics.md): StudioGAN reports the best over training, EDM2
the minimum over evaluation seeds, mimicry the final step. Every record carries ``selection``;
these functions derive the selected record and say how many evaluations it was chosen from, so a
"best of 20" never passes as a final-step number.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from ganbench.errors import GanbenchError
from ganbench.records import ResultRecord

FINAL = "final step"
SINGLE = "single evaluation"


def training_selection(step: int, steps: int) -> str:
    return FINAL if step >= steps else f"step {step} of {steps}"


def _pick(records: list[ResultRecord], metric: str, lower_is_better: bool) -> ResultRecord:
    have = [r for r in records if r.metrics.get(metric) is not None]
    if not have:
        raise GanbenchError(f"no record has a value for {metric!r} to select on")
    key = (lambda r: r.metrics[metric]) if lower_is_better else (lambda r: -r.metrics[metric])
    return min(have, key=key)


def best_over_training(records: Iterable[ResultRecord], metric: str, lower_is_better: bool = True) -> ResultRecord:
    """The step with the best ``metric`` of one run's records (StudioGAN's statistic), labelled with
    the number of evaluations it was the best of."""
    recs = [r for r in records if r.kind == "train-eval"]
    best = _pick(recs, metric, lower_is_better)
    label = f"best over training by {metric} (of {len(recs)} evaluations)"
    return dataclasses.replace(best, protocol={**best.protocol, "selection": label,
                                               "selection_evaluations": len(recs)})


def min_over_eval_seeds(records: Iterable[ResultRecord], metric: str, lower_is_better: bool = True) -> ResultRecord:
    """The best of several evaluations of one checkpoint under different sampling seeds (EDM2's)."""
    recs = list(records)
    best = _pick(recs, metric, lower_is_better)
    which = "minimum" if lower_is_better else "maximum"
    label = f"{which} over evaluation seeds by {metric} (of {len(recs)} evaluations)"
    return dataclasses.replace(best, protocol={**best.protocol, "selection": label,
                                               "selection_evaluations": len(recs)})


def selection_labels(records: Iterable[ResultRecord]) -> list[str]:
    """The distinct selections of ``records`` (records older than this field count as unstated)."""
    return sorted({str(r.protocol.get("selection", "not stated")) for r in records})
