"""The declared interface every feature extractor implements, how one is registered and built,
and the generic batching that runs any of them over a set of images.

A feature extractor maps uint8 NCHW images to named float outputs (``{"pool3": [B, D]}``, plus
``"logits"`` for Inception). Everything a record or a cache key needs to know about it is an
attribute of the interface, never probed for: its ``name`` (network, weights label and
preprocessing), ``mode``, ``weights_sha256``, ``dims`` (outputs and their widths) and
``protocol()``. The options an extractor takes are declared where it is registered
(``ExtractorSpec``), so an option it does not take is a one-line error, not silently dropped.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.errors import GanbenchError
from ganbench.io import pick_device  # re-exported (__all__): the extractors import it from here
from ganbench.registry import EXTRACTORS


class FeatureExtractor(abc.ABC):
    """uint8 NCHW images (1 or 3 channels) -> {output name: float tensor [B, dims[name]]}.

    Subclasses set ``name``, ``mode``, ``weights_sha256`` and ``dims`` in ``__init__`` and
    implement ``__call__``; ``to``, ``preprocessing``, ``extra_protocol`` and ``missing_reason``
    have defaults that suit an extractor with no network state to move and no extra identity.
    """

    name: str  # identity written to records, e.g. "inception-tf[pt_inception]/legacy-tf"
    mode: str | None  # the preprocessing mode used (None: the extractor has exactly one)
    weights_sha256: str | None  # sha256 (or other identity) of the weights; None: no weights
    dims: dict[str, int]  # output name -> feature width
    device: torch.device = torch.device("cpu")

    @abc.abstractmethod
    def __call__(self, images_uint8: Any) -> dict[str, torch.Tensor]:
        """Features of one batch, on this extractor's device."""

    def to(self, device: torch.device | str) -> FeatureExtractor:
        self.device = torch.device(device)
        return self

    @property
    def preprocessing(self) -> str | None:
        """What ``mode`` does to the images, in words (None: nothing to say)."""
        return None

    def extra_protocol(self) -> dict[str, Any]:
        """Identity beyond name, weights and mode (e.g. a trained classifier's accuracy)."""
        return {}

    def missing_reason(self, outputs: list[str]) -> str:
        """Why ``outputs`` are not among this extractor's outputs (for the metric that needs them)."""
        return f"extractor {self.name} gives {sorted(self.dims)}, not {outputs}"

    def identity(self) -> dict[str, Any]:
        """The parts that change the numbers: the feature cache's and reference statistics' key."""
        return {"extractor": self.name, "weights_sha256": self.weights_sha256, "mode": self.mode}

    def protocol(self) -> dict[str, Any]:
        """Everything a record says about the extractor: identity, preprocessing, extras."""
        out = self.identity()
        if self.preprocessing is not None:
            out["preprocessing"] = self.preprocessing
        out.update({k: v for k, v in self.extra_protocol().items() if k not in out})
        return out

    def extract(self, images: Any, batch_size: int = 64, *, progress: bool = True,
                total: int | None = None, desc: str | None = None) -> dict[str, np.ndarray]:
        """This extractor over a whole image set (see ``extract_features``)."""
        return extract_features(images, self, batch_size, progress=progress, total=total, desc=desc)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, device={self.device})"


# --------------------------------------------------------------------------------------------
# Registration and building
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractorOptions:
    """What a caller asks of an extractor; None means the extractor's default.

    ``mode`` and ``weights`` are the user's choices and must be ones the extractor takes.
    ``dataset`` and ``data_dir`` describe the evaluation (the reference dataset, where its files
    are) and reach only extractors built for one dataset.
    """

    mode: str | None = None
    weights: str | Path | None = None
    device: torch.device | str | None = None
    dataset: str | None = None
    data_dir: str | None = None


