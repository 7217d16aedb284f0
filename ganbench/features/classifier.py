"""A small domain CNN for 1x28x28 data (MNIST, Fashion-MNIST): trained once per dataset, cached.

Used for Stacked-MNIST mode counting (docs/reference.md section 4: each channel classified by a
pretrained classifier) and as the ``domain`` feature extractor, a fast FID/precision/recall for
28x28 data. Its numbers are on a different scale from Inception FID and are never comparable
with it; the extractor name (``domain-cnn[<dataset>:<weights sha8>]``) says so in every record.

Cache: ``$GANBENCH_CACHE/classifiers/<dataset>-<hash>.safetensors`` plus a ``.json`` sidecar with
the weights' sha256, test accuracy, training settings and data identity. ``<hash>`` covers the
data identity, the settings and the architecture version, so changing any of them trains anew.
A file whose sha256 does not match its sidecar is reported and retrained.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganbench.io import atomic_write_bytes, check_uint8_images
from ganbench.errors import GanbenchError
from ganbench.features.cache import cache_root
from ganbench.features.base import ExtractorOptions, FeatureExtractor, register_extractor

ARCH = "domain-cnn-v1"  # bump when DomainCNN or the input scaling changes: old files are not reused
FEATURE_DIM = 128
# Dataset names -> the 1-channel base dataset the classifier is trained on, and channels per image.
BASES: dict[str, tuple[str, int]] = {
    "mnist": ("mnist", 1), "fashion-mnist": ("fashion-mnist", 1),
    "stacked-mnist": ("mnist", 3), "stacked-fashion-mnist": ("fashion-mnist", 3),
}


@dataclass(frozen=True)
class TrainSettings:
    """How the classifier is trained; every field enters the cache key.

    Defaults: 2 epochs of Adam with a one-cycle schedule (peak lr 3e-3), batch 128, seed 0, one
    CPU thread. On Fashion-MNIST this reaches ~90.5% test accuracy in ~30 s on one core (MNIST
    ~99%). One thread because (a) single-threaded CPU training gives the same weights whatever
    the core count, and (b) on the shared 2-core machine two threads ran 3-8x slower than one.
    """

    epochs: int = 2
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0
    n_train: int | None = None  # None: the whole train split; a number: a seeded subset (tests)


class DomainCNN(nn.Module):
    """2 strided convs (with batch norm) + 2 fc; ``features`` is the 128-d penultimate layer."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, stride=2, padding=2, bias=False)  # 28 -> 14
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)  # 14 -> 7
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, FEATURE_DIM)
        self.fc2 = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.relu(self.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(x))


def _to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [-1, 1], the generators' output range."""
    return images.float().div(127.5).sub(1.0)


