"""A GAN method: its networks, its objective and its training step.

The training loop (ganbench.training.loop) owns the schedule: the budget's generator steps, n_dis,
the learning-rate schedule, evaluation, checkpoints with every RNG state, exact resume, the
monitor and the records. A method owns what happens inside one generator step. It is written
once, against ``Players`` (ganbench.training.players), so the same step trains one seed or S
seeds stacked.

- ``Method``: the recipe (optimiser, n_dis, budgets, architecture sections: data) plus three code
  parts, each a registered name or a ``package.module:Name`` the recipe names: the networks
  (``arch.<modality>.generator`` / ``.discriminator``), the ``objective`` and the ``update`` (the step).
- ``Step``: one generator step of training. ``AlternatingStep`` (n_dis critic steps on fresh batches,
  then a generator step; gradient penalty, weight clipping and the auxiliary classifier loss as the
  recipe says), ``SimultaneousStep`` (PacGAN's) and ``UnrolledStep`` (Metz et al. 2017) are the
  built-in ones; a user's step subclasses one of them or ``Step``.

A step may keep tensors of its own (an EMA of G's weights, say): ``state`` returns them shaped like
``Players.g_state()`` (seeds leading when stacked), checkpoints keep each seed's slice, and
``eval_state`` says which generator weights evaluation sees.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor

from ganbench.code import code_origin, import_reference, is_reference
from ganbench.config import Recipe
from ganbench.errors import GanbenchError, UnknownNameError
from ganbench.losses import Objective
from ganbench.registry import OBJECTIVES, STEPS
from ganbench.training.players import Players, simultaneous_update


class Step(abc.ABC):
    """One generator step of a method; the loop calls ``step(players, n_dis)`` once per generator step.

    ``stackable``: the step uses only ``Players``' operations (no per-seed Python logic), so S seeds
    may share one stacked step. Set it False to train every seed on its own."""

    stackable: bool = True

    def __init__(self, method: Method) -> None:
        self.method = method
        self.recipe = method.recipe
        self.objective = method.objective

    @abc.abstractmethod
    def __call__(self, players: Players, n_dis: int) -> dict[str, Tensor]:
        """Train one generator step (with ``n_dis`` critic steps); return the losses to log, each a
        scalar (one seed) or ``[S]`` (stacked), left on the device."""

    def check(self, players: Players) -> None:
        """Refuse, in one line, players this step cannot train (called before anything is written)."""

    def start(self, players: Players) -> None:
        """Called once when the loop is built (after ``check``), before a resume restores the step's
        own state (``load_state``): create that state here (e.g. an EMA of G's fresh weights)."""

    def state(self, players: Players) -> dict[str, Tensor]:
        """Tensors of the step's own to checkpoint, shaped like ``players.g_state()``."""
        return {}

    def load_state(self, players: Players, state: dict[str, Tensor]) -> None:
        """Restore what ``state`` returned (already stacked for ``players``)."""

    def eval_state(self, players: Players) -> dict[str, Tensor] | None:
        """The generator weights evaluation and saved samples use (``g_state``-shaped); None: the live ones."""
        return None


class AlternatingStep(Step):
    """n_dis discriminator steps on fresh batches, then one generator step on fresh latents
    (Goodfellow et al. 2014, Algorithm 1). The recipe's ``penalty`` adds WGAN-GP's gradient penalty
    (``gp``) or WGAN's weight clipping (``clip``); class-conditional recipes add the auxiliary
    classifier loss (ACGAN) or feed labels to a projection discriminator."""

    def __call__(self, players: Players, n_dis: int) -> dict[str, Tensor]:
        d_loss = torch.zeros(len(players.seeds) if players.stacked else ())
        for _ in range(n_dis):
            d_loss = self.discriminator_step(players)
        g_loss = self.generator_step(players)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def discriminator_step(self, players: Players) -> Tensor:
        x_real, y_real = players.real()
        z, y_fake = players.noise()
        with torch.no_grad():
            x_fake = players.g(z, y_fake)
        self.last_batch = (x_real, y_real)
        loss = self.discriminator_loss(players, x_real, y_real, x_fake, y_fake)
        players.update_d(loss)
        if "clip" in self.recipe.penalty:
            players.clip_d(self.recipe.penalty["clip"])
        return loss

    def discriminator_loss(self, players: Players, x_real: Tensor, y_real: Tensor | None, x_fake: Tensor,
                           y_fake: Tensor | None) -> Tensor:
        real_adv, real_cls = players.d(x_real, y_real)
        fake_adv, fake_cls = players.d(x_fake, y_fake)
        loss = self.objective.d_loss(real_adv, fake_adv)
        loss = loss + aux_loss(real_cls, y_real) + aux_loss(fake_cls, y_fake)
        if "gp" in self.recipe.penalty:
            loss = loss + self.recipe.penalty["gp"] * gradient_penalty(players, x_real, x_fake, y_real)
        return loss

    def generator_step(self, players: Players) -> Tensor:
        z, y_fake = players.noise()
        loss = self.generator_loss(players, players.g(z, y_fake), y_fake)
        players.update_g(loss)
        return loss

    def generator_loss(self, players: Players, x_fake: Tensor, y_fake: Tensor | None) -> Tensor:
        fake_adv, fake_cls = players.d(x_fake, y_fake)
        return self.objective.g_loss(fake_adv) + aux_loss(fake_cls, y_fake)


def aux_loss(cls_logits: Tensor | None, y: Tensor | None) -> Tensor | float:
    """ACGAN (Odena et al. 2017): both players minimise the class log-likelihood loss."""
    if cls_logits is None or y is None:
        return 0.0
    return torch.nn.functional.cross_entropy(cls_logits, y)


def gradient_penalty(players: Players, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
    """Gulrajani et al. 2017: (||grad D(x_hat)||_2 - 1)^2 on random interpolates, each seed's
    interpolation weights from its own stream."""
    eps = players.interpolation_weights(real)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    out, _ = players.d(x_hat, y)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((players.example_norms(grad) - 1) ** 2).mean(-1)


class SimultaneousStep(Step):
    """ALI's and PacGAN's update (IshmaelBelghazi/ALI ali/algorithms.py, used by fjxmlzn/PacGAN):
    one real batch and one z, both players' gradients at the same parameters, applied together."""

    def check(self, players: Players) -> None:
        r = self.recipe
        if r.conditional or r.penalty or r.n_dis != 1:
            raise GanbenchError(f"{r.name}: the simultaneous update supports unconditional, unpenalised "
                                "recipes with n_dis 1")

    def __call__(self, players: Players, n_dis: int) -> dict[str, Tensor]:
        x_real, _ = players.real()
        z, _ = players.noise()
        real_adv, _ = players.d(x_real)
        fake_adv, _ = players.d(players.g(z))
        d_loss, g_loss = self.objective.d_loss(real_adv, fake_adv), self.objective.g_loss(fake_adv)
        simultaneous_update(players, d_loss, g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


class UnrolledStep(AlternatingStep):
    """Unrolled GAN (Metz et al. 2017, section 2.2): the critic steps as ``AlternatingStep``, then G's
    loss is taken through ``recipe.unroll`` further differentiable Adam steps of D from its current
    state, on the last critic batch (poolio/unrolled_gan unrolled_gan.ipynb unrolls Adam's updates
    with graph_replace), so G sees D's reply."""

    def check(self, players: Players) -> None:
        if self.recipe.unroll < 1:
            raise GanbenchError(f"{self.recipe.name}: update 'unrolled' needs unroll >= 1")
        if players.opt_d.param_groups[0].get("betas") is None:
            raise GanbenchError(f"{self.recipe.name}: unrolling needs D's optimiser to be Adam")

    def generator_step(self, players: Players) -> Tensor:
        z, y_fake = players.noise()
        x_fake = players.g(z, y_fake)
        x_real, _ = self.last_batch
        params = self._unrolled(players, x_real, x_fake)
        loss = self.objective.g_loss(players.d(x_fake, y_fake, params)[0])
        players.update_g(loss)
        return loss

    def _unrolled(self, players: Players, x_real: Tensor, x_fake: Tensor) -> dict[str, Tensor]:
        live = players.d_params()
        names, params = list(live), dict(live)
        group = players.opt_d.param_groups[0]
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        st = [players.opt_d.state.get(live[n], {}) for n in names]
        m = [s.get("exp_avg", torch.zeros_like(live[n])) for s, n in zip(st, names)]
        v = [s.get("exp_avg_sq", torch.zeros_like(live[n])) for s, n in zip(st, names)]
        t = float(st[0].get("step", 0)) if st[0] else 0.0
        for _ in range(self.recipe.unroll):
            loss = self.objective.d_loss(players.d(x_real, None, params)[0], players.d(x_fake, None, params)[0]).sum()
            grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=True)
            t += 1
            for i, (n, gr) in enumerate(zip(names, grads)):
                m[i] = b1 * m[i] + (1 - b1) * gr
                v[i] = b2 * v[i] + (1 - b2) * gr * gr
                # 1e-16 inside the root keeps its derivative finite where a maxout piece has no gradient
                denom = ((v[i] / (1 - b2 ** t)) + 1e-16).sqrt() + eps
                params[n] = params[n] - lr * (m[i] / (1 - b1 ** t)) / denom
        return params


for _name, _cls, _help in (
        ("alternating", AlternatingStep, "n_dis critic steps on fresh batches, then a generator step"),
        ("simultaneous", SimultaneousStep, "both players' gradients at the same parameters (ALI, PacGAN)"),
        ("unrolled", UnrolledStep, "G's loss through `unroll` differentiable Adam steps of D (Metz et al. 2017)")):
    STEPS.register(_name, _cls, help=_help)


NetworksBuilder = Callable[..., Any]


@dataclass
class Method:
    """A method: ``recipe`` (the data) and its code parts, resolved from the recipe unless given.

    ``networks(arch, shape, num_classes, conditional) -> (G, D)``; ``objective``: an
    ``ganbench.losses.Objective``; ``step``: a ``Step`` subclass (or a callable taking the method
    and returning a ``Step``). ``source``: where the recipe was read, named in error messages.
    ``parts``: where each code part that is not ganbench's own came from (filled on resolution)."""

    recipe: Recipe
    networks: NetworksBuilder | None = None
    objective: Objective | None = None
    step: Callable[[Method], Step] | None = None
    source: str = ""
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.source = self.source or self.recipe.source
        self.given = {k for k in ("networks", "objective", "step") if getattr(self, k) is not None}
        where = self.source or f"recipe {self.recipe.name!r}"
        for key in self.given:
            self.parts.setdefault("update" if key == "step" else key, code_origin(getattr(self, key)))
        # A part handed in is what the recipe's field says the run trains with (records name it).
        named = {"update": self.parts.get("update", {}).get("ref") if "step" in self.given else None,
                 "objective": self.parts.get("objective", {}).get("ref") if "objective" in self.given else None}
        named = {k: v for k, v in named.items() if v and getattr(self.recipe, k) != v}
        if named:
            source, self.recipe = self.recipe.source, dataclasses.replace(self.recipe, **named)
            self.recipe.source = source
        if self.objective is None:
            self.objective = _resolve(self.recipe.objective, OBJECTIVES, f"{where}: objective", self.parts,
                                      "objective", self.source)
        if not isinstance(self.objective, Objective):
            raise GanbenchError(f"{where}: objective {self.recipe.objective!r} is not a ganbench.losses.Objective")
        if self.step is None:
            if self.recipe.unroll and self.recipe.update != "unrolled":
                raise GanbenchError(f"{where}: unroll = {self.recipe.unroll} needs update = 'unrolled'")
            self.step = _resolve(self.recipe.update, STEPS, f"{where}: update", self.parts, "update", self.source)
        if not (isinstance(self.step, type) and issubclass(self.step, Step)) and not callable(self.step):
            raise GanbenchError(f"{where}: update {self.recipe.update!r} is not a ganbench Step class")
        if self.networks is None:
            from ganbench.nets import NetworkParts

            self.networks = NetworkParts(where, self.parts, self.source)

    def for_recipe(self, recipe: Recipe) -> Method:
        """The same method with ``recipe`` (e.g. the recipe as one run trains it): parts handed in
        are kept, parts the recipe named are resolved again from it."""
        kept = {k: getattr(self, k) for k in self.given}
        parts = {k: v for k, v in self.parts.items() if k in {"update" if g == "step" else g for g in self.given}}
        return Method(recipe, source=self.source, parts=parts, **kept)

    def make_step(self) -> Step:
        step = self.step(self)  # type: ignore[misc]
        if not isinstance(step, Step):
            raise GanbenchError(f"{self.source or self.recipe.name}: update {self.recipe.update!r} did not "
                                f"give a ganbench Step (got {type(step).__name__})")
        return step

    def foreign_parts(self) -> dict[str, dict[str, Any]]:
        """The code parts that are not ganbench's own, as records and checkpoints describe them."""
        return {k: v for k, v in sorted(self.parts.items()) if not str(v.get("module", "")).startswith("ganbench.")}


def _resolve(spec: str, registry: Any, where: str, parts: dict[str, dict[str, Any]], key: str,
             source: str = "") -> Any:
    """A registered name, or the ``package.module:Name`` a recipe names (recorded in ``parts``),
    imported with the recipe file's folder on the path (code kept beside its recipe)."""
    if is_reference(spec):
        obj = import_reference(spec, where, beside=source)
        parts[key] = code_origin(obj, spec)
        return obj
    try:
        obj = registry.get(spec)
    except UnknownNameError as e:
        raise UnknownNameError(f"{where}: {e}") from None
    origin = registry.origin(spec)
    if origin:
        parts[key] = origin
    return obj
