"""Each run's (each seed's) own stream of training batches and latents.

Every random draw of one seed's training comes from its own ``torch.Generator``, so a seed gives
the same run alone, in the per-seed loop, or stacked with other seeds (ganbench.training.players).

With ``train_size`` > 0 a mixture is trained on a fixed training set drawn once from the seed and
reshuffled every epoch, as PacGAN's released code (fjxmlzn/PacGAN, pacgan/streams.py: Fuel
``ShuffledScheme`` over ``GaussianPackingMixture(num_examples=100000)``); each of the ``pack``
columns of a packed example is drawn with replacement from the base points, as its
``GaussianPackingMixture`` does. A batch that would cross an epoch's end starts the next epoch.
"""

from __future__ import annotations

from typing import Any

import torch

from ganbench.data.base import Dataset, ImageDataset, to_model_space

DATA_SEED_OFFSET = 7_919  # the fixed training set's generator: derived from, distinct from, the seed


class SeedStream:
    def __init__(self, dataset: Dataset, seed: int, z_dim: int, pack: int = 1, train_size: int = 0,
                 device: torch.device | str = "cpu") -> None:
        self.dataset, self.z_dim, self.pack, self.device = dataset, z_dim, pack, torch.device(device)
        # A fixed training set lives on the device with its generator: no host copy per batch.
        self.gen = torch.Generator(self.device if train_size else "cpu").manual_seed(seed)
        self.data: torch.Tensor | None = None
        if train_size:
            g = torch.Generator().manual_seed(seed + DATA_SEED_OFFSET)
            base, _ = dataset.train_batch(train_size, g)
            table = torch.randint(train_size, (train_size, pack), generator=g)
            self.data = base[table].to(self.device)  # [N, pack, d]: one packed example per row
        self.perm: torch.Tensor | None = None
        self.pos = 0
        # Images on an accelerator: the uint8 training set is copied there once, and each batch is
        # indexed there (the same indices as Dataset.train_batch draws), not copied per batch.
        self.images = None
        if self.data is None and self.device.type != "cpu" and isinstance(dataset, ImageDataset):
            self.images = dataset._train_t.to(self.device)
            labels = dataset._train_y_t
            self.labels = None if labels is None else labels.to(self.device)

    def real(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` D inputs' worth of real samples: ``n * pack`` rows, packs consecutive."""
        if self.images is not None:
            idx = torch.randint(len(self.images), (n * self.pack,), generator=self.gen).to(self.device)
            return to_model_space(self.images[idx]), (None if self.labels is None else self.labels[idx])
        if self.data is None:
            x, y = self.dataset.train_batch(n * self.pack, self.gen)
            return x.to(self.device), (None if y is None else y.to(self.device))
        if self.perm is None or self.pos + n > len(self.data):
            self.perm, self.pos = torch.randperm(len(self.data), generator=self.gen, device=self.gen.device), 0
        idx = self.perm[self.pos:self.pos + n]
        self.pos += n
        return self.data[idx].flatten(0, 1), None

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=self.gen, device=self.gen.device).to(self.device)

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=self.gen, device=self.gen.device).to(self.device)

    def state(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "perm": None if self.perm is None else self.perm.cpu(), "pos": self.pos}

    def load(self, st: dict[str, Any]) -> None:
        self.gen.set_state(st["gen"])
        self.perm = None if st["perm"] is None else st["perm"].to(self.gen.device)
        self.pos = int(st["pos"])
