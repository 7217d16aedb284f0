"""Where ganbench keeps files, and the one way it writes, fetches, hashes and loads them.

A reader (or a resumed run) must never see a half-written checkpoint, cache entry or record
file, so every write goes to a temporary file in the same folder and is then ``os.replace``d.
The toolbox every module uses for files ganbench does not make itself is here too: the one
download (one timeout, one offline rule, verified checksums), sha256 of a file, loading a file
only as the bytes that were verified, telling TorchScript archives apart, refusing pickles that
would run code (``torch.load(weights_only=True)``), checking uint8 images, and picking a device.
torch is imported inside the functions that need it, so that importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import re
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from ganbench import faults
from ganbench.errors import ChecksumMismatchError, DataNotFoundError, GanbenchError


def cache_root() -> Path:
    """``$GANBENCH_CACHE`` or ``~/.cache/ganbench``; never inside the installed package."""
    env = os.environ.get("GANBENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganbench"


OFFLINE_ENV = "GANBENCH_OFFLINE"
_FALSE = ("", "0", "false", "no", "off")


def offline() -> bool:
    """True when ``$GANBENCH_OFFLINE`` forbids downloads: one rule for datasets and weights alike
    (unset, 0, false, no and off mean online; anything else means offline)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in _FALSE


def _umask() -> int:
    try:  # Linux reports it without changing it (os.umask would, for a moment, for every thread)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_open(dest: str | os.PathLike, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """Open a temporary file beside ``dest`` for binary writing; on success it replaces ``dest``.

    An exception inside the block (a failed checksum, a kill) removes the temporary file and
    leaves ``dest`` as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=suffix)
    try:
        # mkstemp creates 0600; the result should be what open() would give: 0666 less the umask.
        os.chmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        faults.point("atomic-write")  # the tests' kill -9 before the rename
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(dest: str | os.PathLike, data: bytes) -> None:
    with atomic_open(dest) as f:
        f.write(data)


