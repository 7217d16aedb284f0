"""The dataset interface every loader returns.

Two modalities travel through ganbench: vectors (float32, for the mixtures of Gaussians) and
images (uint8 NCHW, docs/design.md convention 8). A dataset gives training batches in model space
(floats; images scaled to [-1, 1]) and reference samples in raw form for evaluation.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.io import check_uint8_images

if TYPE_CHECKING:  # torch is imported where used, so `ganbench data` can locate files without it
    import torch


class Dataset(ABC):
    name: str
    modality: str  # "vector" | "image"
    shape: tuple[int, ...]
    num_classes: int  # 0 when there are no labels

    @abstractmethod
    def identity(self) -> str:
        """A string that changes whenever the data change (used in cache keys and records)."""

    @abstractmethod
    def train_batch(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` training examples in model space (float32) and their labels, drawn with ``gen``."""

    @abstractmethod
    def reference(self, n: int | None, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray | None]:
        """``n`` real samples in raw form (uint8 NCHW images or float32 vectors) and labels."""

    def size(self, split: str = "train") -> int | None:
        """How many samples ``split`` holds; None when they are drawn on demand (no fixed set)."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "modality": self.modality, "shape": list(self.shape),
                "num_classes": self.num_classes, "identity": self.identity()}


def to_model_space(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the generator's output range."""
    return images_uint8.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> uint8 [0, 255], rounding like torchvision's save_image."""
    import torch

    return images.detach().add(1.0).mul(127.5).add_(0.5).clamp_(0, 255).to(torch.uint8)


@dataclass
class ImageDataset(Dataset):
    """Images held in memory as uint8 NCHW arrays with optional integer labels."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray | None = None
    test_x: np.ndarray | None = None
    test_y: np.ndarray | None = None
    num_classes: int = 0
    source: str = ""  # where the files came from, for the record
    modality: str = field(default="image", init=False)
    _identity: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        x = self.train_x
        check_uint8_images(x, f"dataset {self.name!r}")
        if len(x) == 0:
            raise GanbenchError(f"dataset {self.name!r} has no images")
        self.shape = tuple(x.shape[1:])
        import torch

        self._train_t = torch.from_numpy(np.ascontiguousarray(x))
        self._train_y_t = None if self.train_y is None else torch.from_numpy(np.asarray(self.train_y, np.int64))

    def identity(self) -> str:
        if self._identity is None:
            h = hashlib.sha256()
            for a in (self.train_x, self.train_y, self.test_x, self.test_y):
                if a is not None:
                    h.update(str(a.shape).encode())
                    h.update(np.ascontiguousarray(a).data)
            self._identity = f"{self.name}:{h.hexdigest()[:16]}"
        return self._identity

    def train_batch(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        idx = torch.randint(len(self._train_t), (n,), generator=gen)
        y = None if self._train_y_t is None else self._train_y_t[idx]
        return to_model_space(self._train_t[idx]), y

    def split_arrays(self, split: str) -> tuple[np.ndarray, np.ndarray | None]:
        if split == "train":
            return self.train_x, self.train_y
        if split == "test":
            if self.test_x is None:
                raise GanbenchError(f"dataset {self.name!r} has no test split")
            return self.test_x, self.test_y
        raise GanbenchError(f"unknown split {split!r}; use 'train' or 'test'")

    def size(self, split: str = "train") -> int | None:
        return len(self.split_arrays(split)[0])

    def reference(self, n: int | None, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray | None]:
        x, y = self.split_arrays(split)
        if n is None or n >= len(x):
            return x, y
        idx = np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))
        return x[idx], (None if y is None else y[idx])
