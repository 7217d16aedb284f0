"""How long work will take, from a short timing probe on this machine, said before the work starts.

The probe times a few of the real operations (feature extraction on a small batch, generator
sampling, training steps) after one warm-up call, and scales by the counts the command will run.
It is an estimate: the first batches, cached reference features and other load on the machine
all move the real figure, so it is rounded and said with "about".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ganbench.evaluation.options import CPU_DEFAULT_N

PROBE_IMAGES = 8


def fmt_duration(seconds: float) -> str:
    """``about 2 h 10 min``, ``about 20 min``, ``about 40 s``: rounded the way a person says it."""
    s = max(float(seconds), 0.0)
    if s < 90:
        return f"about {max(1, round(s / 5) * 5 if s >= 10 else round(s))} s"
    if s < 3600:
        return f"about {round(s / 60)} min"
    h, m = divmod(round(s / 60), 60)
    return f"about {h} h" + (f" {m} min" if m >= 5 and h < 10 else "")


def per_call(fn: Callable[[], Any], repeats: int = 2) -> float:
    """Seconds per call of ``fn``: the fastest of ``repeats`` timed calls after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def extractor_seconds_per_image(ext: Any, shape: tuple[int, ...], n: int = PROBE_IMAGES) -> float:
    """Feature extraction time per uint8 image of ``shape`` (C, H, W), from a batch of ``n``."""
    from ganbench.features.base import extract_features

    x = np.random.default_rng(0).integers(0, 256, size=(n, *shape), dtype=np.uint8)
    return per_call(lambda: extract_features(x, ext, batch_size=n, progress=False), repeats=1) / n


def generator_seconds_per_image(g: Any, n: int = PROBE_IMAGES) -> float:
    from ganbench.generators import sample_all

    return per_call(lambda: sample_all(g, n, seed=0, batch_size=n), repeats=1) / n


def device_word(device: Any) -> str:
    return "this GPU" if str(device).startswith("cuda") else "this CPU"


def eval_estimate(n_gen: int, n_real: int, s_ext: float, s_gen: float, device: Any,
                  alt_n: int | None = None) -> str:
    """One line: the whole evaluation's time, and what ``-n alt_n`` would take instead."""
    total = n_gen * (s_ext + s_gen) + n_real * s_ext
    line = (f"estimate: {fmt_duration(total)} on {device_word(device)} for {n_gen} generated + {n_real} real "
            f"images ({s_ext + s_gen:.3g} s per image; cached real features are free)")
    if alt_n and alt_n != n_gen:
        alt = alt_n * (s_ext + s_gen) + min(n_real, alt_n) * s_ext
        line += f"; -n {alt_n} takes {fmt_duration(alt)}"
    return line


BIG_EVAL_IMAGES = 1000  # below this many images per run, evaluation is not probed (the probe costs more)


def _eval_images(budget: Any) -> int:
    return len(budget.eval_steps()) * budget.n_eval + budget.n_real


