"""Run one task: the seeds of one (model, dataset), stacked where the method allows, else one at a time.

A task is what every executor (the local pool, Ray, Slurm: ganbench.sweep) hands to one worker.
``TaskRun`` prepares it once: the method (resolved from the recipe, or handed in from Python), the
dataset, and each seed's checkpoint on disk, loaded and checked against the run's identity once.
``run`` then trains what is not finished (seeds checkpointed at different steps continue as separate
stacks), evaluates at the budget's steps, saves the final samples and, for images, the end-of-run
memorisation record. ``run_task`` returns errors as outcomes, so a suite goes on past one failure.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ganbench.config import Budget, Recipe, RunConfig
from ganbench.data import get_dataset
from ganbench.data.base import Dataset
from ganbench.errors import GanbenchError
from ganbench.generators.checkpoint import load_checkpoint
from ganbench.io import pick_device
from ganbench.records import append_record, run_records
from ganbench.training.identity import check_resume_identity, run_identity
from ganbench.training.loop import TrainLoop, settle_checkpoints
from ganbench.training.method import Method
from ganbench.training.players import Players, SingleSeed, StackedSeeds, seed_networks, unstackable_layers


@dataclass
class RunOutcome:
    cfg: RunConfig
    records: list[dict[str, Any]]
    wall_s: float
    error: str | None = None
    skipped: bool = False
    bug: bool = False  # the error is an unexpected exception, not a user error


def run_key(cfg: RunConfig) -> str:
    return f"{cfg.model}/{cfg.dataset}/seed{cfg.seed}"


def make_monitor(cfg: RunConfig, progress_queue: Any = None) -> Any:
    """The run's progress reporter (the suite's display when a queue is given) and TensorBoard logger."""
    from ganbench.training.monitor import BarMonitor, Monitors, QueueMonitor, TensorBoardMonitor

    bar = QueueMonitor(progress_queue, run_key(cfg)) if progress_queue is not None else (
        BarMonitor() if cfg.progress else None)
    return Monitors(bar, TensorBoardMonitor() if cfg.tensorboard else None)


def run_method(cfg: RunConfig, modality: str, method: Method | None = None) -> tuple[Method, Budget]:
    """The method as this run trains it: its recipe with the budget's protocol and ``cfg``'s
    ``--set`` merged in (``RunConfig.run_recipe``), its code parts resolved (or kept, when a method
    object was handed in), and the budget."""
    base = method.recipe if method is not None else cfg.recipe()
    recipe, budget = cfg.run_recipe(modality, base)
    if method is None:
        return Method(recipe, source=base.source), budget
    return method.for_recipe(recipe), budget


def stack_reason(method: Method, budget: Budget, dataset: Dataset) -> str | None:
    """Why the seeds of this method cannot train stacked (None: they can), in a few words. First checks
    the method on seed 0, so a broken one fails in one line before anything is written: labels for a
    conditional recipe, its networks' output shapes (``check_networks``), its step's own ``check``."""
    recipe = method.recipe
    if recipe.conditional and not dataset.num_classes:
        raise GanbenchError(f"{recipe.name} is conditional but {dataset.name} has no labels")
    with torch.random.fork_rng(devices=[]):
        g, d = seed_networks(method.networks, recipe.arch[dataset.modality], dataset, recipe, 0)
        check_networks(g, d, method, recipe, dataset)
        _check_step(method, budget, dataset)
    if dataset.modality != "vector":
        return f"{dataset.modality} data: its networks train one seed at a time"
    if recipe.conditional:
        return "a class-conditional recipe trains one seed at a time"
    step = method.step
    if not getattr(step, "stackable", True):
        return f"its step {getattr(step, '__qualname__', step)!r} is not stackable"
    bad = sorted(set(unstackable_layers(g)) | set(unstackable_layers(d)))
    if bad:
        return f"its networks use layers the stacked path cannot run ({', '.join(bad)})"
    return None


def _check_step(method: Method, budget: Budget, dataset: Dataset) -> None:
    """The step's own ``check`` on one seed's players, its one-line error naming the recipe file."""
    players = SingleSeed(method.recipe, budget, dataset, 0, torch.device("cpu"), method.networks)
    try:
        method.make_step().check(players)
    except GanbenchError as e:
        where = method.source or method.recipe.name
        raise GanbenchError(str(e) if str(e).startswith(where) else f"{where}: {e}") from None


def check_networks(g: Any, d: Any, method: Method, recipe: Recipe, dataset: Dataset) -> None:
    """A one-line error, naming the recipe, when G's samples do not have the dataset's shape or D
    does not return ``(scores [B], class logits or None)``; checked on two examples before training."""
    where = method.source or recipe.name
    pack = int(recipe.arch[dataset.modality].get("pack", 1))
    n = 2
    z_dim = getattr(g, "z_dim", None)
    if not isinstance(z_dim, int):
        raise GanbenchError(f"{where}: the generator {type(g).__name__} has no integer z_dim attribute")
    y = torch.zeros(n, dtype=torch.long) if recipe.conditional and dataset.num_classes else None
    with torch.no_grad():
        x = g(torch.zeros(n * pack, z_dim), None if y is None else y.repeat_interleave(pack))
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != tuple(dataset.shape):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise GanbenchError(f"{where}: the generator {type(g).__name__} returns {got} for {n * pack} latents; "
                                f"{dataset.name} needs ({n * pack}, {', '.join(map(str, dataset.shape))})")
        args = (x, y) if recipe.conditional == "projection" else (x,)
        out = d(*args)
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], torch.Tensor)
            and tuple(out[0].shape) == (n,)):
        got = f"a tuple of shapes {[tuple(o.shape) if isinstance(o, torch.Tensor) else o for o in out]}" \
            if isinstance(out, tuple) else (tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__)
        raise GanbenchError(f"{where}: the discriminator {type(d).__name__} returns {got} for {n * pack} samples; "
                            f"it must return (scores of shape ({n},), class logits or None)")


def make_players(method: Method, budget: Budget, dataset: Dataset, seeds: list[int], device: torch.device,
                 stacked: bool) -> Players:
    if stacked:
        return StackedSeeds(method.recipe, budget, dataset, seeds, device, method.networks)
    (seed,) = seeds
    return SingleSeed(method.recipe, budget, dataset, seed, device, method.networks)


class TaskRun:
    """One task, prepared: its method, dataset and budget, and the checkpoints already on disk."""

    def __init__(self, cfgs: list[RunConfig], method: Method | None = None, dataset: Dataset | None = None,
                 read_disk: bool = True, stack: bool = True) -> None:
        """``read_disk`` False: nothing is read from the run directories (a timing probe). ``stack``
        False: every seed trains on its own even where the method could stack them."""
        self.cfgs = list(cfgs)
        cfg = self.cfgs[0]
        self.dataset = dataset or get_dataset(cfg.dataset, cfg.data_dir)
        self.method, self.budget = run_method(cfg, self.dataset.modality, method)
        self.recipe = self.method.recipe
        reason = stack_reason(self.method, self.budget, self.dataset)  # checks the method first
        self.reason = reason if stack or reason else "stacking turned off"
        self.device = pick_device(cfg.device)
        self.checkpoints = self._checked_checkpoints() if read_disk else {}

    @property
    def stacked(self) -> bool:
        return self.reason is None

    def _checked_checkpoints(self) -> dict[int, dict[str, Any]]:
        """Each seed's checkpoint (settled first: ``settle_checkpoints``), loaded and checked once; a
        damaged, foreign, unsafe or other-run checkpoint is a one-line error; without ``resume`` a
        checkpoint on disk is refused (a run is never overwritten)."""
        paths = [c.layout().checkpoint for c in self.cfgs]
        if not self.cfgs[0].resume:
            taken = [p.parent for p in paths if p.exists()]
            if taken:
                raise GanbenchError(f"{taken[0]} already holds a run; pass --resume to continue it or choose another --out")
            return {}
        settle_checkpoints(paths)
        out = {}
        for c, p in zip(self.cfgs, paths):
            if p.exists():
                ck = load_checkpoint(p)
                check_resume_identity(ck, p, run_identity(c, self.recipe, self.budget, self.dataset,
                                                          self.method.foreign_parts()))
                out[c.seed] = ck
        return out

    def finished(self, cfg: RunConfig) -> bool:
        """Whether ``cfg``'s seed trained to the budget's end and wrote its records."""
        ck = self.checkpoints.get(cfg.seed)
        return ck is not None and int(ck["step"]) >= self.budget.steps and cfg.layout().records.exists()

    def loop(self, seeds: list[int]) -> TrainLoop:
        """A fresh loop over ``seeds`` (stacked where the method allows), not yet resumed."""
        cfgs = [c for c in self.cfgs if c.seed in seeds]
        players = make_players(self.method, self.budget, self.dataset, seeds, self.device, self.stacked)
        return TrainLoop(cfgs, self.method, self.recipe, self.budget, self.dataset, players)

    def resumed_loop(self, seeds: list[int] | None = None) -> TrainLoop:
        """The loop over ``seeds`` (default: all), continued from their checkpoints when there are
        (``cfg.resume``); for notebooks and tests that drive a loop step by step."""
        seeds = [c.seed for c in self.cfgs] if seeds is None else seeds
        loop = self.loop(seeds)
        if all(s in self.checkpoints for s in seeds) and seeds:
            loop.restore([self.checkpoints[s] for s in seeds])
        return loop

    def groups(self) -> list[tuple[int, list[int]]]:
        """(checkpoint step, seeds) of what is left to train: stacked seeds at one step train together."""
        by_step: dict[int, list[int]] = {}
        for c in self.cfgs:
            if not self.finished(c):
                ck = self.checkpoints.get(c.seed)
                by_step.setdefault(int(ck["step"]) if ck is not None else -1, []).append(c.seed)
        out = sorted(by_step.items())
        return out if self.stacked else [(step, [s]) for step, seeds in out for s in seeds]

    def run(self, progress_queue: Any = None) -> list[RunOutcome]:
        """Train, evaluate and save what is not finished; one outcome per seed, in ``cfgs``' order."""
        t0 = time.perf_counter()
        outcomes = {c.seed: RunOutcome(c, _records(c), 0.0, skipped=True) for c in self.cfgs if self.finished(c)}
        for step, seeds in self.groups():
            loop = self.loop(seeds)
            if step >= 0:
                loop.restore([self.checkpoints[s] for s in seeds])
            outcomes.update(self._train(loop, progress_queue, t0))
        return [outcomes[c.seed] for c in self.cfgs]

    def _train(self, loop: TrainLoop, progress_queue: Any, t0: float) -> dict[int, RunOutcome]:
        from ganbench.evaluation.training import ImageEvaluator, make_evaluator

        evs = [make_evaluator(self.dataset, self.budget, c.seed, **self._eval_options(c)) for c in loop.cfgs]
        monitors = [make_monitor(c, progress_queue) for c in loop.cfgs]
        result = loop.run([ev.evaluate for ev in evs], monitors=monitors)
        out = {}
        for i, (c, ev) in enumerate(zip(loop.cfgs, evs)):
            g = loop.generator(i)
            np.savez_compressed(c.layout().samples, samples=ev.samples(g))
            if isinstance(ev, ImageEvaluator) and result.finished:
                t1 = time.perf_counter()
                metrics, proto = _memorization(ev, g, self.budget, c)
                append_record(c.layout().records,
                              loop.make_record(i, loop.step, metrics, proto, time.perf_counter() - t1, {}))
            out[c.seed] = RunOutcome(c, _records(c), time.perf_counter() - t0)
        return out

    def _eval_options(self, cfg: RunConfig) -> dict[str, Any]:
        options = dict(cfg.eval_options)
        if self.dataset.modality == "image":
            options.setdefault("data_dir", cfg.data_dir)
            options.setdefault("device", self.device)
        return options


