"""What a run is: the protocol its records state, and the identity its checkpoints must match to resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganbench.config import Budget, Recipe, RunConfig
from ganbench.data.base import Dataset
from ganbench.errors import GanbenchError


def run_protocol(recipe: Recipe, budget: Budget, dataset: Dataset, stacked_seeds: int,
                 parts: dict[str, Any] | None = None) -> dict[str, Any]:
    """What every record says about how the run was trained. ``stacked_seeds``: how many seeds were
    trained as one stacked network (1: alone); ``parts``: the method's code that is not ganbench's own."""
    proto: dict[str, Any] = {"budget": budget.name, "steps": budget.steps, "batch_size": budget.batch_size,
                             "n_dis": recipe.n_dis, "objective": recipe.objective,
                             "dataset_identity": dataset.identity(), "vectorised_seeds": stacked_seeds}
    if budget.protocol:
        proto["protocol"] = budget.protocol
    pack = int(recipe.arch.get(dataset.modality, {}).get("pack", 1))
    extra = {"update": recipe.update if recipe.update != "alternating" else None, "pack": pack if pack > 1 else None,
             "unroll": recipe.unroll or None, "train_size": budget.train_size or None,
             "params": recipe.params or None, "method_parts": parts or None}
    proto.update({k: v for k, v in extra.items() if v is not None})
    return proto


def run_identity(cfg: RunConfig, recipe: Recipe, budget: Budget, dataset: Dataset,
                 parts: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the run's whole identity, the code of a user's
    method included (a changed step or network file is another method)."""
    out = {"model": cfg.model, "dataset": cfg.dataset, "seed": cfg.seed, "dataset_identity": dataset.identity(),
           "budget": budget.__dict__, "recipe": recipe.to_dict()}
    if parts:
        out["method_parts"] = parts
    return out


def _flat(v: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(v, dict):
        return {k2: x for k, sub in v.items() for k2, x in _flat(sub, f"{prefix}{k}.").items()}
    return {prefix.rstrip("."): list(v) if isinstance(v, tuple) else v}


_ABSENT = object()
_SHOWN = 6  # differing keys named per part; the line stays readable when the model itself changed


def _diff_detail(key: str, old: Any, new: Any) -> str:
    """``recipe differs in optimizer.lr_g: 0.0002 -> 0.0005, ...``: each differing leaf, checkpoint -> now."""
    a, b = _flat(old), _flat(new)
    if set(a) == set(b) == {""}:  # a plain value (model, seed, dataset)
        return f"{key}: {a['']!r} -> {b['']!r}"
    keys = sorted(k for k in set(a) | set(b) if a.get(k, _ABSENT) != b.get(k, _ABSENT))
    # A generated protocol sentence follows the values it is written from: name the values, not it too.
    values = [k for k in keys if not k.endswith(".protocol")]
    follows = " (and the protocol sentences written from them)" if values and len(values) < len(keys) else ""
    keys = values or keys

    def show(v: Any) -> str:
        return "(absent)" if v is _ABSENT else repr(v)

    shown = ", ".join(f"{k or '(the whole value)'}: {show(a.get(k, _ABSENT))} -> {show(b.get(k, _ABSENT))}"
                      for k in keys[:_SHOWN])
    return f"{key} differs in {shown}" + (f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "") + follows


def check_resume_identity(ck: dict[str, Any], path: Path, identity: dict[str, Any]) -> None:
    """A one-line error naming every key in which checkpoint ``ck`` differs from ``identity``."""
    raw = ck.get("run")
    run = raw if isinstance(raw, dict) else {}
    stored = {**run, "recipe": ck.get("recipe")}
    diff = [k for k in identity if _flat(stored.get(k)) != _flat(identity[k])]
    if diff:
        parts = [_diff_detail(k, stored.get(k), identity[k]) for k in diff]
        raise GanbenchError(f"{path}: cannot resume, checkpoint -> now: {'; '.join(parts)}; "
                            "use the original options or another --out")
