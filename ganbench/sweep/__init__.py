"""Running a grid of runs: the plan (tasks with stable ids), each task's state, and the executors
that run the plan (the local process pool, Ray, Slurm).

compare_gan v1 (google/compare_gan, ``generate_tasks`` / ``run_one_task --task_num``) set the
pattern: write the grid as a task list once, run any task by its index, let a scheduler map
indices to workers. ``ganbench run`` builds the plan once and hands it to the executor; a named
suite (``ganbench.suites``) is only a grid's models, datasets and seeds.
"""