def _check_images(images: Any, channels: int, who: str) -> torch.Tensor:
    return check_uint8_images(torch.as_tensor(images), who, channels=(channels,), size=(28, 28))


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock so that parallel suite workers train a classifier once, not twice."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, at worst two processes train the same thing
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _accuracy(net: DomainCNN, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    net.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            pred = net(_to_input(torch.from_numpy(x[i:i + batch]))).argmax(1).numpy()
            correct += int((pred == y[i:i + batch]).sum())
    return correct / len(x)


def train_classifier(train_x: np.ndarray, train_y: np.ndarray, settings: TrainSettings,
                     progress: bool = True, desc: str = "domain classifier") -> DomainCNN:
    """Train a DomainCNN on uint8 [N,1,28,28] images, deterministically for given settings."""
    from ganbench.progress import bar as progress_bar

    if settings.n_train is not None and settings.n_train < len(train_x):
        idx = np.sort(np.random.default_rng(settings.seed).choice(len(train_x), settings.n_train, replace=False))
        train_x, train_y = train_x[idx], train_y[idx]
    x = _to_input(torch.from_numpy(np.ascontiguousarray(train_x)))
    y = torch.from_numpy(np.asarray(train_y, np.int64))
    steps_per_epoch = -(-len(x) // settings.batch_size)
    # fork_rng: training must not move the caller's global torch RNG (runs are seeded elsewhere).
    with torch.random.fork_rng(devices=[]), _threads(1):
        torch.manual_seed(settings.seed)
        net = DomainCNN()
        opt = torch.optim.Adam(net.parameters(), lr=settings.lr)  # OneCycleLR sets the start lr
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr,
                                                    total_steps=settings.epochs * steps_per_epoch)
        gen = torch.Generator().manual_seed(settings.seed)
        net.train()
        with progress_bar(total=settings.epochs * steps_per_epoch, desc=desc, unit="step",
                          disable=not progress) as bar:
            for _ in range(settings.epochs):
                perm = torch.randperm(len(x), generator=gen)
                for i in range(0, len(x), settings.batch_size):
                    b = perm[i:i + settings.batch_size]
                    loss = F.cross_entropy(net(x[b]), y[b])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return net.eval()


class DomainClassifier:
    """A trained DomainCNN with its provenance; inputs are uint8 [N, 1, 28, 28]."""

    def __init__(self, net: DomainCNN, info: dict[str, Any], path: Path, origin: str) -> None:
        self.net = net.eval().requires_grad_(False)
        self.info = info
        self.path = path
        self.origin = origin  # "trained" (this call trained it) or "cache" (loaded from path)
        self.dataset: str = info["dataset"]
        self.identity: str = info["weights_sha256"]  # sha256 of the .safetensors file
        self.test_accuracy: float = float(info["test_accuracy"])
        self.device = torch.device("cpu")

    @property
    def name(self) -> str:
        return f"domain-cnn[{self.dataset}:{self.identity[:8]}]"

    def to(self, device: torch.device | str) -> "DomainClassifier":
        self.device = torch.device(device)
        self.net.to(self.device)
        return self

    def _run(self, images: Any, fn: str, batch_size: int) -> np.ndarray:
        x = _check_images(images, 1, self.name)
        outs = []
        with torch.inference_mode():
            for i in range(0, len(x), batch_size):
                xb = _to_input(x[i:i + batch_size].to(self.device))
                outs.append(getattr(self.net, fn)(xb).float().cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0, FEATURE_DIM if fn == "features" else 10), np.float32)

    def logits(self, images: Any, batch_size: int = 256) -> np.ndarray:
        """Class logits [N, 10]."""
        return self._run(images, "forward", batch_size)

    def predict(self, images: Any, batch_size: int = 256) -> np.ndarray:
        """Predicted labels [N] (int64)."""
        return self.logits(images, batch_size).argmax(1).astype(np.int64)

    def features(self, images: Any, batch_size: int = 256) -> np.ndarray:
        """Penultimate-layer features [N, 128] (float32, after ReLU)."""
        return self._run(images, "features", batch_size)

    def protocol(self) -> dict[str, Any]:
        """What a record must carry to say which classifier produced its numbers."""
        return {"classifier": self.name, "classifier_sha256": self.identity,
                "classifier_test_accuracy": round(self.test_accuracy, 6),
                "classifier_data_identity": self.info.get("data_identity")}

    def __repr__(self) -> str:
        return f"DomainClassifier({self.name!r}, test_accuracy={self.test_accuracy:.4f}, path={self.path})"


def base_of(dataset_name: str) -> tuple[str, int]:
    """(base dataset the classifier is trained on, channels per image) for a dataset name."""
    try:
        return BASES[dataset_name]
    except KeyError:
        raise GanbenchError(f"no domain classifier for dataset {dataset_name!r}; "
                            f"known: {', '.join(BASES)} (28x28 data)") from None


def classifier_dir() -> Path:
    return cache_root() / "classifiers"


