"""The manifest (plan) of a sweep: the tasks every executor runs, each with a stable id.

A task is what the suite trains in one go: the seeds of one (model, dataset) stacked into one
network where the recipe runs on the vectorised path (ganbench.vectorised), else one seed. Local
pool, Ray and Slurm all run these same tasks, so their records agree to the last digit: a seed
trained in a stack of ten and the same seed trained alone differ in the last float bits, which
training amplifies.

The id hashes what decides a task's numbers (recipe, resolved budget, dataset identity, seeds,
evaluation options, ganbench version), so a plan rebuilt from the same command gets the same ids
and a run directory can tell whether its checkpoint belongs to the task.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench import __version__
from ganbench.config import RunConfig
from ganbench.layout import PLAN
from ganbench.errors import GanbenchError
from ganbench.io import atomic_write_text

PLAN_FORMAT = "ganbench-plan/2"  # 2: a task holds a seed group
PLAN_FILE = PLAN  # every run directory keeps its plan, for `ganbench status` and `run-task` (ganbench.layout)
# RunConfig fields shared by every task of a plan (model, dataset, seed vary per task).
_BASE_FIELDS = ("budget", "out_dir", "data_dir", "device", "recipe_overrides", "budget_overrides", "eval_options")


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
        return [RunConfig(model=t.model, dataset=t.dataset, seed=s, resume=resume, progress=False, **b)
                for s in t.seeds]

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
def _dataset_facts(name: str, data_dir: str | None) -> tuple[str, str]:
    # A plan of 140 tasks names a few datasets: load each once per process.
    from ganbench.data import get_dataset

    ds = get_dataset(name, data_dir)
    return ds.identity(), ds.modality


def task_id(cfgs: list[RunConfig]) -> str:
    """sha256 (first 16 hex digits) of everything that decides the task's records."""
    cfg = cfgs[0]
    recipe = cfg.recipe()
    identity, modality = _dataset_facts(cfg.dataset, cfg.data_dir)
    budget = cfg.resolve_budget(recipe, modality)
    parts = {"recipe": recipe.to_dict(), "budget": dataclasses.asdict(budget), "dataset": identity,
             "seeds": [c.seed for c in cfgs], "eval_options": cfg.eval_options, "ganbench": __version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def task_groups(cfgs: list[RunConfig]) -> list[list[RunConfig]]:
    """The grid cut into tasks, in grid order: each (model, dataset)'s seeds as one group where
    the recipe trains stacked (ganbench.suite.is_vectorised), else one task per seed."""
    from ganbench.suite import is_vectorised

    pairs: dict[tuple[str, str], list[RunConfig]] = {}
    for c in cfgs:
        pairs.setdefault((c.model, c.dataset), []).append(c)
    groups: list[list[RunConfig]] = []
    for group in pairs.values():
        groups += [group] if is_vectorised(group[0]) else [[c] for c in group]
    return groups


def build_plan(cfgs: list[RunConfig]) -> Plan:
    """The plan of a grid of configs that differ only in model, dataset and seed."""
    if not cfgs:
        raise GanbenchError("the grid is empty")
    base = {k: getattr(cfgs[0], k) for k in _BASE_FIELDS}
    base["out_dir"] = str(Path(base["out_dir"]).resolve())  # run-task may start in any directory
    if any(getattr(c, k) != getattr(cfgs[0], k) for c in cfgs for k in _BASE_FIELDS if k != "out_dir"):
        raise GanbenchError("a plan's tasks must share budget, overrides and evaluation options")
    tasks = [Task(i, task_id(g), g[0].model, g[0].dataset, tuple(c.seed for c in g),
                  tuple(str(Path(c.run_dir()).resolve()) for c in g)) for i, g in enumerate(task_groups(cfgs))]
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
