"""DINOv2 ViT-B/14 and ViT-L/14 embeddings (Oquab et al. 2023), the feature space of FD_DINOv2.

Stein et al. (NeurIPS 2023, layer6ai-labs/dgm-eval) recommend FD over DINOv2 ViT-L/14; EDM2
(NVlabs/edm2 calculate_metrics.py) made it a standard protocol. The network is timm's
``vit_{base,large}_patch14_dinov2`` at 224 px; the output is the class token after the final
norm, which is what facebookresearch/dinov2's hub model returns (its head is the identity).

Weights are facebookresearch/dinov2's ``dinov2_vit{b,l}14_pretrain.pth`` (or timm's conversion).
Those checkpoints hold position embeddings for 518 px; the reference model resamples them at run
time to the 16x16 grid of a 224 px input with ``F.interpolate(bicubic, scale_factor=(16+0.1)/37,
antialias=False)`` (dinov2/models/vision_transformer.py ``interpolate_pos_encoding``, hub defaults
``interpolate_offset=0.1``, ``interpolate_antialias=False``). timm's own resampling uses
``size=`` with antialias and gives other numbers, so the resample is done here the reference's way.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.features.base import ExtractorOptions, register_extractor
from ganbench.features.vit import RESIZE_MODES, NetInput, VitExtractor, load_strict, require
from ganbench.features.weights import WeightsSpec, load_state_dict_file, resolve_weights

INPUT_SIZE = 224  # torch-fidelity 0.4 FeatureExtractorDinoV2.INPUT_IMAGE_SIZE; EDM2; dgm-eval
PATCH = 14
# ImageNet mean/std (torch-fidelity 0.4 feature_extractor_dinov2.py; NVlabs/edm2 calculate_metrics.py).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
INTERPOLATE_OFFSET = 0.1  # facebookresearch/dinov2 hub models' interpolate_offset
_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vit{s}14/dinov2_vit{s}14_pretrain.pth"

# Facebook publishes no checksums for these files and none could be fetched offline, so no sha256
# is pinned: they are never downloaded automatically, and the sha256 of the file used goes into
# every record's protocol (weights_sha256).
ARCHS = {
    "dinov2-vit-b14": ("vit_base_patch14_dinov2", 768,
                       WeightsSpec("dinov2-vit-b14", "dinov2_vitb14_pretrain.pth", _URL.format(s="b"), None)),
    "dinov2-vit-l14": ("vit_large_patch14_dinov2", 1024,
                       WeightsSpec("dinov2-vit-l14", "dinov2_vitl14_pretrain.pth", _URL.format(s="l"), None)),
}


def resample_pos_embed(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """[1, 1+M*M, D] -> [1, 1+grid*grid, D] exactly as dinov2's ``interpolate_pos_encoding``."""
    n = pos_embed.shape[1] - 1
    m = int(math.sqrt(n))
    if m * m != n:
        raise GanbenchError(f"DINOv2 position embedding has {n} patch entries, not a square grid")
    if m == grid:
        return pos_embed
    pe = pos_embed.float()
    dim = pe.shape[-1]
    scale = (grid + INTERPOLATE_OFFSET) / m
    patch = F.interpolate(pe[:, 1:].reshape(1, m, m, dim).permute(0, 3, 1, 2), mode="bicubic",
                          antialias=False, scale_factor=(scale, scale))
    patch = patch.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat([pe[:, :1], patch], dim=1).to(pos_embed.dtype)


def build_dinov2(arch: str, state_dict: dict[str, torch.Tensor], what: str = "DINOv2 weights") -> nn.Module:
    """timm's ``arch`` at 224 px holding a facebookresearch/dinov2 (or timm) state dict."""
    timm = require("timm")
    with torch.device("meta"):  # no random init of 300M parameters that are replaced anyway
        net = timm.create_model(arch, pretrained=False, img_size=INPUT_SIZE, num_classes=0)
    sd = {k: v.float() for k, v in state_dict.items() if k != "mask_token"}  # mask_token: training only
    if "pos_embed" in sd:
        sd["pos_embed"] = resample_pos_embed(sd["pos_embed"], INPUT_SIZE // PATCH)
    return load_strict(net, sd, what)


@functools.lru_cache(maxsize=2)
def _load(arch: str, path: str, sha256: str) -> nn.Module:
    return build_dinov2(arch, load_state_dict_file(Path(path), "DINOv2 weights"), f"{path} (DINOv2 {arch})")


def dinov2_extractor(name: str, weights: str | Path | None = None, mode: str = "legacy-tf",
                     device: torch.device | str | None = None) -> VitExtractor:
    """Build the registered DINOv2 extractor ``name`` (weights as in ``features.weights``)."""
    arch, dims, spec = ARCHS[name]
    resolved = resolve_weights(spec, weights)
    net = _load(arch, str(resolved.path), resolved.sha256)
    return VitExtractor(name, net, resolved, mode, NetInput(INPUT_SIZE, MEAN, STD), dims=dims, device=device)


def _builder(name: str):
    def build(opts: ExtractorOptions) -> VitExtractor:
        return dinov2_extractor(name, opts.weights, opts.mode or "legacy-tf", opts.device)
    return build


# modes: legacy-tf = torch-fidelity, edm2, pil-bicubic = dgm-eval
dinov2_vit_l14 = register_extractor("dinov2-vit-l14", _builder("dinov2-vit-l14"), modes=RESIZE_MODES,
                                    takes_weights=True, help="DINOv2 ViT-L/14 class token (1024-d), FD_DINOv2's space")
dinov2_vit_b14 = register_extractor("dinov2-vit-b14", _builder("dinov2-vit-b14"), modes=RESIZE_MODES,
                                    takes_weights=True, help="DINOv2 ViT-B/14 class token (768-d), cheap tracking")
