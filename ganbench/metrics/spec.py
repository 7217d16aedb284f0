"""What a metric means, in one place: ``MetricSpec`` and the catalogue read from the registered specs.

A spec says what the metric reads, what it returns, which way each output is better, where its
outputs come in tables, the smallest allowance ``ganbench check`` grants each output, and the
protocol keys that record the parameter values it used. ``ganbench check`` and the report read
the catalogue (``direction``, ``display_order``, ``floor_of``, ``compared_keys``); nothing else
spells these facts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ganbench.errors import GanbenchError

# Final: each is its own literal type, so a spec's {"fid": LOWER} type-checks as a Better.
LOWER: Final = "lower"
HIGHER: Final = "higher"
ZERO: Final = "closer to 0"
Better = Literal["lower", "higher", "closer to 0"]
# Parameters that may differ between comparable records: a sampling seed changes the draw, not
# what is measured (a re-evaluation under other seeds is the comparison ganbench check is for).
VARYING_PARAMS = ("seed",)
AdjustFn = Callable[[dict[str, Any], int, int], dict[str, Any]]


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: what it reads, what it returns and means, and how to compute it.

    better: one entry per output key: "lower", "higher", "closer to 0", or None for outputs that
      describe the measurement rather than the generator (a std, a count of cells used); True and
      False are read as "higher" and "lower".
    params: defaults, recorded with every score under ``protocol`` keys (default ``<name>_<param>``).
    compared: the protocol keys whose difference makes two records incomparable (default: every
      protocol key except the seeds).
    adjust: the parameter values actually used for ``n_real`` real and ``n_gen`` generated
      samples (e.g. KID's subset size clipped to the smaller set); they are what the record says.
    order: place of its outputs in tables and in check's rows (None: after the ordered ones, by name).
    floors: per output, the smallest allowance check grants (about one evaluation's sampling noise).
    """

    name: str
    needs: tuple[str, ...]                 # extractor outputs: "pool3" (2048-d) or "logits" (1008)
    better: Mapping[str, Better | bool | None]
    compute: Callable[..., dict[str, float]]
    params: Mapping[str, Any] = field(default_factory=dict)
    help: str = ""
    uses_real: bool = True                 # False: only the generated set is read (IS)
    protocol: Mapping[str, str] | None = None
    compared: tuple[str, ...] | None = None
    adjust: AdjustFn | None = None
    order: int | None = None
    floors: Mapping[str, float] = field(default_factory=dict)
    # "features": the evaluation engine computes it from real and generated features; "pixels": the
    # engine computes it from images, ``compute((critic images, held-out images), generator or images)``
    # (nnd: a critic trained on pixels, drawing fresh samples); "vectors", "images", "run-end":
    # computed by their own evaluators (modes, stacked modes, memorisation).
    kind: Literal["features", "pixels", "vectors", "images", "run-end"] = "features"

    def __post_init__(self) -> None:
        norm = {k: (HIGHER if v else LOWER) if isinstance(v, bool) else v for k, v in self.better.items()}
        bad = {k: v for k, v in norm.items() if v not in (LOWER, HIGHER, ZERO, None)}
        if bad:
            raise ValueError(f"metric {self.name}: unknown direction(s) {bad}")
        object.__setattr__(self, "better", norm)
        protocol = self.protocol if self.protocol is not None else {p: f"{self.name}_{p}" for p in self.params}
        object.__setattr__(self, "protocol", protocol)
        if self.compared is None:
            object.__setattr__(self, "compared", tuple(k for p, k in protocol.items()
                                                       if p not in VARYING_PARAMS))

    @property
    def higher_is_better(self) -> dict[str, bool | None]:
        """Per output: True (higher), False (lower), None (closer to 0, or not a quality)."""
        return {k: v == HIGHER if v in (HIGHER, LOWER) else None for k, v in self.better.items()}

    def used_params(self, n_real: int, n_gen: int, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The parameter values a computation on these set sizes uses; ``overrides`` replace defaults
        (an unknown name is a one-line error)."""
        unknown = sorted(set(overrides or {}) - set(self.params))
        if unknown:
            raise GanbenchError(f"metric {self.name!r} has no option(s) {', '.join(unknown)}; its options: "
                                f"{', '.join(self.params) or 'none'}")
        p = {**self.params, **(overrides or {})}
        return self.adjust(p, n_real, n_gen) if self.adjust is not None else p

    def protocol_of(self, used: Mapping[str, Any]) -> dict[str, Any]:
        """The protocol entries that record ``used`` (from ``used_params``)."""
        assert self.protocol is not None  # __post_init__ fills it
        return {key: used[p] for p, key in self.protocol.items() if p in used}

    def __call__(self, real: Any, fake: Any, **params: Any) -> dict[str, float]:
        return self.compute(real, fake, **{**self.params, **params})


# ---------------------------------------------------------------------------------------------
# The catalogue: questions answered from every registered spec


COMPANION_SUFFIXES = ("_ci_low", "_ci_high", "_std")
SKIP_PREFIXES = ("train_",)  # training losses are diagnostics, not quality metrics


def is_quality_metric(name: str) -> bool:
    """A value that says how good the generator is (not an interval bound, a std or a training loss)."""
    return not name.startswith(SKIP_PREFIXES) and not name.endswith(COMPANION_SUFFIXES)


def _specs() -> list[MetricSpec]:
    from ganbench.registry import METRICS

    return [METRICS.get(n) for n in METRICS.names()]


def direction(output: str) -> Better | None:
    """Which way ``output`` is better ("lower", "higher", "closer to 0"), None when no spec judges it."""
    for spec in _specs():
        d = spec.better.get(output)
        if d is not None:
            assert not isinstance(d, bool)  # __post_init__ turned True/False into "higher"/"lower"
            return d
    return None


def display_order() -> list[str]:
    """Outputs in the order tables and check show them: ordered specs first, then by name."""
    ordered = sorted((s for s in _specs() if s.order is not None), key=lambda s: (s.order, s.name))
    out = [k for s in ordered for k, v in s.better.items() if v is not None]
    return list(dict.fromkeys(out))


def floor_of(output: str) -> float:
    """The absolute floor a spec declares for ``output`` (0 when none)."""
    return max((s.floors.get(output, 0.0) for s in _specs()), default=0.0)


def feature_metrics() -> list[str]:
    """The metrics the evaluation engine computes from features, in registration order."""
    from ganbench.registry import METRICS

    METRICS.names()  # loads every registering module
    return [n for n in METRICS.registered() if METRICS.get(n).kind == "features"]


def pixel_metrics() -> list[str]:
    """The metrics the evaluation engine computes from images rather than features (nnd)."""
    from ganbench.registry import METRICS

    METRICS.names()
    return [n for n in METRICS.registered() if METRICS.get(n).kind == "pixels"]


def _compared(spec: MetricSpec) -> tuple[str, ...]:
    assert spec.compared is not None  # MetricSpec.__post_init__ fills it
    return spec.compared


def compared_keys() -> list[str]:
    """Every protocol key some spec declares as making records incomparable."""
    return list(dict.fromkeys(k for s in _specs() for k in _compared(s)))


def compared_keys_of(output: str) -> list[str]:
    """The protocol keys that make two values of ``output`` incomparable (the ``compared`` keys of
    every spec that returns it)."""
    return list(dict.fromkeys(k for s in _specs() if output in s.better for k in _compared(s)))
