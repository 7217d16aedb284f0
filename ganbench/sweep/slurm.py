"""The callable each Slurm array job runs (imports submitit: load only with the `slurm` extra)."""

from __future__ import annotations

import submitit


class SlurmTask(submitit.helpers.Checkpointable):
    """Runs one plan task. On preemption or time-out submitit calls ``checkpoint``, whose default
    requeues this same call; the requeued job resumes from the task's last training checkpoint."""

    def __call__(self, plan_path: str, index: int, threads: int):
        from ganbench.sweep.state import run_task_of_plan

        return run_task_of_plan(plan_path, index, threads)
