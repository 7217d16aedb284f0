"""Reusable reference statistics: a reference set's mean, covariance and (for KID/PR/DC/...)
features, computed once (``ganbench stats``) and scored against (``ganbench eval --ref FILE``).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.io import atomic_write_bytes

FORMAT = "ganbench-stats/1"
PROTO_KEY = "ganbench_protocol"
FORMATS = ("ganbench", "pytorch-fid", "clean-fid")
# Extractor identity that must agree between the statistics and the evaluation.
_IDENTITY = ("extractor", "weights_sha256", "mode")
_STATS_ONLY = ("fid", "fd")  # metrics that need only the mean and covariance


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

    def check(self, ext: Any, metrics: Sequence[str]) -> None:
        """Fail in one line when ``ext`` is not the extractor these statistics were computed with,
        or a metric needs features that the file does not hold."""
        from ganbench.evaluation.images import extractor_protocol

        mine = extractor_protocol(ext)
        theirs = {k: self.protocol.get(k) for k in _IDENTITY}
        if theirs["extractor"] is not None:
            diff = [k for k in _IDENTITY if theirs[k] is not None and theirs[k] != mine.get(k)]
            if diff:
                raise GanbenchError(
                    f"reference statistics {self.path} were computed with {theirs['extractor']} "
                    f"(weights {str(theirs['weights_sha256'])[:12]}..); this evaluation uses {mine['extractor']} "
                    f"(weights {str(mine.get('weights_sha256'))[:12]}..): recompute them with `ganbench stats` "
                    "and the same --extractor/--mode/--weights")
        dims = ext.dims.get("pool3")
        if dims is not None and dims != len(self.mu):
            raise GanbenchError(f"reference statistics {self.path} are {len(self.mu)}-d; "
                                f"{mine['extractor']} gives {dims}-d features")
        need = [m for m in metrics if m not in _STATS_ONLY and _uses_real(m)]
        if need and self.features is None:
            raise GanbenchError(f"reference statistics {self.path} hold only mean and covariance; "
                                f"{', '.join(need)} need features (ganbench stats without --no-features)")

    def score(self, fake: Mapping[str, np.ndarray], metrics: Sequence[str], ext: Any, *, n_boot: int,
              seed: int) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:
        """(values, metric protocol, reference protocol) of ``fake`` features against these statistics."""
        from ganbench.evaluation.images import compute_image_metrics
        from ganbench.metrics.fid import fid_features_to_statistics, fid_statistics_to_metric

        self.check(ext, metrics)
        ref_proto = {k: self.protocol.get(k) for k in ("n_real", "real_split", "ref_seed", "dataset_identity")}
        ref_proto.update(ref_stats=self.path, ref_stats_sha256=self.protocol.get("content_sha256"),
                         ref_stats_source=self.protocol.get("source", "ganbench stats"))
        if self.features is not None:
            values, mproto = compute_image_metrics({"pool3": self.features}, fake, metrics, n_boot=n_boot,
                                                   seed=seed, extractor=ext)
            return values, mproto, ref_proto
        rest = [m for m in metrics if m not in _STATS_ONLY]  # only the generated set (is, vendi)
        values, mproto = compute_image_metrics({}, fake, rest, n_boot=n_boot, seed=seed, extractor=ext) \
            if rest else ({}, {"metrics": []})
        mu, sigma = fid_features_to_statistics(fake["pool3"])
        for m in (m for m in metrics if m in _STATS_ONLY):
            values[m] = fid_statistics_to_metric(self.mu, self.sigma, mu, sigma)
            mproto["metrics"] = [*mproto["metrics"], m]
        mproto["ci_unavailable"] = "reference statistics without features: fid/fd have no interval"
        return values, mproto, ref_proto


def _uses_real(metric: str) -> bool:
    from ganbench.registry import METRICS

    return bool(METRICS.get(metric).uses_real)


def compute_stats(feats: np.ndarray, protocol: Mapping[str, Any], keep_features: bool = True) -> ReferenceStats:
    """ReferenceStats of [N, D] features (mean and ddof=1 covariance as ``metrics.fid``)."""
    from ganbench.metrics.fid import fid_features_to_statistics

    mu, sigma = fid_features_to_statistics(feats)
    st = ReferenceStats(mu, sigma, np.asarray(feats, np.float32) if keep_features else None,
                        {"format": FORMAT, **protocol, "dims": int(mu.shape[0]), "n_features_kept":
                         int(len(feats)) if keep_features else 0})
    st.protocol["content_sha256"] = st.content_sha256()
    return st


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
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
    proto = {"format": "imported", "source": source, "dims": int(len(mu)),
             "unverified": "extractor and preprocessing not recorded in the file"}
    st = ReferenceStats(mu, sigma, feats, proto, str(p))
    st.protocol["content_sha256"] = st.content_sha256()
    return st


def stats_from_reference(reference: Any, ext: Any, *, split: str = "train", n: int | None = None,
                         batch_size: int = 64, progress: bool = True, keep_features: bool = True,
                         cache: Any = True) -> ReferenceStats:
    """Statistics of a resolved reference (a Dataset: ``n`` images of ``split`` drawn with the fixed
    reference seed, cached, exactly the features ``eval --ref DATASET`` uses; an image array: its
    first ``n``) in the space of ``ext``."""
    from ganbench.data.base import Dataset
    from ganbench.evaluation.engine import prepare_reference
    from ganbench.evaluation.images import extractor_protocol
    from ganbench.evaluation.options import EvalOptions

    if isinstance(reference, ReferenceStats):
        return reference
    is_dataset = isinstance(reference, Dataset)
    if n is not None and not is_dataset and n > len(reference):
        raise GanbenchError(f"-n {n} asks for more images than the {len(reference)} in the set")
    options = EvalOptions(split=split, batch_size=batch_size, progress=progress, cache=cache)
    ref = prepare_reference(reference, ext, options, n)
    feats = ref.features
    shape = reference.shape if is_dataset else reference.shape[1:]
    proto = {**ref.protocol, "image_shape": list(shape)}
    if proto["ref"] == "array":
        proto["ref"] = "images"
    return compute_stats(feats["pool3"], {**proto, **extractor_protocol(ext)}, keep_features)


@dataclass(frozen=True)
class StatsOptions:
    """What ``ganbench stats`` is asked to compute: the flags, checked, as one object."""

    split: str = "train"
    extractor: str = "inception"
    mode: str | None = None
    n: int | None = None
    weights: str | None = None
    keep_features: bool = True
    batch_size: int = 64
    data_dir: str | None = None
    device: str | None = None  # None: the extractor's choice ("auto")
    cache: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        if self.n is not None and self.n < 2:
            raise GanbenchError(f"-n must be at least 2, got {self.n}")
        if self.batch_size < 1:
            raise GanbenchError(f"--batch-size must be >= 1, got {self.batch_size}")


def reference_stats(source: str, options: StatsOptions) -> ReferenceStats:
    """The statistics of SOURCE (a dataset, an image set, or a statistics file to convert, whose own
    protocol is kept) in the space of ``options.extractor``."""
    from ganbench.data.base import Dataset
    from ganbench.evaluation.images import build_extractor, resolve_reference
    from ganbench.registry import EXTRACTORS

    EXTRACTORS.get(options.extractor)  # an unknown name fails before any file is read
    reference = resolve_reference(source, options.data_dir)
    if isinstance(reference, ReferenceStats):
        st = reference
    else:
        ext = build_extractor(options.extractor, mode=options.mode, weights=options.weights, device=options.device,
                              dataset=reference if isinstance(reference, Dataset) else None,
                              data_dir=options.data_dir)
        st = stats_from_reference(reference, ext, split=options.split, n=options.n, batch_size=options.batch_size,
                                  progress=options.progress, keep_features=options.keep_features,
                                  cache=options.cache)
    if not options.keep_features and st.features is not None:  # converting a file that holds features
        st = ReferenceStats(st.mu, st.sigma, None, {**st.protocol, "n_features_kept": 0}, st.path)
        st.protocol["content_sha256"] = st.content_sha256()
    return st
