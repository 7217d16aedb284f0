"""One Registry class, the registries, and what ganbench itself provides, without importing torch.

Every entry has a name, one line of help and where its object comes from. ganbench's own entries
are *declared* below (name, the module that registers the object, help, and for datasets their
``kind``), so ``ganbench list`` and ``ganbench data`` read names and help without importing torch,
scipy or scikit-learn; the object is loaded on ``get`` by importing its module, which registers it.
Installed packages add entries through entry points, one group per registry (``ganbench.models``,
``ganbench.architectures``, ``ganbench.objectives``, ``ganbench.steps``, ``ganbench.metrics``,
``ganbench.extractors``, ``ganbench.datasets``); an entry point's object is imported on ``get``, and
its origin (distribution and version) is shown by ``ganbench list`` and recorded where it is used.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.metadata
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

from ganbench.errors import GanbenchError, UnknownNameError

T = TypeVar("T")
_UNSET: Any = object()
ENTRY_POINT_PREFIX = "ganbench."


@dataclass
class Entry:
    """One name: its object (or ``_UNSET`` until its module or entry point is loaded), its help and origin."""

    obj: Any = _UNSET
    help: str = ""
    module: str = ""  # ganbench's own: the module whose import registers the object
    entry_point: Any = None  # an installed package's: importlib.metadata.EntryPoint
    origin: dict[str, Any] | None = None  # None: ganbench's own
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name -> object map whose misses say "did you mean", filled by declarations, registrations and
    entry points (group ``ganbench.<group>``)."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, Entry] = {}
        self._plugins_loaded = group is None

    # -- filling ------------------------------------------------------------------------------
    def declare(self, name: str, module: str, help: str, **meta: Any) -> None:
        """ganbench's own entry ``name``, registered when ``module`` is imported."""
        self._entries[name] = Entry(help=help, module=module, meta=meta)

    def register(self, name: str, obj: T | None = None, *, help: str = "") -> Any:
        """Register ``obj`` under ``name`` (filling a declaration); without ``obj`` return a decorator."""

        def add(o: T) -> T:
            e = self._entries.get(name)
            if e is not None and e.obj is not _UNSET and e.obj is not o:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            if e is None:
                doc = help or (getattr(o, "__doc__", None) or "").strip().split("\n")[0]
                e = self._entries[name] = Entry(help=doc)
            e.obj = o
            return o

        return add(obj) if obj is not None else add

    @contextlib.contextmanager
    def temporarily(self, name: str, obj: Any, help: str = "") -> Iterator[None]:
        """``obj`` registered as ``name`` for the block (tests, notebooks); what was there comes back after."""
        self._load_plugins()
        before = self._entries.get(name)
        self._entries[name] = Entry(obj=obj, help=help)
        try:
            yield
        finally:
            if before is None:
                self._entries.pop(name, None)
            else:
                self._entries[name] = before

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_PREFIX + str(self.group)):
            dist = getattr(ep, "dist", None)
            origin = {"entry_point": f"{ep.group}:{ep.name} = {ep.value}",
                      "distribution": getattr(dist, "name", None), "version": getattr(dist, "version", None)}
            old = self._entries.get(ep.name)
            if old is not None:
                who = old.origin["distribution"] if old.origin else "ganbench itself"
                raise GanbenchError(f"{self.kind} {ep.name!r} is registered twice: by {who} and by "
                                    f"{origin['distribution']} ({origin['entry_point']}); uninstall one")
            self._entries[ep.name] = Entry(entry_point=ep, origin=origin)

    def _entry(self, name: str) -> Entry:
        self._load_plugins()
        e = self._entries.get(name)
        if e is None:
            raise UnknownNameError(self.unknown_message(name))
        return e

    # -- reading ------------------------------------------------------------------------------
    def get(self, name: str) -> T:
        e = self._entry(name)
        if e.obj is _UNSET and e.module:
            importlib.import_module(e.module)
            if e.obj is _UNSET:
                raise ValueError(f"{e.module} does not register the {self.kind} {name!r} it is declared for")
        if e.obj is _UNSET and e.entry_point is not None:
            try:
                e.obj = e.entry_point.load()
            except Exception as ex:  # noqa: BLE001  (an installed package's import error, said in one line)
                raise GanbenchError(f"{self.kind} {name!r} from {e.origin and e.origin['entry_point']} does not "
                                    f"load ({type(ex).__name__}: {ex})") from None
        return e.obj

    def origin(self, name: str) -> dict[str, Any] | None:
        """Where ``name`` comes from: None for ganbench's own, else the installed package's entry point."""
        return self._entry(name).origin

    def meta(self, name: str, key: str, default: Any = None) -> Any:
        return self._entry(name).meta.get(key, default)

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else (
            f"known: {', '.join(sorted(self._entries))}")
        return f"unknown {self.kind} {name!r}; {hint}"

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def registered(self) -> list[str]:
        """Names in the order they were declared or registered (``names()`` sorts)."""
        self._load_plugins()
        return list(self._entries)

    def help(self, name: str) -> str:
        """The help line; an entry point's comes from its object's docstring (loading it)."""
        e = self._entry(name)
        if not e.help and e.entry_point is not None:
            try:
                obj = self.get(name)
            except GanbenchError as ex:
                return str(ex)
            e.help = str(getattr(obj, "help", "") or (getattr(obj, "__doc__", None) or "").strip().split("\n")[0])
        return e.help

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def parse_list(self, spec: str | Sequence[str]) -> list[str]:
        """Split a comma list and check every name, so a typo fails before any work starts."""
        names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
        names = [n for n in names if n]
        for n in names:
            self._entry(n)
        return names


