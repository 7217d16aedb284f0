"""What the DINOv2 and CLIP extractors share: named resizes, normalisation and the extractor shell.

Resize modes (uint8 NCHW in, float32 0..255 NCHW out at the network's square input size):
- ``legacy-tf``: TF1 bilinear (torch-fidelity 0.4 ``interpolate_bilinear_2d_like_tensorflow1x``,
  used by its ``dinov2-vit-*`` and ``clip-*`` extractors); the name matches Inception's mode.
- ``edm2``: ``F.interpolate(bicubic, antialias=True)`` on float32 (NVlabs/edm2
  calculate_metrics.py ``DINOv2Detector(resize_mode='torch')``, the FD_DINOv2 of EDM2).
- ``pil-bicubic``: PIL bicubic on uint8 RGB, re-quantised (EDM2's ``resize_mode='pil'``, which
  it says matches layer6ai-labs/dgm-eval; and openai/CLIP clip.py ``_transform`` for square images).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.features.base import FeatureExtractor, no_tf32, pick_device
from ganbench.features.preprocessing import as_rgb_uint8, resize_bilinear_tf1
from ganbench.features.weights import ResolvedWeights

RESIZE_MODES = {
    "legacy-tf": "TF1 bilinear resize (torch-fidelity 0.4's ViT extractors)",
    "edm2": "torch bicubic resize with antialias on float32 (NVlabs/edm2 calculate_metrics.py)",
    "pil-bicubic": "PIL bicubic resize of uint8 RGB (dgm-eval; openai/CLIP preprocessing of square images)",
}


def _resize_pil(x: torch.Tensor, size: int) -> torch.Tensor:
    from PIL import Image

    arr = x.permute(0, 2, 3, 1).cpu().numpy()
    out = np.stack([np.asarray(Image.fromarray(a, "RGB").resize((size, size), Image.Resampling.BICUBIC))
                    for a in arr])
    return torch.from_numpy(out).permute(0, 3, 1, 2).float()


def resize(images: Any, size: int, mode: str, device: torch.device) -> torch.Tensor:
    """uint8 NCHW (1 or 3 channels) -> float32 [B,3,size,size] in 0..255 by the named ``mode``."""
    x = as_rgb_uint8(images)
    if mode == "pil-bicubic":
        return _resize_pil(x.contiguous(), size).to(device)
    x = x.to(device).float()
    if mode == "legacy-tf":
        return resize_bilinear_tf1(x, size)
    if mode == "edm2":
        return F.interpolate(x, size=(size, size), mode="bicubic", antialias=True)
    raise GanbenchError(f"unknown preprocessing mode {mode!r}; known: {', '.join(RESIZE_MODES)}")


@dataclass(frozen=True)
class NetInput:
    """A network's square input size and its per-channel normalisation (on 0..1 images)."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class VitExtractor(FeatureExtractor):
    """A ViT embedding network as a FeatureExtractor: uint8 NCHW -> {"pool3": [B, dims]}.

    The output key is ``"pool3"``, as for the domain CNN, so that every metric that reads the
    Inception embedding (fid, kid, pr, dc, fd, cmmd, vendi) reads this one unchanged.
    """

    mode: str  # one of RESIZE_MODES (checked in __init__)

    def __init__(self, name: str, net: nn.Module, weights: ResolvedWeights, mode: str, inp: NetInput, *,
                 dims: int, device: torch.device | str | None = None) -> None:
        if mode not in RESIZE_MODES:
            raise GanbenchError(f"unknown preprocessing mode {mode!r} for {name}; known: {', '.join(RESIZE_MODES)}")
        self.base_name, self.net, self.weights, self.mode = name, net.eval().requires_grad_(False), weights, mode
        self.size, self.dims = inp.size, {"pool3": dims}
        # Normalise in 0..255 like torch-fidelity: (x - 255 mean) / (255 std).
        self._mean = torch.tensor([255 * m for m in inp.mean]).view(1, 3, 1, 1)
        self._std = torch.tensor([255 * s for s in inp.std]).view(1, 3, 1, 1)
        self.weights_sha256 = weights.sha256
        self.name = f"{name}[{weights.label}]/{mode}"
        self.device = torch.device("cpu")
        self.to(pick_device(device))

    def to(self, device: torch.device | str) -> VitExtractor:
        self.device = torch.device(device)
        self.net.to(self.device)
        self._mean, self._std = self._mean.to(self.device), self._std.to(self.device)
        return self

    def preprocess(self, images_uint8: Any) -> torch.Tensor:
        """uint8 NCHW -> normalised network input on this extractor's device."""
        return (resize(images_uint8, self.size, self.mode, self.device) - self._mean) / self._std

    def __call__(self, images_uint8: Any) -> dict[str, torch.Tensor]:
        with torch.inference_mode(), no_tf32(self.device):
            return {"pool3": self.net(self.preprocess(images_uint8)).float()}

    @property
    def preprocessing(self) -> str:
        return f"{RESIZE_MODES[self.mode]} to {self.size}px, then (x - 255 mean) / (255 std)"

    def extra_protocol(self) -> dict[str, Any]:
        return {"weights_origin": self.weights.origin, "weights_pinned": self.weights.pinned}

    def missing_reason(self, outputs: list[str]) -> str:
        if "logits" in outputs:
            return f"{self.base_name} has no class logits (IS needs Inception)"
        return super().missing_reason(outputs)

    def __repr__(self) -> str:
        return f"VitExtractor({self.name!r}, device={self.device}, weights={self.weights.path})"


def load_strict(net: nn.Module, state_dict: dict[str, torch.Tensor], what: str) -> nn.Module:
    """``load_state_dict(strict=True)`` whose failure is a one-line GanbenchError."""
    want = net.state_dict()
    missing = [k for k in want if k not in state_dict]
    unexpected = [k for k in state_dict if k not in want]
    bad = [k for k in want if k in state_dict and tuple(state_dict[k].shape) != tuple(want[k].shape)]
    if missing or unexpected or bad:
        raise GanbenchError(f"{what}: {len(missing)} missing keys (e.g. {missing[:2]}), {len(unexpected)} "
                            f"unexpected (e.g. {unexpected[:2]}), {len(bad)} of another shape (e.g. {bad[:2]})")
    net.load_state_dict(state_dict, strict=True, assign=True)
    return net


def require(module: str) -> Any:
    """Import an optional network library, or fail in one line naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise GanbenchError(f"the DINOv2/CLIP extractors need {module}: pip install 'ganbench[vit]'") from None
