"""The reference statistics file format: a reference set's mean, covariance and (for KID/PR/DC/...)
features, computed once (``ganbench stats``) and scored against (``ganbench eval --ref FILE``).
Computing and scoring live in ``ganbench.evaluation.reference_stats``; this module reads and writes.

A ganbench statistics file is an ``.npz`` whose ``mu`` and ``sigma`` are pytorch-fid's keys (so
pytorch-fid's ``calculate_frechet_distance`` reads it as is), plus ``features`` (float32 [N, D])
when kept, plus ``ganbench_protocol``: the JSON protocol (extractor name, weights sha256,
preprocessing, dataset identity, split, n, subset seed) and a sha256 of the contents, checked on
load. Plain ``mu``/``sigma`` files (pytorch-fid's ``--save-stats``, clean-fid's statistics; with
clean-fid's ``NAME_kid.npz`` beside them, its ``feats``) load too, marked as unverified.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.io import atomic_write_bytes

FORMAT = "ganbench-stats/1"
PROTO_KEY = "ganbench_protocol"
FORMATS = ("ganbench", "pytorch-fid", "clean-fid")


@dataclass
class ReferenceStats:
    """Mean, covariance, optional features and the protocol they were computed under."""

    mu: np.ndarray = field(repr=False)
    sigma: np.ndarray = field(repr=False)
    features: np.ndarray | None = field(default=None, repr=False)
    protocol: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Image shape C,H,W of the reference set (for generators that take it); () when not recorded."""
        return tuple(int(v) for v in self.protocol.get("image_shape") or ())

    def content_sha256(self) -> str:
        """sha256 of the arrays and of the protocol without this hash."""
        h = hashlib.sha256()
        proto = {k: v for k, v in self.protocol.items() if k != "content_sha256"}
        h.update(json.dumps(proto, sort_keys=True, default=str).encode())
        for a in (self.mu.astype(np.float64), self.sigma.astype(np.float64),
                  None if self.features is None else self.features.astype(np.float32)):
            if a is not None:
                h.update(f"{a.dtype.str}{a.shape}".encode())
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def compute_stats(feats: np.ndarray, protocol: Mapping[str, Any], keep_features: bool = True) -> ReferenceStats:
    """ReferenceStats of [N, D] features (mean and ddof=1 covariance as ``metrics.fid``)."""
    from ganbench.metrics.fid import fid_features_to_statistics  # numpy-only math

    mu, sigma = fid_features_to_statistics(feats)
    st = ReferenceStats(mu, sigma, np.asarray(feats, np.float32) if keep_features else None,
                        {"format": FORMAT, **protocol, "dims": int(mu.shape[0]), "n_features_kept":
                         len(feats) if keep_features else 0})
    st.protocol["content_sha256"] = st.content_sha256()
    return st


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: a key could be allow_pickle (bool)
    return buf.getvalue()


def save_stats(st: ReferenceStats, path: str | Path, fmt: str = "ganbench") -> list[Path]:
    """Write ``st`` as ganbench's file, pytorch-fid's ``.npz`` (mu, sigma) or clean-fid's pair
    (PATH with mu, sigma and, with features, PATH_kid.npz with feats); returns the files written."""
    path = Path(path)
    if fmt not in FORMATS:
        raise GanbenchError(f"unknown statistics format {fmt!r}; known: {', '.join(FORMATS)}")
    if path.suffix != ".npz":
        raise GanbenchError(f"statistics files are .npz; got {path}")
    if fmt == "ganbench":
        arrays = {"mu": st.mu, "sigma": st.sigma,
                  PROTO_KEY: np.array(json.dumps(st.protocol, sort_keys=True, default=str))}
        if st.features is not None:
            arrays["features"] = st.features
        atomic_write_bytes(path, _npz_bytes(**arrays))
        return [path]
    atomic_write_bytes(path, _npz_bytes(mu=st.mu, sigma=st.sigma))
    if fmt == "clean-fid" and st.features is not None:
        kid = path.with_name(path.stem + "_kid.npz")
        atomic_write_bytes(kid, _npz_bytes(feats=st.features))
        return [path, kid]
    return [path]


def is_stats_file(path: str | Path) -> bool:
    """An .npz holding ``mu`` and ``sigma`` (read from the zip index; nothing is unpickled)."""
    p = Path(path)
    if p.suffix.lower() != ".npz" or not zipfile.is_zipfile(p):
        return False
    with zipfile.ZipFile(p) as z:
        names = {n.removesuffix(".npy") for n in z.namelist()}
    return {"mu", "sigma"} <= names


def load_stats(path: str | Path) -> ReferenceStats:
    """Load a ganbench, pytorch-fid or clean-fid statistics file; a ganbench file's hash is checked."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise GanbenchError(f"cannot read statistics {p}: {str(e).splitlines()[0][:200]}") from None
    mu, sigma = np.asarray(arrays["mu"], np.float64), np.asarray(arrays["sigma"], np.float64)
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise GanbenchError(f"{p}: mu {mu.shape} and sigma {sigma.shape} do not match")
    if PROTO_KEY in arrays:
        st = ReferenceStats(mu, sigma, arrays.get("features"), json.loads(str(arrays[PROTO_KEY])), str(p))
        if st.content_sha256() != st.protocol.get("content_sha256"):
            raise GanbenchError(f"{p}: contents do not match their recorded sha256 (modified or truncated)")
        return st
    kid = p.with_name(p.stem + "_kid.npz")
    feats = None
    if kid.is_file():  # clean-fid keeps the KID features beside the FID statistics
        with np.load(kid, allow_pickle=False) as z:
            feats = np.asarray(z["feats"], np.float32) if "feats" in z.files else None
    source = "clean-fid (mu, sigma" + (", feats)" if feats is not None else ")") if kid.is_file() \
        else "pytorch-fid/clean-fid (mu, sigma)"
    proto = {"format": "imported", "source": source, "dims": len(mu),
             "unverified": "extractor and preprocessing not recorded in the file"}
    st = ReferenceStats(mu, sigma, feats, proto, str(p))
    st.protocol["content_sha256"] = st.content_sha256()
    return st
