"""Recipes and run configuration: defaults < recipe TOML < CLI overrides.

A recipe (ganbench/baselines/<model>.toml) names an objective, an architecture per data modality,
an optimiser, n_dis and budgets. ``_defaults.toml`` holds what most recipes share, so a recipe only
says what makes it that baseline. Budgets count generator steps; the discriminator takes n_dis
steps per generator step (docs/reference.md section 3).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.layout import RunLayout
from ganbench.registry import BUDGETS, MODELS, recipe_dir



@dataclass(frozen=True)
class BudgetInfo:
    """How long one run of a budget takes, evaluation included (shown by ``ganbench list`` beside the
    budget's help line, which says what it is for: ganbench.registry)."""

    cpu_time: str  # measured per run on 2 CPU cores, evaluation included (docs/budgets.md)
    gpu_time: str = "not measured yet"


BUDGET_INFO = {
    "smoke": BudgetInfo("vector about 15 s CPU, image (28x28) about 55 s CPU, start-up included"),
    "cpu": BudgetInfo("vector: 3 seeds stacked, 2-9 min per model and mixture, the default suite about 14 min "
                      "(results/mog-cpu/NOTE.md); image (28x28) 10-13 min wall, 2 runs at a time"),
    "paper": BudgetInfo("images: days (a GPU job); vector: hours per run on a CPU (PacGAN's 400k iterations)"),
    "lucic": BudgetInfo("hours per run on a CPU (18,750 steps and 20k Inception images); not run here"),
}
for _name, _info in BUDGET_INFO.items():
    BUDGETS.register(_name, _info)

MODALITIES = ("vector", "image")


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
    n_boot: int = 50  # bootstrap resamples for the image metrics' intervals (0: no intervals)
    # Training images the end-of-run memorisation check compares against (0: skipped, and the
    # record says so). Small at the smoke budget, where the check only shows that it runs.
    memo_n_train: int = 10_000
    # Evaluation protocol preset (ganbench.presets) the budget's evaluations follow; "" for none.
    preset: str = ""
    # What the budget's protocol is, in words: the paper's, or ganbench's own (then say so).
    protocol: str = ""
    train_size: int = 0  # > 0: a fixed training set of this many points, reshuffled each epoch (SeedStream)
    split: str = "train"  # images: the reference split of the evaluation
    hq_rule: str = "3sigma"  # mixtures: the high-quality rule of the records (ganbench.metrics.modes)
    # Recipe fields this budget changes (e.g. ganbench's faster cpu protocol); merged over the recipe.
    recipe: dict[str, Any] = field(default_factory=dict)
    # Generator steps for a dataset that converges at another count than ``steps`` (each chosen from
    # that dataset's convergence curve); keyed by the dataset's registered name.
    dataset_steps: dict[str, int] = field(default_factory=dict)
    # Metrics evaluated at each evaluation step besides the modality's own (images: fid, kid, is, pr,
    # dc; mixtures: modes), e.g. ["c2st"] or ["c2st", "nnd"], with their options
    # ({"c2st": {"classifier": "1nn"}}). Empty: the records are those of a budget without the fields.
    extra_metrics: tuple[str, ...] = ()
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)

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
    # A method's own hyper-parameters (e.g. a user's R1 weight), read by its step; free-form.
    params: dict[str, Any] = field(default_factory=dict)
    n_dis_warmup: dict[str, int] = field(default_factory=dict)  # WGAN's 100 critic steps schedule
    conditional: str = ""  # "" | "ac" | "projection"
    reference: str = ""
    # The training step (ganbench.training.method): a registered name or package.module:Name.
    # "alternating": n_dis D steps on fresh batches, then a G step on fresh z. "simultaneous": one
    # batch and one z, G and D gradients at the same parameters, applied together (ALI's
    # ali_algorithm, IshmaelBelghazi/ALI ali/algorithms.py, used by PacGAN's code). "unrolled":
    # alternating, G's loss through ``unroll`` differentiable D steps (Metz et al. 2017).
    update: str = "alternating"
    unroll: int = 0  # the unrolled step's unrolling steps; 0 = none
    # Recipe fields that differ on one modality's data (e.g. PacGAN's optimiser and update on mixtures).
    vector: dict[str, Any] = field(default_factory=dict)
    image: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "") -> "Recipe":
        """``source``: the file the recipe was read from, named in the one-line errors."""
        import difflib

        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        where = source or f"recipe {d.get('name', '?')!r}"
        if unknown:
            near = difflib.get_close_matches(unknown[0], sorted(names), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise GanbenchError(f"{where}: unknown recipe key {unknown[0]!r}{hint}; known keys: {', '.join(sorted(names))}")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.name not in d and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        if missing:
            raise GanbenchError(f"{where}: the recipe has no {', '.join(missing)}")
        return cls(**d)

    # Where the recipe was read (a file or a registered model), for errors and for finding the code it
    # names beside it; an attribute, not a field: it is not part of the recipe's identity.
    source = ""  # (no annotation: not a dataclass field)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def for_run(self, modality: str, budget: Budget, overrides: dict[str, Any] | None = None) -> "Recipe":
        """The recipe one run trains: the modality section, then the budget's ``recipe``, then the
        user's ``overrides`` (``--set``: they win over the budget's protocol too) merged in."""
        d = self.to_dict()
        over, user = budget.recipe, overrides or {}
        for part in (d[modality], {k: v for k, v in over.items() if k not in MODALITIES}, over.get(modality, {}),
                     {k: v for k, v in user.items() if k not in MODALITIES}, user.get(modality, {})):
            d = _deep_merge(d, part)
        d["vector"], d["image"] = {}, {}
        run = Recipe.from_dict(d, self.source)
        run.source = self.source
        return run

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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise GanbenchError(f"{path}: invalid TOML: {e}") from None


def is_recipe_file(spec: str) -> bool:
    """Whether a ``--models`` item names a recipe file (``path/to/recipe.toml``) rather than a registered model."""
    return str(spec).endswith(".toml")


def _recipe_table(name_or_path: str) -> tuple[dict[str, Any], str, str]:
    """The recipe table a registered name or a file gives, where it was read (for errors) and the
    model's name (the file's stem, or the registered name, unless the table names itself)."""
    if is_recipe_file(name_or_path):
        p = Path(name_or_path).expanduser()
        if not p.is_file():
            raise GanbenchError(f"{name_or_path}: no such recipe file")
        return _read_toml(p), str(p), p.stem
    obj = MODELS.get(name_or_path)
    origin = MODELS.origin(name_or_path)
    if callable(obj) and not isinstance(obj, (str, Path)):
        obj = obj()
    if isinstance(obj, (str, Path)) and Path(obj).is_file():
        return _read_toml(Path(obj)), str(obj), name_or_path
    if isinstance(obj, dict):
        return copy.deepcopy(obj), f"model {name_or_path!r} ({origin['entry_point'] if origin else 'registered'})", \
            name_or_path
    raise GanbenchError(f"model {name_or_path!r} ({origin['entry_point'] if origin else 'registered'}) gives "
                        f"{type(obj).__name__}, not a recipe file or table")


def _merge_defaults(defaults: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """defaults < recipe file. A key the file sets at its top level (e.g. its ``update``) is the
    recipe's on every modality: the defaults' modality sections (PacGAN's update and optimiser on
    mixtures) do not override it; the file's own modality sections still do."""
    defaults = copy.deepcopy(defaults)
    for m in MODALITIES:
        section = defaults.get(m) or {}
        for key in list(section):
            if key in data and key not in (data.get(m) or {}):
                del section[key]
    return _deep_merge(defaults, data)


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> Recipe:
    """Merge defaults < recipe (a registered model or a recipe file) < overrides (a nested dict)."""
    data, source, name = _recipe_table(name_or_path)
    data.setdefault("name", name)
    if overrides:
        check_overrides(overrides, data)
    # The sentences are written before the overrides are merged in: vector_protocol applies them as the
    # run does and compares with the recipe file's own values ("this recipe's RMSprop ..." only if kept).
    merged = _write_protocols(_merge_defaults(_read_toml(recipe_dir() / "_defaults.toml"), data), overrides, source)
    if overrides:
        merged = _deep_merge(merged, overrides)
        # A modality section (e.g. [vector.optimizer]) is merged over the top level at run time
        # (Recipe.for_run); the user's --set must win there too, not be silently replaced.
        for m in MODALITIES:
            section = merged.get(m) or {}
            merged[m] = _deep_merge(section, {k: v for k, v in overrides.items() if k in section})
    recipe = Recipe.from_dict(merged, source)
    recipe.source = source
    return recipe


# A budget whose ``protocol`` is this word gets its sentence written from the recipe's values
# (``vector_protocol``), so the words a record carries cannot disagree with how the run trained.
GENERATED = "generated"
_OPTIMIZER_WORDS = {"adam": "Adam", "rmsprop": "RMSprop"}


def _short_float(x: float) -> str:
    """5e-4, 2.5e-4: a learning rate as the recipes write it."""
    mant, exp = f"{float(x):e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def _short_count(n: int) -> str:
    """8000 -> 8k, 2500 -> 2.5k, 500 -> 500."""
    return f"{n / 1000:g}k" if n >= 1000 and n % 100 == 0 else str(n)


def _mixtures_sentence(steps: int, dataset_steps: dict[str, int]) -> str:
    from ganbench.suites import DEFAULT_SUITE, SUITES

    if all(n == steps for n in dataset_steps.values()):
        return f"{_short_count(steps)} generator steps on every mixture"
    mixtures = [d for d in SUITES[DEFAULT_SUITE].datasets.split(",") if d not in dataset_steps]
    own = ", ".join(f"{d} {_short_count(n)}" for d, n in dataset_steps.items() if n != steps)
    return f"{', '.join(mixtures)} {_short_count(steps)} steps, {own}"


def _optimizer_words(run: dict[str, Any], own: dict[str, Any]) -> str:
    """"Adam 5e-4 (0.5, 0.999)"; "this recipe's ..." when the budget keeps the recipe's own optimiser."""
    name = run.get("name", "adam")
    lr_g, lr_d = _short_float(run["lr_g"]), _short_float(run["lr_d"])
    words = f"{_OPTIMIZER_WORDS.get(name, name)} {lr_g if lr_g == lr_d else f'G {lr_g} / D {lr_d}'}"
    if name == "adam":
        words += f" ({', '.join(f'{b:g}' for b in run.get('betas', (0.5, 0.999)))})"
    kept = all(run.get(k) == own.get(k) for k in ("name", "lr_g", "lr_d")) and \
        (name != "adam" or list(run.get("betas", [])) == list(own.get("betas", [])))
    return ("this recipe's " if kept else "") + words


def _decay_words(decay_from: float | None) -> str:
    if decay_from is None:
        return "at a constant rate"
    if decay_from == 0.5:
        return "decayed linearly to 0 over the second half"
    return f"decayed linearly to 0 from {decay_from:g} of the steps"


def vector_protocol(recipe: Recipe, budget: Budget, overrides: dict[str, Any] | None = None) -> str:
    """The sentence of ganbench's own vector protocol, written from what a run of ``recipe`` under
    ``budget`` trains with (the user's ``--set`` ``overrides`` winning, as in ``Recipe.for_run``): the
    nets' widths, the batch, the optimiser and its decay, the steps."""
    run = recipe.for_run("vector", budget, overrides)
    own = recipe.for_run("vector", dataclasses.replace(budget, recipe={}))
    a, opt = run.arch["vector"], run.optimizer
    g = f"G {a.get('g_layers') or a.get('layers', 3)}x{a.get('g_hidden') or a.get('hidden', 128)}" + \
        (" BN" if a.get("g_norm") == "batch" else "")
    d_width = a.get("d_hidden") or a.get("hidden", 128)
    d_layers = a.get("d_layers") or a.get("layers", 3)
    d = f"D {d_layers} maxout {d_width}x{a.get('maxout_pieces', 5)}" if a.get("discriminator") == "maxout" \
        else f"D {d_layers}x{d_width}"
    return (f"ganbench {budget.name} (not PacGAN's): {g}, {d}, batch {budget.batch_size}, "
            f"{_optimizer_words(opt, own.optimizer)} {_decay_words(opt.get('decay_from'))}; "
            f"{_mixtures_sentence(budget.steps, budget.dataset_steps)}")


def _write_protocols(merged: dict[str, Any], overrides: dict[str, Any] | None = None,
                     source: str = "") -> dict[str, Any]:
    """The recipe dict with each ``protocol = "generated"`` budget's sentence written in, from the
    values a run trains with: a ``--set`` that changes one (e.g. optimizer.lr_g) changes the sentence."""
    marked = [(m, name) for m, by_name in merged.get("budgets", {}).items() for name, b in by_name.items()
              if b.get("protocol") == GENERATED]
    if not marked:
        return merged
    recipe = Recipe.from_dict(merged, source)
    out = copy.deepcopy(merged)
    for modality, name in marked:
        if modality != "vector":
            raise GanbenchError(f"recipe {merged.get('name')!r}: budgets.{modality}.{name}.protocol = "
                                f"{GENERATED!r} is written for vector budgets only")
        out["budgets"][modality][name]["protocol"] = vector_protocol(recipe, recipe.budget(name, modality), overrides)
    return out


def _leaf_types(d: dict[str, Any], prefix: str, out: dict[str, set[type]]) -> None:
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            out.setdefault(path, set()).add(dict)
            _leaf_types(v, path + ".", out)
        else:
            out.setdefault(path, set()).add(type(v))


@functools.lru_cache(maxsize=1)
def recipe_schema() -> dict[str, frozenset[type]]:
    """Every key path any shipped recipe sets (merged with the defaults), with its value types."""
    defaults = _read_toml(recipe_dir() / "_defaults.toml")
    out: dict[str, set[type]] = {}
    _leaf_types(defaults, "", out)
    for path in sorted(recipe_dir().glob("*.toml")):
        merged = _deep_merge(defaults, _read_toml(path))
        _leaf_types(merged, "", out)
        # A budget's own recipe (e.g. the cpu mixture protocol's decay_from) names keys --set may change.
        for budget in (b for by_name in merged.get("budgets", {}).values() for b in by_name.values()):
            over = budget.get("recipe", {})
            for part in [{k: v for k, v in over.items() if k not in MODALITIES}] + [over.get(m, {}) for m in MODALITIES]:
                _leaf_types(part, "", out)
    for f in dataclasses.fields(Recipe):
        out.setdefault(f.name, {dict} if f.name in ("penalty", "n_dis_warmup", "params") else {str})
    return {k: frozenset(v) for k, v in out.items()}


def _type_ok(value: Any, types: frozenset[type]) -> bool:
    if isinstance(value, bool) or bool in types:
        return isinstance(value, bool) and bool in types
    if isinstance(value, int) and (int in types or float in types):
        return True
    return any(isinstance(value, t) for t in types if t is not dict)


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", list: "a list", bool: "true or false",
               dict: "a table"}


def check_overrides(overrides: dict[str, Any], table: dict[str, Any] | None = None, prefix: str = "") -> None:
    """Every ``--set`` key must be one a recipe has (a shipped one, or ``table``: the recipe being
    loaded, whose own keys a user's method may add), did-you-mean otherwise, with a value of its type."""
    import difflib

    schema = dict(recipe_schema())
    if table:
        own: dict[str, set[type]] = {}
        _leaf_types(table, "", own)
        for k, v in own.items():
            schema[k] = schema.get(k, frozenset()) | frozenset(v)
    for k, v in overrides.items():
        path = f"{prefix}{k}"
        types = schema.get(path)
        if types is None:
            near = difflib.get_close_matches(path, list(schema), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise GanbenchError(f"--set {path}: no such recipe key{hint}")
        if isinstance(v, dict) and dict in types:
            check_overrides(v, table, path + ".")
        elif not _type_ok(v, types):
            want = " or ".join(sorted({_TYPE_WORDS.get(t, t.__name__) for t in types}))
            raise GanbenchError(f"--set {path}={json.dumps(v) if not isinstance(v, str) else v}: expected {want}")


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


def _recipe_paths() -> list[Path]:
    return [p for p in sorted(recipe_dir().glob("*.toml")) if not p.name.startswith("_")]


def _all_steps(budget: dict[str, Any]) -> list[int]:
    return [budget.get("steps", 0), *budget.get("dataset_steps", {}).values()]


def default_budget_steps(name: str) -> str:
    """"vector 200 steps, image 2-10 steps": generator steps over every recipe, per modality."""
    defaults = _read_toml(recipe_dir() / "_defaults.toml")
    budgets = [_deep_merge(defaults, _read_toml(p)).get("budgets", {}) for p in _recipe_paths()]
    parts = []
    for modality in MODALITIES:
        steps = sorted({n for b in budgets for n in _all_steps(b.get(modality, {}).get(name, {}))} - {0})
        if steps:
            span = str(steps[0]) if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
            parts.append(f"{modality} {span} steps")
    return ", ".join(parts)


@dataclass
class RunConfig:
    """One training run: a model on a dataset with one seed under a named budget."""

    model: str  # the model's name (a registered model, or the name of the recipe file below)
    dataset: str
    seed: int = 0
    budget: str = "cpu"
    out_dir: Path = Path("runs/latest")
    data_dir: str | None = None
    device: str = "auto"
    resume: bool = False
    progress: bool = True
    tensorboard: bool = True  # event files in the run directory (ganbench.training.monitor.TensorBoardMonitor)
    recipe_overrides: dict[str, Any] = field(default_factory=dict)
    budget_overrides: dict[str, Any] = field(default_factory=dict)  # steps, batch_size, eval_every, ...
    # Evaluator options for image data (make_evaluator): extractor, mode, n_boot, weights; None = default.
    eval_options: dict[str, Any] = field(default_factory=dict)
    recipe_file: str | None = None  # the recipe file of a model that is not registered (--models path.toml)

    def recipe(self) -> Recipe:
        return load_recipe(self.recipe_file or self.model, self.recipe_overrides)

    def run_recipe(self, modality: str, recipe: Recipe | None = None) -> tuple[Recipe, Budget]:
        """The recipe one run trains with (the budget's protocol and the user's ``--set`` merged in:
        ``Recipe.for_run``) and its budget, for data of ``modality``."""
        base = recipe or self.recipe()
        budget = self.resolve_budget(base, modality)
        return base.for_run(modality, budget, self.recipe_overrides), budget

    def resolve_budget(self, recipe: Recipe, modality: str) -> Budget:
        b = recipe.budget(self.budget, modality)
        own = b.dataset_steps.get(self.dataset.partition(":")[0])
        if own is not None:  # before the user's overrides: --steps still wins
            b = dataclasses.replace(b, steps=own)
        over = {k: v for k, v in self.budget_overrides.items() if v is not None}
        unknown = set(over) - {f.name for f in dataclasses.fields(Budget)}
        if unknown:
            raise GanbenchError(f"unknown budget fields {sorted(unknown)}")
        b = dataclasses.replace(b, **over)
        for name in ("steps", "batch_size", "checkpoint_every", "n_eval", "n_real"):
            v = getattr(b, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise GanbenchError(f"budget {b.name!r}: {name} must be a positive integer, got {v!r}")
        if isinstance(b.eval_every, bool) or not isinstance(b.eval_every, int) or b.eval_every < 0:
            raise GanbenchError(f"budget {b.name!r}: eval_every must be an integer >= 0, got {b.eval_every!r}")
        return b

    def layout(self) -> RunLayout:
        """This run's directory and the names of its files (ganbench.layout)."""
        return RunLayout.of(self.out_dir, self.model, self.dataset, self.seed)

    def run_dir(self) -> Path:
        return self.layout().root
