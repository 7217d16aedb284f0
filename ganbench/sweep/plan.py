"""The plan of a grid: the tasks every executor runs, each with a stable id, built once per command.

A task is what one worker trains in one go: the seeds of one (model, dataset) stacked into one
network where the method allows (ganbench.training.run.stack_reason), else one seed. Local pool,
Ray and Slurm all run these same tasks, so their records agree to the last digit: a seed trained
in a stack of ten and the same seed trained alone differ in the last float bits, which training
amplifies. A task names its recipe (a registered model or a recipe file), so a worker on any node
loads the same method.

The id hashes what decides a task's numbers (recipe, resolved budget, dataset identity, seeds,
evaluation options, the code of a user's method, ganbench version), so a plan rebuilt from the
same command gets the same ids and a run directory can tell whether its checkpoint belongs to the task.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.version import __version__
from ganbench.config import RunConfig
from ganbench.layout import PLAN
from ganbench.errors import GanbenchError
from ganbench.io import atomic_write_text

PLAN_FORMAT = "ganbench-plan/3"  # 2: a task holds a seed group; 3: a task names its recipe file
PLAN_FILE = PLAN  # every run directory keeps its plan, for `ganbench status` and `run-task` (ganbench.layout)
# RunConfig fields shared by every task of a plan (model, dataset, seed vary per task).
_BASE_FIELDS = ("budget", "out_dir", "data_dir", "device", "tensorboard", "recipe_overrides", "budget_overrides",
                "eval_options")


@dataclass(frozen=True)
class Task:
    """One unit of work: ``seeds`` of one (model, dataset), trained together; ``run_dirs[i]`` is
    seed ``seeds[i]``'s run directory, where its checkpoint, records and task.json live."""

    index: int
    id: str
    model: str
    dataset: str
    seeds: tuple[int, ...]
    run_dirs: tuple[str, ...]
    recipe_file: str | None = None  # a model given as a recipe file (absolute path); None: registered
    stacked: bool = True
    reason: str = ""  # why the seeds of this model and dataset train one at a time
    steps: int = 0  # the budget's generator steps (the display's totals; longest tasks start first)

    @property
    def label(self) -> str:
        seeds = f"seed{self.seeds[0]}" if len(self.seeds) == 1 else "seeds " + ",".join(map(str, self.seeds))
        return f"{self.model}/{self.dataset}/{seeds}"


@dataclass
class Plan:
    base: dict[str, Any]
    tasks: list[Task]
    version: str = __version__

    def configs(self, index: int, resume: bool = True) -> list[RunConfig]:
        """The RunConfigs of task ``index``, one per seed; tasks always resume what is on disk."""
        t = self.task(index)
        b = dict(self.base)
        b["out_dir"] = Path(b["out_dir"])
        return [RunConfig(model=t.model, dataset=t.dataset, seed=s, resume=resume, progress=False,
                          recipe_file=t.recipe_file, **b) for s in t.seeds]

    def task(self, index: int) -> Task:
        if not 0 <= index < len(self.tasks):
            raise GanbenchError(f"task index {index} out of range: the plan has {len(self.tasks)} tasks "
                                f"(0..{len(self.tasks) - 1})")
        return self.tasks[index]

    def to_json(self) -> str:
        d = {"format": PLAN_FORMAT, "ganbench": self.version, "base": self.base,
             "tasks": [dataclasses.asdict(t) for t in self.tasks]}
        return json.dumps(d, indent=1, sort_keys=True, default=str) + "\n"

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, self.to_json())
        return path


@functools.lru_cache(maxsize=64)
def _dataset(name: str, data_dir: str | None) -> Any:
    # A plan of 140 tasks names a few datasets: load each once per process.
    from ganbench.data import get_dataset

    return get_dataset(name, data_dir)


@dataclass(frozen=True)
class Pair:
    """One (model, dataset) of a grid as its tasks run it: the method, budget, stacking and id parts."""

    cfgs: tuple[RunConfig, ...]
    method: Any
    budget: Any
    reason: str | None

    def task_id(self, cfgs: list[RunConfig]) -> str:
        """sha256 (first 16 hex digits) of everything that decides the records of ``cfgs`` (its seeds)."""
        cfg = cfgs[0]
        parts = {"recipe": self.method.recipe.to_dict(), "budget": dataclasses.asdict(self.budget),
                 "dataset": _dataset(cfg.dataset, cfg.data_dir).identity(), "seeds": [c.seed for c in cfgs],
                 "eval_options": cfg.eval_options, "method_parts": self.method.foreign_parts(), "ganbench": __version__}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def groups(self) -> list[list[RunConfig]]:
        """The pair's seeds as one stacked task, or one task per seed (``reason`` says why)."""
        return [list(self.cfgs)] if self.reason is None else [[c] for c in self.cfgs]


