"""One Registry class for models, datasets, extractors, metrics and budgets.

Registries are filled as modules import; ``load_all()`` imports every module that registers
something so that listing and lookup see the whole set.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from typing import Any, Callable, Generic, Iterator, TypeVar

from ganbench.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object map whose misses say "did you mean"."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, obj: T | None = None, *, help: str = "") -> Any:
        """Register ``obj`` under ``name``; without ``obj`` return a decorator."""

        def add(o: T) -> T:
            if name in self._items and self._items[name] is not o:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = o
            doc = help or (getattr(o, "__doc__", None) or "").strip().split("\n")[0]
            self._help[name] = doc
            return o

        return add(obj) if obj is not None else add

    def get(self, name: str) -> T:
        load_all()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else (
            f"known: {', '.join(sorted(self._items))}")
        return f"unknown {self.kind} {name!r}; {hint}"

    def names(self) -> list[str]:
        load_all()
        return sorted(self._items)

    def registered(self) -> list[str]:
        """Names in the order they were registered (``names()`` sorts)."""
        load_all()
        return list(self._items)

    def help(self, name: str) -> str:
        return self._help.get(name, "")

    def __contains__(self, name: object) -> bool:
        load_all()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def parse_list(self, spec: str | list[str]) -> list[str]:
        """Split a comma list and check every name, so a typo fails before any work starts."""
        names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
        names = [n for n in names if n]
        for n in names:
            self.get(n)
        return names


MODELS: Registry[Any] = Registry("model")
DATASETS: Registry[Callable[..., Any]] = Registry("dataset")
EXTRACTORS: Registry[Callable[..., Any]] = Registry("feature extractor")
METRICS: Registry[Any] = Registry("metric")
BUDGETS: Registry[str] = Registry("budget")
ARCHITECTURES: Registry[Callable[..., Any]] = Registry("architecture")

# Modules that register things. A module that is absent is skipped (find_spec); an import error
# inside one that exists is a real bug, so it propagates.
_MODULES = (
    "ganbench.config",
    "ganbench.data.mog",
    "ganbench.data.images",
    "ganbench.nets",
    "ganbench.metrics.builtin",
    "ganbench.features",
)
_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for m in _MODULES:
        if importlib.util.find_spec(m) is not None:
            importlib.import_module(m)
