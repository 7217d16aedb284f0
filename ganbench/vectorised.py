"""Train every seed of one (model, dataset) on vector data as one stacked network.

The S seeds' networks are built one by one exactly as the per-seed loop builds them (same seed,
same initialisation), their parameters stacked with ``torch.func.stack_module_state``, and each
layer runs for all seeds at once as a batched matmul; batch norm and maxout act per seed. Each
seed draws its data and latents from its own ``SeedStream``, every loss is a per-seed mean summed
over seeds (so each seed's gradient is its own), and Adam/RMSprop are elementwise: a seed trains
the same whether alone or stacked. Checkpoints are written per seed in the per-seed loop's format
(``ganbench.train``), so ``ganbench eval`` and ``--resume`` read them; a group resumes from them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import torch
from torch import nn

from ganbench.config import RunConfig
from ganbench.data import get_dataset
from ganbench.data.stream import SeedStream
from ganbench.errors import GanbenchError
from ganbench.losses import OBJECTIVES
from ganbench.monitor import Monitor
from ganbench.nets import build_networks
from ganbench.nets.mlp import Maxout
from ganbench.records import ResultRecord, append_record, finite_metrics, provenance
from ganbench.generators.checkpoint import FORMAT
from ganbench.generators.checkpoint import atomic_save, load_checkpoint
from ganbench.io import pick_device
from ganbench.layout import CHECKPOINT, RECORDS, SAMPLES
from ganbench.train import check_resume_identity, make_optimizer, resolve_run, run_identity, run_protocol, set_lr, \
    simultaneous_update

LAYERS = (nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.LeakyReLU, nn.Tanh, Maxout)


def supports(cfg: RunConfig) -> bool:
    """Whether this run can train stacked: vector data, unconditional, no spectral norm."""
    ds = get_dataset(cfg.dataset, cfg.data_dir)
    if ds.modality != "vector":
        return False
    recipe, _ = resolve_run(cfg, "vector")
    return not recipe.conditional and recipe.arch["vector"].get("d_norm", "none") != "spectral"


def _leaves(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf layers in forward order (registration order for ganbench's MLPs)."""
    out = [(n, m) for n, m in module.named_modules() if not list(m.children()) and not isinstance(m, nn.Embedding)]
    bad = [type(m).__name__ for _, m in out if not isinstance(m, LAYERS)]
    if bad:
        raise GanbenchError(f"the vectorised path cannot stack layers {sorted(set(bad))}")
    return out