def pair_of(cfgs: list[RunConfig], method: Any = None) -> Pair:
    """Resolve a (model, dataset)'s method once (its recipe, budget and code) and whether it stacks.
    ``method``: a method object from Python, used for the model of its recipe's name."""
    from ganbench.training.run import run_method, stack_reason

    cfg = cfgs[0]
    ds = _dataset(cfg.dataset, cfg.data_dir)
    given = method if method is not None and method.recipe.name == cfg.model else None
    run, budget = run_method(cfg, ds.modality, given)
    return Pair(tuple(cfgs), run, budget, stack_reason(run, budget, ds))


def pairs_of(cfgs: list[RunConfig], method: Any = None) -> list[Pair]:
    """The grid's (model, dataset) pairs, in grid order."""
    by_pair: dict[tuple[str, str], list[RunConfig]] = {}
    for c in cfgs:
        by_pair.setdefault((c.model, c.dataset), []).append(c)
    return [pair_of(group, method) for group in by_pair.values()]


def task_id(cfgs: list[RunConfig], method: Any = None) -> str:
    """The id of the task that trains ``cfgs`` (seeds of one model and dataset)."""
    return pair_of(cfgs, method).task_id(cfgs)


def task_groups(cfgs: list[RunConfig]) -> list[list[RunConfig]]:
    """The grid cut into tasks, in grid order: each (model, dataset)'s seeds as one group where
    the method trains stacked, else one task per seed."""
    return [g for pair in pairs_of(cfgs) for g in pair.groups()]


def build_plan(cfgs: list[RunConfig], method: Any = None) -> Plan:
    """The plan of a grid of configs that differ only in model, dataset and seed (and recipe file)."""
    if not cfgs:
        raise GanbenchError("the grid is empty")
    base = {k: getattr(cfgs[0], k) for k in _BASE_FIELDS}
    base["out_dir"] = str(Path(base["out_dir"]).resolve())  # run-task may start in any directory
    if any(getattr(c, k) != getattr(cfgs[0], k) for c in cfgs for k in _BASE_FIELDS if k != "out_dir"):
        raise GanbenchError("a plan's tasks must share budget, overrides and evaluation options")
    tasks: list[Task] = []
    for pair in pairs_of(cfgs, method):
        for g in pair.groups():
            recipe_file = str(Path(g[0].recipe_file).resolve()) if g[0].recipe_file else None
            tasks.append(Task(len(tasks), pair.task_id(g), g[0].model, g[0].dataset, tuple(c.seed for c in g),
                              tuple(str(Path(c.run_dir()).resolve()) for c in g), recipe_file,
                              pair.reason is None, pair.reason or "", pair.budget.steps))
    return Plan(base, tasks)


def load_plan(path: str | Path) -> Plan:
    """Read a plan file (or a run directory's plan.json)."""
    path = Path(path)
    if path.is_dir():
        path = path / PLAN_FILE
    if not path.is_file():
        raise GanbenchError(f"no plan at {path}; write one with `ganbench run ... --plan FILE`")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        if str(d.get("format", "")).startswith("ganbench-plan/") and d["format"] != PLAN_FORMAT:
            raise GanbenchError(f"{path}: a {d['format']} plan from an older ganbench (this one reads {PLAN_FORMAT}); "
                                f"write a new plan with `ganbench run ... --plan FILE`")
        if d.get("format") != PLAN_FORMAT:
            raise GanbenchError(f"{path}: not a ganbench plan (format {d.get('format')!r})")
        tasks = [Task(**{**t, "seeds": tuple(t["seeds"]), "run_dirs": tuple(t["run_dirs"])}) for t in d["tasks"]]
        base = {k: d["base"][k] for k in _BASE_FIELDS}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise GanbenchError(f"{path}: not a valid ganbench plan ({type(e).__name__}: {e})") from None
    if [t.index for t in tasks] != list(range(len(tasks))):
        raise GanbenchError(f"{path}: task indices must be 0..{len(tasks) - 1} in order")
    return Plan(base, tasks, d.get("ganbench", "?"))