MODELS: Registry[Any] = Registry("model", "models")
DATASETS: Registry[Any] = Registry("dataset", "datasets")
EXTRACTORS: Registry[Any] = Registry("feature extractor", "extractors")
METRICS: Registry[Any] = Registry("metric", "metrics")
BUDGETS: Registry[Any] = Registry("budget")
ARCHITECTURES: Registry[Any] = Registry("architecture", "architectures")
OBJECTIVES: Registry[Any] = Registry("objective", "objectives")
STEPS: Registry[Any] = Registry("training step", "steps")
ALL = {r.group: r for r in (MODELS, DATASETS, EXTRACTORS, METRICS, ARCHITECTURES, OBJECTIVES, STEPS) if r.group}


# -- ganbench's own entries --------------------------------------------------------------------
_MOG, _IMAGES = "ganbench.data.mog", "ganbench.data.images"
for _name, _module, _kind, _help in (
        ("ring", _MOG, "generated", "8 Gaussians on a circle, r=1, sigma=0.01 (PacGAN/VEEGAN)"),
        ("grid", _MOG, "generated", "25 Gaussians on {-4,-2,0,2,4}^2, sigma=0.05 (PacGAN/VEEGAN)"),
        ("highdim", _MOG, "generated", "10 Gaussians in 1200 dimensions (VEEGAN-style)"),
        ("cifar10", _IMAGES, "files", "CIFAR-10, 3x32x32, 10 classes, 50k train / 10k test (python pickle batches)."),
        ("mnist", _IMAGES, "files", "MNIST, 1x28x28, 10 classes, 60k train / 10k test (IDX files)."),
        ("fashion-mnist", _IMAGES, "files", "Fashion-MNIST, 1x28x28, 10 classes, 60k train / 10k test (IDX files)."),
        ("stacked-mnist", _IMAGES, "stacked:mnist", "Stacked MNIST, 3x28x28, 1000 modes; 60k train from MNIST "
         "train, 10k test from MNIST test, seed 0."),
        ("stacked-fashion-mnist", _IMAGES, "stacked:fashion-mnist", "Stacked Fashion-MNIST, 3x28x28, 1000 modes; "
         "built like stacked-mnist."),
        ("digits", _IMAGES, "sklearn", "scikit-learn 8x8 digits, 1x8x8, 10 classes, 1497 train / 300 test (fixed "
         "split, seed 0)."),
        ("digits32", _IMAGES, "sklearn", "scikit-learn digits upsampled to 1x32x32 (PIL bilinear) so conv nets "
         "train on them offline."),
        ("folder", _IMAGES, "path", "folder:PATH, images found recursively (png/jpg/jpeg/webp/bmp), no labels."),
        ("zip", _IMAGES, "path", "zip:PATH, the images inside a zip archive, no labels."),
        ("npz", _IMAGES, "path", "npz:PATH, a uint8 image array in .npz (keys x/images/arr_0; labels y/labels) "
         "or .npy.")):
    DATASETS.declare(_name, _module, _help, kind=_kind)

