"""CLIP ViT-L/14 at 336 px image embeddings (Radford et al. 2021), the feature space of CMMD.

Jayasumana et al. (CVPR 2024, google-research cmmd/embedding.py) compute CMMD on CLIP
``vit_l14_336px`` image embeddings; torch-fidelity 0.4 ships the same network as
``clip-vit-l-14-336px``. The network is open_clip's build of OpenAI's checkpoint
(``open_clip.model.build_model_from_openai_state_dict``: QuickGELU, weights cast through float16
exactly as OpenAI stores them and as torch-fidelity loads them); the output is the projected
class token, not L2-normalised (``cmmd`` normalises, as CMMD's CLIP ``encode_image`` does).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.features.base import ExtractorOptions, register_extractor
from ganbench.features.vit import RESIZE_MODES, NetInput, VitExtractor, require
from ganbench.features.weights import ResolvedWeights, WeightsSpec, load_state_dict_file, resolve_weights

# openai/CLIP clip.py _MODELS["ViT-L/14@336px"]: the URL's folder is the file's sha256, which
# clip.py checks after downloading (torch-fidelity 0.4 feature_extractor_clip.py pins the same).
SPEC = WeightsSpec(
    "clip-vit-l14-336", "ViT-L-14-336px.pt",
    "https://openaipublic.azureedge.net/clip/models/"
    "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt",
    "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
    hub_names=("clip-vit-l-14-336px-3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02.pt",))
INPUT_SIZE = 336
# openai/CLIP clip.py _transform (torch-fidelity 0.4 feature_extractor_clip.py uses the same).
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
# ViT-L/14@336: patch 14, width 1024, 24 layers, 24x24+1 positions, 768-d embedding.
L14_336 = {"visual.conv1.weight": (1024, 3, 14, 14), "visual.positional_embedding": (577, 1024),
           "visual.proj": (1024, 768)}


def _state_dict(w: ResolvedWeights) -> dict[str, torch.Tensor]:
    if w.pinned:  # OpenAI's TorchScript file, trusted because its sha256 is the published one
        return dict(torch.jit.load(str(w.path), map_location="cpu").state_dict())
    return load_state_dict_file(w.path, "CLIP weights")


def _check_arch(sd: dict[str, torch.Tensor], path: Path) -> None:
    layers = sum(k.startswith("visual.") and k.endswith(".attn.in_proj_weight") for k in sd)
    shapes = {k: tuple(sd[k].shape) if k in sd else None for k in L14_336}
    if shapes != L14_336 or layers != 24:
        raise GanbenchError(f"{path} is not CLIP ViT-L/14@336 weights in OpenAI's format "
                            f"(found {layers} vision layers, shapes {shapes})")


def build_clip_visual(sd: dict[str, torch.Tensor]) -> nn.Module:
    """open_clip's image tower for an OpenAI-format CLIP state dict, in float32 eval mode."""
    open_clip_model = require("open_clip.model")
    try:
        model = open_clip_model.build_model_from_openai_state_dict(dict(sd), quick_gelu=True)
    except (KeyError, RuntimeError, ValueError) as e:
        raise GanbenchError(f"not an OpenAI-format CLIP state dict: {str(e).splitlines()[0][:200]}") from None
    return model.visual.float().eval()


@functools.lru_cache(maxsize=1)
def _load(path: str, sha256: str, pinned: bool, check_arch: bool) -> nn.Module:
    sd = _state_dict(ResolvedWeights(Path(path), sha256, "", pinned))
    if check_arch:
        _check_arch(sd, Path(path))
    return build_clip_visual(sd)


def clip_extractor(name: str, weights: str | Path | None = None, mode: str = "legacy-tf",
                   device: torch.device | str | None = None, *, check_arch: bool = True) -> VitExtractor:
    """The CLIP extractor; ``check_arch=False`` accepts any OpenAI-format ViT (tests use a small one)."""
    w = resolve_weights(SPEC, weights)
    # open_clip's VisionTransformer (an untyped package): proj, output_dim and image_size are its own.
    net: Any = _load(str(w.path), w.sha256, w.pinned, check_arch)
    dims = int(net.proj.shape[1]) if getattr(net, "proj", None) is not None else int(net.output_dim)
    return VitExtractor(name, net, w, mode, NetInput(int(net.image_size[0]), MEAN, STD), dims=dims, device=device)


def _build(opts: ExtractorOptions) -> VitExtractor:
    """CLIP ViT-L/14@336 (modes: legacy-tf = torch-fidelity, pil-bicubic = openai/CLIP, edm2)."""
    return clip_extractor("clip-vit-l14-336", opts.weights, opts.mode or "legacy-tf", opts.device)


clip_vit_l14_336 = register_extractor(
    "clip-vit-l14-336", _build, modes=RESIZE_MODES, takes_weights=True,
    help="CLIP ViT-L/14@336px image embedding (768-d), CMMD's space")
