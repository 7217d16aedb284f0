"""Sweeps beyond one process pool: a manifest of tasks, idempotent task runs, Ray and Slurm executors.

compare_gan v1 (google/compare_gan, ``generate_tasks`` / ``run_one_task --task_num``) set the
pattern: write the grid as a task list once, run any task by its index, let a scheduler map
indices to workers. Here the same plan runs in the local pool, as Ray tasks, or as a Slurm job array.
"""
