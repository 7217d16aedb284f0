"""The TF-faithful FID Inception-v3 network (architecture, batch-norm folding, building).

The architecture is the one pytorch-fid uses for the TF graph ``inception-2015-12-05``
(docs/reference.md section 1): torchvision's Inception-v3 with FIDInceptionA/C/E_1/E_2 patches and
batch-norm eps 1e-3. Parameter names equal pytorch-fid's ``fid_inception_v3()`` so that the
``pt_inception-2015-12-05`` state dict loads directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NUM_CONVS = 94


class BasicConv2d(nn.Module):
    """Conv (no bias) + batch norm (eps 1e-3, as in the TF graph) + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn: nn.Module = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool_tf(x: torch.Tensor) -> torch.Tensor:
    # TF's average pool does not count the zero padding (pytorch-fid's "Patch" comment).
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    """Mixed_5b/c/d."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Mixed_6a (grid reduction)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class FIDInceptionC(nn.Module):
    """Mixed_6b/c/d/e."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        bd = self.branch7x7dbl_3(self.branch7x7dbl_2(bd))
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(bd))
        bp = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Mixed_7a (grid reduction)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class _InceptionE(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(self._pool(x))
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInceptionE_1(_InceptionE):  # pytorch-fid's name
    """Mixed_7b: average pool without counting the padding."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return _avg_pool_tf(x)


class FIDInceptionE_2(_InceptionE):  # pytorch-fid's name
    """Mixed_7c: the TF graph uses a max pool here (pytorch-fid's "Patch" comment)."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class FIDInceptionV3(nn.Module):
    """FID Inception-v3 on normalised 299x299 input; returns pool3 and, with the head, logits.

    ``logits`` are ``pool3 @ fc.weight.T`` WITHOUT the bias (torch-fidelity ``logits_unbiased``,
    StyleGAN2-ADA ``no_output_bias=True``; docs/reference.md section 1).
    """

    def __init__(self, head: bool = True) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE_1(1280)
        self.Mixed_7c = FIDInceptionE_2(2048)
        self.fc = nn.Linear(2048, 1008) if head else None
        self.eval()  # always: train-mode batch norm changes the features (pytorch-fid issue 118)

    def train(self, mode: bool = True) -> FIDInceptionV3:
        # A feature network is never trained; refuse to leave eval mode silently.
        return super().train(False)

    @property
    def has_head(self) -> bool:
        return self.fc is not None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        x = self.Mixed_6a(x)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        pool3 = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1).float()
        out = {"pool3": pool3}
        if self.fc is not None:
            out["logits"] = pool3 @ self.fc.weight.float().t()
        return out


BN_EPS = 0.001  # every batch norm of the TF graph (docs/reference.md section 1)


def fold_batchnorm_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fold each ``X.bn`` into ``X.conv`` (weight and new bias) in a pytorch-fid-named state dict.

    In eval mode BN is a per-channel affine map, so conv then BN equals one conv with weight
    ``w * g / sqrt(var + eps)`` and bias ``beta - mean * g / sqrt(var + eps)``.
    """
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if ".bn." in k or k.endswith(".conv.weight"):
            continue
        out[k] = v
    for k in sd:
        if k.endswith(".bn.running_var"):
            p = k[: -len(".bn.running_var")]
            w = sd[p + ".conv.weight"]
            scale = sd[p + ".bn.weight"].double() / torch.sqrt(sd[k].double() + BN_EPS)
            out[p + ".conv.weight"] = w * scale.to(w.dtype)[:, None, None, None]
            out[p + ".conv.bias"] = (sd[p + ".bn.bias"].double()
                                     - sd[p + ".bn.running_mean"].double() * scale).to(w.dtype)
    return out


def _fuse_structure(net: nn.Module) -> None:
    # Replace conv+bn by a biased conv with no storage yet (filled by load_state_dict(assign=True)).
    for _, m in _basic_convs(net):
        if isinstance(m.bn, nn.BatchNorm2d):
            c = m.conv
            # torch types a conv's kernel_size/stride/padding as tuple[int, ...] and its constructor's
            # as tuple[int, int]; these come from a Conv2d, so they are pairs.
            m.conv = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, stride=c.stride,  # type: ignore[arg-type]
                               padding=c.padding, bias=True, device="meta")  # type: ignore[arg-type]
            m.bn = nn.Identity()


def _basic_convs(net: nn.Module) -> list[tuple[str, BasicConv2d]]:
    # Module registration order equals the TF graph's conv order (checked by shape on load).
    return [(n, m) for n, m in net.named_modules() if isinstance(m, BasicConv2d)]


def build_inception(state_dict: dict[str, torch.Tensor], head: bool, fuse: bool = False,
                    share: bool = False) -> FIDInceptionV3:
    """An FIDInceptionV3 holding ``state_dict`` (pytorch-fid key names), in eval mode.

    ``fuse`` folds batch norm into the convs (same outputs within 2e-5, faster on CPU).
    ``share`` uses the given tensors as parameters without copying (read-only use).
    """
    with torch.device("meta"):  # skip the random init of 24M parameters
        net = FIDInceptionV3(head=head)
    sd = {k: v for k, v in state_dict.items() if head or not k.startswith("fc.")}
    if fuse and any(".bn." in k for k in sd):
        sd = fold_batchnorm_state_dict(sd)  # new tensors: the given state dict stays untouched
    elif not share:
        sd = {k: v.clone() for k, v in sd.items()}
    if fuse:
        _fuse_structure(net)
    net.load_state_dict(sd, strict=True, assign=True)
    return net.requires_grad_(False).eval()
