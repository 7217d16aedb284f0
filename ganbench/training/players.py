"""The two players of a training run, for S >= 1 seeds: everything a method's step asks of them.

A ``Step`` (ganbench.training.method) is written once against ``Players``: each seed's own batches
and latents (``SeedStream``), G and D forwards, the optimisers' updates. Two kinds of players run
the same step code:

- ``SingleSeed``: one seed, ordinary modules (any layers: convolutions, spectral norm, class
  conditioning). Tensors are ``[B, ...]`` and losses scalars.
- ``StackedSeeds``: the S seeds of a method whose networks are MLPs built from ``STACKABLE`` layers,
  built one by one exactly as ``SingleSeed`` builds them (same seed, same initialisation), their
  parameters stacked with ``torch.func.stack_module_state``; each layer runs for all seeds at once
  as a batched matmul, batch norm and maxout per seed. Tensors are ``[S, B, ...]`` and losses ``[S]``.

Every loss is a mean over the last axis and updates back-propagate ``loss.sum()``: each seed's
gradient is its own, and Adam/RMSprop are elementwise, so a seed trains the same alone or stacked.
Checkpoints are per seed in one format (``seed_state``), whichever players wrote them.
"""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import nn

from ganbench.config import Budget, Recipe
from ganbench.data.base import Dataset
from ganbench.data.stream import SeedStream
from ganbench.errors import GanbenchError
from ganbench.nets.mlp import Maxout

# Layers the stacked forward knows how to run for S seeds at once.
STACKABLE = (nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.SiLU, nn.ELU, nn.Sigmoid, Maxout)
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.SiLU, nn.ELU, nn.Sigmoid, Maxout)


def make_optimizer(params: Any, opt: dict[str, Any], lr: float) -> torch.optim.Optimizer:
    name = opt.get("name", "adam")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(opt.get("betas", (0.5, 0.999))))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise GanbenchError(f"unknown optimizer {name!r}; use 'adam' or 'rmsprop'")


