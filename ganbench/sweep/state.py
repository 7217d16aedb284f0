"""Run one task of a plan idempotently, and keep its state in its seeds' run directories.

Each seed's ``task.json`` says done / running / failed (with the error), which task and process ran
it and how often it started; a finished task is skipped, an interrupted one resumes from its
checkpoints (exact resume, per seed or per stacked group: ganbench.training.run).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ganbench.config import RunConfig
from ganbench.errors import GanbenchError
from ganbench.io import atomic_write_text
from ganbench.layout import RunLayout
from ganbench.records import run_records
from ganbench.training.run import RunOutcome, TaskRun, guarded


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read_state(run_dir: str | Path) -> dict[str, Any] | None:
    p = RunLayout(Path(run_dir)).task_state
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        return {"state": "unknown"}


def write_state(run_dir: str | Path, **state: Any) -> None:
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(RunLayout(Path(run_dir)).task_state, json.dumps(state, indent=1, sort_keys=True) + "\n")


def mark_failed(cfgs: list[RunConfig], error: str) -> list[RunOutcome]:
    """Failed outcomes for a task that did not run; each seed not already done says so in task.json
    (a finished seed keeps its state: nothing computed is lost)."""
    for c in cfgs:
        state = read_state(c.run_dir()) or {}
        if state.get("state") != "done":
            write_state(c.run_dir(), **{**state, "state": "failed", "error": error, "seed": c.seed})
    return [RunOutcome(c, [], 0.0, error=error) for c in cfgs]


def _done(cfg: RunConfig, state: dict[str, Any] | None, task_id: str) -> bool:
    if not state:
        return False
    return state.get("state") == "done" and state.get("id") == task_id and cfg.layout().records.exists()


def task_done(cfgs: list[RunConfig], task_id: str) -> bool:
    """Whether every seed of the task ``task_id`` finished under that id (what a resume skips)."""
    return all(_done(c, read_state(c.layout().root), task_id) for c in cfgs)


def run_tracked(cfgs: list[RunConfig], task_id: str, threads: int | None = None,
                progress_queue: Any = None, method: Any = None) -> list[RunOutcome]:
    """One task (ganbench.training.run.TaskRun: its seeds stacked where the method allows) with its
    state kept in each seed's task.json; a task already done is not run again. Its checkpoints are
    checked before it trains or is skipped: a damaged, foreign, unsafe or other-recipe checkpoint is
    a one-line error, and a seed already "done" keeps its state (nothing computed is lost)."""
    import torch

    from ganbench.progress import worker_setup

    if threads:
        torch.set_num_threads(threads)
    worker_setup(progress_queue)
    runs: list[TaskRun] = []

    def start() -> list[RunOutcome]:
        runs.append(TaskRun(cfgs, method))
        return []

    failed = guarded(cfgs, start)
    if not runs:  # the method, data or a checkpoint was refused
        if not cfgs[0].resume or failed[0].bug:  # refuses to overwrite; a finished task's state stays as it is
            return failed
        return mark_failed(cfgs, str(failed[0].error))
    run = runs[0]
    prev = [read_state(c.layout().root) or {} for c in cfgs]
    if cfgs[0].resume and all(_done(c, p, task_id) for c, p in zip(cfgs, prev, strict=True)):
        return [RunOutcome(c, [r.__dict__ for r in run_records(c.layout())], 0.0, skipped=True) for c in cfgs]
    attempt = max(int(p.get("attempt", 0)) for p in prev) + 1
    common = {"id": task_id, "model": cfgs[0].model, "dataset": cfgs[0].dataset, "seeds": [c.seed for c in cfgs],
              "attempt": attempt, "host": socket.gethostname(), "pid": os.getpid(), "started_utc": _now()}
    for c in cfgs:
        write_state(c.layout().root, state="running", seed=c.seed, **common)
    cpu0 = time.process_time()
    outcomes = guarded(cfgs, lambda: run.run(progress_queue))
    common.update(cpu_s=round(time.process_time() - cpu0, 3), finished_utc=_now())
    for o in outcomes:
        if o.error:
            write_state(o.cfg.layout().root, state="failed", error=o.error, seed=o.cfg.seed, **common)
        else:
            write_state(o.cfg.layout().root, state="done", wall_s=round(o.wall_s, 3), seed=o.cfg.seed, **common)
    return outcomes


def run_task_of_plan(plan_path: str | Path, index: int, threads: int | None = None) -> list[RunOutcome]:
    """Run task ``index`` of the plan at ``plan_path`` (resuming, or skipping it when done)."""
    from ganbench.sweep.plan import load_plan, task_id

    plan = load_plan(plan_path)
    task = plan.task(index)
    cfgs = plan.configs(index)
    now = task_id(cfgs)
    if now != task.id:
        raise GanbenchError(f"task {index} ({task.label}) no longer matches the plan: recipe, budget, data, the "
                            f"method's code or ganbench changed (id {now} != {task.id}); write a new plan")
    return run_tracked(cfgs, task.id, threads)