def seed_loop(cfg: RunConfig, dataset: Dataset | None = None, method: Method | None = None,
              stack: bool = False) -> TrainLoop:
    """One seed's loop, continued from its checkpoint with ``cfg.resume`` (refused without it): for
    notebooks and tests that train step by step. ``stack`` True: the stacked players, as a task of
    one seed trains a stackable method."""
    return TaskRun([cfg], method, dataset, stack=stack).resumed_loop()


def _records(cfg: RunConfig) -> list[dict[str, Any]]:
    return [r.__dict__ for r in run_records(cfg.layout())]


def _memorization(evaluator: Any, g: Any, budget: Budget, cfg: RunConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """The end-of-run memorisation check on ``budget.memo_n_train`` training images (0: skipped, recorded)."""
    n_train = int(getattr(budget, "memo_n_train", 10_000))
    if n_train <= 0:
        return {}, {"metrics": ["memorization"], "memorization_skipped": f"budget {budget.name!r} skips it"}
    return evaluator.memorization(g, cfg.layout().nn_grid, n_train=n_train)


def guarded(cfgs: list[RunConfig], work: Callable[[], list[RunOutcome]]) -> list[RunOutcome]:
    """``work()``'s outcomes, or its error as one failed outcome per seed: a user error in one line, a
    bug with its traceback (so a suite goes on and loses nothing the other tasks computed)."""
    t0 = time.perf_counter()
    try:
        return work()
    except GanbenchError as e:
        return [RunOutcome(c, [], time.perf_counter() - t0, error=str(e)) for c in cfgs]
    except Exception as e:  # a bug in one task must not lose the others; keep the traceback
        tb = traceback.format_exc(limit=6)
        return [RunOutcome(c, [], time.perf_counter() - t0, error=f"{type(e).__name__}: {e}\n{tb}", bug=True)
                for c in cfgs]


def run_task(cfgs: list[RunConfig], threads: int | None = None, progress_queue: Any = None,
             method: Method | None = None) -> list[RunOutcome]:
    """Prepare and run one task (``TaskRun``); errors are returned as outcomes, not raised."""
    from ganbench.progress import worker_setup

    if threads:
        torch.set_num_threads(threads)
    worker_setup(progress_queue)
    return guarded(cfgs, lambda: TaskRun(cfgs, method).run(progress_queue))
