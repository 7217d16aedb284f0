"""One resolver for the weights of the ViT extractors (DINOv2, CLIP).

Order, as for the Inception weights (``features.inception.resolve_inception_weights``): explicit
path > ``$GANBENCH_<NAME>_WEIGHTS`` > ganbench's cache > torch hub's checkpoint folder (where
torch.hub / torch-fidelity put the same file) > download, only when a sha256 is pinned and
``$GANBENCH_OFFLINE`` is unset > one-line DataNotFoundError listing what was tried. The hashing
and the atomic, verified download are Inception's (``file_sha256``, ``download_file``).
"""

from __future__ import annotations

import http.client
import urllib.error
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.features.cache import cache_root
from ganbench.features.inception import _is_torchscript, download_file, file_sha256
from ganbench.io import offline


@dataclass(frozen=True)
class WeightsSpec:
    """A published weights file: its name, where it is published and its pinned sha256."""

    name: str  # the extractor name, e.g. "dinov2-vit-l14"
    filename: str
    url: str
    sha256: str | None  # None: no checksum pinned, so never downloaded automatically
    hub_names: tuple[str, ...] = ()  # names the same file has in torch hub's checkpoint folder

    @property
    def env_var(self) -> str:
        return "GANBENCH_" + "".join(c if c.isalnum() else "_" for c in self.name.upper()) + "_WEIGHTS"


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights file found for a WeightsSpec."""

    path: Path
    sha256: str
    origin: str  # "argument", "env", "cache", "torch-hub", "download"
    pinned: bool  # its sha256 is the published file's

    @property
    def label(self) -> str:
        return "official" if self.pinned else "sha256:" + self.sha256[:12]


def _user_file(spec: WeightsSpec, path: str | Path, origin: str) -> ResolvedWeights:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataNotFoundError(f"{spec.name} weights not found: {p}")
    sha = file_sha256(p)
    return ResolvedWeights(p, sha, origin, sha == spec.sha256)


def resolve_weights(spec: WeightsSpec, weights: str | Path | None = None, *,
                    allow_download: bool | None = None, progress: bool = True) -> ResolvedWeights:
    """Find ``spec``'s weights (order in the module docstring)."""
    import os

    if weights is not None:
        return _user_file(spec, weights, "argument")
    if os.environ.get(spec.env_var):
        return _user_file(spec, os.environ[spec.env_var], "env")
    tried: list[str] = []
    cached = cache_root() / "weights" / spec.filename
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    for cand, origin in [(cached, "cache"), *[(hub / n, "torch-hub") for n in (spec.filename, *spec.hub_names)]]:
        if not cand.is_file():
            tried.append(f"{cand} (missing)")
            continue
        sha = file_sha256(cand)
        if spec.sha256 is None or sha == spec.sha256:
            return ResolvedWeights(cand, sha, origin, sha == spec.sha256)
        warnings.warn(f"ignoring {cand}: sha256 {sha} is not the published {spec.sha256}", stacklevel=2)
        tried.append(f"{cand} (checksum mismatch)")
    if allow_download is None:
        allow_download = not offline()
    if spec.sha256 is None:
        tried.append("download skipped (no pinned sha256 for this file)")
    elif not allow_download:
        tried.append("download skipped (offline, $GANBENCH_OFFLINE)")
    else:
        try:
            download_file(spec.url, cached, spec.sha256, progress=progress)
            return ResolvedWeights(cached, spec.sha256, "download", True)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            tried.append(f"download {spec.url} ({getattr(e, 'reason', None) or e})")
    raise DataNotFoundError(
        f"no {spec.name} weights found; tried: " + "; ".join(tried)
        + f". Fix: download {spec.url} and pass it with --weights PATH or ${spec.env_var}")


def load_state_dict_file(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A plain tensor state dict under ``torch.load(weights_only=True)``, else a one-line error."""
    if _is_torchscript(path):
        raise GanbenchError(f"refusing to load {what} {path}: a TorchScript archive whose sha256 is "
                            "not the published file's; give a plain state dict (torch.save(model.state_dict()))")
    try:
        # weights_only: a weights file must never run code (a pickle can).
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "refuse"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GanbenchError(f"refusing to load {what} {path}: not a plain tensor state dict under "
                            f"torch.load(weights_only=True) ({first[:200]})") from None
    if isinstance(sd, dict) and isinstance(sd.get("model"), dict):
        sd = sd["model"]  # training checkpoints wrap the state dict
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise GanbenchError(f"{what} {path}: expected a state dict of tensors")
    return dict(sd)
