"""Named preprocessing of uint8 images for the Inception network (docs/design.md convention 8)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ganbench.errors import GanbenchError
from ganbench.features.base import as_tensor
from ganbench.io import check_uint8_images

INPUT_SIZE = 299


MODES = {
    "legacy-tf": "TF1 bilinear resize to 299 (align_corners=False, no half-pixel, no antialias), "
                 "(x-128)/128: the TTUR/TF graph and torch-fidelity",
    "clean": "clean-fid: PIL bicubic resize of float32 channels to 299, no re-quantisation, "
             "(x-128)/128",
    "legacy-pytorch": "pytorch-fid: torch bilinear resize (half-pixel centres), (x-127.5)/127.5",
}


def as_rgb_uint8(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Check uint8 NCHW and replicate grayscale to RGB (docs/reference.md section 1)."""
    x = check_uint8_images(as_tensor(images), "feature extractor input")
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def resize_bilinear_tf1(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """TF1 ``ResizeBilinear(align_corners=False)`` on float NCHW, epsilon-exact.

    TF1 maps output pixel i to input ``i * in/out`` (no half-pixel offset), unlike
    ``F.interpolate(align_corners=False)`` (``(i+0.5)*in/out - 0.5``, what pytorch-fid uses).
    This follows TF's kernel (image_resizer_state.h, resize_bilinear_op.cc) the way
    torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x`` does, which matches the TF
    graph bit-exactly on CPU, and NVIDIA's TorchScript port (fid-helper ``nv_bilinear``) agrees.
    """
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x

    def axis(n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.arange(size, dtype=torch.float32, device=x.device) * torch.tensor(
            n_in / size, dtype=torch.float32, device=x.device)
        lo = g.long()
        return lo, (lo + 1).clamp_max(n_in - 1), (g - lo.float()).to(x.dtype)

    ylo, yhi, dy = axis(h)
    xlo, xhi, dx = axis(w)
    top, bot = x.index_select(2, ylo), x.index_select(2, yhi)
    tl, tr = top.index_select(3, xlo), top.index_select(3, xhi)
    bl, br = bot.index_select(3, xlo), bot.index_select(3, xhi)
    t = tl + (tr - tl) * dx
    b = bl + (br - bl) * dx
    return t + (b - t) * dy.view(-1, 1)


def resize_clean(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """clean-fid's ``make_resizer("PIL", False, "bicubic", (size, size))`` on uint8 NCHW -> float32."""
    from PIL import Image

    arr = x.cpu().numpy()
    out = np.empty((arr.shape[0], arr.shape[1], size, size), dtype=np.float32)
    for i in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            img = Image.fromarray(arr[i, c].astype(np.float32), mode="F")
            out[i, c] = np.asarray(img.resize((size, size), resample=Image.Resampling.BICUBIC)).clip(0, 255)
    return torch.from_numpy(out)


def preprocess(images: torch.Tensor | np.ndarray, mode: str = "legacy-tf",
               device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 NCHW images -> normalised float32 [B,3,299,299] network input for ``mode``."""
    if mode not in MODES:
        raise GanbenchError(f"unknown preprocessing mode {mode!r}; known: {', '.join(MODES)}")
    x = as_rgb_uint8(images)
    if mode == "clean":
        # PIL works per image on the CPU; clean-fid normalises in the TorchScript wrapper.
        return ((resize_clean(x) - 128) / 128).to(device or "cpu")
    x = x.to(device or x.device).float()
    if mode == "legacy-tf":
        return (resize_bilinear_tf1(x) - 128) / 128
    # pytorch-fid: scale to [0,1], resize, then 2x-1 (docs/reference.md section 1: a small offset from TF).
    x = F.interpolate(x / 255, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2 * x - 1
