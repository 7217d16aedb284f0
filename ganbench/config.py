"""Recipes and run configuration: defaults < recipe TOML < CLI overrides.

A recipe (ganbench/baselines/<model>.toml) names an objective, an architecture per data modality,
an optimiser, n_dis and budgets. ``_defaults.toml`` holds what most recipes share, so a recipe only
says what makes it that baseline. Budgets count generator steps; the discriminator takes n_dis
steps per generator step (REFERENCE.md section 3).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.registry import BUDGETS, MODELS

BUDGETS.register("smoke", "seconds, for tests")
BUDGETS.register("cpu", "minutes on 2 CPU cores")
BUDGETS.register("paper", "the published budget: PacGAN's 400k iterations on mixtures, 100k generator steps on images")
BUDGETS.register("lucic", "images: Lucic et al. 2018's protocol (batch 64, 20 epochs, FID 10k test vs 10k samples)")

MODALITIES = ("vector", "image")
UPDATES = ("alternating", "simultaneous")


@dataclass(frozen=True)
class Budget:
    """How long to train and how to evaluate, for one modality."""

    name: str
    steps: int  # generator steps
    batch_size: int
    eval_every: int  # generator steps between evaluations (the last step is always evaluated)
    n_eval: int  # generated samples per evaluation
    n_real: int  # real samples per evaluation
    checkpoint_every: int
    # Image feature extractor: "inception", "domain" (28x28 domain CNN; its FID is not Inception
    # FID, the extractor name in every record says which) or "auto" (domain where it applies).
    features: str = "inception"
    # What the budget's protocol is, in words: the paper's, or ganbench's own (then say so).
    protocol: str = ""
    train_size: int = 0  # > 0: a fixed training set of this many points, reshuffled each epoch (SeedStream)
    split: str = "train"  # images: the reference split of the evaluation
    hq_rule: str = "3sigma"  # mixtures: the high-quality rule of the records (ganbench.metrics.modes)
    # Recipe fields this budget changes (e.g. ganbench's faster cpu protocol); merged over the recipe.
    recipe: dict[str, Any] = field(default_factory=dict)

    def eval_steps(self) -> list[int]:
        steps = list(range(self.eval_every, self.steps + 1, self.eval_every)) if self.eval_every > 0 else []
        if not steps or steps[-1] != self.steps:
            steps.append(self.steps)
        return steps


@dataclass
class Recipe:
    """One baseline: everything that makes its numbers, stored inside every checkpoint."""

    name: str
    description: str
    objective: str
    n_dis: int
    optimizer: dict[str, Any]
    arch: dict[str, dict[str, Any]]
    budgets: dict[str, dict[str, dict[str, Any]]]
    penalty: dict[str, Any] = field(default_factory=dict)  # {"gp": 10.0} or {"clip": 0.01}
    n_dis_warmup: dict[str, int] = field(default_factory=dict)  # WGAN's 100 critic steps schedule
    conditional: str = ""  # "" | "ac" | "projection"
    reference: str = ""
    # "alternating": n_dis D steps on fresh batches, then a G step on fresh z. "simultaneous": one
    # batch and one z, G and D gradients at the same parameters, applied together (ALI's
    # ali_algorithm, IshmaelBelghazi/ALI ali/algorithms.py, used by PacGAN's code).
    update: str = "alternating"
    unroll: int = 0  # Unrolled GAN's unrolling steps (Metz et al. 2017); 0 = none
    # Recipe fields that differ on one modality's data (e.g. PacGAN's optimiser and update on mixtures).
    vector: dict[str, Any] = field(default_factory=dict)
    image: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Recipe":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise GanbenchError(f"recipe {d.get('name', '?')!r}: unknown keys {sorted(unknown)}")
        return cls(**d)

    def for_run(self, modality: str, budget: Budget) -> "Recipe":
        """The recipe one run trains: ``optimizer.<modality>`` and the budget's ``recipe`` merged in."""
        d = self.to_dict()
        over = budget.recipe
        for part in (d[modality], {k: v for k, v in over.items() if k not in MODALITIES}, over.get(modality, {})):
            d = _deep_merge(d, part)
        d["vector"], d["image"] = {}, {}
        if d["update"] not in UPDATES:
            raise GanbenchError(f"recipe {self.name!r}: unknown update {d['update']!r}; use one of {', '.join(UPDATES)}")
        return Recipe.from_dict(d)

    def budget(self, name: str, modality: str) -> Budget:
        BUDGETS.get(name)
        try:
            b = self.budgets[modality][name]
        except KeyError:
            raise GanbenchError(f"model {self.name!r} has no {name!r} budget for {modality} data") from None
        return Budget(name=name, **b)

    def n_dis_at(self, step: int) -> int:
        """Discriminator steps before generator step ``step`` (0-based)."""
        w = self.n_dis_warmup
        if w and (step < w.get("first", 0) or (w.get("every") and step % w["every"] == 0)):
            return int(w["n_dis"])
        return self.n_dis


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _recipe_dir() -> Path:
    return Path(str(resources.files("ganbench") / "baselines"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise GanbenchError(f"{path}: invalid TOML: {e}") from None


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> Recipe:
    """Merge defaults < recipe file < overrides (a nested dict) into a Recipe."""
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        data = _read_toml(p)
    else:
        MODELS.get(name_or_path)
        data = _read_toml(_recipe_dir() / f"{name_or_path}.toml")
    data.setdefault("name", p.stem)
    merged = _deep_merge(_read_toml(_recipe_dir() / "_defaults.toml"), data)
    if overrides:
        merged = _deep_merge(merged, overrides)
    return Recipe.from_dict(merged)


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["optimizer.lr_g=1e-4", "n_dis=2"]`` -> nested dict; values parsed as JSON when they can be."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise GanbenchError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _register_models() -> None:
    for path in sorted(_recipe_dir().glob("*.toml")):
        if path.name.startswith("_"):
            continue
        desc = _read_toml(path).get("description", "")
        MODELS.register(path.stem, str(path), help=desc)


_register_models()


@dataclass
class RunConfig:
    """One training run: a model on a dataset with one seed under a named budget."""

    model: str
    dataset: str
    seed: int = 0
    budget: str = "cpu"
    out_dir: Path = Path("runs/latest")
    data_dir: str | None = None
    device: str = "auto"
    resume: bool = False
    progress: bool = True
    recipe_overrides: dict[str, Any] = field(default_factory=dict)
    budget_overrides: dict[str, Any] = field(default_factory=dict)  # steps, batch_size, eval_every, ...
    # Evaluator options for image data (make_evaluator): extractor, mode, n_boot, weights; None = default.
    eval_options: dict[str, Any] = field(default_factory=dict)

    def recipe(self) -> Recipe:
        return load_recipe(self.model, self.recipe_overrides)

    def resolve_budget(self, recipe: Recipe, modality: str) -> Budget:
        b = recipe.budget(self.budget, modality)
        over = {k: v for k, v in self.budget_overrides.items() if v is not None}
        unknown = set(over) - {f.name for f in dataclasses.fields(Budget)}
        if unknown:
            raise GanbenchError(f"unknown budget fields {sorted(unknown)}")
        b = dataclasses.replace(b, **over)
        if b.steps < 1 or b.batch_size < 1:
            raise GanbenchError(f"budget {b.name!r}: steps and batch_size must be positive")
        return b

    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.model / self.dataset.replace(":", "_").replace("/", "_") / f"seed{self.seed}"
