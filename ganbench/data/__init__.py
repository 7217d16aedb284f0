"""Datasets: generated mixtures of Gaussians and image datasets, all behind DATASETS.

The registering modules (mog, images) are imported by ``ganbench.registry`` when a dataset is first
asked for, not here, so that light commands can import ``ganbench.data.sources`` without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganbench.registry import DATASETS

if TYPE_CHECKING:
    from ganbench.data.base import Dataset, ImageDataset

__all__ = ["Dataset", "ImageDataset", "get_dataset"]


def __getattr__(name: str) -> Any:
    if name in ("Dataset", "ImageDataset"):
        from ganbench.data import base

        return getattr(base, name)
    raise AttributeError(f"module 'ganbench.data' has no attribute {name!r}")


def get_dataset(spec: str, data_dir: str | None = None) -> Dataset:
    """Build a dataset from a registered name or ``kind:PATH`` (folder:, npz:)."""
    name, _, arg = spec.partition(":")
    factory = DATASETS.get(name if arg else spec)
    return factory(path=arg, data_dir=data_dir) if arg else factory(data_dir=data_dir)