def leaf_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf layers in forward order (registration order for MLPs built as ``nn.Sequential``)."""
    return [(n, m) for n, m in module.named_modules() if not list(m.children()) and not isinstance(m, nn.Embedding)]


def unstackable_layers(module: nn.Module) -> list[str]:
    """Names of the layer types of ``module`` the stacked forward cannot run (empty: it can)."""
    return sorted({type(m).__name__ for _, m in leaf_layers(module) if not isinstance(m, STACKABLE)})


class Stacked:
    """S copies of one MLP: stacked parameters and buffers, and a forward over all copies."""

    def __init__(self, modules: list[nn.Module], device: torch.device) -> None:
        bad = unstackable_layers(modules[0])
        if bad:
            raise GanbenchError(f"the stacked path cannot run layers {bad}")
        params, buffers = torch.func.stack_module_state(modules)
        self.params = {k: v.detach().to(device).requires_grad_(True) for k, v in params.items()}
        self.buffers = {k: v.to(device) for k, v in buffers.items()}
        self.plan = leaf_layers(modules[0])

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

    def state(self) -> dict[str, torch.Tensor]:
        return {**self.params, **self.buffers}

    def state_dict(self, s: int) -> dict[str, torch.Tensor]:
        """Seed ``s``'s slice as an ordinary module state dict."""
        return {k: v[s].detach().cpu().clone() for k, v in self.state().items()}

    def load(self, s: int, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for k, v in self.state().items():
                v[s].copy_(state[k])


def _opt_slice(opt: torch.optim.Optimizer, s: int) -> dict[str, Any]:
    """One seed's optimizer state in torch's state-dict layout (what a single seed's checkpoint holds)."""
    sd = opt.state_dict()
    state = {i: {k: (v if k == "step" or v.dim() == 0 else v[s].clone()) for k, v in st.items()}
             for i, st in sd["state"].items()}
    return {"state": state, "param_groups": sd["param_groups"]}


def _opt_stack(opt: torch.optim.Optimizer, slices: list[dict[str, Any]]) -> None:
    first = slices[0]
    state = {i: {k: (v if k == "step" or v.dim() == 0 else torch.stack([sl["state"][i][k] for sl in slices]))
                 for k, v in st.items()} for i, st in first["state"].items()}
    opt.load_state_dict({"state": state, "param_groups": first["param_groups"]})


def seed_networks(networks: Any, arch: dict[str, Any], dataset: Dataset, recipe: Recipe,
                  seed: int) -> tuple[nn.Module, nn.Module]:
    """G and D of one seed: the network initialisation draws from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return networks(arch, dataset.shape, dataset.num_classes, recipe.conditional)


class Players(abc.ABC):
    """What a step reads and updates; ``SingleSeed`` and ``StackedSeeds`` fill it in.

    ``batch_dims``: leading axes before one example (1: ``[B, ...]``, 2: ``[S, B, ...]``)."""

    batch_dims = 1
    stacked = False

    def __init__(self, recipe: Recipe, budget: Budget, dataset: Dataset, seeds: list[int],
                 device: torch.device) -> None:
        self.recipe, self.budget, self.dataset, self.device = recipe, budget, dataset, device
        self.seeds = list(seeds)
        arch = recipe.arch[dataset.modality]
        self.pack = int(arch.get("pack", 1))
        self.batch_size = budget.batch_size
        self.opt_g: torch.optim.Optimizer
        self.opt_d: torch.optim.Optimizer
        self.streams: list[SeedStream] = []

    # -- what a step calls ----------------------------------------------------------------------
    @abc.abstractmethod
    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        ...

    @abc.abstractmethod
    def noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        ...

    @abc.abstractmethod
    def g(self, z: torch.Tensor, y: torch.Tensor | None = None,
          params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        ...

    @abc.abstractmethod
    def d(self, x: torch.Tensor, y: torch.Tensor | None = None,
          params: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        ...

    @abc.abstractmethod
    def interpolation_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Uniform weights, one per example, shaped to broadcast over ``x`` (each seed's own stream)."""
        ...

    def example_norms(self, t: torch.Tensor) -> torch.Tensor:
        """The L2 norm of each example of ``t`` (``[B]`` or ``[S, B]``)."""
        return t.flatten(self.batch_dims).norm(2, dim=-1)

    @abc.abstractmethod
    def d_params(self) -> dict[str, torch.Tensor]:
        ...

    @abc.abstractmethod
    def g_params(self) -> dict[str, torch.Tensor]:
        ...

    @abc.abstractmethod
    def g_state(self) -> dict[str, torch.Tensor]:
        """G's parameters and buffers by name (live tensors; seeds leading when stacked)."""
        ...

    def update_d(self, loss: torch.Tensor) -> None:
        _update(self.opt_d, loss)

    def update_g(self, loss: torch.Tensor) -> None:
        _update(self.opt_g, loss)

    @torch.no_grad()
    def clip_d(self, c: float) -> None:
        """WGAN's weight clipping to [-c, c] after every critic step (Arjovsky et al. 2017)."""
        for p in self.d_params().values():
            p.clamp_(-c, c)

    # -- what the loop calls ----------------------------------------------------------------------
    def set_lr(self, lr_g: float, lr_d: float) -> None:
        for opt, lr in ((self.opt_g, lr_g), (self.opt_d, lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr

    def train(self) -> None:
        """Training mode (batch norm uses batch statistics); the stacked forward always does."""

    @abc.abstractmethod
    def generator(self, i: int, state: dict[str, torch.Tensor] | None = None) -> nn.Module:
        """Seed ``i``'s generator as an ordinary module, with ``state`` (a ``g_state``-shaped dict) if given."""
        ...

    @abc.abstractmethod
    def seed_state(self, i: int) -> dict[str, Any]:
        """Seed ``i``'s weights, optimiser states and RNG states, in the checkpoint's layout."""
        ...

    @abc.abstractmethod
    def load_seed_states(self, states: list[dict[str, Any]]) -> None:
        ...

    def slice_state(self, state: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        """Seed ``i``'s part of a ``g_state``-shaped dict (a step's own tensors, e.g. an EMA of G)."""
        return {k: v.detach().cpu().clone() for k, v in state.items()}

    def stack_states(self, states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device) for k, v in states[0].items()}


def _update(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.sum().backward()  # a scalar alone; summed over seeds when stacked (each seed's gradient is its own)
    opt.step()


def simultaneous_update(players: Players, d_loss: torch.Tensor, g_loss: torch.Tensor) -> None:
    """PacGAN's update (IshmaelBelghazi/ALI ali/algorithms.py): both gradients taken at the same
    parameters, then both steps applied."""
    d_params, g_params = list(players.d_params().values()), list(players.g_params().values())
    d_grads = torch.autograd.grad(d_loss.sum(), d_params, retain_graph=True)
    g_grads = torch.autograd.grad(g_loss.sum(), g_params)
    for p, gr in zip(d_params + g_params, d_grads + g_grads):
        p.grad = gr
    players.opt_d.step()
    players.opt_g.step()


class SingleSeed(Players):
    """One seed's G and D as ordinary modules."""

    def __init__(self, recipe: Recipe, budget: Budget, dataset: Dataset, seed: int, device: torch.device,
                 networks: Any) -> None:
        super().__init__(recipe, budget, dataset, [seed], device)
        arch = recipe.arch[dataset.modality]
        self.g_net, self.d_net = seed_networks(networks, arch, dataset, recipe, seed)
        self.g_net.to(device)
        self.d_net.to(device)
        opt = recipe.optimizer
        self.opt_g = make_optimizer(self.g_net.parameters(), opt, opt["lr_g"])
        self.opt_d = make_optimizer(self.d_net.parameters(), opt, opt["lr_d"])
        # Every random draw of training comes from this stream, seeded from the run's seed.
        self.stream = SeedStream(dataset, seed, self.g_net.z_dim, self.pack, budget.train_size, device)
        self.streams = [self.stream]
        self.conditional = recipe.conditional if dataset.num_classes else ""

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.stream.real(self.batch_size)

    def noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        n = self.batch_size
        z = self.stream.noise(n * self.pack)
        y = None
        if self.conditional:
            y = torch.randint(self.dataset.num_classes, (n,), generator=self.stream.gen).to(self.device)
        return z, y

    def g(self, z: torch.Tensor, y: torch.Tensor | None = None,
          params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        if params is not None:
            return torch.func.functional_call(self.g_net, params, (z, y))
        return self.g_net(z, y)

    def d(self, x: torch.Tensor, y: torch.Tensor | None = None,
          params: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        # Only a projection discriminator reads the labels; an auxiliary classifier predicts them.
        args = (x, y if self.conditional == "projection" else None) if self.conditional else (x,)
        if params is not None:
            return torch.func.functional_call(self.d_net, params, args)
        return self.d_net(*args)

    def interpolation_weights(self, x: torch.Tensor) -> torch.Tensor:
        return self.stream.rand(x.shape[0], *(1,) * (x.dim() - 1))

    def d_params(self) -> dict[str, torch.Tensor]:
        return dict(self.d_net.named_parameters())

    def g_params(self) -> dict[str, torch.Tensor]:
        return dict(self.g_net.named_parameters())

    def g_state(self) -> dict[str, torch.Tensor]:
        return {**dict(self.g_net.named_parameters()), **dict(self.g_net.named_buffers())}

    def train(self) -> None:
        self.g_net.train()
        self.d_net.train()

    def generator(self, i: int, state: dict[str, torch.Tensor] | None = None) -> nn.Module:
        if state is None:
            return self.g_net
        import copy

        g = copy.deepcopy(self.g_net)
        g.load_state_dict({k: v.detach() for k, v in state.items()})
        return g

    def seed_state(self, i: int) -> dict[str, Any]:
        return {"generator": self.g_net.state_dict(), "discriminator": self.d_net.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "rng": {"train": self.stream.gen.get_state(), "torch": torch.get_rng_state(),
                        "stream": self.stream.state()}}

    def load_seed_states(self, states: list[dict[str, Any]]) -> None:
        (ck,) = states
        self.g_net.load_state_dict(ck["generator"])
        self.d_net.load_state_dict(ck["discriminator"])
        self.opt_g.load_state_dict(ck["opt_g"])
        self.opt_d.load_state_dict(ck["opt_d"])
        self.stream.load(ck["rng"].get("stream") or {"gen": ck["rng"]["train"], "perm": None, "pos": 0})
        torch.set_rng_state(ck["rng"]["torch"])


class StackedSeeds(Players):
    """All of ``seeds`` stacked: one batched G, one batched D, one step for all."""

    batch_dims = 2
    stacked = True

    def __init__(self, recipe: Recipe, budget: Budget, dataset: Dataset, seeds: list[int], device: torch.device,
                 networks: Any) -> None:
        super().__init__(recipe, budget, dataset, seeds, device)
        arch = recipe.arch[dataset.modality]
        pairs = [seed_networks(networks, arch, dataset, recipe, s) for s in self.seeds]
        self.g_modules, self.d_modules = [g for g, _ in pairs], [d for _, d in pairs]  # per-seed views
        self.G, self.D = Stacked(self.g_modules, device), Stacked(self.d_modules, device)
        opt = recipe.optimizer
        self.opt_g = make_optimizer(list(self.G.params.values()), opt, opt["lr_g"])
        self.opt_d = make_optimizer(list(self.D.params.values()), opt, opt["lr_d"])
        z_dim = self.g_modules[0].z_dim
        self.streams = [SeedStream(dataset, s, z_dim, self.pack, budget.train_size, device) for s in self.seeds]

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.stack([st.real(self.batch_size)[0] for st in self.streams]), None

    def noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.stack([st.noise(self.batch_size * self.pack) for st in self.streams]), None

    def g(self, z: torch.Tensor, y: torch.Tensor | None = None,
          params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        return self.G.forward(z, params)

    def d(self, x: torch.Tensor, y: torch.Tensor | None = None,
          params: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        s, n, dim = x.shape
        packed = x.reshape(s, n // self.pack, self.pack * dim)  # PacGAN's packing, per seed
        return self.D.forward(packed, params).squeeze(-1), None

    def interpolation_weights(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([st.rand(x.shape[1], *(1,) * (x.dim() - 2)) for st in self.streams])

    def d_params(self) -> dict[str, torch.Tensor]:
        return self.D.params

    def g_params(self) -> dict[str, torch.Tensor]:
        return self.G.params

    def g_state(self) -> dict[str, torch.Tensor]:
        return self.G.state()

    def generator(self, i: int, state: dict[str, torch.Tensor] | None = None) -> nn.Module:
        g = self.g_modules[i]
        g.load_state_dict(self.G.state_dict(i) if state is None else self.slice_state(state, i))
        return g.to(self.device)

    def slice_state(self, state: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        return {k: v[i].detach().cpu().clone() for k, v in state.items()}

    def stack_states(self, states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        return {k: torch.stack([st[k] for st in states]).to(self.device) for k in states[0]}

    def seed_state(self, i: int) -> dict[str, Any]:
        st = self.streams[i]
        return {"generator": self.G.state_dict(i), "discriminator": self.D.state_dict(i),
                "opt_g": _opt_slice(self.opt_g, i), "opt_d": _opt_slice(self.opt_d, i),
                "rng": {"train": st.gen.get_state(), "torch": torch.get_rng_state(), "stream": st.state()}}

    def load_seed_states(self, states: list[dict[str, Any]]) -> None:
        for i, ck in enumerate(states):
            self.G.load(i, ck["generator"])
            self.D.load(i, ck["discriminator"])
            self.streams[i].load(ck["rng"]["stream"])
        _opt_stack(self.opt_g, [ck["opt_g"] for ck in states])
        _opt_stack(self.opt_d, [ck["opt_d"] for ck in states])
