"""Evaluation protocol presets: one name fixes what makes a number comparable with another.

Names follow stylegan2-ada-pytorch's metric names (metrics/metric_main.py: ``fid50k_full``,
``kid50k_full``, ``pr50k3_full``: metric, generated count, then the reference set), with the
reference split spelled out (``_train``/``_test``) because the published protocols differ in it.
A preset fixes the metrics, the generated and reference counts, the reference split, the extractor
and its preprocessing mode, and the statistic the published numbers report. Every record
evaluated under a preset stores ``preset`` and the preset's full protocol (``preset_protocol``), and
``ganbench check`` refuses to compare records of different presets.

The presets themselves are data, in ``ganbench/presets.toml``; adding one is one table there.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ganbench.errors import UnknownNameError
from ganbench.registry import Registry

# What a published number is, over checkpoints and evaluation seeds (see docs/statistics.md).
FINAL = "final step"
BEST = "best over training"
MIN_EVAL = "minimum over evaluation seeds"
MEAN_EVAL = "mean ± std over evaluation seeds"
TRAIN_SEEDS = "distribution over training seeds"
STATISTICS = (FINAL, BEST, MIN_EVAL, MEAN_EVAL, TRAIN_SEEDS)


@dataclass(frozen=True)
class Preset:
    """A named evaluation protocol. ``n_real`` None: the whole split. ``extractor`` "auto": the domain
    CNN for the 28x28 datasets that have one, Inception elsewhere (the record names the one used)."""

    name: str
    metrics: tuple[str, ...]
    n_gen: int
    n_real: int | None
    split: str
    extractor: str
    mode: str
    statistic: str
    eval_seeds: int
    source: str

    def protocol(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        return d


PRESETS: Registry[Preset] = Registry("preset")
_FIELDS = tuple(f.name for f in dataclasses.fields(Preset))


def _preset_from_table(name: str, table: dict[str, Any]) -> Preset:
    """One table of presets.toml as a Preset; a misspelt or missing field or unknown statistic fails
    at import, naming the preset (a typo in the data must not change a protocol silently)."""
    fields = {"name": name, "n_real": None, **table, "metrics": tuple(table.get("metrics", ()))}
    unknown = sorted(set(fields) - set(_FIELDS))
    missing = sorted(set(_FIELDS) - set(fields))
    if unknown or missing or fields["statistic"] not in STATISTICS:
        raise ValueError(f"presets.toml [{name}]: unknown {unknown}, missing {missing}, "
                         f"statistic {fields.get('statistic')!r} (known: {', '.join(STATISTICS)})")
    return Preset(**fields)


def _load_presets() -> None:
    with resources.files("ganbench").joinpath("presets.toml").open("rb") as f:
        for name, table in tomllib.load(f).items():
            PRESETS.register(name, _preset_from_table(name, table), help=table["source"])


_load_presets()


def get_preset(name: str) -> Preset:
    """The preset ``name``; an unknown name fails with did-you-mean."""
    try:
        return PRESETS.get(name)
    except UnknownNameError:
        raise UnknownNameError(PRESETS.unknown_message(name)) from None


def preset_fields(name: str | None) -> dict[str, Any]:
    """What a record stores about its preset: its name and full protocol (or preset None)."""
    if not name:
        return {"preset": None}
    return {"preset": name, "preset_protocol": get_preset(name).protocol()}


# ``ganbench eval`` options a preset fixes, and the preset field that fixes each.
FIXED_OPTIONS = {"n": "n_gen", "n_real": "n_real", "split": "split", "features": "extractor", "mode": "mode"}


def apply_preset(name: str, options: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
    """``options`` with what preset ``name`` fixes filled in; an explicit option that disagrees is an error.

    Metrics: the preset's, plus any others asked for explicitly (they do not change its protocol).
    """
    from ganbench.errors import GanbenchError

    p = get_preset(name)
    out = dict(options)
    for opt, attr in FIXED_OPTIONS.items():
        want = getattr(p, attr)
        if opt in explicit and options.get(opt) != want:
            flag = "-n" if opt == "n" else "--" + opt.replace("_", "-")
            raise GanbenchError(f"--preset {name} fixes {flag} to {want}; drop {flag} {options.get(opt)} "
                                f"or the preset")
        out[opt] = want
    extra = [m for m in options.get("metrics", []) if m not in p.metrics] if "metrics" in explicit else []
    out["metrics"] = [*p.metrics, *extra]
    return out


def training_preset(budget_preset: str, n_gen: int, n_real: int, split: str, extractor: str,
                    mode: str | None) -> dict[str, Any]:
    """The preset fields of a training evaluation: the budget's preset when the evaluation follows it,
    else preset None with the reason (an option overrode what the preset fixes)."""
    if not budget_preset:
        return {"preset": None}
    p = get_preset(budget_preset)
    got = {"n_gen": n_gen, "n_real": n_real, "split": split}
    if extractor.startswith("inception"):  # the preprocessing mode is Inception's (None: its default)
        got["mode"] = mode or "legacy-tf"
    diff = [f"{k} {v} (preset {getattr(p, k)})" for k, v in got.items() if v != getattr(p, k)]
    if p.extractor not in ("auto", extractor) and not extractor.startswith(p.extractor):
        diff.append(f"extractor {extractor} (preset {p.extractor})")
    if diff:
        return {"preset": None, "preset_not_followed": f"{budget_preset}: " + ", ".join(diff)}
    return preset_fields(budget_preset)
