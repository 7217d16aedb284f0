"""Executors of a plan: Ray tasks or a Slurm job array (the local pool is ganbench.sweep.local).

Each executor runs ``run_tracked`` per task of the plan (a seed group or one seed:
ganbench.sweep.plan), so every task resumes from its checkpoint when a worker dies or a job is
requeued, and skips itself when done. The driver appends each finished
task's records to the run directory's records.jsonl as it arrives: a driver crash loses nothing
that finished (and the tasks' own run directories hold their records in any case).
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ganbench.config import RunConfig
from ganbench.errors import GanbenchError
from ganbench.layout import SuiteLayout
from ganbench.sweep.plan import Plan

EXECUTORS = ("local", "ray", "slurm")
_EXTRAS = {"ray": ("ray", "Ray"), "slurm": ("submitit", "submitit")}
# Ray workers see the driver's GANBENCH_* variables (cache, data dirs, weights, offline), so every
# task reads the same reference-feature cache; Slurm jobs inherit the whole environment (sbatch --export=ALL).
_SHARED_ENV_PREFIX = "GANBENCH_"


@dataclass
class ExecutorOptions:
    """How to run a plan: which executor, and the resources each task asks for."""

    name: str = "local"
    cpus_per_task: int = 1
    max_retries: int = 3  # Ray: re-runs of a task whose worker died (it resumes from its checkpoint)
    ray_address: str | None = None  # None: start a local Ray instance
    ray_gpus: float = 0.0
    slurm_partition: str | None = None
    slurm_gpus: int = 0
    slurm_time: int = 240  # minutes per job; at time-out the job is requeued and resumes
    slurm_parallelism: int | None = None  # at most this many array tasks at once
    slurm_cluster: str = "slurm"  # "local": submitit's local executor, to try the flow without Slurm
    progress: bool = True

    def check(self) -> None:
        """Fail now, in one line, when the executor's extra is not installed."""
        if self.name not in EXECUTORS:
            raise GanbenchError(f"unknown --executor {self.name!r}; use one of {', '.join(EXECUTORS)}")
        if self.name in _EXTRAS:
            module, label = _EXTRAS[self.name]
            try:
                importlib.import_module(module)
            except ImportError:
                raise GanbenchError(f"--executor {self.name} needs {label}: pip install 'ganbench[{self.name}]'") \
                    from None
        if self.cpus_per_task < 1 or self.max_retries < 0:
            raise GanbenchError("--cpus-per-task must be >= 1 and --max-retries >= 0")
        if self.slurm_cluster not in ("slurm", "local"):
            raise GanbenchError(f"--slurm-cluster must be slurm or local, got {self.slurm_cluster!r}")
        if self.name == "slurm" and self.slurm_cluster == "slurm" and not shutil.which("sbatch"):
            raise GanbenchError("--executor slurm: sbatch not found; run from a Slurm login node "
                                "(or --slurm-cluster local to try the job array on this machine)")


def _failed(cfgs: list[RunConfig], error: str) -> list:
    from ganbench.sweep.state import mark_failed

    return mark_failed(cfgs, error)


class _Gatherer:
    """Appends each finished task's records to <out>/records.jsonl and ticks the progress bar."""

    def __init__(self, plan: Plan, progress: bool) -> None:
        self.path = SuiteLayout(Path(plan.base["out_dir"])).records
        from ganbench.progress import bar

        self.bar = bar(total=len(plan.tasks), unit="task", desc="sweep", disable=not progress)

    def __call__(self, label: str, outcomes: list) -> None:
        from ganbench.records import ResultRecord, append_record

        for o in outcomes:
            for r in o.records:
                append_record(self.path, ResultRecord.from_dict(r))
        self.bar.set_postfix_str(f"{'failed' if any(o.error for o in outcomes) else 'done'} {label}")
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _task_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_SHARED_ENV_PREFIX)}


def _ray_task(cfgs: list[RunConfig], threads: int, tid: str) -> list:
    from ganbench.sweep.state import run_tracked

    return run_tracked(cfgs, tid, threads)


def run_ray(plan: Plan, opts: ExecutorOptions, on_done: Callable[[str, list], None]) -> list:
    """Each task a Ray task with its CPU/GPU request, retried (and resumed) when its worker dies."""
    import ray

    env = {"env_vars": _task_env()} if _task_env() else None
    ray.init(address=opts.ray_address, include_dashboard=False, log_to_driver=False, runtime_env=env,
             configure_logging=False)
    try:
        remote = ray.remote(num_cpus=opts.cpus_per_task, num_gpus=opts.ray_gpus, max_retries=opts.max_retries,
                            retry_exceptions=False)(_ray_task)
        refs = {remote.remote(plan.configs(t.index), opts.cpus_per_task, t.id): t for t in plan.tasks}
        outcomes, pending = [], list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            task = refs[done[0]]
            try:
                out = ray.get(done[0])
            except ray.exceptions.RayError as e:  # retries exhausted: the task failed, the sweep goes on
                out = _failed(plan.configs(task.index), f"{type(e).__name__}: {str(e).strip().splitlines()[-1]}")
            outcomes += out
            on_done(task.label, out)
        return outcomes
    finally:
        ray.shutdown()


def run_slurm(plan: Plan, opts: ExecutorOptions, plan_path: Path, on_done: Callable[[str, list], None]) -> list:
    """One Slurm job array through submitit; a job preempted or timed out is requeued and resumes."""
    import submitit

    from ganbench.sweep.slurm import SlurmTask

    folder = Path(plan.base["out_dir"]) / "slurm"
    ex = submitit.AutoExecutor(folder=folder / "%j", cluster=opts.slurm_cluster)
    ex.update_parameters(name="ganbench", timeout_min=opts.slurm_time, cpus_per_task=opts.cpus_per_task,
                         gpus_per_node=opts.slurm_gpus or None, slurm_partition=opts.slurm_partition,
                         slurm_array_parallelism=opts.slurm_parallelism)
    n = len(plan.tasks)
    jobs = ex.map_array(SlurmTask(), [str(plan_path)] * n, list(range(n)), [opts.cpus_per_task] * n)
    index = {j.job_id: i for i, j in enumerate(jobs)}
    outcomes = []
    poll = 1.0 if opts.slurm_cluster == "local" else 15.0
    for job in submitit.helpers.as_completed(jobs, poll_frequency=poll):
        task = plan.task(index[job.job_id])
        try:
            out = job.result()
        except Exception as e:  # noqa: BLE001  submitit's FailedJobError/UncompletedJobError: the job's last words
            lines = [s for s in str(e).strip().splitlines() if s.strip()]
            last = lines[-1] if lines else ""
            out = _failed(plan.configs(task.index), f"{type(e).__name__}: {last} (logs: {folder})")
        outcomes += out
        on_done(task.label, out)
    return outcomes


def run_plan(plan: Plan, opts: ExecutorOptions) -> list:
    """Run ``plan`` with a Ray or Slurm executor (each task resumes: a retry must); outcomes in any order."""
    opts.check()
    plan_path = plan.write(SuiteLayout(Path(plan.base["out_dir"])).plan)
    gather = _Gatherer(plan, opts.progress)
    try:
        if opts.name == "ray":
            return run_ray(plan, opts, gather)
        if opts.name == "slurm":
            return run_slurm(plan, opts, plan_path, gather)
        raise GanbenchError(f"run_plan runs ray or slurm, not {opts.name!r}")
    finally:
        gather.close()
