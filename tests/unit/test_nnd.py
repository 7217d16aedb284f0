"""nnd: agreement with the released code's definitions (google-research/google-research
towards_gan_benchmarks, lib/nn_divergence.py and lib/gan.py) on small cases.

The released code is TensorFlow 1 (tf.contrib), which does not install next to this project's torch,
so the reference here is a line-faithful transcription of its lines, kept in this file: each
``_released_*`` function below follows the named TF lines one for one (tf.reduce_mean -> mean,
tf.gradients -> the analytic gradient of a linear critic or torch.autograd.grad, ...). ganbench's
implementation (ganbench/metrics/nnd.py) is compared with them on the same inputs and the same draws.
The released test's own case (nn_divergence_test.py: 4 <= divergence <= 7) runs as a slow test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.errors import GanbenchError
from ganbench.metrics import nnd as N

# ------------------------------------------------------------------------------------------------
# The transcription (towards_gan_benchmarks at google-research/google-research, lib/gan.py and
# lib/nn_divergence.py; line references are to the functions named)


def _released_wgangp_divergence(d_real, d_fake, slopes, wgangp_lambda=10.0):
    """gan.py losses(), algorithm == 'wgan-gp', wgangp_minimax True:
        wgan_disc_cost = tf.reduce_mean(disc_fake) - tf.reduce_mean(disc_real)
        gradient_penalty = tf.reduce_mean((slopes - 1.)**2)
        disc_cost = wgan_disc_cost + (flags.wgangp_lambda * gradient_penalty)
        divergence = -disc_cost"""
    wgan_disc_cost = np.mean(d_fake) - np.mean(d_real)
    gradient_penalty = np.mean((slopes - 1.0) ** 2)
    disc_cost = wgan_disc_cost + wgangp_lambda * gradient_penalty
    return -disc_cost


def _released_slopes(gradients):
    """gan.py losses(): slopes = tf.sqrt(1e-8 + tf.reduce_sum(tf.square(gradients), reduction_indices=[1..]))"""
    return np.sqrt(1e-8 + np.sum(np.square(gradients), axis=tuple(range(1, gradients.ndim))))


def _released_step_lr(step, iters):
    """gan.py disc_train_op(), lr_decay == 'linear': step_lr = (1. - (tf.cast(step, tf.float32) / iters));
    AdamOptimizer(step_lr * flags.lr_d, ...) with lr_d = 2e-4 (nn_divergence.py set_flags)."""
    return (1.0 - (np.float32(step) / iters)) * 2e-4


def _released_ema(shadow, var, decay):
    """tf.train.ExponentialMovingAverage(decay).apply (no num_updates): the assign_moving_average
    update shadow -= (1 - decay) * (shadow - var)."""
    return shadow - (1.0 - decay) * (shadow - var)


def _released_scale_and_dequantize(inputs, noise):
    """nn_divergence.py: inputs = tf.cast(inputs - 128, tf.float32) / 128.; inputs + U(0, 1/128)."""
    return (inputs.astype(np.float32) - 128) / 128.0 + noise


# ------------------------------------------------------------------------------------------------
# Definitions


def test_divergence_of_a_linear_critic_equals_the_released_formula():
    """D(x) = w.x + b: its gradient is w everywhere, so the released penalty is computable in NumPy."""
    rng = np.random.default_rng(0)
    shape = (2, 5, 5)
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(50, 1))
    real = torch.from_numpy(rng.normal(size=(16, *shape)).astype(np.float32))
    fake = torch.from_numpy(rng.normal(1.0, 1.0, size=(16, *shape)).astype(np.float32))
    cost, wgan = N.critic_cost(critic, real, fake, torch.Generator().manual_seed(1))
    w = critic[1].weight.detach().numpy()[0]
    with torch.no_grad():
        d_real, d_fake = critic(real).numpy()[:, 0], critic(fake).numpy()[:, 0]
    slopes = _released_slopes(np.tile(w.reshape(1, *shape), (16, 1, 1, 1)))
    assert -float(cost.detach()) == pytest.approx(_released_wgangp_divergence(d_real, d_fake, slopes), rel=1e-5)
    assert float(wgan.detach()) == pytest.approx(np.mean(d_fake) - np.mean(d_real), rel=1e-5)


def test_divergence_of_the_critic_equals_the_released_formula_at_the_same_interpolates():
    """The real critic (nonlinear): the released lines with tf.gradients done by torch.autograd at the
    interpolates drawn from the same generator state."""
    rng = np.random.default_rng(1)
    critic = N.build_critic((1, 12, 12), 4, torch.Generator().manual_seed(0))
    real = torch.from_numpy(rng.uniform(-1, 1, size=(8, 1, 12, 12)).astype(np.float32))
    fake = torch.from_numpy(rng.uniform(-1, 1, size=(8, 1, 12, 12)).astype(np.float32))
    cost, _ = N.critic_cost(critic, real, fake, torch.Generator().manual_seed(5), create_graph=False)
    alpha = torch.rand((8, 1, 1, 1), generator=torch.Generator().manual_seed(5))  # the same first draw
    interpolates = (real + alpha * (fake - real)).requires_grad_(True)  # gan.py: real_data + alpha * differences
    gradients, = torch.autograd.grad(critic(interpolates).sum(), [interpolates])  # tf.gradients(disc_interps, ...)
    with torch.no_grad():
        want = _released_wgangp_divergence(critic(real).numpy(), critic(fake).numpy(),
                                           _released_slopes(gradients.numpy()))
    assert -float(cost.detach()) == pytest.approx(float(want), rel=1e-5)


def test_learning_rate_falls_linearly_as_in_disc_train_op(monkeypatch):
    assert [N.linear_lr(s, 4) for s in range(4)] == pytest.approx([_released_step_lr(s, 4) for s in range(4)])
    seen: list[float] = []
    real_step = torch.optim.Adam.step

    def record(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        assert self.param_groups[0]["betas"] == (0.0, 0.9)
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    rng = np.random.default_rng(0)
    pool = N.Pool(rng.integers(0, 256, (20, 1, 8, 8), dtype=np.uint8))
    N.train_critic(pool, pool, (1, 8, 8), N.NNDBudget("t", 5, 4, 1, 2, 0.9, "test"), seed=0)
    assert seen == pytest.approx([_released_step_lr(s, 5) for s in range(5)])


def test_ema_update_is_tensorflows():
    a = torch.nn.Linear(3, 2)
    shadow = torch.nn.Linear(3, 2)
    with torch.no_grad():
        shadow.weight.copy_(a.weight)
        shadow.bias.copy_(a.bias)
    want = a.weight.detach().numpy().copy()
    for k in range(5):
        with torch.no_grad():
            a.weight.add_(0.1 * (k + 1))
        N.ema_update_(shadow, a, 0.9)
        want = _released_ema(want, a.weight.detach().numpy(), 0.9)
    assert np.allclose(shadow.weight.detach().numpy(), want, atol=1e-6)


def test_training_keeps_an_ema_starting_at_the_initial_weights(monkeypatch):
    """After one step with decay d the shadow is d * initial + (1 - d) * trained (TF's shadow starts at
    the variable's initial value)."""
    rng = np.random.default_rng(0)
    pool = N.Pool(rng.integers(0, 256, (20, 1, 8, 8), dtype=np.uint8))
    init = N.build_critic((1, 8, 8), 2, torch.Generator().manual_seed(3))
    built: list = []
    real_build = N.build_critic
    monkeypatch.setattr(N, "build_critic", lambda *a, **k: built.append(real_build(*a, **k)) or built[-1])
    shadow, _ = N.train_critic(pool, pool, (1, 8, 8), N.NNDBudget("t", 1, 4, 1, 2, 0.75, "test"), seed=3)
    trained = built[0]
    for s, i, t in zip(shadow.parameters(), init.parameters(), trained.parameters(), strict=True):
        assert torch.allclose(s, 0.75 * i + 0.25 * t, atol=1e-6)
    # The step moved the weights (the output bias has no gradient: it cancels in mean D(fake) - mean D(real)).
    assert sum(not torch.equal(i, t) for i, t in zip(init.parameters(), trained.parameters(), strict=True)) >= 6


def test_input_scaling_and_dequantisation():
    x = torch.tensor([0, 128, 255], dtype=torch.uint8).reshape(1, 1, 1, 3)
    gen = torch.Generator().manual_seed(0)
    got = N.scale_and_dequantize(x, gen).numpy()
    noise = torch.rand((1, 1, 1, 3), generator=torch.Generator().manual_seed(0)).numpy() / 128.0
    assert np.allclose(got, _released_scale_and_dequantize(x.numpy(), noise))
    assert got.min() >= -1.0 and got.max() < 1.0


def test_architecture_same_padding_he_init_and_widths():
    """TF 'SAME' stride-2 5x5 convolutions: 28 -> 14 -> 7 -> 4 and 32 -> 16 -> 8 -> 4; padding puts the
    odd pixel after; widths dim, 2 dim, 4 dim; He (truncated, x1.3) conv weights, zero biases."""
    assert [N.same_padding(s) for s in (32, 28, 14, 7, 8)] == [(1, 2), (1, 2), (1, 2), (2, 2), (1, 2)]
    for shape, flat in (((3, 32, 32), 4 * 4 * 4 * 64), ((1, 28, 28), 4 * 4 * 4 * 64), ((1, 8, 12), 1 * 2 * 4 * 64)):
        critic = N.build_critic(shape, 64, torch.Generator().manual_seed(0))
        convs = [m for m in critic if isinstance(m, torch.nn.Conv2d)]
        assert [c.out_channels for c in convs] == [64, 128, 256]
        assert critic[-1].in_features == flat
        assert critic(torch.zeros(2, *shape)).shape == (2, 1)
    conv = convs[2]  # fan_in 128 * 25 = 3200
    w = conv.weight.detach().numpy()
    bound = 2 * math.sqrt(1.3 * 2 / 3200)
    assert np.abs(w).max() <= bound + 1e-7
    assert w.std() == pytest.approx(math.sqrt(2 / 3200), rel=0.03)
    assert all(not c.bias.detach().any() for c in convs) and not critic[-1].bias.detach().any()


def test_the_paper_budget_is_the_released_flags():
    b = N.BUDGETS["paper"]
    assert (b.iters, b.batch_size, b.eval_iters, b.dim, b.ema) == (100_000, 256, 10_000, 64, 0.999)
    assert (N.LR, N.BETAS, N.GP_WEIGHT) == (2e-4, (0.0, 0.9), 10.0)
    cpu = N.BUDGETS["cpu"]
    assert "ganbench's own" in cpu.source and "not the paper's" in cpu.source
    # The EMA's time constant is the same 1% of training as the paper's.
    assert 1 / (1 - cpu.ema) / cpu.iters == pytest.approx(1 / (1 - b.ema) / b.iters)


# ------------------------------------------------------------------------------------------------
# Behaviour on small cases


class _Copier:
    """A "generator" that returns images of a finite set: latent z picks one (a memoriser)."""

    z_dim, num_classes = 4, 0

    def __init__(self, images: np.ndarray):
        self.images = torch.from_numpy(images).float() / 127.5 - 1.0

    def __call__(self, z):
        idx = (torch.special.ndtr(z[:, 0]) * len(self.images)).long().clamp_(0, len(self.images) - 1)
        return self.images[idx]


TINY = N.NNDBudget("tiny", 120, 32, 20, 16, 0.9, "test")


def test_generated_pools_generator_fresh_image_set_halves():
    imgs = np.random.default_rng(0).integers(0, 256, (30, 1, 8, 8), dtype=np.uint8)
    a, b = N.fake_pools(imgs, seed=1)
    assert len(a.images) == 15 and len(b.images) == 15
    assert not {x.tobytes() for x in a.images} & {x.tobytes() for x in b.images}
    g = _Copier(imgs)
    a, b = N.fake_pools(g, seed=1)
    assert a.generator is g and b.generator is g
    first = [x.numpy() for x in a.batches(2, 4, 1, 1)]
    again = [x.numpy() for x in a.batches(2, 4, 1, 1)]
    other = [x.numpy() for x in a.batches(2, 4, 1, 3)]
    assert all(np.array_equal(p, q) for p, q in zip(first, again, strict=True))  # seeded
    assert not all(np.array_equal(p, q) for p, q in zip(first, other, strict=True))  # another phase, other latents


def test_a_visible_difference_scores_higher_than_none():
    rng = np.random.default_rng(0)
    real = rng.integers(0, 200, (400, 1, 8, 8), dtype=np.uint8)
    held = rng.integers(0, 200, (200, 1, 8, 8), dtype=np.uint8)
    same = rng.integers(0, 200, (400, 1, 8, 8), dtype=np.uint8)
    brighter = rng.integers(55, 256, (400, 1, 8, 8), dtype=np.uint8)
    d_same = N.nnd((real, held), same, TINY)
    d_diff = N.nnd((real, held), brighter, TINY)
    # 120 steps learn a part of the brightness difference (its W1 in the scaled space is about 3.4):
    # 0.67 against 0.00 for the same distribution, measured on this seed.
    assert d_diff["nnd"] > d_same["nnd"] + 0.3 and abs(d_same["nnd"]) < 0.2
    assert set(d_same) == {"nnd", "nnd_train"}


def test_bad_input_is_one_line():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (40, 1, 8, 8), dtype=np.uint8)
    cases = [
        (lambda: N.nnd((imgs, imgs), rng.normal(size=(40, 16)).astype(np.float32), TINY), "no feature-space"),
        (lambda: N.nnd((imgs[:5], imgs), imgs, TINY), "at least 10 images"),
        (lambda: N.nnd((imgs, imgs), imgs[:15], TINY),
         "at least 10 images in the generated set.s training half, got 7"),
        (lambda: N.nnd((imgs, imgs), imgs[:, :, :4], TINY), "are .1, 4, 8., the critic's real images .1, 8, 8."),
        (lambda: N.nnd((imgs, imgs), imgs.astype(np.float32), TINY), "uint8"),
        (lambda: N.nnd((imgs, imgs), imgs, "fast"), "unknown nnd budget 'fast'"),
        (lambda: N.nnd((imgs, imgs), _Copier(imgs[:, :, :4]), TINY), "the generator gives"),
    ]
    for call, msg in cases:
        with pytest.raises(GanbenchError, match=msg) as e:
            call()
        assert "\n" not in str(e.value)