_METRICS = "ganbench.metrics.builtin"
for _name, _help in (
        ("fid", "Fréchet Inception Distance between pool3 feature Gaussians (lower is better)"),
        ("kid", "Kernel Inception Distance, unbiased cubic-kernel MMD² over random subsets"),
        ("is", "Inception Score from the 1008 unbiased logits, 10 shuffled splits"),
        ("pr", "k-NN improved precision and recall (k=3)"),
        ("dc", "k-NN density and coverage (k=5), prdc semantics"),
        ("modes", "mixture-of-Gaussians mode coverage: HQ share, modes covered, reverse KL (2,500 samples)"),
        ("stacked_modes", "stacked datasets: modes covered of 1000 and KL to uniform (per-channel domain CNN)"),
        ("memorization", "memorisation: Meehan C_T vs a held-out split and copy share (1% self-NN quantile)"),
        ("fd_inf", "FD∞ (Chong & Forsyth 2020): FD at several N extrapolated linearly in 1/N to N -> infinity"),
        ("fd", "Fréchet distance in the extractor's space (FID over Inception; FD_DINOv2 over dinov2-vit-l14)"),
        ("cmmd", "CMMD: Gaussian-kernel MMD² (sigma 10, x1000, biased estimator) on unit-norm embeddings"),
        ("cdc", "clipped density and coverage (k=5; radii clipped at the median, scores capped at 1)"),
        ("vendi", "Vendi score of the generated set: exp entropy of the cosine-kernel eigenvalues"),
        ("c2st", "classifier two-sample test: held-out accuracy telling real from generated (0.5: "
         "indistinguishable), exact binomial p-value, Clopper-Pearson interval"),
        ("nnd", "neural-network divergence (Gulrajani et al. 2019): a WGAN-GP critic trained on real vs "
         "generated images, scored on held-out real images and fresh samples (lower is better)")):
    METRICS.declare(_name, _METRICS, _help)

for _name, _module, _help in (
        ("mlp", "ganbench.nets.mlp", "MLP G and D for vector data"),
        ("maxout", "ganbench.nets.mlp", "MLP G and maxout D for vector data (PacGAN, Lin et al. 2018)"),
        ("dcgan", "ganbench.nets.dcgan", "DCGAN conv nets for 8/28/32/64-pixel images, picked by the image size"),
        ("resnet", "ganbench.nets.resnet", "SNGAN/cGAN-PD ResNet G (256 ch) and D (128 ch) for 8/28/32/64-pixel "
         "images")):
    ARCHITECTURES.declare(_name, _module, _help)

_FEATURES = "ganbench.features"
for _name, _help in (
        ("inception", "TF-faithful FID Inception-v3 (pool3 2048-d, logits 1008)"),
        ("domain", "domain CNN features for 28x28 data (fast FID/PR; not Inception FID)"),
        ("dinov2-vit-l14", "DINOv2 ViT-L/14 class token (1024-d), FD_DINOv2's space"),
        ("dinov2-vit-b14", "DINOv2 ViT-B/14 class token (768-d), cheap tracking"),
        ("clip-vit-l14-336", "CLIP ViT-L/14@336px image embedding (768-d), CMMD's space")):
    EXTRACTORS.declare(_name, _FEATURES, _help)

for _name, _help in (
        ("ns", "non-saturating GAN loss (Goodfellow et al. 2014)"),
        ("mm", "minimax GAN loss: G minimises log(1 - D(G(z)))"),
        ("ls", "least squares (Mao et al. 2017; a=0, b=1, c=1)"),
        ("wasserstein", "Wasserstein critic loss (Arjovsky et al. 2017)"),
        ("hinge", "hinge loss (Lim & Ye 2017, Miyato et al. 2018)")):
    OBJECTIVES.declare(_name, "ganbench.losses", _help)

for _name, _help in (
        ("alternating", "n_dis critic steps on fresh batches, then a generator step"),
        ("simultaneous", "both players' gradients at the same parameters, applied together (ALI, PacGAN)"),
        ("unrolled", "G's loss through `unroll` differentiable Adam steps of D (Metz et al. 2017)")):
    STEPS.declare(_name, "ganbench.training.method", _help)

for _name, _help in (
        ("smoke", "check that everything runs (tests, CI); numbers mean nothing"),
        ("cpu", "ganbench's own converged mixture protocol; a first signal on images"),
        ("paper", "the published budget: PacGAN's 400k iterations on mixtures, 100k generator steps and 50k "
         "samples on images (docs/reference.md section 3)"),
        ("lucic", "images: Lucic et al. 2018's protocol (batch 64, 20 epochs, FID 10k test vs 10k samples)")):
    BUDGETS.declare(_name, "ganbench.config", _help)


def recipe_dir() -> Path:
    """The folder of the baselines' recipes (``ganbench/baselines``)."""
    return Path(str(resources.files("ganbench") / "baselines"))


def _declare_models() -> None:
    """Each baseline recipe file is a model; its ``description`` is its help. Read with tomllib (no torch)."""
    for path in sorted(recipe_dir().glob("*.toml")):
        if path.name.startswith("_"):
            continue
        with open(path, "rb") as f:
            desc = tomllib.load(f).get("description", "")
        MODELS._entries[path.stem] = Entry(obj=path, help=desc)


_declare_models()
