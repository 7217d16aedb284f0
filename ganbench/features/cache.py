"""Feature cache for reference sets: a readable prefix plus a hash of everything that changes
the numbers, stored as .npz under ``$GANBENCH_CACHE/features`` (docs/design.md convention 3)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ganbench.io import atomic_open, cache_root  # noqa: F401  (cache_root re-exported)
from ganbench.errors import GanbenchError

_KEY_FIELD = "__ganbench_key__"  # stored inside each .npz to detect hash-prefix collisions


def _canonical(v: Any, where: str) -> Any:
    # Strict on types so that no repr with a memory address (a silent miss) enters a key.
    if v is None or isinstance(v, (bool, int, float, str)):
        return v  # json writes floats with repr: exact round trip
    if isinstance(v, np.generic):
        return _canonical(v.item(), where)
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, Mapping):
        return {str(k): _canonical(x, f"{where}.{k}") for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, (list, tuple)):
        return [_canonical(x, where) for x in v]
    raise GanbenchError(f"feature cache key part {where!r} has unsupported type {type(v).__name__}")


def _slug(v: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(v)).strip("_")[:60]


def array_fingerprint(a: np.ndarray) -> str:
    """Content identity of an in-memory array (dtype, shape and bytes)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def extractor_identity(extractor: Any) -> dict[str, Any]:
    """The parts of an extractor that change its numbers: name, weights sha256, mode."""
    return {"extractor": getattr(extractor, "name", type(extractor).__name__),
            "weights_sha256": getattr(extractor, "weights_sha256", None),
            "mode": getattr(extractor, "mode", None)}


class FeatureCache:
    """``.npz`` feature cache; ``root`` is the folder of files (default ``cache_root()/features``)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else cache_root() / "features"

    def key(self, key_parts: Mapping[str, Any]) -> str:
        """Readable prefix (dataset, extractor, n) + sha256 of all parts, e.g. ``cifar10-..-n10000-3f2a..``."""
        if not isinstance(key_parts, Mapping) or not key_parts:
            raise GanbenchError("feature cache key_parts must be a non-empty dict")
        canon = _canonical(dict(key_parts), "key")
        digest = hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:24]
        prefix = [_slug(key_parts[k]) for k in ("dataset", "extractor") if key_parts.get(k) is not None]
        if key_parts.get("n") is not None:
            prefix.append(f"n{_slug(key_parts['n'])}")
        return "-".join([p for p in prefix if p] + [digest])

    def path(self, key_parts: Mapping[str, Any]) -> Path:
        """Where the entry for ``key_parts`` lives."""
        return self.root / (self.key(key_parts) + ".npz")

    def load(self, key_parts: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """The cached arrays, or None when absent; an unreadable file is removed with a warning."""
        path = self.path(key_parts)
        if not path.is_file():
            return None
        want = json.dumps(_canonical(dict(key_parts), "key"), sort_keys=True)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            if str(data.pop(_KEY_FIELD, "")) != want:
                raise ValueError("stored key does not match")
            return data
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
            warnings.warn(f"feature cache file {path} is unreadable ({e}); recomputing", stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def save(self, key_parts: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Path:
        """Write atomically: a temp file in the same folder, then ``os.replace``."""
        path = self.path(key_parts)
        data = {k: np.asarray(v) for k, v in arrays.items()}
        if any(k.startswith("__") for k in data) or any(v.dtype == object for v in data.values()):
            raise GanbenchError("feature arrays must be numeric, with names not starting with '__'")
        data[_KEY_FIELD] = np.array(json.dumps(_canonical(dict(key_parts), "key"), sort_keys=True))
        with atomic_open(path) as f:
            np.savez(f, **data)
        return path

    def get_or_compute(self, key_parts: Mapping[str, Any],
                       compute: Callable[[], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Cached arrays for ``key_parts``, computing and storing them on a miss."""
        hit = self.load(key_parts)
        if hit is not None:
            return hit
        result = {k: np.asarray(v) for k, v in compute().items()}
        try:
            self.save(key_parts, result)
        except OSError as e:  # a read-only or full cache must not lose the computed features
            warnings.warn(f"could not write feature cache in {self.root} ({e})", stacklevel=2)
        return result
