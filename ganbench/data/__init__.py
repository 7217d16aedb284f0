"""Datasets: generated mixtures of Gaussians and image datasets, all behind DATASETS."""

from __future__ import annotations

from ganbench.data import mog  # noqa: F401  (registers ring, grid, highdim)
from ganbench.data import images  # noqa: F401
from ganbench.data.base import Dataset, ImageDataset
from ganbench.registry import DATASETS


__all__ = ["Dataset", "ImageDataset", "get_dataset"]


def get_dataset(spec: str, data_dir: str | None = None) -> Dataset:
    """Build a dataset from a registered name or ``kind:PATH`` (folder:, npz:)."""
    name, _, arg = spec.partition(":")
    factory = DATASETS.get(name if arg else spec)
    return factory(path=arg, data_dir=data_dir) if arg else factory(data_dir=data_dir)
