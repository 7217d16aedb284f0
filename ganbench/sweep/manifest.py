"""The manifest (plan) of a sweep: one task per (model, dataset, seed), each with a stable id.

The id hashes what decides a task's numbers (recipe, resolved budget, dataset identity, seed,
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

PLAN_FORMAT = "ganbench-plan/1"
PLAN_FILE = PLAN  # every run directory keeps its plan, for `ganbench status` and `run-task` (ganbench.layout)
# RunConfig fields shared by every task of a plan (model, dataset, seed vary per task).
_BASE_FIELDS = ("budget", "out_dir", "data_dir", "device", "recipe_overrides", "budget_overrides", "eval_options")


@dataclass(frozen=True)
class Task:
    index: int
    id: str
    model: str
    dataset: str
    seed: int
    run_dir: str


@dataclass
class Plan:
    base: dict[str, Any]
    tasks: list[Task]
    version: str = __version__

    def config(self, index: int, resume: bool = True) -> RunConfig:
        """The RunConfig of task ``index``; tasks always resume what is on disk."""
        t = self.task(index)
        b = dict(self.base)
        b["out_dir"] = Path(b["out_dir"])
        return RunConfig(model=t.model, dataset=t.dataset, seed=t.seed, resume=resume, progress=False, **b)

    def task(self, index: int) -> Task:
        if not 0 <= index < len(self.tasks):
            raise GanbenchError(f"task index {index} out of range: the plan has {len(self.tasks)} tasks "
                                f"(0..{len(self.tasks) - 1})")
        return self.tasks[index]

    def index_of(self, cfg: RunConfig) -> int:
        for t in self.tasks:
            if (t.model, t.dataset, t.seed) == (cfg.model, cfg.dataset, cfg.seed):
                return t.index
        raise GanbenchError(f"{cfg.model}/{cfg.dataset}/seed{cfg.seed} is not in the plan")

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


def task_id(cfg: RunConfig) -> str:
    """sha256 (first 16 hex digits) of everything that decides the task's records."""
    recipe = cfg.recipe()
    identity, modality = _dataset_facts(cfg.dataset, cfg.data_dir)
    budget = cfg.resolve_budget(recipe, modality)
    parts = {"recipe": recipe.to_dict(), "budget": dataclasses.asdict(budget), "dataset": identity,
             "seed": cfg.seed, "eval_options": cfg.eval_options, "ganbench": __version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def build_plan(cfgs: list[RunConfig]) -> Plan:
    """The plan of a grid of configs that differ only in model, dataset and seed."""
    if not cfgs:
        raise GanbenchError("the grid is empty")
    base = {k: getattr(cfgs[0], k) for k in _BASE_FIELDS}
    base["out_dir"] = str(Path(base["out_dir"]).resolve())  # run-task may start in any directory
    tasks = []
    for i, c in enumerate(cfgs):
        if any(getattr(c, k) != getattr(cfgs[0], k) for k in _BASE_FIELDS if k != "out_dir"):
            raise GanbenchError("a plan's tasks must share budget, overrides and evaluation options")
        tasks.append(Task(i, task_id(c), c.model, c.dataset, c.seed, str(Path(c.run_dir()).resolve())))
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
        if d.get("format") != PLAN_FORMAT:
            raise GanbenchError(f"{path}: not a ganbench plan (format {d.get('format')!r})")
        tasks = [Task(**t) for t in d["tasks"]]
        base = {k: d["base"][k] for k in _BASE_FIELDS}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise GanbenchError(f"{path}: not a valid ganbench plan ({type(e).__name__}: {e})") from None
    if [t.index for t in tasks] != list(range(len(tasks))):
        raise GanbenchError(f"{path}: task indices must be 0..{len(tasks) - 1} in order")
    return Plan(base, tasks, d.get("ganbench", "?"))