def atomic_write_text(dest: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(dest, text.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Fetching: one download for datasets and weights
# --------------------------------------------------------------------------------------------

# Short, so that a dead mirror or a machine without internet fails (or falls through to an
# offline source) quickly instead of hanging a run.
DOWNLOAD_TIMEOUT_S = 10.0


def download_timeout() -> float:
    """``$GANBENCH_DOWNLOAD_TIMEOUT`` seconds, else DOWNLOAD_TIMEOUT_S."""
    env = os.environ.get("GANBENCH_DOWNLOAD_TIMEOUT", "").strip()
    try:
        return float(env) if env else DOWNLOAD_TIMEOUT_S
    except ValueError:
        raise GanbenchError(f"$GANBENCH_DOWNLOAD_TIMEOUT={env!r} is not a number of seconds") from None


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None, md5: str | None = None,
             timeout: float | None = None, progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` atomically, verifying the given checksums; a failure leaves no file.

    Raises GanbenchError (one line) on network errors and checksum mismatches. Callers check
    ``offline()`` first: this function is the fetch, not the policy.
    """
    from ganbench.progress import bar as progress_bar

    dest = Path(dest)
    hashes = {k: hashlib.new(k) for k, v in (("md5", md5), ("sha256", sha256)) if v}
    try:
        with atomic_open(dest, suffix=".part") as out, \
                urllib.request.urlopen(url, timeout=download_timeout() if timeout is None else timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with progress_bar(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                              disable=not progress, leave=False) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    for h in hashes.values():
                        h.update(chunk)
                    bar.update(len(chunk))
            for k, want in (("md5", md5), ("sha256", sha256)):
                if want and hashes[k].hexdigest() != want.lower():
                    raise ChecksumMismatchError(f"{k} mismatch for {url}: got {hashes[k].hexdigest()}, expected "
                                                f"{want}; a checksum mismatch means it is not the published file, "
                                                "so the download was deleted")
    except (OSError, ValueError, http.client.HTTPException) as e:  # URLError, timeouts: OSError; bad URL: ValueError
        raise GanbenchError(f"cannot download {url}: {getattr(e, 'reason', None) or e}") from None
    return dest


# --------------------------------------------------------------------------------------------
# Hashing and safe loading
# --------------------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 of a file's contents, computed every time (0.12 s CPU for an 87 MB file).

    No cache of hashes: one keyed by name, size and time is fooled by anyone who can edit the
    file or the cache, and a wrong weights file gives wrong numbers under a trusted label.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def read_verified(path: str | os.PathLike, sha256: str) -> bytes:
    """The file's bytes, refused unless they hash to ``sha256``: what is loaded is what was checked."""
    data = Path(path).read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise GanbenchError(f"{path} changed since it was verified (sha256 {got[:12]}.., expected "
                            f"{sha256[:12]}..); run again")
    return data


def torch_zip_members(source: str | os.PathLike | bytes) -> tuple[bool, bool]:
    """(is a torch zip archive, is TorchScript) of a file or its bytes, from member names alone.

    TorchScript is torch's own test (``torch.serialization._is_torchscript_zip``): a
    ``constants.pkl`` record; a plain ``torch.save`` archive has a ``data.pkl`` and none.
    """
    f: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with zipfile.ZipFile(f) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False, False
    script = any(n.endswith("/constants.pkl") or n == "constants.pkl" for n in names)
    return script or any(n.endswith("/data.pkl") or n == "data.pkl" for n in names), script


def is_torchscript(source: str | os.PathLike | bytes) -> bool:
    return torch_zip_members(source)[1]


def _unsafe_detail(e: Exception) -> str:
    msg = str(e)
    m = re.search(r"GLOBAL ([\w.]+)", msg)
    if m:
        return f"it references {m.group(1)}, which unpickling would call"
    if "Unsupported operand" in msg or "magic number" in msg:
        return "a Python pickle that is not a torch.save file of tensors"
    first = next((ln.strip() for ln in msg.splitlines() if ln.strip()), "")
    return f"{type(e).__name__}: {first[:160]}"


def safe_torch_load(source: str | os.PathLike | bytes, what: str = "checkpoint", *, where: str | None = None,
                    hint: str = "") -> Any:
    """``torch.load(weights_only=True)`` of a file or its bytes on the CPU: tensors and plain
    containers only; anything that would run code on unpickling is refused in one line naming what
    it would have called. ``where`` names the source in the message (default: the path)."""
    import warnings

    import torch

    where = where or ("its bytes" if isinstance(source, bytes) else str(source))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": the error says enough
            return torch.load(io.BytesIO(source) if isinstance(source, bytes) else str(source),
                              map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataNotFoundError(f"{where}: no such file") from None
    except Exception as e:  # noqa: BLE001 - UnpicklingError, RuntimeError, KeyError...: all mean "refuse"
        raise GanbenchError(f"{where}: not a safe {what} ({_unsafe_detail(e)}); refusing it: ganbench loads "
                            "tensors only (torch.load weights_only=True) and never runs code from a "
                            f"file{hint}") from None


def load_tensor_dict(source: str | os.PathLike | bytes, what: str, *, where: str | None = None) -> dict[str, Any]:
    """A plain ``{name: tensor}`` state dict (a training checkpoint's ``"model"`` entry accepted),
    never a TorchScript archive or a pickle that runs code; else a one-line GanbenchError."""
    import torch

    where = where or ("its bytes" if isinstance(source, bytes) else str(source))
    if is_torchscript(source):
        raise GanbenchError(f"refusing to load {what} {where}: a TorchScript archive whose sha256 is not a "
                            "published file's; give a plain state dict (torch.save(model.state_dict()))")
    sd = safe_torch_load(source, what, where=where)
    if isinstance(sd, dict) and isinstance(sd.get("model"), dict):
        sd = sd["model"]  # training checkpoints wrap the state dict
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise GanbenchError(f"{what} {where}: expected a state dict of tensors")
    return dict(sd)


# --------------------------------------------------------------------------------------------
# Images and devices
# --------------------------------------------------------------------------------------------


def check_uint8_images(x: Any, where: str = "images", *, channels: tuple[int, ...] = (1, 3),
                       size: tuple[int, int] | None = None) -> Any:
    """``x`` (numpy array or torch tensor) unchanged if it is uint8 [N, C, H, W] with C in
    ``channels`` (and H, W equal to ``size`` when given); else a one-line GanbenchError."""
    dtype, shape = str(x.dtype).replace("torch.", ""), tuple(x.shape)
    h, w = ("H", "W") if size is None else size
    want = (f"uint8 images [N, {'|'.join(map(str, channels))}, {h}, {w}] "
            f"(NCHW with {' or '.join(map(str, channels))} channel{'s' if channels != (1,) else ''})")
    if dtype != "uint8":
        raise GanbenchError(f"{where}: expected {want} (0..255), got {dtype}")
    if len(shape) != 4 or shape[1] not in channels or (size is not None and shape[2:] != tuple(size)):
        raise GanbenchError(f"{where}: expected {want}, got shape {shape}")
    return x


def pick_device(device: Any = None) -> Any:
    """The given torch device ("auto" and None: cuda when available, else cpu)."""
    import torch

    if device is not None and str(device) != "auto":
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# Outputs are checked before any work: a file in the way or a read-only folder fails in one line
# before minutes of computing are spent and then lost.

def _first_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Refuse a directory that cannot be created or written, before any work starts."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GanbenchError(f"{flag} {path}: exists and is not a folder")
    base = _first_existing(path)
    if not base.is_dir():
        raise GanbenchError(f"{flag} {path}: {base} is a file, so the folder cannot be created")
    try:  # a real write, not os.access: root passes access() on read-only mounts and /proc
        tempfile.TemporaryFile(dir=base).close()
    except OSError as e:
        raise GanbenchError(f"{flag} {path}: cannot write in {base} ({e.strerror or e})") from None
    return path


def check_output_file(path: str | os.PathLike | None, flag: str) -> Path | None:
    """Refuse an output file whose folder cannot be created or written, or that is a folder."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise GanbenchError(f"{flag} {path}: is a folder; name a file")
    if path.exists() and not os.access(path, os.W_OK):
        raise GanbenchError(f"{flag} {path}: exists and is not writable")
    check_output_dir(path.parent, flag)
    return path
