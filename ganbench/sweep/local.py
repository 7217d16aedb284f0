"""The local executor: a plan's tasks in worker processes on this machine (or in this process).

Each task writes its own checkpoints and records as it goes, and the driver gathers them at the
end, so a failed or interrupted task loses nothing the others computed, and ``--resume`` skips
finished tasks. Worker processes die with the driver (``sweep.lock.die_with_parent``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import queue
from typing import Any

import torch

from ganbench.progress import SuiteDisplay
from ganbench.sweep.plan import Plan, Task
from ganbench.sweep.state import run_tracked
from ganbench.training.run import RunOutcome, run_key

_WORKER_QUEUE: Any = None


def _init_worker(parent_pid: int, progress_queue: Any) -> None:
    """Pool worker set-up: die with the suite's process (no orphans), report progress to its display."""
    global _WORKER_QUEUE
    from ganbench.sweep.lock import die_with_parent

    die_with_parent(parent_pid)
    _WORKER_QUEUE = progress_queue


def default_workers(device: str) -> int:
    # Small MLPs use one core poorly split two ways; two single-threaded runs use both.
    if device != "cpu" and ((device == "auto" and torch.cuda.is_available()) or device.startswith("cuda")):
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def run_local(plan: Plan, workers: int, progress: bool, resume: bool, method: Any = None) -> list[RunOutcome]:
    """Run every task of ``plan``; outcomes in completion order. ``method``: a method object from
    Python (the tasks then run in this process: an object need not be importable by a worker)."""
    def configs(t: Task) -> list:
        return plan.configs(t.index, resume=resume)

    display = SuiteDisplay({run_key(c): t.steps for t in plan.tasks for c in configs(t)}, enabled=progress)
    # Longest first (most generator steps), so a long task does not start last and leave a worker idle.
    order = sorted(plan.tasks, key=lambda t: -t.steps)
    outcomes: list[RunOutcome] = []

    def finished(done: list[RunOutcome]) -> None:
        for o in done:
            outcomes.append(o)
            display.handle(("done", run_key(o.cfg), 0, 0, ""))

    if workers == 1 or len(order) == 1 or method is not None:
        q: Any = queue.Queue()
        with display.listen(q):
            for t in order:
                finished(run_tracked(configs(t), t.id, None, progress_queue=q, method=method))
    else:
        ctx = mp.get_context("spawn")  # fork after torch threads start is unsafe
        # A plain queue inherited at start-up, not a Manager: a manager's server process would
        # outlive a killed suite, while pool workers die with it (die_with_parent).
        q = ctx.Queue()
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                    initargs=(os.getpid(), q)) as pool, display.listen(q):
            futures = [pool.submit(_run_worker, plan, t.index, resume) for t in order]
            for fut in cf.as_completed(futures):
                finished(fut.result())
    display.close()
    return outcomes


def _run_worker(plan: Plan, index: int, resume: bool) -> list[RunOutcome]:
    return run_tracked(plan.configs(index, resume=resume), plan.task(index).id, 1, progress_queue=_WORKER_QUEUE)
