"""Feature cache for reference sets: a readable prefix plus a hash of everything that changes
the numbers, stored as .npz under ``$GANBENCH_CACHE/features`` (docs/design.md convention 3)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.io import atomic_open, cache_root  # cache_root re-exported

_KEY_FIELD = "__ganbench_key__"  # the key's inputs, stored inside each .npz and checked on read
_HASH_FIELD = "__ganbench_sha256__"  # content hash of the arrays, checked on read


def content_hash(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and bytes: a swapped or edited entry differs."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        h.update(f"{k}\0{array_fingerprint(arrays[k])}\n".encode())
    return h.hexdigest()


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
    h.update(a.data.cast("B"))  # a's buffer (ndarray.data is memoryview(a))
    return h.hexdigest()


def extractor_identity(extractor: Any) -> dict[str, Any]:
    """The parts of an extractor that change its numbers: name, weights sha256, mode."""
    return extractor.identity()


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
        """The cached arrays, or None when absent. An entry that does not hold what its key says
        (unreadable, another key's inputs, contents that fail their hash) is removed with one warning."""
        path = self.path(key_parts)
        if not path.is_file():
            return None
        want = json.dumps(_canonical(dict(key_parts), "key"), sort_keys=True)
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            if str(data.pop(_KEY_FIELD, "")) != want:
                raise ValueError("its stored key inputs differ")
            if str(data.pop(_HASH_FIELD, "")) != content_hash(data):
                raise ValueError("its contents fail their sha256")
            return data
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
            warnings.warn(f"feature cache entry {path.name} is not valid ({e}); recomputing", stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def save(self, key_parts: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Path:
        """Write atomically: a temp file in the same folder, then ``os.replace``."""
        path = self.path(key_parts)
        data = {k: np.asarray(v) for k, v in arrays.items()}
        if any(k.startswith("__") for k in data) or any(v.dtype == object for v in data.values()):
            raise GanbenchError("feature arrays must be numeric, with names not starting with '__'")
        digest = content_hash(data)
        data[_KEY_FIELD] = np.array(json.dumps(_canonical(dict(key_parts), "key"), sort_keys=True))
        data[_HASH_FIELD] = np.array(digest)
        with atomic_open(path) as f:
            np.savez(f, **data)  # type: ignore[arg-type]  # numpy's stub: a key could be allow_pickle (bool)
        return path

    def _lock(self, key_parts: Mapping[str, Any]):
        from filelock import FileLock

        locks = self.root / ".locks"  # lock files stay (deleting one under flock is racy); out of sight
        locks.mkdir(parents=True, exist_ok=True)
        return FileLock(str(locks / (self.key(key_parts) + ".lock")))

    def get_or_compute(self, key_parts: Mapping[str, Any],
                       compute: Callable[[], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Cached arrays for ``key_parts``, computing and storing them on a miss."""
        hit = self.load(key_parts)
        if hit is not None:
            return hit
        try:  # one writer per entry: a second process waits, then reads what the first wrote
            lock = self._lock(key_parts)
            lock.acquire()
        except OSError as e:  # a read-only cache: compute without caching
            warnings.warn(f"could not write feature cache in {self.root} ({e})", stacklevel=2)
            return {k: np.asarray(v) for k, v in compute().items()}
        try:
            hit = self.load(key_parts)
            if hit is not None:
                return hit
            result = {k: np.asarray(v) for k, v in compute().items()}
            try:
                self.save(key_parts, result)
            except OSError as e:  # a full cache must not lose the computed features
                warnings.warn(f"could not write feature cache in {self.root} ({e})", stacklevel=2)
            return result
        finally:
            lock.release()