def _key(base: str, data_identity: str, settings: TrainSettings) -> str:
    parts = {"arch": ARCH, "data_identity": data_identity, "settings": asdict(settings)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _load(path: Path, sidecar: Path, want: dict[str, Any]) -> DomainClassifier:
    """Load a cached classifier, or raise ValueError saying why the file cannot be used."""
    from safetensors.torch import load as st_load

    try:
        info = json.loads(sidecar.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"sidecar {sidecar.name} unreadable ({e})") from None
    if not isinstance(info, dict):
        raise ValueError(f"sidecar {sidecar.name} is not a JSON object")
    for k, v in want.items():
        if info.get(k) != v:
            raise ValueError(f"sidecar {k} is {info.get(k)!r}, expected {v!r}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != info.get("weights_sha256"):
        raise ValueError(f"sha256 {digest[:12]}.. does not match the sidecar's "
                         f"{str(info.get('weights_sha256'))[:12]}..")
    try:
        sd = st_load(data)
        net = DomainCNN()
        net.load_state_dict(sd, strict=True)
    except Exception as e:  # noqa: BLE001 - any decoding/shape problem means "not usable"
        raise ValueError(f"cannot load weights ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if not isinstance(info.get("test_accuracy"), (int, float)):
        raise ValueError("sidecar has no test_accuracy")
    return DomainClassifier(net, info, path, "cache")


# In-process memo: (cache file, its size and mtime) -> classifier, so repeated calls (the
# extractor and the stacked metric in one evaluation) neither reload the data nor re-hash.
_MEMO: dict[tuple[str, str | None, str, TrainSettings], tuple[tuple[int, int], DomainClassifier]] = {}


def clear_memo() -> None:
    """Forget classifiers loaded in this process (the next ``get_classifier`` reads the cache)."""
    _MEMO.clear()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def get_classifier(dataset_name: str, data_dir: str | None = None, *, dataset: Any = None,
                   settings: TrainSettings | None = None, progress: bool = True) -> DomainClassifier:
    """The domain classifier for ``dataset_name`` (stacked names map to their base), trained once.

    ``dataset``: an already loaded base ImageDataset, to skip reloading it. The data are always
    needed on a miss of the in-process memo, because the cache key holds the data identity.
    """
    base, _ = base_of(dataset_name)
    settings = settings or TrainSettings()
    memo_key = (base, data_dir, str(classifier_dir()), settings)
    if memo_key in _MEMO:
        stamp, clf = _MEMO[memo_key]
        same_data = dataset is None or dataset.identity() == clf.info.get("data_identity")
        if _stamp(clf.path) == stamp and same_data:
            return clf
    if dataset is None:
        from ganbench.registry import DATASETS

        dataset = DATASETS.get(base)(data_dir=data_dir)
    if getattr(dataset, "name", None) != base or dataset.test_x is None:
        raise GanbenchError(f"the domain classifier for {base!r} needs the {base!r} dataset with its test split, "
                            f"got {getattr(dataset, 'name', type(dataset).__name__)!r}")
    data_identity = dataset.identity()
    stem = f"{base}-{_key(base, data_identity, settings)}"
    path = classifier_dir() / f"{stem}.safetensors"
    sidecar = path.with_suffix(".json")
    want = {"arch": ARCH, "dataset": base, "data_identity": data_identity, "settings": asdict(settings)}
    with _file_lock(classifier_dir() / f"{stem}.lock"):
        clf = None
        if path.is_file() and sidecar.is_file():
            try:
                clf = _load(path, sidecar, want)
            except ValueError as e:
                warnings.warn(f"domain classifier {path} is not usable ({e}); training it again", stacklevel=2)
        if clf is None:
            clf = _train_and_save(dataset, base, settings, path, sidecar, want, progress)
    _MEMO[memo_key] = (_stamp(clf.path), clf)
    return clf


def _train_and_save(dataset: Any, base: str, settings: TrainSettings, path: Path, sidecar: Path,
                    want: dict[str, Any], progress: bool) -> DomainClassifier:
    from safetensors.torch import save as st_save

    t0 = time.perf_counter()
    net = train_classifier(dataset.train_x, dataset.train_y, settings, progress=progress,
                           desc=f"training domain classifier [{base}]")
    seconds = time.perf_counter() - t0
    acc = _accuracy(net, dataset.test_x, dataset.test_y)
    sd = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    # One metadata key: safetensors writes a metadata dict in hash-map order, which varies from
    # call to call, and the file's sha256 is the classifier's identity.
    data = st_save(sd, metadata={"ganbench": json.dumps({"arch": ARCH, "dataset": base}, sort_keys=True)})
    info = {**want, "weights_sha256": hashlib.sha256(data).hexdigest(), "test_accuracy": acc,
            "n_test": int(len(dataset.test_x)), "train_seconds": round(seconds, 1), "torch": torch.__version__}
    # Weights first, sidecar second: a sidecar only ever describes a complete weights file.
    atomic_write_bytes(path, data)
    atomic_write_bytes(sidecar, (json.dumps(info, indent=1, sort_keys=True) + "\n").encode())
    return DomainClassifier(net, info, path, "trained")


# --------------------------------------------------------------------------------------------
# The "domain" feature extractor
# --------------------------------------------------------------------------------------------


class DomainExtractor(FeatureExtractor):
    """Penultimate features of the domain classifier, with the Inception extractor's interface.

    The output key is ``"pool3"`` so that the FID/KID/PR/DC code reads it unchanged; the numbers
    are NOT Inception features, which ``name`` (``domain-cnn[...]``) records. For 3-channel
    (stacked) images each channel is embedded separately and the three 128-d vectors are
    concatenated in R, G, B order (384-d), so the features see every stacked digit.
    """

    def __init__(self, classifier: DomainClassifier, channels: int = 1) -> None:
        if channels not in (1, 3):
            raise GanbenchError(f"domain features take 1- or 3-channel images, not {channels}")
        self.classifier = classifier
        self.channels = channels
        self.mode = "gray" if channels == 1 else "per-channel-concat"
        self.weights_sha256 = classifier.identity
        self.name = classifier.name + ("" if channels == 1 else "/per-channel-x3")
        self.dims = {"pool3": FEATURE_DIM * channels}
        self.has_logits = False
        self.logits_unavailable_reason = ("the domain extractor has no Inception 1008-class head; "
                                          "the Inception Score needs --features inception")
        self.test_accuracy = classifier.test_accuracy
        self.device = classifier.device

    def to(self, device: torch.device | str) -> "DomainExtractor":
        self.classifier.to(device)
        self.device = self.classifier.device
        return self

    def __call__(self, images_uint8: Any) -> dict[str, torch.Tensor]:
        x = _check_images(images_uint8, self.channels, self.name)
        n = len(x)
        flat = x.reshape(n * self.channels, 1, 28, 28)  # channel c of image i is row i*C + c
        with torch.inference_mode():
            f = self.classifier.net.features(_to_input(flat.to(self.device)))
        return {"pool3": f.reshape(n, self.channels * FEATURE_DIM).float()}

    def extra_protocol(self) -> dict[str, Any]:
        return self.classifier.protocol()

    def missing_reason(self, outputs: list[str]) -> str:
        return self.logits_unavailable_reason if "logits" in outputs else super().missing_reason(outputs)

    def __repr__(self) -> str:
        return f"DomainExtractor({self.name!r}, test_accuracy={self.test_accuracy:.4f})"


def _build(opts: ExtractorOptions) -> DomainExtractor:
    """The domain feature extractor for the dataset being evaluated."""
    dataset = opts.dataset or "fashion-mnist"
    _, channels = base_of(dataset)
    ext = DomainExtractor(get_classifier(dataset, opts.data_dir), channels)
    return ext.to(opts.device) if opts.device is not None else ext


domain = register_extractor("domain", _build, per_dataset=True,
                            help="domain CNN features for 28x28 data (fast FID/PR; not Inception FID)")


__all__ = ["DomainCNN", "DomainClassifier", "DomainExtractor", "TrainSettings", "get_classifier",
           "train_classifier", "clear_memo", "base_of", "domain"]