def _schedule_scale(recipe: Any, steps: int, probed: int = 3) -> float:
    """Budget-average cost of a generator step over the cost of the first ``probed`` ones, which the
    probe times: WGAN's 100 critic steps for the first 25 generator steps (Arjovsky et al. 2017)
    would otherwise make the whole run look 20x longer. A generator step costs about one critic step."""
    every = max(1, steps // 5000)
    mean = float(np.mean([recipe.n_dis_at(s) for s in range(0, steps, every)])) if steps else 1.0
    first = float(np.mean([recipe.n_dis_at(s) for s in range(probed)]))
    return (1.0 + mean) / (1.0 + first)


def _probe_task(cfgs: list[Any]) -> tuple[str, Any, float, float]:
    """(modality, budget, seconds per generator step of the whole group, seconds of image evaluation
    per run) for the seeds ``cfgs`` of one (model, dataset), probed the way the tasks train them
    (stacked where the method allows, else one seed and times the seeds). Single-threaded like a
    suite worker; nothing is read from or written to the run directory."""
    import torch

    from ganbench.training.run import TaskRun

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = TaskRun(cfgs, read_disk=False)
        seeds = [c.seed for c in cfgs] if run.stacked else [cfgs[0].seed]
        loop = run.loop(seeds)
        scale = _schedule_scale(run.recipe, run.budget.steps) * (1 if run.stacked else len(cfgs))
        s_step = per_call(loop.train_step, repeats=2) * scale
        eval_s = 0.0
        if run.dataset.modality == "image" and _eval_images(run.budget) >= BIG_EVAL_IMAGES:
            from ganbench.evaluation.images import build_extractor, resolve_features

            name = resolve_features(cfgs[0].eval_options.get("extractor") or run.budget.features, run.dataset)
            ext = build_extractor(name, device="cpu", dataset=run.dataset, data_dir=cfgs[0].data_dir)
            eval_s = extractor_seconds_per_image(ext, run.dataset.shape) * _eval_images(run.budget)
        return run.dataset.modality, run.budget, s_step, eval_s
    finally:
        torch.set_num_threads(threads)


def run_estimate(plan: Any, workers: int, resume: bool = False) -> str:
    """One line for ``ganbench run``: the plan's time, from probing each (model, dataset) the way its
    tasks train it. On a resume, only the tasks not yet done count."""
    tasks = list(plan.tasks)
    n_runs = sum(len(t.seeds) for t in tasks)
    done_note = ""
    if resume:
        from ganbench.sweep.state import task_done

        tasks = [t for t in tasks if not task_done(plan.configs(t.index), t.id)]
        if not tasks:
            return f"all {n_runs} run(s) already done; nothing to train (--resume)"
        done_note = f"{n_runs - sum(len(t.seeds) for t in tasks)} of {n_runs} run(s) already done (--resume); "
    pairs: dict[tuple[str, str], list[Any]] = {}
    for t in tasks:
        pairs.setdefault((t.model, t.dataset), []).extend(plan.configs(t.index, resume=False))
    times, smoke_times = [], []
    for cfgs in pairs.values():
        modality, budget, s_step, eval_s = _probe_task(cfgs)
        times.append(budget.steps * s_step + eval_s * len(cfgs))
        overridden = any(v is not None for v in cfgs[0].budget_overrides.values())
        if budget.name != "smoke" and not overridden:  # time scales with steps and, roughly, the batch size
            smoke = cfgs[0].recipe().budget("smoke", modality)
            smoke_times.append(smoke.steps * s_step * smoke.batch_size / budget.batch_size)
    parallel = max(1, min(workers, len(tasks)))

    def wall(ts: list[float]) -> float:  # the longest task bounds the wall time however many workers
        return max(sum(ts) / parallel, max(ts))

    line = (f"estimate: {done_note}{fmt_duration(wall(times))} on {device_word(plan.base['device'])} for "
            f"{sum(len(c) for c in pairs.values())} run(s) in {len(tasks)} task(s), {parallel} at a time (timed "
            f"from a few training steps; start-up and small evaluations not included)")
    if smoke_times:
        line += f"; --budget smoke trains in {fmt_duration(wall(smoke_times))}"
    return line


def eval_target_estimate(fake: Any, reference: Any, ext: Any, options: Any) -> str:
    """`ganbench eval`'s estimate line, from timing the extractor (and the generator) on a few images."""
    from ganbench.data.base import Dataset
    from ganbench.evaluation.images import reference_count
    from ganbench.evaluation.target import DEFAULT_N_GENERATOR
    from ganbench.generators import sample_all
    from ganbench.refstats import ReferenceStats

    n = options.n_gen
    is_gen = not isinstance(fake, np.ndarray)
    n_gen = int(n) if is_gen else len(fake[:n] if n is not None else fake)
    shape = tuple(reference.shape[1:]) if isinstance(reference, np.ndarray) else tuple(reference.shape)
    if isinstance(reference, ReferenceStats):  # precomputed: no reference images to extract
        n_ref = 0
        shape = tuple(fake.shape[1:]) if not is_gen else shape if len(shape) == 3 else \
            tuple(sample_all(fake, 1, seed=0, batch_size=1)[0].shape[1:])
    elif isinstance(reference, Dataset):
        n_ref = reference_count(reference, options.n_real if options.n_real is not None else n_gen,
                                options.split)[0]
    else:
        n_ref = len(reference[:options.n_real] if options.n_real is not None else reference)
    s_gen = generator_seconds_per_image(fake) if is_gen else 0.0
    alt = (DEFAULT_N_GENERATOR if n_gen == CPU_DEFAULT_N else CPU_DEFAULT_N) if is_gen else None
    return eval_estimate(n_gen, n_ref, extractor_seconds_per_image(ext, shape), s_gen, options.device, alt_n=alt)
