"""The one training loop, for one seed or S seeds stacked.

The loop owns the schedule: a fixed budget of generator steps, n_dis critic steps each (the
recipe's schedule, WGAN's warm-up included), the learning-rate schedule, the evaluation hook at
the budget's evaluation steps, atomic checkpoints with every RNG state, exact resume and its
identity check, the monitors and the records. The method's step (ganbench.training.method) trains
one generator step on the players (ganbench.training.players); the loop never asks which method
it runs or how many seeds the players hold.

Checkpoints are one file per seed (``<run dir>/checkpoint.pt``). They are committed together: each
is written beside its target (``.pending``), then all are renamed; ``settle_checkpoints`` rolls a
kill between the renames forward and a kill before them back, so the seeds of a stack never
resume from different steps (a seed trained alone is not bit-identical to the same seed in a
larger stack, so a stack must resume as the same stack).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from ganbench.config import Budget, Recipe, RunConfig
from ganbench.data.base import Dataset
from ganbench.errors import GanbenchError
from ganbench.evaluation.engine import Evaluation
from ganbench.generators.checkpoint import FORMAT, atomic_save, load_checkpoint
from ganbench.records import ResultRecord, append_record, finite_metrics, provenance
from ganbench.selection import training_selection
from ganbench.training.identity import check_resume_identity, run_identity, run_protocol
from ganbench.training.method import Method, Step
from ganbench.training.monitor import Monitor
from ganbench.training.players import Players

Evaluator = Callable[[nn.Module], "Evaluation | Mapping[str, float]"]


@dataclass
class SeedView:
    """What a monitor reads of one seed of a running loop."""

    cfg: RunConfig
    budget: Budget
    recipe: Recipe
    step: int
    run_dir: Path
    modality: str


@dataclass
class LoopResult:
    step: int
    wall_s: float
    records: list[ResultRecord]
    finished: bool


def set_lr(players: Players, recipe: Recipe, step: int, steps: int) -> None:
    """``optimizer.decay_from`` (a fraction of the budget; absent: constant lr): the learning rates
    fall linearly to 0 from that point to the last step. A pure function of the step, so resume needs no state."""
    start = recipe.optimizer.get("decay_from")
    if start is None:
        return
    first = int(start * steps)
    scale = 1.0 if step < first else max(0.0, 1.0 - (step - first) / max(1, steps - first))
    players.set_lr(recipe.optimizer["lr_g"] * scale, recipe.optimizer["lr_d"] * scale)


class LossGuard:
    """Checks what a step returns: at the first step, a non-empty dict of finite tensors with one value
    per seed; afterwards the first step with a non-finite loss is tracked on the device (no host
    synchronisation per step) and reported by ``check``."""

    def __init__(self, name: str, n_seeds: int, stacked: bool, device: torch.device) -> None:
        self.name, self.n_seeds, self.stacked = name, n_seeds, stacked
        self.bad = torch.full((), -1, dtype=torch.long, device=device)
        self.checked_first = False

    def see(self, step: int, losses: Any) -> None:
        if not self.checked_first:
            self._first(step, losses)
            self.checked_first = True
            return
        total = sum(v.float().sum() for v in losses.values())
        self.bad.masked_fill_(torch.logical_not(torch.isfinite(total)) & (self.bad < 0), step)

    def _first(self, step: int, losses: Any) -> None:
        if not isinstance(losses, dict) or not losses:
            raise GanbenchError(f"{self.name}: step {step} returned no losses (a step returns a dict of loss "
                                f"tensors, e.g. {{'d_loss': ..., 'g_loss': ...}}), got {type(losses).__name__}")
        want = (self.n_seeds,) if self.stacked else ()
        for k, v in losses.items():
            if not isinstance(v, torch.Tensor) or tuple(v.shape) != want:
                shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
                raise GanbenchError(f"{self.name}: step {step} returned {k} of shape {shape}; expected one value "
                                    f"per seed, shape {want}")
        self._finite(step, losses)

    def _finite(self, step: int, losses: dict[str, torch.Tensor]) -> None:
        bad = [k for k, v in losses.items() if not bool(torch.isfinite(v).all())]
        if bad:
            raise GanbenchError(f"{self.name}: step {step} returned a non-finite {', '.join(bad)}; "
                                "the last good checkpoint is kept")

    def check(self, losses: dict[str, torch.Tensor]) -> None:
        step = int(self.bad)
        if step >= 0:
            bad = [k for k, v in losses.items() if not bool(torch.isfinite(v).all())]
            raise GanbenchError(f"{self.name}: step {step} returned a non-finite loss"
                                + (f" ({', '.join(bad)} still non-finite)" if bad else "")
                                + "; the last good checkpoint is kept")


def _pending(path: Path) -> Path:
    return path.with_name(path.name + ".pending")


def settle_checkpoints(paths: list[Path]) -> None:
    """Finish or undo a group commit that a kill interrupted (``TrainLoop.save``): when every seed
    has either its pending checkpoint or a committed one at the pending step, the renames are
    completed; otherwise the pending files are removed and the group resumes from its last commit."""
    pending = [_pending(p) for p in paths]
    if not any(q.exists() for q in pending):
        return
    step = max(int(load_checkpoint(q)["step"]) for q in pending if q.exists())
    forward = all(q.exists() or (p.exists() and int(load_checkpoint(p)["step"]) == step)
                  for p, q in zip(paths, pending))
    for p, q in zip(paths, pending):
        if q.exists():
            if forward:
                os.replace(q, p)
            else:
                q.unlink()


class TrainLoop:
    """Train ``players`` with ``method``'s step to the budget; one record per seed per evaluation.

    ``cfgs``: one RunConfig per seed of the players, in their order (their run directories hold the
    checkpoints and records). ``recipe``: the recipe as this run trains it (``RunConfig.run_recipe``)."""

    def __init__(self, cfgs: list[RunConfig], method: Method, recipe: Recipe, budget: Budget, dataset: Dataset,
                 players: Players) -> None:
        self.cfgs, self.method, self.recipe, self.budget, self.dataset = cfgs, method, recipe, budget, dataset
        self.players = players
        self.layouts = [c.layout() for c in cfgs]
        self.step_fn: Step = method.make_step()
        self.step_fn.check(players)
        self.step_fn.start(players)
        self.step = 0
        self.guard = LossGuard(method.source or recipe.name, len(cfgs), players.stacked, players.device)
        self.monitors: list[Monitor] = []

    # -- identity and checkpoints ---------------------------------------------------------------
    def identity(self, i: int) -> dict[str, Any]:
        return run_identity(self.cfgs[i], self.recipe, self.budget, self.dataset, self.method.foreign_parts())

    def seed_checkpoint(self, i: int) -> dict[str, Any]:
        cfg = self.cfgs[i]
        ck = {"format": FORMAT, **self.players.seed_state(i), "step": self.step, "recipe": self.recipe.to_dict(),
              "run": {"model": cfg.model, "dataset": cfg.dataset, "seed": cfg.seed, "budget": self.budget.__dict__,
                      "modality": self.dataset.modality, "shape": list(self.dataset.shape),
                      "num_classes": self.dataset.num_classes, "dataset_identity": self.dataset.identity()}}
        if self.players.stacked:
            ck["run"]["vectorised_with"] = list(self.players.seeds)
        parts = self.method.foreign_parts()
        if parts:
            ck["run"]["method_parts"] = parts
        own = self.step_fn.state(self.players)
        if own:
            ck["step_state"] = self.players.slice_state(own, i)
        return ck

    def save(self) -> list[Path]:
        """Every seed's checkpoint as one commit (see the module docstring); their paths."""
        paths = [lay.checkpoint for lay in self.layouts]
        for i, path in enumerate(paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_save(self.seed_checkpoint(i), _pending(path))
        for path in paths:
            os.replace(_pending(path), path)
        return paths

    def restore(self, cks: list[dict[str, Any]] | None = None) -> None:
        """Continue from the seeds' checkpoints, all at one step: ``cks`` as already loaded and checked
        (ganbench.training.run.TaskRun), else read from the run directories and checked here."""
        if cks is None:
            paths = [lay.checkpoint for lay in self.layouts]
            settle_checkpoints(paths)
            cks = [load_checkpoint(p) for p in paths]
            for i, (p, ck) in enumerate(zip(paths, cks)):
                check_resume_identity(ck, p, self.identity(i))
        steps = {int(ck["step"]) for ck in cks}
        if len(steps) != 1:
            raise GanbenchError(f"seeds {self.players.seeds} were checkpointed at different steps {sorted(steps)}")
        self.players.load_seed_states(cks)
        if any("step_state" in ck for ck in cks):
            self.step_fn.load_state(self.players, self.players.stack_states([ck["step_state"] for ck in cks]))
        self.step = steps.pop()

    # -- steps ------------------------------------------------------------------------------------
    def train_step(self) -> dict[str, torch.Tensor]:
        """One generator step of the method; the losses stay on the device."""
        set_lr(self.players, self.recipe, self.step, self.budget.steps)
        losses = self.step_fn(self.players, self.recipe.n_dis_at(self.step))
        self.step += 1
        self.guard.see(self.step, losses)
        return losses

    def generator(self, i: int) -> nn.Module:
        """Seed ``i``'s generator as evaluation sees it (the step's ``eval_state``, e.g. an EMA)."""
        return self.players.generator(i, self.step_fn.eval_state(self.players))

    def seed_view(self, i: int) -> SeedView:
        return SeedView(self.cfgs[i], self.budget, self.recipe, self.step, self.layouts[i].root,
                        self.dataset.modality)

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, evaluators: list[Evaluator] | None = None, protocol: Mapping[str, Any] | None = None,
            stop_at: int | None = None, monitors: list[Monitor] | None = None) -> LoopResult:
        """Train to the budget (or ``stop_at`` steps, which simulates an interruption).

        ``evaluators``: one per seed, called at each of the budget's evaluation steps with that seed's
        generator; each returns an Evaluation (values with the protocol they were computed under) or
        plain values, whose protocol is then ``protocol``. ``monitors``: one per seed."""
        eval_steps = set(self.budget.eval_steps())
        end = self.budget.steps if stop_at is None else min(stop_at, self.budget.steps)
        records: list[ResultRecord] = []
        t0 = time.perf_counter()
        losses: dict[str, torch.Tensor] = {}
        self.monitors = list(monitors or [])
        for lay in self.layouts:
            lay.root.mkdir(parents=True, exist_ok=True)
        for i, m in enumerate(self.monitors):
            m.start(self.seed_view(i))
        self.players.train()
        try:
            while self.step < end:
                losses = self.train_step()
                self._report(losses)
                at_eval = self.step in eval_steps
                if at_eval or self.step % self.budget.checkpoint_every == 0 or self.step == self.budget.steps:
                    self.guard.check(losses)
                if at_eval and evaluators:
                    records += self._evaluate(evaluators, protocol or {}, time.perf_counter() - t0, losses)
                if at_eval or self.step % self.budget.checkpoint_every == 0 or self.step == self.budget.steps:
                    self.save()
        finally:
            for m in self.monitors:
                m.close()  # flushes TensorBoard even when the run failed
        return LoopResult(self.step, time.perf_counter() - t0, records, finished=self.step >= self.budget.steps)

    def _report(self, losses: dict[str, torch.Tensor]) -> None:
        if not self.monitors:
            return
        if self.players.stacked:
            for i, m in enumerate(self.monitors):
                m.step(self.step, {k: v[i] for k, v in losses.items()})
        else:
            self.monitors[0].step(self.step, losses)

    def _evaluate(self, evaluators: list[Evaluator], protocol: Mapping[str, Any], wall_s: float,
                  losses: dict[str, torch.Tensor]) -> list[ResultRecord]:
        out = []
        for i, ev in enumerate(evaluators):
            mon = self.monitors[i] if i < len(self.monitors) else Monitor()
            train = {f"train_{k}": float(v[i] if self.players.stacked else v) for k, v in losses.items()}
            mon.evaluating(self.step)
            g = self.generator(i)
            result = ev(g)
            metrics, proto = (result.values, result.protocol) if isinstance(result, Evaluation) else \
                (dict(result), dict(protocol))
            mon.evaluated(self.step, metrics, g)
            self.players.train()
            rec = self.make_record(i, self.step, metrics, proto, wall_s, train)
            append_record(self.layouts[i].records, rec)
            out.append(rec)
        return out

    def make_record(self, i: int, step: int, metrics: Mapping[str, float], protocol: Mapping[str, Any],
                    wall_s: float, train: Mapping[str, float]) -> ResultRecord:
        """Seed ``i``'s record: its metrics (and training losses) with the run's protocol, the
        evaluation's protocol, which checkpoint it describes (``selection``) and provenance."""
        cfg = self.cfgs[i]
        proto = {**run_protocol(self.recipe, self.budget, self.dataset, len(self.cfgs), self.method.foreign_parts()),
                 **protocol, "selection": training_selection(step, self.budget.steps)}
        return ResultRecord(model=cfg.model, dataset=cfg.dataset, seed=cfg.seed, step=step,
                            metrics=finite_metrics({**metrics, **train}), protocol=proto,
                            provenance=provenance(wall_s=round(wall_s, 3), device_used=str(self.players.device)))
