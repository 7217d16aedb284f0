"""The one training loop: a fixed budget of generator steps, n_dis critic steps each, one seed,
atomic checkpoints with every RNG state, and exact resume.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from ganbench.config import Budget, Recipe, RunConfig
from ganbench.data import get_dataset
from ganbench.data.base import Dataset
from ganbench.data.stream import SeedStream
from ganbench.errors import GanbenchError
from ganbench.evaluation.engine import Evaluation
from ganbench.generators.checkpoint import FORMAT, atomic_save, load_checkpoint
from ganbench.io import pick_device
from ganbench.losses import OBJECTIVES, clip_weights, gradient_penalty
from ganbench.monitor import BarMonitor, Monitor
from ganbench.nets import build_networks
from ganbench.records import ResultRecord, finite_metrics, provenance
from ganbench.selection import training_selection



def make_optimizer(params: Any, opt: dict[str, Any], lr: float) -> torch.optim.Optimizer:
    name = opt.get("name", "adam")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(opt.get("betas", (0.5, 0.999))))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise GanbenchError(f"unknown optimizer {name!r}; use 'adam' or 'rmsprop'")


def set_lr(opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer], recipe: Recipe, step: int,
           steps: int) -> None:
    """``optimizer.decay_from`` (a fraction of the budget; absent: constant lr): the learning rates
    fall linearly to 0 from that point to the last step. A pure function of the step, so resume needs no state."""
    start = recipe.optimizer.get("decay_from")
    if start is None:
        return
    first = int(start * steps)
    scale = 1.0 if step < first else max(0.0, 1.0 - (step - first) / max(1, steps - first))
    for opt, key in zip(opts, ("lr_g", "lr_d")):
        for group in opt.param_groups:
            group["lr"] = recipe.optimizer[key] * scale


def resolve_run(cfg: RunConfig, modality: str, recipe: Recipe | None = None) -> tuple[Recipe, Budget]:
    """The recipe and budget one run trains with (the budget's protocol merged into the recipe)."""
    base = recipe or cfg.recipe()
    budget = cfg.resolve_budget(base, modality)
    return base.for_run(modality, budget, cfg.recipe_overrides), budget


def run_protocol(recipe: Recipe, budget: Budget, dataset: Dataset) -> dict[str, Any]:
    """What every record says about how the run was trained."""
    proto: dict[str, Any] = {"budget": budget.name, "steps": budget.steps, "batch_size": budget.batch_size,
                             "n_dis": recipe.n_dis, "objective": recipe.objective,
                             "dataset_identity": dataset.identity()}
    if budget.protocol:
        proto["protocol"] = budget.protocol
    pack = int(recipe.arch.get(dataset.modality, {}).get("pack", 1))
    extra = {"update": recipe.update if recipe.update != "alternating" else None, "pack": pack if pack > 1 else None,
             "unroll": recipe.unroll or None, "train_size": budget.train_size or None}
    proto.update({k: v for k, v in extra.items() if v is not None})
    return proto


@dataclass
class TrainResult:
    generator: nn.Module
    discriminator: nn.Module
    records: list[ResultRecord]
    run_dir: Path
    step: int
    wall_s: float
    finished: bool = True


def _flat(v: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(v, dict):
        return {k2: x for k, sub in v.items() for k2, x in _flat(sub, f"{prefix}{k}.").items()}
    return {prefix.rstrip("."): list(v) if isinstance(v, tuple) else v}


_ABSENT = object()
_SHOWN = 6  # differing keys named per part; the line stays readable when the model itself changed


def _diff_detail(key: str, old: Any, new: Any) -> str:
    """``recipe differs in optimizer.lr_g: 0.0002 -> 0.0005, ...``: each differing leaf, checkpoint -> now."""
    a, b = _flat(old), _flat(new)
    if set(a) == set(b) == {""}:  # a plain value (model, seed, dataset)
        return f"{key}: {a['']!r} -> {b['']!r}"
    keys = sorted(k for k in set(a) | set(b) if a.get(k, _ABSENT) != b.get(k, _ABSENT))
    # A generated protocol sentence follows the values it is written from: name the values, not it too.
    values = [k for k in keys if not k.endswith(".protocol")]
    follows = " (and the protocol sentences written from them)" if values and len(values) < len(keys) else ""
    keys = values or keys

    def show(v: Any) -> str:
        return "(absent)" if v is _ABSENT else repr(v)

    shown = ", ".join(f"{k or '(the whole value)'}: {show(a.get(k, _ABSENT))} -> {show(b.get(k, _ABSENT))}"
                      for k in keys[:_SHOWN])
    return f"{key} differs in {shown}" + (f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "") + follows


def simultaneous_update(d_loss: torch.Tensor, g_loss: torch.Tensor, d_params: list, g_params: list,
                        opts: tuple[torch.optim.Optimizer, ...]) -> None:
    """PacGAN's update (IshmaelBelghazi/ALI ali/algorithms.py): both gradients taken at the same
    parameters, then both steps applied."""
    d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
    g_grads = torch.autograd.grad(g_loss, g_params)
    for p, gr in zip(d_params + g_params, d_grads + g_grads):
        p.grad = gr
    for o in opts:
        o.step()


def run_identity(cfg: RunConfig, recipe: Recipe, budget: Budget, dataset: Dataset) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the run's whole identity."""
    return {"model": cfg.model, "dataset": cfg.dataset, "seed": cfg.seed, "dataset_identity": dataset.identity(),
            "budget": budget.__dict__, "recipe": recipe.to_dict()}


def check_resume_identity(ck: dict[str, Any], path: Path, identity: dict[str, Any]) -> None:
    """A one-line error naming every key in which checkpoint ``ck`` differs from ``identity``."""
    run = ck.get("run") if isinstance(ck.get("run"), dict) else {}
    stored = {**run, "recipe": ck.get("recipe")}
    diff = [k for k, v in identity.items() if _flat(stored.get(k)) != _flat(v)]
    if diff:
        parts = [_diff_detail(k, stored.get(k), identity[k]) for k in diff]
        raise GanbenchError(f"{path}: cannot resume, checkpoint -> now: {'; '.join(parts)}; "
                            "use the original options or another --out")


def _values_and_protocol(result: Evaluation | Mapping[str, float],
                         protocol: Mapping[str, Any] | None) -> tuple[dict[str, float], dict[str, Any]]:
    if isinstance(result, Evaluation):
        return result.values, result.protocol
    return dict(result), dict(protocol or {})


class Trainer:
    """Owns the loop and the budget; the objective owns the loss terms (docs/design.md convention 7)."""

    def __init__(self, cfg: RunConfig, dataset: Dataset | None = None, recipe: Recipe | None = None) -> None:
        """The trainer of ``cfg``: its dataset (unless given), recipe and budget resolved, then built
        from those parts exactly as ``from_recipe`` builds it."""
        dataset = dataset or get_dataset(cfg.dataset, cfg.data_dir)
        run_recipe, budget = resolve_run(cfg, dataset.modality, recipe)
        self._assemble(cfg, run_recipe, budget, dataset)

    @classmethod
    def from_recipe(cls, cfg: RunConfig, recipe: Recipe, budget: Budget, dataset: Dataset) -> Trainer:
        """A trainer from its parts: the recipe as this run trains it (``resolve_run``: the budget's
        protocol and ``cfg``'s overrides merged), the budget and the dataset. ``cfg`` gives the seed,
        device, output directory and progress display."""
        trainer = cls.__new__(cls)
        trainer._assemble(cfg, recipe, budget, dataset)
        return trainer

    def _assemble(self, cfg: RunConfig, recipe: Recipe, budget: Budget, dataset: Dataset) -> None:
        self.cfg, self.dataset, self.recipe, self.budget = cfg, dataset, recipe, budget
        self.modality = dataset.modality
        if recipe.unroll:
            raise GanbenchError(f"{recipe.name}: unrolled updates run on the vectorised path "
                                f"(ganbench.vectorised); `ganbench run` uses it for vector data")
        self.objective = OBJECTIVES.get(recipe.objective)
        if self.objective is None:
            raise GanbenchError(f"unknown objective {recipe.objective!r}; known: {sorted(OBJECTIVES)}")
        if recipe.conditional and not dataset.num_classes:
            raise GanbenchError(f"{recipe.name} is conditional but {dataset.name} has no labels")
        self.device = pick_device(cfg.device)
        self.layout = cfg.layout()
        self.run_dir = self.layout.root

        torch.manual_seed(cfg.seed)  # network initialisation
        arch = recipe.arch[self.modality]
        self.g, self.d = build_networks(arch, dataset.shape, dataset.num_classes, recipe.conditional)
        self.g.to(self.device)
        self.d.to(self.device)
        opt = recipe.optimizer
        self.opt_g = make_optimizer(self.g.parameters(), opt, opt["lr_g"])
        self.opt_d = make_optimizer(self.d.parameters(), opt, opt["lr_d"])
        # Every random draw of training comes from this stream, seeded from the run's seed.
        self.stream = SeedStream(dataset, cfg.seed, self.g.z_dim, int(arch.get("pack", 1)), budget.train_size,
                                 self.device)
        self.gen = self.stream.gen
        self.step = 0
        # Progress and logs (ganbench.monitor); the suite replaces this with its display and TensorBoard.
        self.monitor: Monitor = BarMonitor() if cfg.progress else Monitor()

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "generator": self.g.state_dict(),
            "discriminator": self.d.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "step": self.step,
            "rng": {"train": self.gen.get_state(), "torch": torch.get_rng_state(), "stream": self.stream.state()},
            "recipe": self.recipe.to_dict(),
            "run": {"model": self.cfg.model, "dataset": self.cfg.dataset, "seed": self.cfg.seed,
                    "budget": self.budget.__dict__, "modality": self.modality,
                    "shape": list(self.dataset.shape), "num_classes": self.dataset.num_classes,
                    "dataset_identity": self.dataset.identity()},
        }

    def save(self) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.layout.checkpoint
        atomic_save(self.state(), path)
        return path

    def restore(self, path: Path) -> None:
        ck = load_checkpoint(path)
        self.check_identity(ck, path)
        self.g.load_state_dict(ck["generator"])
        self.d.load_state_dict(ck["discriminator"])
        self.opt_g.load_state_dict(ck["opt_g"])
        self.opt_d.load_state_dict(ck["opt_d"])
        self.stream.load(ck["rng"].get("stream") or {"gen": ck["rng"]["train"], "perm": None, "pos": 0})
        torch.set_rng_state(ck["rng"]["torch"])
        self.step = int(ck["step"])

    def identity(self) -> dict[str, Any]:
        return run_identity(self.cfg, self.recipe, self.budget, self.dataset)

    def check_identity(self, ck: dict[str, Any], path: Path) -> None:
        check_resume_identity(ck, path, self.identity())

    # -- one generator step --------------------------------------------------------------------
    def _d_scores(self, x: torch.Tensor, y: torch.Tensor | None):
        return self.d(x, y if self.recipe.conditional == "projection" else None) if self.recipe.conditional \
            else self.d(x)

    def _noise(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = self.stream.noise(n * self.stream.pack)
        y = None
        if self.recipe.conditional:
            y = torch.randint(self.dataset.num_classes, (n,), generator=self.gen).to(self.device)
        return z, y

    def _aux_loss(self, cls_logits: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor | float:
        # ACGAN (Odena et al. 2017): both players minimise the class log-likelihood loss.
        if cls_logits is None or y is None:
            return 0.0
        return nn.functional.cross_entropy(cls_logits, y)

    def train_step(self) -> dict[str, torch.Tensor]:
        """One generator step; the losses stay on the device (no host sync per step)."""
        set_lr((self.opt_g, self.opt_d), self.recipe, self.step, self.budget.steps)
        if self.recipe.update == "simultaneous":
            return self._simultaneous_step()
        bs = self.budget.batch_size
        penalty = self.recipe.penalty
        d_loss = torch.zeros(())
        for _ in range(self.recipe.n_dis_at(self.step)):
            x_real, y_real = self.stream.real(bs)
            z, y_fake = self._noise(bs)
            with torch.no_grad():
                x_fake = self.g(z, y_fake)
            real_adv, real_cls = self._d_scores(x_real, y_real)
            fake_adv, fake_cls = self._d_scores(x_fake, y_fake)
            d_loss = self.objective.d_loss(real_adv, fake_adv)
            d_loss = d_loss + self._aux_loss(real_cls, y_real) + self._aux_loss(fake_cls, y_fake)
            if "gp" in penalty:
                d_loss = d_loss + penalty["gp"] * gradient_penalty(
                    self.d, x_real, x_fake, y_real if self.recipe.conditional == "projection" else None, self.gen)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            if "clip" in penalty:
                clip_weights(self.d, penalty["clip"])

        z, y_fake = self._noise(bs)
        fake_adv, fake_cls = self._d_scores(self.g(z, y_fake), y_fake)
        g_loss = self.objective.g_loss(fake_adv) + self._aux_loss(fake_cls, y_fake)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.step += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def _simultaneous_step(self) -> dict[str, torch.Tensor]:
        # ALI's update (IshmaelBelghazi/ALI ali/algorithms.py): both gradients from one forward pass.
        if self.recipe.conditional or self.recipe.penalty or self.recipe.n_dis != 1:
            raise GanbenchError(f"{self.recipe.name}: the simultaneous update supports unconditional, "
                                f"unpenalised recipes with n_dis 1")
        x_real, _ = self.stream.real(self.budget.batch_size)
        z, _ = self._noise(self.budget.batch_size)
        real_adv, _ = self.d(x_real)
        fake_adv, _ = self.d(self.g(z))
        d_loss = self.objective.d_loss(real_adv, fake_adv)
        g_loss = self.objective.g_loss(fake_adv)
        simultaneous_update(d_loss, g_loss, list(self.d.parameters()), list(self.g.parameters()),
                            (self.opt_d, self.opt_g))
        self.step += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    # -- the loop ------------------------------------------------------------------------------
    def run(self, evaluator: Callable[[nn.Module], Evaluation | Mapping[str, float]] | None = None,
            protocol: Mapping[str, Any] | None = None, stop_at: int | None = None) -> TrainResult:
        """Train to the budget (or ``stop_at`` steps, which simulates an interruption).

        ``evaluator``: the evaluation hook, called at each of the budget's evaluation steps. It
        returns an Evaluation (values with the protocol they were computed under, e.g.
        ``ImageEvaluator.evaluate``) or plain values, whose protocol is then ``protocol``."""
        ck_path = self.layout.checkpoint
        if self.cfg.resume and ck_path.exists():
            self.restore(ck_path)
        elif ck_path.exists() and not self.cfg.resume:
            raise GanbenchError(f"{self.run_dir} already holds a run; pass --resume to continue it "
                                f"or choose another --out")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        eval_steps = set(self.budget.eval_steps())
        records: list[ResultRecord] = []
        t0 = time.perf_counter()
        end = self.budget.steps if stop_at is None else min(stop_at, self.budget.steps)
        self.monitor.start(self)
        self.g.train()
        self.d.train()
        losses: dict[str, torch.Tensor] = {}
        while self.step < end:
            losses = self.train_step()
            self.monitor.step(self.step, losses)
            if self.step in eval_steps and evaluator is not None:
                self.monitor.evaluating(self.step)
                metrics, proto = _values_and_protocol(evaluator(self.g), protocol)
                self.monitor.evaluated(self.step, metrics, self.g)
                self.g.train()
                rec = self.make_record(self.step, metrics, proto, time.perf_counter() - t0,
                                       {k: float(v) for k, v in losses.items()})
                self.layout.append(rec)
                records.append(rec)
            if self.step % self.budget.checkpoint_every == 0 or self.step in eval_steps \
                    or self.step == self.budget.steps:
                self.save()
        self.monitor.close()
        return TrainResult(self.g, self.d, records, self.run_dir, self.step, time.perf_counter() - t0,
                           finished=self.step >= self.budget.steps)

    def make_record(self, step: int, metrics: dict[str, float], protocol: dict[str, Any], wall_s: float,
                    losses: dict[str, float]) -> ResultRecord:
        proto = {**run_protocol(self.recipe, self.budget, self.dataset), **protocol,
                 "selection": training_selection(step, self.budget.steps)}
        return ResultRecord(
            model=self.cfg.model, dataset=self.cfg.dataset, seed=self.cfg.seed, step=step,
            metrics=finite_metrics({**metrics, **{f"train_{k}": v for k, v in losses.items()}}),
            protocol=proto, provenance=provenance(wall_s=round(wall_s, 3), device_used=str(self.device)))
