"""Run one task of a plan idempotently, and keep its state in the task's run directory.

``task.json`` says done / running / failed (with the error), which process ran it and how often
it started; a finished task is skipped without building anything, an interrupted one resumes
from its checkpoint (Trainer's exact resume).
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
from ganbench.layout import TASK_STATE, RunLayout

STATE_FILE = TASK_STATE  # the name, kept for readers of this module


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


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


def _skipped(cfg: RunConfig):
    from ganbench.suite import RunOutcome

    recs = [r.__dict__ for r in cfg.layout().read_records()]
    return RunOutcome(cfg, recs, 0.0, skipped=True)


def run_tracked(cfg: RunConfig, threads: int | None = None, task_id: str | None = None,
                progress_queue: Any = None):
    """suite.run_one with the task's state kept in task.json; a task already done is not run again."""
    from ganbench.suite import run_one, run_single
    from ganbench.sweep.manifest import task_id as compute_id

    layout = cfg.layout()
    run_dir = layout.root
    if not cfg.resume and layout.checkpoint.exists():
        return run_one(cfg, threads)  # refuses to overwrite; the finished task's state stays as it is
    task_id = task_id or compute_id(cfg)
    prev = read_state(run_dir) or {}
    if cfg.resume and prev.get("state") == "done" and prev.get("id") == task_id and layout.records.exists():
        return _skipped(cfg)
    attempt = int(prev.get("attempt", 0)) + 1
    common = {"id": task_id, "model": cfg.model, "dataset": cfg.dataset, "seed": cfg.seed, "attempt": attempt,
              "host": socket.gethostname(), "pid": os.getpid(), "started_utc": _now()}
    write_state(run_dir, state="running", **common)
    cpu0 = time.process_time()
    outcome = run_single(cfg, threads, progress_queue)
    common.update(cpu_s=round(time.process_time() - cpu0, 3), finished_utc=_now())
    if outcome.error:
        write_state(run_dir, state="failed", error=outcome.error, **common)
    else:
        write_state(run_dir, state="done", wall_s=round(outcome.wall_s, 3), **common)
    return outcome


def run_task(plan_path: str | Path, index: int, threads: int | None = None):
    """Run task ``index`` of the plan at ``plan_path`` (resuming, or skipping it when done)."""
    from ganbench.sweep.manifest import load_plan, task_id

    plan = load_plan(plan_path)
    task = plan.task(index)
    cfg = plan.config(index)
    now = task_id(cfg)
    if now != task.id:
        raise GanbenchError(f"task {index} ({task.model}/{task.dataset}/seed{task.seed}) no longer matches the "
                            f"plan: recipe, budget, data or ganbench changed (id {now} != {task.id}); write a new plan")
    return run_tracked(cfg, threads, task.id)
