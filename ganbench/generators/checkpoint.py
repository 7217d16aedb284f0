"""The ganbench checkpoint format, in one place: its name, what it holds, how it is written
(atomically) and read (tensors only, never code), and how its generator is rebuilt.

A checkpoint is a ``torch.save`` dict: ``format`` (FORMAT), ``generator``, ``discriminator``,
``opt_g``, ``opt_d``, ``step``, ``rng``, ``recipe`` (the recipe as a dict) and ``run`` (model,
dataset, seed, budget, modality, shape, num_classes, dataset_identity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.io import atomic_open, safe_torch_load
from ganbench.layout import CHECKPOINT  # its file name inside a run directory

FORMAT = "ganbench-checkpoint/1"


def is_checkpoint(obj: Any) -> bool:
    """A loaded file is a ganbench checkpoint (of any format version)."""
    return isinstance(obj, dict) and str(obj.get("format", "")).startswith("ganbench-checkpoint")


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then os.replace: a kill never leaves a half-written file."""
    with atomic_open(path) as f:
        torch.save(obj, f)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a ganbench checkpoint without executing code (torch.load weights_only=True, on the CPU)."""
    ck = safe_torch_load(Path(path), "checkpoint")
    if not isinstance(ck, dict) or "generator" not in ck:
        raise GanbenchError(f"{path}: not a ganbench checkpoint (no 'generator' entry)")
    return ck


def _trusted(arch: dict[str, Any], modality: str, recipe_file: str | None, path: Path) -> bool:
    """Whether the network code a checkpoint's recipe names may be imported: only when the user named
    a recipe file (``--recipe``) whose own section names the same classes. The checkpoint alone never
    decides what code runs."""
    if recipe_file is None:
        return False
    from ganbench.config import load_recipe

    mine = load_recipe(recipe_file).arch.get(modality, {})
    for key in ("generator", "discriminator"):
        if str(mine.get(key)) != str(arch.get(key)):
            raise GanbenchError(f"{path}: its {key} is {arch.get(key)!r}, but {recipe_file} names {mine.get(key)!r}; "
                                "pass the recipe the run was trained with")
    return True


def rebuild_generator(ck: dict[str, Any], path: Path,
                      recipe_file: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """G rebuilt from the recipe inside a checkpoint, holding its weights; and the checkpoint's run.
    Network classes the checkpoint names as ``package.module:Name`` are imported only from the recipe
    file the user names (``recipe_file``), never because the checkpoint says so."""
    from ganbench.nets import build_networks

    try:
        recipe, run = ck["recipe"], ck["run"]
        modality = run["modality"]
        if modality != "image":
            raise GanbenchError(f"{path}: a {modality} run; `ganbench eval` scores image generators "
                                "(mixture runs are evaluated by `ganbench run`)")
        arch = recipe["arch"][modality]
        trusted = _trusted(arch, modality, recipe_file, path)
        g, _ = build_networks(arch, tuple(run["shape"]), int(run["num_classes"]), recipe.get("conditional", ""),
                              allow_code=trusted, where=str(path), beside=recipe_file or "")
        g.load_state_dict(ck["generator"])
    except (KeyError, TypeError) as e:
        raise GanbenchError(f"{path}: a damaged ganbench checkpoint (missing {e})") from None
    except RuntimeError as e:
        raise GanbenchError(f"{path}: generator weights do not fit its recipe ({str(e).splitlines()[0]})") from None
    return g, run


__all__ = ["CHECKPOINT", "FORMAT", "atomic_save", "is_checkpoint", "load_checkpoint", "rebuild_generator"]
