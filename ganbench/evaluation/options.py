"""What one evaluation is asked to do: ``EvalOptions``, one typed object instead of spread keywords.

Every caller (``ganbench eval``, the Python API, training-time evaluation, the suite) fills one of
these; ``ganbench.evaluation.evaluate`` reads nothing else. None means "the default" where a
default depends on the inputs (``n_gen``: all images of a set; ``n_real``: as many as generated).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from ganbench.errors import GanbenchError

# Preprocessing modes: a test keeps this equal to ganbench.features.preprocessing.MODES plus
# ganbench.features.vit.RESIZE_MODES (DINOv2, CLIP).
Mode = Literal["legacy-tf", "clean", "legacy-pytorch", "edm2", "pil-bicubic"]
MODE_CHOICES: tuple[str, ...] = get_args(Mode)
Split = Literal["train", "test"]
SPLITS: tuple[str, ...] = get_args(Split)

DEFAULT_METRICS = ("fid", "kid", "is", "pr", "dc")
# Half-sample resamples for the intervals of fid, kid, is, precision/recall and density/coverage
# (metrics.stats.intervals). 50 estimate the standard error to about +-10%; at n <= 4096 one FID
# resample costs milliseconds (see images._fid_fast), above it ~2 s.
DEFAULT_BOOTSTRAP = 50
# On a CPU `ganbench eval` draws this many images from a generator unless -n says otherwise; the
# protocol's 10,000 (Lucic et al. 2018, docs/reference.md section 8) is the default on a GPU.
CPU_DEFAULT_N = 2000
# The reference subset is drawn with a fixed seed, independent of the run or sampling seed, so
# every model and seed is compared with the same real images and shares one cache entry.
REF_SEED = 0


@dataclass(frozen=True)
class EvalOptions:
    """One evaluation's settings. ``extractor`` is a registered name or an extractor object."""

    metrics: Sequence[str] = DEFAULT_METRICS  # names or a comma list; a tuple after __post_init__
    n_gen: int | None = None          # generated images: drawn from a generator / first N of a set
    n_real: int | None = None         # reference images: seeded subset of ``split`` / first N of a set
    split: Split = "train"
    extractor: Any = "inception"
    mode: Mode | None = None          # preprocessing; None: the extractor's own
    weights: str | Path | None = None
    seed: int = 0                     # sampling and interval-resampling seed
    n_boot: int = DEFAULT_BOOTSTRAP   # half-sample resamples for intervals (0: none)
    ref_seed: int = REF_SEED
    batch_size: int = 64
    device: Any = None
    data_dir: str | None = None
    progress: bool = True
    cache: Any = True                 # True, False or a FeatureCache for reference features
    keep_samples: bool = False        # return the generated uint8 images in Evaluation.samples
    # Per-metric parameters replacing the catalogue's defaults, e.g. {"c2st": {"classifier": "1nn"},
    # "nnd": {"budget": "paper"}}; the values used are what the record's protocol says.
    metric_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.metrics, str):
            object.__setattr__(self, "metrics", tuple(m.strip() for m in self.metrics.split(",") if m.strip()))
        else:
            object.__setattr__(self, "metrics", tuple(self.metrics))
        for flag, v in (("-n", self.n_gen), ("--n-real", self.n_real)):
            if v is not None and v < 2:
                raise GanbenchError(f"{flag} must be at least 2, got {v}")
        if self.batch_size < 1:
            raise GanbenchError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.n_boot < 0 or self.n_boot == 1:
            raise GanbenchError(f"--bootstrap must be 0 (off) or >= 2, got {self.n_boot}")
        if self.split not in SPLITS:
            raise GanbenchError(f"unknown split {self.split!r}; use 'train' or 'test'")
        if self.mode is not None and self.mode not in MODE_CHOICES:
            raise GanbenchError(f"unknown mode {self.mode!r}; use one of {', '.join(MODE_CHOICES)}")
        for name, opts in self.metric_options.items():
            if name not in self.metrics:
                raise GanbenchError(f"options given for metric {name!r}, which is not among the metrics "
                                    f"asked for ({', '.join(self.metrics)})")
            if not isinstance(opts, Mapping):
                raise GanbenchError(f"options of metric {name!r} must be a mapping of name to value, got {opts!r}")

    def replace(self, **changes: Any) -> EvalOptions:
        return dataclasses.replace(self, **changes)
