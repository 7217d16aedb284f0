"""The Python API: ``evaluate`` (samples or a generator against a reference: values, intervals and
the protocol that makes them comparable) and ``train`` (a method under a budget, beside the
baselines, into the same run directory and records as ``ganbench run``).

    import ganbench
    r = ganbench.evaluate(samples, "cifar10", metrics=["fid", "kid"])
    r["fid"], r.intervals["fid"], r.protocol
    run = ganbench.train(ganbench.Method(recipe, step=MyStep), "ring", seeds=[0, 1, 2], models=["gan"])

``samples``: uint8 images (N,C,H,W or N,H,W,C array or tensor), an image set path (folder, .zip,
.npz/.npy) or a generator (a callable z -> images with ``z_dim``; ``n`` samples are drawn).
``ref``: a dataset name, an image set, a statistics file (``ganbench stats``, pytorch-fid,
clean-fid) or an array. ``preset``: a named protocol (``ganbench.presets``) fixing the metrics,
counts, split, extractor and preprocessing. Options: see ``Options``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench.errors import GanbenchError

if TYPE_CHECKING:  # the annotations only: `import ganbench` stays light
    from ganbench.evaluation.options import Mode, Split


@dataclass
class Options:
    """What ``evaluate`` accepts besides samples, ref, metrics and preset (None: the default)."""

    n: int | None = None            # generated images used (a generator: drawn; default 10k)
    n_real: int | None = None       # reference images (dataset: seeded subset of ``split``)
    split: Split | None = None      # "train" (default) or "test"
    extractor: Any = None           # "inception" (default), "dinov2-vit-l14", "clip-vit-l14-336", ...
    mode: Mode | None = None        # preprocessing; default: the extractor's own
    weights: str | Path | None = None
    seed: int = 0                   # sampling and bootstrap seed
    n_boot: int | None = None       # bootstrap resamples for intervals (0: none)
    batch_size: int = 64
    device: Any = None
    data_dir: str | None = None
    progress: bool = False
    # Per-metric parameters, e.g. {"c2st": {"classifier": "1nn"}, "nnd": {"budget": "paper"}}.
    metric_options: dict[str, dict[str, Any]] | None = None


@dataclass
class Evaluation:
    """Values, their intervals and the protocol; ``result["fid"]`` is ``result.values["fid"]``."""

    values: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, metric: str) -> float:
        return self.values[metric]

    def __str__(self) -> str:
        rows = [f"{k:<18} {v:.6g}" + (f"  [{self.intervals[k][0]:.6g}, {self.intervals[k][1]:.6g}]"
                                       if k in self.intervals else "") for k, v in self.values.items()]
        p = self.protocol
        rows.append(f"({p.get('extractor')}, n_gen={p.get('n_gen')}, n_real={p.get('n_real')}, "
                    f"ref={p.get('ref')}, split={p.get('real_split')})")
        return "\n".join(rows)


def _split_intervals(raw: dict[str, float]) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    values = {k: v for k, v in raw.items() if not k.endswith(("_ci_low", "_ci_high"))}
    intervals = {k: (raw[f"{k}_ci_low"], raw[f"{k}_ci_high"]) for k in values
                 if f"{k}_ci_low" in raw and f"{k}_ci_high" in raw}
    return values, intervals


def _apply_preset(name: str, metrics: Sequence[str] | None, opts: Options) -> tuple[list[str] | None, dict]:
    try:
        from ganbench.presets import PRESETS
    except ImportError:
        raise GanbenchError("presets are not available in this version of ganbench (ganbench.presets); "
                            "give metrics and options instead") from None
    p = PRESETS.get(name)
    if metrics is not None and list(metrics) != list(p.metrics):
        raise GanbenchError(f"preset {name!r} fixes metrics {list(p.metrics)}; do not pass metrics= with it")
    for k, want in (("n", p.n_gen), ("n_real", p.n_real), ("split", p.split), ("mode", p.mode)):
        have = getattr(opts, k)
        if have is not None and have != want:
            raise GanbenchError(f"preset {name!r} fixes {k}={want!r}; got {have!r}")
        setattr(opts, k, want)
    opts.extractor = opts.extractor or p.extractor
    return list(p.metrics), {"preset": name, "preset_protocol": p.protocol()}


def evaluate(samples_or_generator: Any, ref: Any, metrics: Sequence[str] | str | None = None,
             preset: str | None = None, **options: Any) -> Evaluation:
    """Score generated images against a reference; see the module docstring."""
    from ganbench.evaluation.engine import evaluate as run_engine
    from ganbench.evaluation.images import resolve_features, resolve_reference
    from ganbench.evaluation.options import DEFAULT_BOOTSTRAP, DEFAULT_METRICS, EvalOptions

    fields = {f.name for f in dataclasses.fields(Options)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise GanbenchError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    opts = Options(**options)
    extra: dict[str, Any] = {}
    if preset is not None:
        metrics, extra = _apply_preset(preset, metrics, opts)
    fake = samples_or_generator
    if isinstance(fake, (str, Path)):
        from ganbench.data.images import load_images

        fake = load_images(fake)
    if opts.n is None and callable(fake) and hasattr(fake, "z_dim"):
        opts.n = 10_000  # as `ganbench eval` draws from a generator (Lucic et al. 2018: 10k vs 10k)
    ext = opts.extractor or "inception"
    if ext == "auto":  # a preset's "domain CNN on 28x28 datasets that have one, else Inception"
        from ganbench.data.base import Dataset

        ref = resolve_reference(ref, opts.data_dir)
        ext = resolve_features("auto", ref) if isinstance(ref, Dataset) else "inception"
    ev = run_engine(fake, ref, EvalOptions(
        metrics=DEFAULT_METRICS if metrics is None else metrics, n_gen=opts.n, n_real=opts.n_real,
        split=opts.split or "train", extractor=ext, mode=opts.mode, weights=opts.weights, seed=opts.seed,
        n_boot=DEFAULT_BOOTSTRAP if opts.n_boot is None else opts.n_boot, batch_size=opts.batch_size,
        device=opts.device, data_dir=opts.data_dir, progress=opts.progress, metric_options=opts.metric_options or {}))
    values, intervals = _split_intervals(ev.values)
    return Evaluation(values, intervals, {**ev.protocol, **extra})


# -- training -----------------------------------------------------------------------------------


@dataclass
class TrainOptions:
    """What ``train`` accepts besides the method, datasets and seeds (None: the budget's value)."""

    budget: str = "smoke"
    out: str | Path | None = None   # the run directory (default: runs/<timestamp>, as `ganbench run`)
    steps: int | None = None
    batch_size: int | None = None
    eval_every: int | None = None
    checkpoint_every: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # --set, as a nested dict
    device: str = "auto"
    data_dir: str | None = None
    resume: bool = False
    progress: bool = False
    tensorboard: bool = True
    workers: int = 1


@dataclass
class TrainResult:
    """The run directory ``out``, its records (every model, dataset, seed and evaluation) and the tables."""

    out: Path
    records: list[Any]
    table: str
    reproduction: str = ""


def _model_specs(method: Any, models: Sequence[str]) -> tuple[list[Any], Any]:
    """(the grid's models, the method object to hand down, if one was given)."""
    from ganbench.sweep.grid import ModelSpec, parse_models
    from ganbench.training.method import Method

    others = parse_models(list(models), allow_empty=True)
    if isinstance(method, Method):
        return [ModelSpec(method.recipe.name), *others], method
    if hasattr(method, "to_dict") and hasattr(method, "budgets"):  # a Recipe
        return [ModelSpec(method.name), *others], Method(method)
    return parse_models([str(method), *models]), None


def train(method: Any, datasets: str | Sequence[str] = "ring", seeds: Sequence[int] = (0, 1, 2),
          models: Sequence[str] = (), **options: Any) -> TrainResult:
    """Train ``method`` (a ``Method`` object, a ``Recipe``, a recipe file or a registered model) and
    ``models`` (baselines to train beside it) on ``datasets`` x ``seeds`` under a budget, evaluate,
    and write the same run directory, records, tables and report as ``ganbench run``.

    Options: see ``TrainOptions``. A method object trains in this process (it need not be importable
    by a worker); registered models and recipe files use ``workers`` processes."""
    import datetime as dt

    from ganbench.config import RunConfig
    from ganbench.io import check_output_dir
    from ganbench.report.write import write_run_report
    from ganbench.sweep.grid import grid, refuse_overwrite, run_grid
    from ganbench.sweep.plan import build_plan

    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(TrainOptions)})
    if unknown:
        raise GanbenchError(f"unknown option(s) {', '.join(unknown)}; known: "
                            f"{', '.join(f.name for f in dataclasses.fields(TrainOptions))}")
    o = TrainOptions(**options)
    specs, obj = _model_specs(method, models)
    names = [datasets] if isinstance(datasets, str) else list(datasets)
    out = check_output_dir(o.out or Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    base = RunConfig(model=specs[0].name, dataset=names[0], budget=o.budget, out_dir=Path(out), data_dir=o.data_dir,
                     device=o.device, resume=o.resume, progress=o.progress, tensorboard=o.tensorboard,
                     recipe_overrides=dict(o.overrides),
                     budget_overrides={"steps": o.steps, "batch_size": o.batch_size, "eval_every": o.eval_every,
                                       "checkpoint_every": o.checkpoint_every})
    plan = build_plan(grid(specs, names, list(seeds), base), obj)
    if not o.resume:
        refuse_overwrite(plan)
    plan.write(Path(plan.base["out_dir"]) / "plan.json")
    written: dict[str, Any] = {}
    result = run_grid(plan, o.resume, o.progress, o.workers, method=obj,
                      finish=lambda records, wall: written.update(write_run_report(Path(out), records, wall_s=wall)))
    return TrainResult(Path(out), result.records, written.get("table_text", ""), written.get("reproduction_text", ""))


def __getattr__(name: str) -> Any:
    # The method interface, for `ganbench.Method` / `ganbench.Step` (ganbench.training.method).
    if name in ("Method", "Step"):
        from ganbench.training import method

        return getattr(method, name)
    raise AttributeError(f"module 'ganbench.api' has no attribute {name!r}")