def test_custom_budget_says_it_is_not_the_papers():
    b = N.used_budget({"budget": "paper", "iters": 500, "batch_size": None})
    assert (b.iters, b.batch_size) == (500, 256) and "custom (iters 500)" in b.source
    assert N.used_budget({"budget": "paper", "iters": 100_000}) is N.BUDGETS["paper"]
    with pytest.raises(GanbenchError, match="nnd iters must be a positive integer"):
        N.used_budget({"budget": "cpu", "iters": 0.5})
    with pytest.raises(GanbenchError, match="ema must lie"):
        N.used_budget({"budget": "cpu", "ema": 1.5})


@pytest.mark.slow
def test_the_released_tests_case_lands_in_its_range():
    """nn_divergence_test.py: flags batch_size 64, iters 100, final_eval_iters 100, ema 0.9; real
    uniform integers in [0, 246), fake in [10, 256), 32x32x3; it asserts 4 <= result <= 7. Here the
    real images are two fixed pools of such draws and the fake ones a generator drawing afresh."""

    class Uniform:
        z_dim, num_classes = 1, 0

        def __call__(self, z):
            g = torch.Generator().manual_seed(int(z[0, 0].mul(1e6).round()) % 2**31)
            return torch.randint(10, 256, (len(z), 3, 32, 32), generator=g).float() / 127.5 - 1.0

    rng = np.random.default_rng(0)
    real = rng.integers(0, 246, (20_000, 3, 32, 32), dtype=np.uint8)
    held = rng.integers(0, 246, (10_000, 3, 32, 32), dtype=np.uint8)
    got = N.nnd((real, held), Uniform(), N.NNDBudget("released-test", 100, 64, 100, 64, 0.9, "released test"))
    assert 4.0 <= got["nnd"] <= 7.0, got
