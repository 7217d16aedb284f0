"""Reference statistics computed: what ``ganbench stats`` runs (``reference_stats``). The file format
is ``ganbench.refstats``; scoring against a file is ``ganbench.evaluation.against_stats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.evaluation.engine import prepare_reference
from ganbench.evaluation.images import build_extractor, extractor_protocol, resolve_reference
from ganbench.evaluation.options import EvalOptions, Split
from ganbench.refstats import ReferenceStats, compute_stats


def stats_from_reference(reference: Any, ext: Any, *, split: Split = "train", n: int | None = None,
                         batch_size: int = 64, progress: bool = True, keep_features: bool = True,
                         cache: Any = True) -> ReferenceStats:
    """Statistics of a resolved reference (a Dataset: ``n`` images of ``split`` drawn with the fixed
    reference seed, cached, exactly the features ``eval --ref DATASET`` uses; an image array: its
    first ``n``) in the space of ``ext``."""
    from ganbench.data.base import Dataset

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

    split: Split = "train"
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
    from ganbench.registry import EXTRACTORS

    EXTRACTORS.get(options.extractor)  # an unknown name fails before any file is read
    reference = resolve_reference(source, options.data_dir)
    st: ReferenceStats
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
