"""Image architectures: shapes, ranges, normalisation choices, conditioning, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganbench.config import load_recipe
from ganbench.errors import GanbenchError
from ganbench.nets import build_networks
from ganbench.nets.dcgan import PLANS
from ganbench.nets.layers import ConditionalBatchNorm2d
from ganbench.registry import ARCHITECTURES, MODELS

DCGAN = {"generator": "dcgan", "discriminator": "dcgan", "z_dim": 16, "width": 8, "d_norm": "batch"}
RESNET = {"generator": "resnet", "discriminator": "resnet", "z_dim": 16, "g_width": 16, "d_width": 16,
          "d_norm": "spectral"}


def _arch(base: dict, **kw) -> dict:
    return {**base, **kw}


def test_architectures_registered():
    assert {"dcgan", "resnet", "mlp"} <= set(ARCHITECTURES.names())


@pytest.mark.parametrize("arch", [DCGAN, RESNET], ids=["dcgan", "resnet"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (3, 64, 64)],
                         ids=lambda s: "x".join(map(str, s)))
def test_shapes_and_range(arch, shape):
    torch.manual_seed(0)
    g, d = build_networks(arch, shape)
    assert g.z_dim == 16 and g.num_classes == 0
    x = g(torch.randn(3, 16))
    assert x.shape == (3, *shape)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    adv, cls = d(x)
    assert adv.shape == (3,) and cls is None
    assert torch.isfinite(adv).all()


def test_dcgan_32_follows_reference_plan():
    # docs/reference.md section 3: z -> 4x4x512 -> 256 -> 128 -> 64 (k4 s2) with width 64.
    g, d = build_networks(_arch(DCGAN, width=64, z_dim=100), (3, 32, 32))
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64]
    assert convs[0].kernel_size == (4, 4) and all(c.stride == (2, 2) for c in convs[1:])
    assert [c.out_channels for c in d.modules() if isinstance(c, nn.Conv2d)] == [64, 128, 256]


def test_dcgan_28_starts_at_7x7():
    g, _ = build_networks(_arch(DCGAN, width=64), (1, 28, 28))
    first = g.net[0]
    assert first.kernel_size == (7, 7) and first.out_channels == 128  # 7x7x2DIM, DIM 64 (gan_mnist.py)


def test_dcgan_init_and_activations():
    torch.manual_seed(0)
    g, d = build_networks(_arch(DCGAN, width=32), (3, 32, 32))
    w = g.net[3].weight  # a k4 s2 transposed conv
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in d.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in g.modules())
    # BN in D, but not after its first conv (Radford et al. 2015).
    assert isinstance(d.body[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 2


def test_spectral_norm_when_asked():
    for arch in (_arch(DCGAN, d_norm="spectral"), RESNET):
        _, d = build_networks(arch, (3, 32, 32), 10, "projection")
        layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
        assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
        assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in d.modules())
    _, d = build_networks(DCGAN, (3, 32, 32))
    assert not any(parametrize.is_parametrized(m) for m in d.modules())


def test_wgan_gp_critic_has_no_batch_norm():
    arch = load_recipe("wgan-gp").arch["image"]
    _, d = build_networks(arch, (1, 28, 28))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) for m in d.modules())
    # The sample's score must not depend on the rest of the batch (the penalty is per sample).
    d.train()
    x = torch.randn(4, 1, 28, 28)
    assert torch.allclose(d(x)[0][:2], d(x[:2])[0], atol=1e-6)


def test_layer_norm_option():
    _, d = build_networks(_arch(DCGAN, d_norm="layer"), (1, 28, 28))
    assert any(isinstance(m, nn.GroupNorm) for m in d.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


@pytest.mark.parametrize("shape", [(3, 48, 48), (3, 32, 16), (1, 16, 16)])
def test_unsupported_size_is_one_clear_error(shape):
    with pytest.raises(GanbenchError, match=r"support square images of 8x8, 28x28, 32x32, 64x64 pixels"):
        build_networks(DCGAN, shape)
    with pytest.raises(GanbenchError, match=r"resnet nets support square images of 8x8, 28x28, 32x32, 64x64"):
        build_networks(RESNET, shape)
    assert sorted(PLANS) == [8, 28, 32, 64]


def test_unknown_d_norm():
    with pytest.raises(GanbenchError, match="d_norm 'group'"):
        build_networks(_arch(DCGAN, d_norm="group"), (1, 28, 28))
    with pytest.raises(GanbenchError, match="resnet discriminator"):
        build_networks(_arch(RESNET, d_norm="batch"), (1, 28, 28))


@pytest.mark.parametrize("arch", [DCGAN, RESNET], ids=["dcgan", "resnet"])
def test_conditional_generator_uses_labels(arch):
    torch.manual_seed(0)
    g, _ = build_networks(arch, (3, 32, 32), 10, "ac")
    assert g.num_classes == 10
    z = torch.randn(4, 16)
    g.eval()
    # Class embeddings start near the identity for conditional BN; perturb them so classes differ.
    for m in g.modules():
        if isinstance(m, ConditionalBatchNorm2d):
            nn.init.normal_(m.embed.weight, 1.0, 0.5)
    a = g(z, torch.zeros(4, dtype=torch.long))
    b = g(z, torch.ones(4, dtype=torch.long))
    assert a.shape == (4, 3, 32, 32) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match="needs labels"):
        g(z)


@pytest.mark.parametrize("arch", [DCGAN, RESNET], ids=["dcgan", "resnet"])
def test_discriminator_heads(arch):
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    y = torch.tensor([0, 1, 2, 3])
    _, d_ac = build_networks(arch, (3, 32, 32), 10, "ac")
    adv, cls = d_ac(x)
    assert adv.shape == (4,) and cls.shape == (4, 10)
    _, d_pd = build_networks(arch, (3, 32, 32), 10, "projection")
    d_pd.eval()
    adv0, cls = d_pd(x, y)
    assert adv0.shape == (4,) and cls is None
    assert not torch.allclose(adv0, d_pd(x, (y + 1) % 10)[0])  # the label enters the score
    with pytest.raises(ValueError, match="needs labels"):
        d_pd(x)
    # Unconditional recipes build unconditional nets even on labelled data.
    g, d = build_networks(arch, (3, 32, 32), 10, "")
    assert g.num_classes == 0 and d(x)[1] is None


def test_conditional_batch_norm_init():
    bn = ConditionalBatchNorm2d(8, 3)
    gamma, beta = bn.embed.weight[:, :8], bn.embed.weight[:, 8:]
    assert torch.all(beta == 0) and abs(gamma.mean().item() - 1) < 0.05
    x = torch.randn(5, 8, 4, 4)
    out = bn(x, torch.tensor([0, 1, 2, 0, 1]))
    assert out.shape == x.shape


def test_resnet_matches_mimicry_sngan_32():
    g, d = build_networks({"generator": "resnet", "discriminator": "resnet", "z_dim": 128, "g_width": 256,
                           "d_width": 128, "d_norm": "spectral"}, (3, 32, 32))
    assert g.l1.out_features == 4 * 4 * 256 and len(g.blocks) == 3
    assert len(d.blocks) == 4 and d.blocks[0].first and [b.down for b in d.blocks] == [True, True, False, False]
    # Parameter counts of mimicry's SNGAN 32x32 nets: about 4.3M (G) and 1.1M (D).
    n_g = sum(p.numel() for p in g.parameters())
    n_d = sum(p.numel() for p in d.parameters())
    assert 4.2e6 < n_g < 4.4e6 and 1.0e6 < n_d < 1.1e6


@pytest.mark.parametrize("model", ["dcgan", "lsgan", "wgan", "wgan-gp", "sngan", "acgan", "cgan-pd", "gan", "gan-mm"])
def test_every_recipe_builds_image_nets(model):
    assert model in MODELS
    r = load_recipe(model)
    for shape in ((1, 28, 28), (3, 32, 32)):
        g, _d = build_networks(r.arch["image"], shape, 10, r.conditional)
        assert g.num_classes == (10 if r.conditional else 0)
    if r.conditional:
        g, _d = build_networks(r.arch["vector"], (2,), 8, r.conditional)  # mixtures have mode labels
        assert g.num_classes == 8
