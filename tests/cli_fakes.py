"""Shared by the CLI tests: a cheap stand-in for Inception and an in-process ``ganbench`` call."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbench.cli import main
from ganbench.features.base import FeatureExtractor, register_extractor
from ganbench.registry import EXTRACTORS


class PixelExtractor(FeatureExtractor):
    """Deterministic stand-in for Inception: ``pool`` x ``pool`` average-pooled RGB pixels as "pool3"."""

    weights_sha256, mode = None, "legacy-tf"

    def __init__(self, name: str, pool: int) -> None:
        self.name, self.pool = name, pool
        self.dims = {"pool3": 3 * pool * pool}

    def __call__(self, x):
        x = torch.as_tensor(x)
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return {"pool3": F.adaptive_avg_pool2d(x.float() / 255, self.pool).flatten(1)}


def register_pixel_extractor(name: str, pool: int = 8) -> str:
    """Register a PixelExtractor as the extractor ``name`` (once) and return the name."""
    if name not in EXTRACTORS:
        register_extractor(name, lambda opts: PixelExtractor(name, pool), modes=("legacy-tf",), help="test only")
    return name


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``ganbench ARGS`` run in this process."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err
