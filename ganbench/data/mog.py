"""Mixtures of Gaussians: the field's standard mode-collapse test (docs/reference.md section 4).

Each dataset knows its mode centres and sigma, so the mode metrics need nothing else, and the
index of the mixture component is the label (for conditional models).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ganbench.data.base import Dataset
from ganbench.registry import DATASETS


@dataclass
class MixtureOfGaussians(Dataset):
    """Equal-weight isotropic Gaussian mixture; a fresh sample every draw (no finite train set)."""

    name: str
    centers: np.ndarray  # [K, D]
    sigma: float
    source: str = ""
    modality: str = field(default="vector", init=False)

    def __post_init__(self) -> None:
        self.centers = np.asarray(self.centers, dtype=np.float32)
        self.shape = (self.centers.shape[1],)
        self.num_classes = len(self.centers)
        self._centers_t = torch.from_numpy(self.centers)

    def identity(self) -> str:
        return f"{self.name}:K={len(self.centers)}:D={self.shape[0]}:sigma={self.sigma}"

    def _draw(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(len(self.centers), (n,), generator=gen)
        eps = torch.randn(n, self.shape[0], generator=gen)
        return self._centers_t[y] + self.sigma * eps, y

    def train_batch(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self._draw(n, gen)

    def reference(self, n: int | None, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        # Splits only change the seed: a generated distribution has no finite train set.
        gen = torch.Generator().manual_seed(seed + (0 if split == "train" else 1_000_003))
        x, y = self._draw(n or 2500, gen)
        return x.numpy(), y.numpy()


def ring_centers(k: int = 8, radius: float = 1.0) -> np.ndarray:
    # i = 0..k-1 with the endpoint excluded: linspace(0, 2pi, 8) would duplicate a mode (docs/reference.md section 4).
    angles = 2 * math.pi * np.arange(k) / k
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def grid_centers(side: int = 5, spacing: float = 2.0) -> np.ndarray:
    ticks = (np.arange(side) - (side - 1) / 2) * spacing  # {-4, -2, 0, 2, 4} for side 5
    xx, yy = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


@DATASETS.register("ring", help="8 Gaussians on a circle, r=1, sigma=0.01 (PacGAN/VEEGAN)")
def ring(**_: object) -> MixtureOfGaussians:
    return MixtureOfGaussians("ring", ring_centers(8, 1.0), 0.01, source="PacGAN/VEEGAN: r=1, sigma=0.01")


@DATASETS.register("grid", help="25 Gaussians on {-4,-2,0,2,4}^2, sigma=0.05 (PacGAN/VEEGAN)")
def grid(**_: object) -> MixtureOfGaussians:
    return MixtureOfGaussians("grid", grid_centers(5, 2.0), 0.05, source="PacGAN/VEEGAN: {-4..4}^2, sigma=0.05")


HIGHDIM_MODES, HIGHDIM_DIM, HIGHDIM_SIGMA, HIGHDIM_SEED = 10, 1200, 0.1, 1200


@DATASETS.register("highdim", help="10 Gaussians in 1200 dimensions (VEEGAN-style)")
def highdim(**_: object) -> MixtureOfGaussians:
    # VEEGAN's 1200-d benchmark embeds modes in 1200 dimensions; its exact generator is not
    # published with the paper, so the means are fixed N(0, I) draws from a named seed.
    rng = np.random.default_rng(HIGHDIM_SEED)
    centers = rng.standard_normal((HIGHDIM_MODES, HIGHDIM_DIM))
    return MixtureOfGaussians("highdim", centers, HIGHDIM_SIGMA,
                              source=f"VEEGAN-style: K={HIGHDIM_MODES}, D={HIGHDIM_DIM}, means N(0,I) seed "
                                     f"{HIGHDIM_SEED}, sigma={HIGHDIM_SIGMA}")
