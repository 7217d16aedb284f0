"""What a sweep's run directory holds: each task done, running, failed or pending, whoever ran it."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from ganbench.sweep.plan import PLAN_FILE, Plan, Task, load_plan
from ganbench.sweep.state import read_state

STATES = ("done", "running", "interrupted", "failed", "pending")


@dataclass
class TaskStatus:
    task: Task
    state: str
    detail: str = ""  # failed: the error's last line; running: where


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def last_error_line(error: str | None) -> str:
    lines = [s.strip() for s in (error or "").splitlines() if s.strip()]
    return lines[-1] if lines else "(no message)"


def _seed_status(task: Task, st: dict | None) -> TaskStatus:
    if st is None:
        return TaskStatus(task, "pending")
    state = st.get("state", "unknown")
    if state == "done" and st.get("id") not in (None, task.id):
        return TaskStatus(task, "pending", f"its directory holds another task (id {st.get('id')})")
    if state == "failed":
        return TaskStatus(task, "failed", last_error_line(st.get("error")))
    if state == "running":
        where = f"{st.get('host')} pid {st.get('pid')}, attempt {st.get('attempt')}"
        # A process of this host that is gone did not finish: it was killed (resume continues it).
        if st.get("host") == socket.gethostname() and isinstance(st.get("pid"), int) and not _alive(st["pid"]):
            return TaskStatus(task, "interrupted", where)
        return TaskStatus(task, "running", where)
    return TaskStatus(task, state if state in STATES else "pending")


def task_status(task: Task) -> TaskStatus:
    """A task's state from its seeds' task.json: done when every seed is; otherwise the first
    seed that failed, is running or was interrupted, else pending."""
    seeds = [_seed_status(task, read_state(d)) for d in task.run_dirs]
    for state in ("failed", "interrupted", "running", "pending"):
        hit = [s for s in seeds if s.state == state]
        if hit:
            return hit[0]
    return seeds[0]


def sweep_status(run_dir: str | Path) -> tuple[Plan, list[TaskStatus]]:
    plan = load_plan(Path(run_dir) / PLAN_FILE if Path(run_dir).is_dir() else run_dir)
    return plan, [task_status(t) for t in plan.tasks]


def record_sources(paths: list[Path]) -> list[Path]:
    """Run directories of sweeps become their records.jsonl plus every finished task's records,
    so a report sees all finished work even when the driver that gathered it died."""
    from ganbench.layout import RunLayout, SuiteLayout

    out: list[Path] = []
    for p in paths:
        if not (p.is_dir() and SuiteLayout(p).plan.is_file()):
            out.append(p)
            continue
        if SuiteLayout(p).records.is_file():
            out.append(SuiteLayout(p).records)
        _, statuses = sweep_status(p)
        done = [RunLayout(Path(d)).records for s in statuses if s.state == "done" for d in s.task.run_dirs]
        out += [f for f in done if f.is_file()]
    return out