@dataclass(frozen=True)
class ExtractorSpec:
    """A registered extractor: how it is built from options and which options it takes."""

    name: str
    build: Callable[[ExtractorOptions], FeatureExtractor]
    modes: tuple[str, ...] = ()  # preprocessing modes it offers; () = its own, fixed preprocessing
    takes_weights: bool = False
    per_dataset: bool = False  # built for the reference dataset (needs ExtractorOptions.dataset)
    help: str = field(default="", compare=False)

    def check(self, opts: ExtractorOptions) -> None:
        """One-line error for a user option (mode, weights) this extractor does not take."""
        if opts.mode is not None and not self.modes:
            raise GanbenchError(f"feature extractor {self.name!r} has its own preprocessing; --mode {opts.mode} "
                                f"does not apply to it")
        if opts.mode is not None and opts.mode not in self.modes:
            raise GanbenchError(f"unknown preprocessing mode {opts.mode!r} for feature extractor {self.name!r}; "
                                f"known: {', '.join(self.modes)}")
        if opts.weights is not None and not self.takes_weights:
            raise GanbenchError(f"feature extractor {self.name!r} takes no weights file (--inception-weights)")

    def create(self, opts: ExtractorOptions) -> FeatureExtractor:
        self.check(opts)
        if self.per_dataset and opts.dataset is None:
            raise GanbenchError(f"feature extractor {self.name!r} is built for one dataset; give the reference "
                                "as a registered dataset name (--ref mnist, ...)")
        ext = self.build(opts)
        if not isinstance(ext, FeatureExtractor):
            raise GanbenchError(f"feature extractor {self.name!r} built a {type(ext).__name__}, "
                                "not a ganbench.features.FeatureExtractor")
        return ext

    def __call__(self, **options: Any) -> FeatureExtractor:
        """Build with keyword options (``EXTRACTORS.get("inception")(mode="clean")``)."""
        known = {f.name for f in fields(ExtractorOptions)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise GanbenchError(f"feature extractor {self.name!r}: unknown option(s) {unknown}; "
                                f"options: {', '.join(sorted(known))}")
        return self.create(ExtractorOptions(**options))


def register_extractor(name: str, build: Callable[[ExtractorOptions], FeatureExtractor], *,
                       modes: Iterable[str] = (), takes_weights: bool = False, per_dataset: bool = False,
                       help: str) -> ExtractorSpec:
    """Register ``build`` under ``name`` in ``EXTRACTORS`` with the options it takes."""
    spec = ExtractorSpec(name, build, tuple(modes), takes_weights, per_dataset, help)
    return EXTRACTORS.register(name, spec, help=help)


def extractor_spec(name: str) -> ExtractorSpec:
    """The registered extractor ``name`` (unknown -> one-line error with did-you-mean)."""
    spec = EXTRACTORS.get(name)
    if not isinstance(spec, ExtractorSpec):
        raise GanbenchError(f"feature extractor {name!r} is registered without an ExtractorSpec "
                            "(use ganbench.features.base.register_extractor)")
    return spec


def build_extractor(name: str = "inception", *, mode: str | None = None, weights: str | Path | None = None,
                    device: torch.device | str | None = None, dataset: Any = None,
                    data_dir: str | None = None) -> FeatureExtractor:
    """The registered feature extractor ``name`` built with these options (checked first).

    ``dataset`` (the reference: a Dataset or a registered name) and ``data_dir`` reach extractors
    built for one dataset, such as "domain" (a classifier trained on that dataset).
    """
    spec = extractor_spec(name)
    ds = dataset if dataset is None or isinstance(dataset, str) else dataset.name
    return spec.create(ExtractorOptions(mode, weights, device, ds if spec.per_dataset else None,
                                        data_dir if spec.per_dataset else None))


def as_extractor(ext: Any) -> FeatureExtractor:
    """``ext`` itself when it declares the interface, else a one-line error."""
    if not isinstance(ext, FeatureExtractor):
        raise GanbenchError(f"a feature extractor must subclass ganbench.features.FeatureExtractor "
                            f"(name, mode, weights_sha256, dims, __call__); got {type(ext).__name__}")
    return ext


# --------------------------------------------------------------------------------------------
# Generic batching
# --------------------------------------------------------------------------------------------


def as_tensor(a: Any) -> torch.Tensor:
    # torch cannot wrap numpy views with negative strides (e.g. flipped images): copy those.
    return torch.as_tensor(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a)


def batches(images: Any, batch_size: int) -> Iterable[torch.Tensor]:
    """``images`` (array, tensor, or iterable of batches of any size) in batches of ``batch_size``."""
    if isinstance(images, (np.ndarray, torch.Tensor)):
        for i in range(0, len(images), batch_size):
            yield as_tensor(images[i:i + batch_size])
        return
    buf: list[torch.Tensor] = []
    have = 0
    for item in images:
        t = as_tensor(item)
        if t.dim() == 3:
            t = t.unsqueeze(0)
        buf.append(t)
        have += len(t)
        while have >= batch_size:
            cat = torch.cat(buf) if len(buf) > 1 else buf[0]
            yield cat[:batch_size]
            rest = cat[batch_size:]
            buf, have = ([rest] if len(rest) else []), len(rest)
    if have:
        yield torch.cat(buf) if len(buf) > 1 else buf[0]


def _bar_label(what: str | None, extractor: Callable[..., Any]) -> str | None:
    """"generated images -> inception-tf/legacy-tf": what the bar counts, and through which network."""
    name = extractor.name if isinstance(extractor, FeatureExtractor) else None
    return f"{what} -> {name}" if what and name else (what or name)


def extract_features(images: Any, extractor: Callable[[torch.Tensor], dict[str, torch.Tensor]],
                     batch_size: int = 64, device: torch.device | str | None = None, progress: bool = True, *,
                     total: int | None = None, num_threads: int | None = None,
                     desc: str | None = None) -> dict[str, np.ndarray]:
    """Run ``extractor`` (a FeatureExtractor, or any batch -> outputs callable) over uint8 NCHW
    images (array, tensor or iterable of batches).

    Returns float32 arrays per output, e.g. {"pool3": [N,2048], "logits": [N,1008]}. Each image's
    features depend only on that image, so results do not depend on ``batch_size``.
    ``num_threads`` sets torch's CPU threads for this call; by default torch uses one per
    physical core (both cores on the 2-core machines), fastest on an idle machine.
    """
    from ganbench.progress import bar as progress_bar

    if batch_size < 1:
        raise GanbenchError(f"batch_size must be >= 1, got {batch_size}")
    if device is not None and isinstance(extractor, FeatureExtractor):
        extractor.to(device)
    if total is None and isinstance(images, (np.ndarray, torch.Tensor)):
        total = len(images)
    threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    outs: dict[str, list[np.ndarray]] = {}
    try:
        with torch.inference_mode(), progress_bar(total=total, unit="img", desc=_bar_label(desc, extractor),
                                                  disable=not progress) as bar:
            for batch in batches(images, batch_size):
                for k, v in extractor(batch).items():
                    outs.setdefault(k, []).append(v.float().cpu().numpy())
                bar.update(len(batch))
    finally:
        torch.set_num_threads(threads)
    if not outs:
        raise GanbenchError("no images to extract features from")
    return {k: np.concatenate(v) for k, v in outs.items()}


class no_tf32:  # lower case: a context manager used like torch.no_grad
    """TF32 convs on Ampere+ GPUs move features by ~1e-3; keep full fp32 like the reference graphs."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def __enter__(self) -> None:
        if self.cuda:
            self.prev = torch.backends.cudnn.allow_tf32
            torch.backends.cudnn.allow_tf32 = False

    def __exit__(self, *exc: Any) -> None:
        if self.cuda:
            torch.backends.cudnn.allow_tf32 = self.prev


__all__ = ["FeatureExtractor", "ExtractorOptions", "ExtractorSpec", "register_extractor", "extractor_spec",
           "build_extractor", "as_extractor", "extract_features", "batches", "as_tensor", "pick_device",
           "no_tf32"]