class Stacked:
    """S copies of one MLP: stacked parameters and buffers, and a forward over all copies."""

    def __init__(self, modules: list[nn.Module], device: torch.device) -> None:
        params, buffers = torch.func.stack_module_state(modules)
        self.params = {k: v.detach().to(device).requires_grad_(True) for k, v in params.items()}
        self.buffers = {k: v.to(device) for k, v in buffers.items()}
        self.plan = _leaves(modules[0])

    def forward(self, x: torch.Tensor, params: dict[str, torch.Tensor] | None = None,
                train: bool = True) -> torch.Tensor:
        p = self.params if params is None else params
        for name, m in self.plan:
            pre = f"{name}."
            if isinstance(m, nn.Linear):
                w = p[pre + "weight"].transpose(1, 2)
                x = torch.baddbmm(p[pre + "bias"].unsqueeze(1), x, w) if m.bias is not None else torch.bmm(x, w)
            elif isinstance(m, nn.BatchNorm1d):
                x = self._batch_norm(x, m, pre, p, train)
            else:
                x = m(x)
        return x

    def _batch_norm(self, x: torch.Tensor, m: nn.BatchNorm1d, pre: str, p: dict[str, torch.Tensor],
                    train: bool) -> torch.Tensor:
        b = self.buffers
        if train:
            mean, var = x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True)
            with torch.no_grad():  # population statistics as nn.BatchNorm1d keeps them (unbiased variance)
                n = x.shape[1]
                b[pre + "running_mean"].lerp_(mean.squeeze(1), m.momentum)
                b[pre + "running_var"].lerp_(var.squeeze(1) * n / max(n - 1, 1), m.momentum)
                b[pre + "num_batches_tracked"].add_(1)
        else:
            mean, var = b[pre + "running_mean"].unsqueeze(1), b[pre + "running_var"].unsqueeze(1)
        x = (x - mean) * torch.rsqrt(var + m.eps)
        return x * p[pre + "weight"].unsqueeze(1) + p[pre + "bias"].unsqueeze(1)

    def state_dict(self, s: int) -> dict[str, torch.Tensor]:
        """Seed ``s``'s slice as an ordinary module state dict."""
        return {k: v[s].detach().cpu().clone() for k, v in {**self.params, **self.buffers}.items()}

    def load(self, s: int, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for k, v in {**self.params, **self.buffers}.items():
                v[s].copy_(state[k])


def _opt_slice(opt: torch.optim.Optimizer, s: int) -> dict[str, Any]:
    """One seed's optimizer state in torch's state-dict layout (the per-seed loop's checkpoints)."""
    sd = opt.state_dict()
    state = {i: {k: (v if k == "step" or v.dim() == 0 else v[s].clone()) for k, v in st.items()}
             for i, st in sd["state"].items()}
    return {"state": state, "param_groups": sd["param_groups"]}


def _opt_stack(opt: torch.optim.Optimizer, slices: list[dict[str, Any]]) -> None:
    first = slices[0]
    state = {i: {k: (v if k == "step" or v.dim() == 0 else torch.stack([sl["state"][i][k] for sl in slices]))
                 for k, v in st.items()} for i, st in first["state"].items()}
    opt.load_state_dict({"state": state, "param_groups": first["param_groups"]})


@dataclass
class GroupResult:
    steps: int
    wall_s: float
    records: list[ResultRecord]


class GroupTrainer:
    """All of ``seeds`` for one (model, dataset): one stacked G, one stacked D, one step for all."""

    def __init__(self, cfg: RunConfig, seeds: list[int]) -> None:
        self.cfg, self.seeds = cfg, list(seeds)
        self.cfgs = [_with_seed(cfg, s) for s in self.seeds]
        self.dataset = get_dataset(cfg.dataset, cfg.data_dir)
        self.recipe, self.budget = resolve_run(cfg, self.dataset.modality)
        self.objective = OBJECTIVES[self.recipe.objective]
        self.device = pick_device(cfg.device)
        arch = self.recipe.arch["vector"]
        self.pack = int(arch.get("pack", 1))
        gs, ds = [], []
        for s in self.seeds:
            torch.manual_seed(s)  # the same initialisation as the per-seed loop
            g, d = build_networks(arch, self.dataset.shape)
            gs.append(g)
            ds.append(d)
        self.g_modules, self.d_modules = gs, ds  # per-seed views for evaluation
        self.g, self.d = Stacked(gs, self.device), Stacked(ds, self.device)
        opt = self.recipe.optimizer
        self.opt_g = make_optimizer(list(self.g.params.values()), opt, opt["lr_g"])
        self.opt_d = make_optimizer(list(self.d.params.values()), opt, opt["lr_d"])
        self.streams = [SeedStream(self.dataset, s, gs[0].z_dim, self.pack, self.budget.train_size, self.device)
                        for s in self.seeds]
        self.step = 0
        self.monitors: list[Monitor] = []  # one per seed while run() runs

    # -- draws --------------------------------------------------------------------------------
    def _real(self) -> torch.Tensor:
        return torch.stack([st.real(self.budget.batch_size)[0] for st in self.streams])

    def _noise(self) -> torch.Tensor:
        return torch.stack([st.noise(self.budget.batch_size * self.pack) for st in self.streams])

    def d_out(self, x: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        s, n, dim = x.shape
        return self.d.forward(x.reshape(s, n // self.pack, self.pack * dim), params).squeeze(-1)

    # -- steps ---------------------------------------------------------------------------------
    def train_step(self) -> dict[str, torch.Tensor]:
        set_lr((self.opt_g, self.opt_d), self.recipe, self.step, self.budget.steps)
        if self.recipe.update == "simultaneous":
            return self._simultaneous_step()
        penalty = self.recipe.penalty
        d_loss = torch.zeros(len(self.seeds))
        for _ in range(self.recipe.n_dis_at(self.step)):
            x_real, z = self._real(), self._noise()
            with torch.no_grad():
                x_fake = self.g.forward(z)
            d_loss = self.objective.d_loss(self.d_out(x_real), self.d_out(x_fake))
            if "gp" in penalty:
                d_loss = d_loss + penalty["gp"] * self._gradient_penalty(x_real, x_fake)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.sum().backward()
            self.opt_d.step()
            if "clip" in penalty:
                with torch.no_grad():
                    for p in self.d.params.values():
                        p.clamp_(-penalty["clip"], penalty["clip"])
        z = self._noise()
        x_fake = self.g.forward(z)
        if self.recipe.unroll:
            g_loss = self.objective.g_loss(self.d_out(x_fake, self._unrolled(x_real, x_fake)))
        else:
            g_loss = self.objective.g_loss(self.d_out(x_fake))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.sum().backward()
        self.opt_g.step()
        self.step += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def _simultaneous_step(self) -> dict[str, torch.Tensor]:
        # ALI's update (IshmaelBelghazi/ALI ali/algorithms.py), as the per-seed loop's.
        x_real, z = self._real(), self._noise()
        real, fake = self.d_out(x_real), self.d_out(self.g.forward(z))
        d_loss, g_loss = self.objective.d_loss(real, fake), self.objective.g_loss(fake)
        # Summed over seeds: each seed's parameters get their own seed's gradient.
        simultaneous_update(d_loss.sum(), g_loss.sum(), list(self.d.params.values()), list(self.g.params.values()),
                            (self.opt_d, self.opt_g))
        self.step += 1
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Gulrajani et al. 2017 per seed, with each seed's interpolation weights from its stream."""
        eps = torch.stack([st.rand(real.shape[1], 1) for st in self.streams])
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.d_out(x_hat).sum(), x_hat, create_graph=True)
        return ((grad.norm(2, dim=-1) - 1) ** 2).mean(-1)

    def _unrolled(self, x_real: torch.Tensor, x_fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """D's parameters after ``unroll`` differentiable Adam steps from its current state (Metz et
        al. 2017, section 2.2; the unrolled optimiser is D's own Adam, as poolio/unrolled_gan's
        graph_replace of Adam's updates), on the last D batch, so G's loss sees D's reply."""
        names = list(self.d.params)
        params = dict(self.d.params)
        group = self.opt_d.param_groups[0]
        if group.get("betas") is None:
            raise GanbenchError(f"{self.recipe.name}: unrolling needs D's optimiser to be Adam")
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        st = [self.opt_d.state.get(self.d.params[n], {}) for n in names]
        m = [s.get("exp_avg", torch.zeros_like(self.d.params[n])) for s, n in zip(st, names)]
        v = [s.get("exp_avg_sq", torch.zeros_like(self.d.params[n])) for s, n in zip(st, names)]
        t = float(st[0].get("step", 0)) if st[0] else 0.0
        for _ in range(self.recipe.unroll):
            loss = self.objective.d_loss(self.d_out(x_real, params), self.d_out(x_fake, params)).sum()
            grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=True)
            t += 1
            for i, (n, gr) in enumerate(zip(names, grads)):
                m[i] = b1 * m[i] + (1 - b1) * gr
                v[i] = b2 * v[i] + (1 - b2) * gr * gr
                # 1e-16 inside the root keeps its derivative finite where a maxout piece has no gradient
                denom = ((v[i] / (1 - b2 ** t)) + 1e-16).sqrt() + eps
                params[n] = params[n] - lr * (m[i] / (1 - b1 ** t)) / denom
        return params

    # -- checkpoints ---------------------------------------------------------------------------
    def seed_state(self, i: int) -> dict[str, Any]:
        cfg, st = self.cfgs[i], self.streams[i]
        return {
            "format": FORMAT,
            "generator": self.g.state_dict(i), "discriminator": self.d.state_dict(i),
            "opt_g": _opt_slice(self.opt_g, i), "opt_d": _opt_slice(self.opt_d, i),
            "step": self.step,
            "rng": {"train": st.gen.get_state(), "torch": torch.get_rng_state(), "stream": st.state()},
            "recipe": self.recipe.to_dict(),
            "run": {"model": cfg.model, "dataset": cfg.dataset, "seed": cfg.seed, "budget": self.budget.__dict__,
                    "modality": "vector", "shape": list(self.dataset.shape), "num_classes": 0,
                    "dataset_identity": self.dataset.identity(), "vectorised_with": self.seeds},
        }

    def save(self) -> None:
        """Every seed's checkpoint as one commit: each is written beside its target (``.pending``),
        then all are renamed. ``settle_checkpoints`` rolls a kill between the renames forward and a
        kill before them back, so the seeds of a group never resume from different steps (a seed
        trained alone is not bit-identical to the same seed in a larger stack)."""
        paths = [c.run_dir() / CHECKPOINT for c in self.cfgs]
        for i, path in enumerate(paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_save(self.seed_state(i), _pending(path))
        for path in paths:
            os.replace(_pending(path), path)

    def restore(self) -> None:
        cks = [load_checkpoint(c.run_dir() / CHECKPOINT) for c in self.cfgs]
        for c, ck in zip(self.cfgs, cks):  # the same identity check as the per-seed Trainer's
            check_resume_identity(ck, c.run_dir() / CHECKPOINT, run_identity(c, self.recipe, self.budget, self.dataset))
        steps = {int(ck["step"]) for ck in cks}
        if len(steps) != 1:
            raise GanbenchError(f"seeds {self.seeds} were checkpointed at different steps {sorted(steps)}")
        for i, ck in enumerate(cks):
            self.g.load(i, ck["generator"])
            self.d.load(i, ck["discriminator"])
            self.streams[i].load(ck["rng"]["stream"])
        _opt_stack(self.opt_g, [ck["opt_g"] for ck in cks])
        _opt_stack(self.opt_d, [ck["opt_d"] for ck in cks])
        self.step = steps.pop()

    # -- the loop ------------------------------------------------------------------------------
    def generator(self, i: int) -> nn.Module:
        """Seed ``i``'s generator as an ordinary module (population batch-norm statistics)."""
        g = self.g_modules[i]
        g.load_state_dict(self.g.state_dict(i))
        return g.to(self.device)

    def seed_view(self, i: int) -> SimpleNamespace:
        """What a ``ganbench.monitor.Monitor`` reads of a trainer, for seed ``i`` of the stack."""
        return SimpleNamespace(cfg=self.cfgs[i], budget=self.budget, step=self.step, recipe=self.recipe,
                               run_dir=self.cfgs[i].run_dir(), modality="vector")

    def run(self, evaluators: list[Callable[[nn.Module], dict[str, float]]] | None = None,
            protocol: dict[str, Any] | None = None, stop_at: int | None = None,
            monitors: list[Monitor] | None = None) -> GroupResult:
        """Train to the budget (or ``stop_at`` steps, which simulates an interruption).
        ``monitors``: one per seed (progress, TensorBoard), called as the per-seed loop calls its own."""
        eval_steps = set(self.budget.eval_steps())
        end = self.budget.steps if stop_at is None else min(stop_at, self.budget.steps)
        records: list[ResultRecord] = []
        t0 = time.perf_counter()
        losses: dict[str, torch.Tensor] = {}
        self.monitors = list(monitors or [])
        for i, m in enumerate(self.monitors):
            m.start(self.seed_view(i))
        try:
            while self.step < end:
                losses = self.train_step()
                for i, m in enumerate(self.monitors):
                    m.step(self.step, {k: v[i] for k, v in losses.items()})
                if self.step in eval_steps and evaluators:
                    records += self._evaluate(evaluators, protocol or {}, time.perf_counter() - t0, losses)
                if self.step % self.budget.checkpoint_every == 0 or self.step in eval_steps \
                        or self.step == self.budget.steps:
                    self.save()
        finally:
            for m in self.monitors:
                m.close()  # flushes TensorBoard even when the run failed
        return GroupResult(self.step, time.perf_counter() - t0, records)

    def _evaluate(self, evaluators: list[Callable[[nn.Module], dict[str, float]]], protocol: dict[str, Any],
                  wall_s: float, losses: dict[str, torch.Tensor]) -> list[ResultRecord]:
        out = []
        proto = {**run_protocol(self.recipe, self.budget, self.dataset), **protocol,
                 "vectorised_seeds": len(self.seeds)}
        monitors = self.monitors or [Monitor()] * len(self.cfgs)
        for i, (cfg, ev, mon) in enumerate(zip(self.cfgs, evaluators, monitors)):
            train = {f"train_{k}": float(v[i]) for k, v in losses.items()}
            mon.evaluating(self.step)
            g = self.generator(i)
            metrics = ev(g)
            mon.evaluated(self.step, metrics, g)
            rec = ResultRecord(model=cfg.model, dataset=cfg.dataset, seed=cfg.seed, step=self.step,
                               metrics=finite_metrics({**metrics, **train}), protocol=proto,
                               provenance=provenance(wall_s=round(wall_s, 3), device_used=str(self.device)))
            append_record(cfg.run_dir() / RECORDS, rec)
            out.append(rec)
        return out


def _pending(path: Path) -> Path:
    return path.with_name(path.name + ".pending")


def verify_checkpoints(cfgs: list[RunConfig]) -> None:
    """Settle a group's checkpoints, then check each seed's (where there is one) is this run's: the
    whole identity, as Trainer.restore checks it. A finished seed is kept only on that condition; a
    damaged, foreign or unsafe file is a one-line error."""
    dataset = get_dataset(cfgs[0].dataset, cfgs[0].data_dir)
    recipe, budget = resolve_run(cfgs[0], dataset.modality)
    settle_checkpoints([c.run_dir() / CHECKPOINT for c in cfgs])
    for c in cfgs:
        if (c.run_dir() / CHECKPOINT).exists():
            check_resume_identity(load_checkpoint(c.run_dir() / CHECKPOINT), c.run_dir() / CHECKPOINT,
                                  run_identity(c, recipe, budget, dataset))


def settle_checkpoints(paths: list[Path]) -> None:
    """Finish or undo a group commit that a kill interrupted (GroupTrainer.save): when every seed
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


def _with_seed(cfg: RunConfig, seed: int) -> RunConfig:
    import dataclasses

    return dataclasses.replace(cfg, seed=seed)


def checkpoint_step(cfg: RunConfig) -> int:
    """The step of a run's checkpoint, or -1 without one."""
    path = Path(cfg.run_dir()) / CHECKPOINT
    return int(load_checkpoint(path)["step"]) if path.exists() else -1


def _finished(cfg: RunConfig, steps: int) -> bool:
    return checkpoint_step(cfg) >= steps and (cfg.run_dir() / RECORDS).exists()


def run_group(cfg: RunConfig, seeds: list[int], progress_queue: Any = None) -> list[Any]:
    """Train and evaluate ``seeds`` of ``cfg``'s (model, dataset) stacked; one RunOutcome per seed.
    ``progress_queue``: the suite display's queue (each seed shows as its own run), as in run_one.

    With ``cfg.resume`` finished seeds are kept and the others continue from their checkpoints
    (seeds checkpointed at different steps continue as separate stacks)."""
    import numpy as np

    from ganbench.evaluation.training import make_evaluator
    from ganbench.records import read_records
    from ganbench.suite import RunOutcome, make_monitor

    t0 = time.perf_counter()
    cfgs = [_with_seed(cfg, s) for s in seeds]
    recipe, budget = resolve_run(cfg, "vector")
    outcomes: dict[int, RunOutcome] = {}
    by_step: dict[int, list[int]] = {}
    if cfg.resume:
        verify_checkpoints(cfgs)
    for c in cfgs:
        if (c.run_dir() / CHECKPOINT).exists() and not cfg.resume:
            raise GanbenchError(f"{c.run_dir()} already holds a run; pass --resume to continue it "
                                f"or choose another --out")
        if cfg.resume and _finished(c, budget.steps):
            outcomes[c.seed] = RunOutcome(c, [r.__dict__ for r in read_records([c.run_dir() / RECORDS])], 0.0,
                                          skipped=True)
        else:
            by_step.setdefault(checkpoint_step(c) if cfg.resume else -1, []).append(c.seed)
    for step, group in sorted(by_step.items()):
        gt = GroupTrainer(cfg, group)
        if step >= 0:
            gt.restore()
        evs = [make_evaluator(gt.dataset, gt.budget, s) for s in group]
        gt.run(evs, getattr(evs[0], "protocol", {}), monitors=[make_monitor(c, progress_queue) for c in gt.cfgs])
        for i, (c, ev) in enumerate(zip(gt.cfgs, evs)):
            np.savez_compressed(c.run_dir() / SAMPLES, samples=ev.samples(gt.generator(i)))
            recs = [r.__dict__ for r in read_records([c.run_dir() / RECORDS])]
            outcomes[c.seed] = RunOutcome(c, recs, time.perf_counter() - t0)
    return [outcomes[s] for s in seeds]
