"""The neural-network divergence, NND (Gulrajani, Raffel & Metz, "Towards GAN Benchmarks Which Require
Generalization", ICLR 2019), with the definitions of its released code: google-research/google-research
``towards_gan_benchmarks/lib/nn_divergence.py`` and ``lib/gan.py`` (the "CNN divergence").

A critic is trained from scratch to tell real images from generated ones with the WGAN-GP objective;
the divergence is that objective, penalty included, negated and averaged over evaluation batches, at
an exponential moving average of the critic's weights. What is kept from the released code, line by line:

- input (nn_divergence.py ``scale_and_dequantize``): uint8 x -> (x - 128) / 128 + U(0, 1/128);
- critic (gan.py ``dcgan_discriminator`` with nn_divergence's flags): three 5x5 stride-2 'SAME'
  convolutions of width dim, 2 dim, 4 dim (``dim`` 64, gan.py ``set_flags``), swish after each
  (``nonlinearity_d='swish'``), no normalisation (``norm_d=False``), then a linear layer to one
  output; conv weights He-initialised (``initializer_d='he'``: contrib ``variance_scaling_initializer()``,
  a normal truncated at 2 std with std sqrt(1.3 x 2 / fan_in)), the linear layer's Xavier-uniform
  (slim ``fully_connected``'s default), biases zero;
- objective (gan.py ``losses``, ``algorithm='wgan-gp'``, ``wgangp_minimax=True``):
  cost = mean D(fake) - mean D(real) + 10 mean((|grad D(x_hat)| - 1)^2), |g| = sqrt(1e-8 + sum g^2),
  x_hat = real + alpha (fake - real), alpha ~ U(0, 1) per sample (``wgangp_lambda`` 10); the
  divergence is -cost;
- optimiser (gan.py ``disc_train_op``): one critic step per iteration, Adam with learning rate
  2e-4 x (1 - step / iters) (``lr_d``, ``lr_decay='linear'``), beta1 0, beta2 0.9 (gan.py, wgan-gp);
- EMA (nn_divergence.py): ``tf.train.ExponentialMovingAverage(decay)`` of every critic variable,
  updated after each step, shadow <- decay shadow + (1 - decay) var, starting at the initial weights;
- the paper's budget (nn_divergence.py ``set_flags``): 100k iterations of batch 256, decay 0.999,
  10k evaluation batches.

What the released code leaves to its caller, which images feed the two phases, ganbench fixes: the
critic trains on ``critic_split`` real images and on generated samples; it is evaluated on
``eval_split`` real images (held out: it never saw them) and on fresh samples (a generator: new
latents; a fixed image set: the half it did not train on). A generator that returns copies of a
finite set is caught because the evaluation samples repeat the ones the critic learnt to reject.

Two small differences, neither in a definition: PyTorch's Adam adds its epsilon (1e-8) after the
bias correction and TF's before, and images of any C x H x W are accepted (the released code's
placeholders are 32x32x3); three 'SAME' stride-2 convolutions leave ceil(H/8) x ceil(W/8) positions.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganbench.errors import GanbenchError

LR = 2e-4            # nn_divergence.py set_flags: gan.lr_d
BETAS = (0.0, 0.9)   # gan.py set_flags for wgan-gp: beta1 0, beta2 0.9
GP_WEIGHT = 10.0     # gan.py set_flags: wgangp_lambda
SLOPE_EPS = 1e-8     # gan.py losses: tf.sqrt(1e-8 + sum of squares)
KERNEL, STRIDE = 5, 2  # gan.py set_flags: downsample_conv_filt_size 5; stride 2 in dcgan_discriminator
HE_TRUNC_FACTOR = 1.3  # contrib variance_scaling_initializer, uniform=False: std = sqrt(1.3 factor / fan_in)
MIN_POOL = 10        # fewest images in any of the pools (critic real, held-out real, each generated half)
SPLITS = ("train", "test")


@dataclass(frozen=True)
class NNDBudget:
    """How long the critic trains and is evaluated, and how wide it is."""

    name: str
    iters: int
    batch_size: int
    eval_iters: int
    dim: int
    ema: float
    source: str


# The paper's: nn_divergence.py set_flags (iters 100k, batch_size 256, final_eval_iters 10k, ema 0.999)
# and gan.py set_flags (dim 64). On this project's 2-core CPU one iteration of it costs about 7 s on
# 28x28 images (one thread): 100k iterations are about 8 days, so it is a GPU protocol.
# ganbench's own "cpu" budget: half the width, batch 64, 1,000 iterations (about 0.3-0.65 s each on one
# core: 5-11 minutes), 100 evaluation batches, and the EMA's decay set so that its time constant is the
# same 1% of training as the paper's (1 / (1 - 0.999) = 1,000 of 100k iterations).
BUDGETS = {
    "paper": NNDBudget("paper", 100_000, 256, 10_000, 64, 0.999,
                       "Gulrajani et al. 2019's (towards_gan_benchmarks lib/nn_divergence.py set_flags)"),
    "cpu": NNDBudget("cpu", 1_000, 64, 100, 32, 0.9,
                     "ganbench's own (not the paper's): width 32, batch 64, 1k iterations, 100 evaluation "
                     "batches, EMA time constant 1% of training as in the paper"),
}


def budget_of(name: str) -> NNDBudget:
    try:
        return BUDGETS[name]
    except KeyError:
        raise GanbenchError(f"unknown nnd budget {name!r}; use one of {', '.join(BUDGETS)}") from None


# --------------------------------------------------------------------------------------------
# The critic


def same_padding(size: int, kernel: int = KERNEL, stride: int = STRIDE) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) of one spatial dimension: output ceil(size / stride), the
    odd pixel of padding after (PyTorch's symmetric padding would shift every even-sized map by one)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def he_init_(weight: Any, gen: Any = None) -> Any:
    """contrib ``variance_scaling_initializer()`` (factor 2, fan-in, truncated normal): the normal is
    truncated at 2 std and widened by 1.3 so that the truncated variance is about 2 / fan_in."""
    import torch

    fan_in = int(np.prod(weight.shape[1:]))
    std = math.sqrt(HE_TRUNC_FACTOR * 2.0 / fan_in)
    with torch.no_grad():
        return torch.nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std, generator=gen)


def build_critic(shape: tuple[int, ...], dim: int, gen: Any = None) -> Any:
    """The released critic for images of ``shape`` (C, H, W), initialised with ``gen``."""
    import torch
    from torch import nn

    class Swish(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # gan.py _swish
            return x * torch.sigmoid(x)

    c, h, w = (int(s) for s in shape)
    layers: list[nn.Module] = []
    for width in (dim, 2 * dim, 4 * dim):
        (top, bottom), (left, right) = same_padding(h), same_padding(w)
        conv = nn.Conv2d(c, width, KERNEL, STRIDE)
        he_init_(conv.weight, gen)
        assert conv.bias is not None  # Conv2d's default bias=True
        nn.init.zeros_(conv.bias)
        layers += [nn.ZeroPad2d((left, right, top, bottom)), conv, Swish()]
        c, h, w = width, -(-h // STRIDE), -(-w // STRIDE)
    fc = nn.Linear(c * h * w, 1)
    nn.init.xavier_uniform_(fc.weight, generator=gen)
    nn.init.zeros_(fc.bias)
    return nn.Sequential(*layers, nn.Flatten(), fc)


def scale_and_dequantize(x_uint8: Any, gen: Any) -> Any:
    """nn_divergence.py: (x - 128) / 128 plus uniform noise of one quantisation step, U(0, 1/128)."""
    import torch

    x = (x_uint8.float() - 128.0) / 128.0
    return x + torch.rand(x.shape, generator=gen, device=x.device) / 128.0


def critic_cost(critic: Any, real: Any, fake: Any, gen: Any, create_graph: bool = True) -> tuple[Any, Any]:
    """gan.py ``losses`` for wgan-gp: (cost, its WGAN part mean D(fake) - mean D(real)); the NND is -cost."""
    import torch

    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=gen, device=real.device)
    x_hat = (real + alpha * (fake - real)).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=create_graph)
    slopes = torch.sqrt(SLOPE_EPS + grad.pow(2).flatten(1).sum(1))
    wgan = critic(fake).mean() - critic(real).mean()
    return wgan + GP_WEIGHT * ((slopes - 1.0) ** 2).mean(), wgan


def linear_lr(step: int, iters: int, lr: float = LR) -> float:
    """gan.py ``disc_train_op``, lr_decay 'linear': lr x (1 - step / iters), step counted from 0."""
    return lr * (1.0 - step / iters)


def ema_update_(shadow: Any, critic: Any, decay: float) -> None:
    """tf.train.ExponentialMovingAverage.apply without num_updates: shadow -= (1 - decay)(shadow - var)."""
    import torch

    with torch.no_grad():
        for s, p in zip(shadow.parameters(), critic.parameters(), strict=True):
            s.sub_((1.0 - decay) * (s - p))


# --------------------------------------------------------------------------------------------
# Batches


@dataclass
class Pool:
    """Where a phase's images come from: a uint8 NCHW array (batches drawn with replacement, as a
    finite set is fed) or a generator (fresh latents for every batch)."""

    images: np.ndarray | None = None
    generator: Any = None

    def batches(self, n_batches: int, batch_size: int, seed: int, phase: int) -> Iterator[Any]:
        import torch

        if self.generator is None:
            pool = torch.from_numpy(np.ascontiguousarray(self.images))
            gen = torch.Generator().manual_seed(_seed(seed, phase, 0))
            for _ in range(n_batches):
                yield pool[torch.randint(len(pool), (batch_size,), generator=gen)]
            return
        from ganbench.generators import sample

        chunk = max(1, 8192 // batch_size)  # latents drawn a chunk at a time, not 25.6M at once
        for start in range(0, n_batches, chunk):
            k = min(chunk, n_batches - start)
            for x, _ in sample(self.generator, k * batch_size, _seed(seed, phase, start + 1), batch_size,
                               images=True):
                yield x.clone()


def _seed(seed: int, phase: int, chunk: int) -> int:
    """Independent streams per (seed, phase, chunk): phase 0 trains, phase 1 evaluates."""
    return int(np.random.SeedSequence([int(seed), phase, chunk]).generate_state(1)[0])


def fake_pools(fake: Any, seed: int) -> tuple[Pool, Pool]:
    """(training pool, evaluation pool) of the generated side: a generator gives both (fresh latents
    per phase); an image set is split into two disjoint seeded halves, so evaluation samples are ones
    the critic never saw."""
    if callable(fake) and hasattr(fake, "z_dim"):
        return Pool(generator=fake), Pool(generator=fake)
    a, b = halves(check_images(fake, "nnd generated images"), seed)
    return Pool(a), Pool(b)


def halves(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint seeded halves of ``x`` (each in its original order)."""
    idx = np.random.default_rng(seed).permutation(len(x))
    return x[np.sort(idx[: len(x) // 2])], x[np.sort(idx[len(x) // 2:])]


def check_images(x: Any, name: str, min_n: int = MIN_POOL) -> np.ndarray:
    """``x`` as uint8 NCHW images with at least ``min_n`` of them, else a one-line error (vectors or
    features included: the critic is a convolutional net on pixels)."""
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    if a.ndim != 4:
        raise GanbenchError(f"{name}: nnd trains a convolutional critic on images (N,C,H,W), got an array of "
                            f"shape {a.shape}; it has no feature-space or vector form")
    if a.dtype != np.uint8:
        raise GanbenchError(f"{name}: nnd reads uint8 images (the released code's input), got {a.dtype}")
    if len(a) < min_n:
        raise GanbenchError(f"{name}: nnd needs at least {min_n} images here, got {len(a)}")
    return a


# --------------------------------------------------------------------------------------------
# Training and evaluation


def train_critic(real: Pool, fake: Pool, shape: tuple[int, ...], budget: NNDBudget, seed: int,
                 device: Any = None, progress: bool = False) -> tuple[Any, float]:
    """Train the critic for ``budget.iters`` steps; returns (its EMA copy, the mean divergence of the
    last tenth of training batches at the raw weights: the estimate on the training pools)."""
    import torch

    device = torch.device(device or "cpu")
    critic = build_critic(shape, budget.dim, torch.Generator().manual_seed(int(seed))).to(device)
    shadow = copy.deepcopy(critic)
    for p in shadow.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(critic.parameters(), lr=LR, betas=BETAS)
    gen = torch.Generator(device=device).manual_seed(_seed(seed, 8, 0))
    tail_from = budget.iters - max(1, budget.iters // 10)
    tail: list[float] = []
    bar = _bar(budget.iters, "nnd critic", progress)
    pairs = zip(real.batches(budget.iters, budget.batch_size, seed, 0),
                fake.batches(budget.iters, budget.batch_size, seed, 1), strict=True)
    for step, (r, f) in enumerate(pairs):
        for group in opt.param_groups:
            group["lr"] = linear_lr(step, budget.iters)
        cost, _ = critic_cost(critic, scale_and_dequantize(r.to(device), gen), scale_and_dequantize(f.to(device), gen),
                              gen)
        opt.zero_grad(set_to_none=True)
        cost.backward()
        opt.step()
        ema_update_(shadow, critic, budget.ema)
        if step >= tail_from:
            tail.append(-float(cost.detach()))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return shadow, float(np.mean(tail))


def evaluate_critic(critic: Any, real: Pool, fake: Pool, budget: NNDBudget, seed: int, device: Any = None) -> float:
    """The divergence, -cost, averaged over ``budget.eval_iters`` batches of held-out real images and
    fresh generated ones (nn_divergence.py's final evaluation, at the EMA weights)."""
    import torch

    device = torch.device(device or "cpu")
    gen = torch.Generator(device=device).manual_seed(_seed(seed, 9, 0))
    divs = []
    for r, f in zip(real.batches(budget.eval_iters, budget.batch_size, seed, 2),
                    fake.batches(budget.eval_iters, budget.batch_size, seed, 3), strict=True):
        cost, _ = critic_cost(critic, scale_and_dequantize(r.to(device), gen), scale_and_dequantize(f.to(device), gen),
                              gen, create_graph=False)
        divs.append(-float(cost.detach()))
    return float(np.mean(divs))


def _bar(total: int, desc: str, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="it", dynamic_ncols=True, leave=False)


def nnd(real: tuple[Any, Any], fake: Any, budget: str | NNDBudget = "cpu", seed: int = 0, device: Any = None,
        progress: bool = False) -> dict[str, float]:
    """The NND between real images and a generator (or an image set).

    real: (critic images, held-out images), uint8 NCHW; the critic trains on the first and is scored
      on the second. fake: a generator (z -> images with ``z_dim``) or uint8 images (split in halves).
    Returns nnd (the held-out estimate, lower is better) and nnd_train (the same objective on the
    last tenth of the training batches: the gap between the two is what the critic memorised).
    """
    b = budget if isinstance(budget, NNDBudget) else budget_of(budget)
    critic_real = check_images(real[0], "nnd critic's real images")
    eval_real = check_images(real[1], "nnd held-out real images")
    fake_train, fake_eval = fake_pools(fake, seed)
    for pool, name in ((fake_train, "the generated set's training half"), (fake_eval, "its evaluation half")):
        if pool.images is not None and len(pool.images) < MIN_POOL:
            raise GanbenchError(f"nnd needs at least {MIN_POOL} images in {name}, got {len(pool.images)} "
                                f"(give at least {2 * MIN_POOL} generated images)")
    shape = critic_real.shape[1:]
    if fake_train.generator is not None:  # a generator of the wrong size fails now, not inside the critic
        fake_shape = tuple(next(fake_train.batches(1, 2, seed, 7)).shape[1:])
        if fake_shape != shape:
            raise GanbenchError(f"nnd: the generator gives {fake_shape} images, the critic's real images are "
                                f"{tuple(shape)}")
    for x, name in ((eval_real, "held-out real images"), (fake_train.images, "generated images")):
        if x is not None and x.shape[1:] != shape:
            raise GanbenchError(f"nnd: {name} are {tuple(x.shape[1:])}, the critic's real images {tuple(shape)}")
    critic, train_div = train_critic(Pool(critic_real), fake_train, shape, b, seed, device, progress)
    return {"nnd": evaluate_critic(critic, Pool(eval_real), fake_eval, b, seed, device), "nnd_train": train_div}


# --------------------------------------------------------------------------------------------
# The metric: its parameters, the values used, the catalogue entry

BUDGET_FIELDS = ("iters", "batch_size", "eval_iters", "dim", "ema")


def used_budget(p: dict[str, Any]) -> NNDBudget:
    """The named budget with the fields ``p`` sets (None: the budget's own); a changed field makes it
    a custom budget, and its description says so."""
    b = budget_of(p.get("budget", "cpu"))
    changed = {f: p[f] for f in BUDGET_FIELDS if p.get(f) is not None and p[f] != getattr(b, f)}
    if not changed:
        return b
    for f, v in changed.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 or (f != "ema" and int(v) != v):
            raise GanbenchError(f"nnd {f} must be a positive {'number' if f == 'ema' else 'integer'}, got {v!r}")
    if "ema" in changed and not 0.0 <= changed["ema"] < 1.0:
        raise GanbenchError(f"nnd ema must lie in [0, 1), got {changed['ema']}")
    words = ", ".join(f"{f} {v}" for f, v in changed.items())
    fields = {f: type(getattr(b, f))(v) for f, v in changed.items()}
    return NNDBudget(b.name, **{**{f: getattr(b, f) for f in BUDGET_FIELDS}, **fields},
                     source=f"custom ({words}) from the {b.name!r} budget: not the paper's")


def _used(p: dict[str, Any], n_real: int, n_gen: int) -> dict[str, Any]:
    b = used_budget(p)
    for key in ("critic_split", "eval_split"):
        if p.get(key) not in SPLITS:
            raise GanbenchError(f"nnd {key} must be one of {', '.join(SPLITS)}, got {p.get(key)!r}")
    return {**p, **{f: getattr(b, f) for f in BUDGET_FIELDS}, "source": b.source}


def _compute(real: Any, fake: Any, device: Any = None, progress: bool = False, **p: Any) -> dict[str, float]:
    return nnd(real, fake, used_budget(p), int(p.get("seed", 0)), device, progress)


PARAMS = {"budget": "cpu", **{f: None for f in BUDGET_FIELDS}, "seed": 0, "critic_split": "train",
          "eval_split": "test"}


def _register() -> None:
    from ganbench.metrics.spec import LOWER, MetricSpec
    from ganbench.registry import METRICS

    help_ = ("neural-network divergence (Gulrajani et al. 2019): a WGAN-GP critic trained on real vs generated "
             "images, scored on held-out real images and fresh samples (lower is better)")
    protocol = {k: f"nnd_{k}" for k in PARAMS}
    protocol["dim"], protocol["source"] = "nnd_width", "nnd_protocol"
    # Floor: two critic seeds at the cpu budget differed by 0.13-0.20 on Fashion-MNIST
    # (docs/generalisation.md, results/generalisation-fashion-mnist/).
    METRICS.register("nnd", MetricSpec(
        "nnd", (), {"nnd": LOWER, "nnd_train": None}, _compute, PARAMS, help=help_, adjust=_used, order=7,
        protocol=protocol, kind="pixels", floors={"nnd": 0.2},
        compared=tuple(v for k, v in protocol.items() if k not in ("seed", "source"))), help=help_)
