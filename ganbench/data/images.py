"""Image datasets (CIFAR-10, MNIST, Fashion-MNIST, Stacked MNIST, digits) and image-set loaders.

Every dataset is an ``ImageDataset`` of uint8 NCHW arrays (docs/design.md convention 8). Files are found
by ``ganbench.data.sources.resolve``. The plain loaders ``load_images`` / ``load_image_folder`` /
``load_image_array`` / ``load_image_zip`` also read generated sample sets for ``ganbench eval``.

Input rules (each violation is a one-line GanbenchError naming the file):
- arrays must be uint8, or hold only finite integral values in 0..255 (then cast, with a warning
  that says so); float images in [0, 1] or [-1, 1], and values all in {0, 1}, are refused because
  their scale is a guess;
- arrays are N,C,H,W or N,H,W,C with C in {1, 3}, or N,H,W; when both readings fit (tiny images),
  channels-first wins unless only channels-last gives square images;
- folders and zips: png/jpg/jpeg/webp/bmp (any case); other files are skipped with one warning
  that counts them; an unreadable image or subfolder is an error; an image over
  ``MAX_IMAGE_PIXELS`` or a zip member over ``MAX_MEMBER_BYTES`` is refused before it is decoded,
  and so is a set larger than the memory available; images are converted to RGB unless all are
  grayscale; mixed sizes are an error naming two sizes unless ``resize=(H, W)`` is given (PIL
  bicubic, like clean-fid).
"""

from __future__ import annotations

import codecs  # codecs.encode is _codecs.encode, which Python 3 protocol-2 pickles use for bytes
import functools
import gzip
import io
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ganbench.data.base import ImageDataset
from ganbench.data.sources import Remote, Source, find_file, resolve
from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.limits import MAX_IMAGE_PIXELS, MAX_MEMBER_BYTES, check_memory
from ganbench.registry import DATASETS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

# --------------------------------------------------------------------------------------------
# Where the files are (URLs and md5s as torchvision 0.29 lists them).

CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10 = Source(
    name="cifar10",
    files=(*CIFAR_TRAIN, "test_batch"),
    subdirs=("", "cifar-10-batches-py"),
    remotes=(Remote("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                    md5="c58f30108f718f92721af3b95e74349a", extract=True),),
    hint="cifar-10-batches-py/",
)

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def _idx_source(name: str, torchvision_dir: str, mirrors: tuple[str, ...], md5s: tuple[str, ...],
                local: tuple[str, ...] = ()) -> Source:
    return Source(
        name=name,
        files=tuple((f, f + ".gz") for f in IDX_FILES),
        subdirs=("", f"{torchvision_dir}/raw"),
        local=local,
        remotes=tuple(Remote(f + ".gz", tuple(m + f + ".gz" for m in mirrors), md5=h) for f, h in zip(IDX_FILES, md5s)),
        hint=f"{IDX_FILES[0]}[.gz] and the other 3 IDX files",
    )


MNIST = _idx_source(
    "mnist", "MNIST",
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
     "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))
FASHION_MNIST = _idx_source(
    "fashion-mnist", "FashionMNIST",
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
     "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
    local=("/usr/share/datasets/fashion-mnist",))  # Debian package dataset-fashion-mnist
SOURCES = {s.name: s for s in (CIFAR10, MNIST, FASHION_MNIST)}  # for `ganbench data`'s status

# --------------------------------------------------------------------------------------------
# CIFAR-10 python batches: pickles, read with an allow-list so a hostile file cannot run code.


def _numpy_pickle_globals() -> dict[tuple[str, str], object]:
    # Ask numpy which callables it pickles arrays with, so the list holds across numpy 1.x/2.x
    # module renames (numpy.core -> numpy._core); the old names map to the same objects.
    a = np.zeros(1, np.uint8)
    rebuild, frombuf = a.__reduce__()[0], a.__reduce_ex__(5)[0]
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                              ("_codecs", "encode"): codecs.encode}
    for mod in ("numpy.core", "numpy._core"):
        allowed[(f"{mod}.multiarray", "_reconstruct")] = rebuild
        allowed[(f"{mod}.numeric", "_frombuffer")] = frombuf
    return allowed


_SAFE_GLOBALS = _numpy_pickle_globals()


class _SafeUnpickler(pickle.Unpickler):
    """Dicts, lists, bytes and numpy arrays only; any other global is refused."""

    def __init__(self, file: io.BufferedIOBase, path: Path) -> None:
        super().__init__(file, encoding="bytes")  # the batches were written by Python 2
        self._path = path

    def find_class(self, module: str, name: str) -> object:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise GanbenchError(
                f"{self._path}: refusing to unpickle {module}.{name}; "
                "a CIFAR batch holds only arrays and lists") from None


def safe_unpickle(path: str | os.PathLike) -> object:
    """Load a trusted-format pickle (CIFAR batches) with the allow-list unpickler."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _SafeUnpickler(f, path).load()
    except GanbenchError:
        raise
    except Exception as e:  # truncated or not a pickle: UnpicklingError, EOFError, ValueError...
        raise GanbenchError(f"{path}: cannot read pickle ({type(e).__name__}: {e})") from None


def load_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch file -> (uint8 [N, 3, 32, 32], int64 labels [N])."""
    d = safe_unpickle(path)
    if not isinstance(d, dict):
        raise GanbenchError(f"{path}: not a CIFAR batch (a {type(d).__name__}, expected a dict)")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    x, y = d.get("data"), d.get("labels")
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        desc = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise GanbenchError(f"{path}: 'data' must be a uint8 [N, 3072] array, got {desc}")
    y = np.asarray(y if y is not None else [], dtype=np.int64)
    if y.shape != (len(x),) or (len(y) and (y.min() < 0 or y.max() > 9)):
        raise GanbenchError(f"{path}: 'labels' must be {len(x)} integers in 0..9")
    return x.reshape(-1, 3, 32, 32), y  # rows are R(1024) G(1024) B(1024), each row-major 32x32


# --------------------------------------------------------------------------------------------
# IDX (MNIST family): magic = 0, 0, dtype code, ndim; then ndim big-endian int32 sizes; then data.

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (gzipped or raw, detected by content) into a numpy array."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise GanbenchError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or not 1 <= raw[3] <= 4:
        raise GanbenchError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'none'})")
    ndim, dtype = raw[3], np.dtype(_IDX_DTYPES[raw[2]])
    if len(raw) < 4 + 4 * ndim:
        raise GanbenchError(f"{path}: truncated IDX header")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, 4))
    start, want = 4 + 4 * ndim, int(np.prod(shape)) * dtype.itemsize
    if len(raw) - start != want:
        raise GanbenchError(
            f"{path}: {'truncated' if len(raw) - start < want else 'trailing data in'} IDX file "
            f"(header says {shape}, {want} bytes; file has {len(raw) - start})")
    return np.frombuffer(raw, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


def _idx_images(path: Path) -> np.ndarray:
    x = read_idx(path)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise GanbenchError(f"{path}: expected uint8 images [N, H, W] (magic 0x00000803), got {x.dtype} {x.shape}")
    return x[:, None]


def _idx_labels(path: Path, n: int) -> np.ndarray:
    y = read_idx(path)
    if y.ndim != 1 or len(y) != n:
        raise GanbenchError(f"{path}: expected {n} labels (magic 0x00000801), got shape {y.shape}")
    return y.astype(np.int64)


def load_idx_dataset(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """train_x, train_y, test_x, test_y from the four IDX files in ``folder`` (.gz or raw)."""
    paths = [find_file(folder, (f, f + ".gz")) for f in IDX_FILES]
    if None in paths:
        raise DataNotFoundError(f"{folder}: missing {IDX_FILES[paths.index(None)]}[.gz]")
    tx, vx = _idx_images(paths[0]), _idx_images(paths[2])
    return tx, _idx_labels(paths[1], len(tx)), vx, _idx_labels(paths[3], len(vx))


# --------------------------------------------------------------------------------------------
# Registered datasets.


@DATASETS.register("cifar10")
def cifar10(data_dir: str | None = None, path: str | None = None) -> ImageDataset:
    """CIFAR-10, 3x32x32, 10 classes, 50k train / 10k test (python pickle batches)."""
    folder = resolve(CIFAR10, path or data_dir)  # cifar10:PATH names the folder like --data-dir
    train = [load_cifar_batch(folder / f) for f in CIFAR_TRAIN]
    tx, ty = load_cifar_batch(folder / "test_batch")
    return ImageDataset("cifar10", np.concatenate([a for a, _ in train]), np.concatenate([b for _, b in train]),
                        tx, ty, num_classes=10, source=str(folder))


def _idx_dataset(name: str, src: Source, data_dir: str | None) -> ImageDataset:
    folder = resolve(src, data_dir)
    tx, ty, vx, vy = load_idx_dataset(folder)
    return ImageDataset(name, tx, ty, vx, vy, num_classes=10, source=str(folder))


@DATASETS.register("mnist")
def mnist(data_dir: str | None = None, path: str | None = None) -> ImageDataset:
    """MNIST, 1x28x28, 10 classes, 60k train / 10k test (IDX files)."""
    return _idx_dataset("mnist", MNIST, path or data_dir)


@DATASETS.register("fashion-mnist")
def fashion_mnist(data_dir: str | None = None, path: str | None = None) -> ImageDataset:
    """Fashion-MNIST, 1x28x28, 10 classes, 60k train / 10k test (IDX files)."""
    return _idx_dataset("fashion-mnist", FASHION_MNIST, path or data_dir)


STACKED_N_TRAIN, STACKED_N_TEST, STACKED_SEED = 60_000, 10_000, 0


@dataclass
class StackedImageDataset(ImageDataset):
    """An ImageDataset whose identity also names how it was drawn (size and seed)."""

    recipe: str = ""

    def identity(self) -> str:
        name, _, digest = super().identity().rpartition(":")
        return f"{name}:{self.recipe}:{digest}"


def stack_digits(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images whose R, G, B channels are three independently drawn digits (1000 modes).

    Like PacGAN, each sample draws 3 uniform random indices; label = 100*d_R + 10*d_G + d_B.
    """
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n, 3))
    images = x[idx, 0]  # [n, 3, H, W]: channel c is image idx[:, c]
    labels = y[idx] @ np.array([100, 10, 1], np.int64)
    return np.ascontiguousarray(images), labels


def _stacked(name: str, base: ImageDataset, n_train: int, n_test: int, seed: int) -> ImageDataset:
    # Distinct seeds for the splits so the test set is not a permutation-twin of the train set.
    tx, ty = stack_digits(base.train_x, base.train_y, n_train, seed)
    vx, vy = stack_digits(base.test_x, base.test_y, n_test, seed + 1)
    return StackedImageDataset(name, tx, ty, vx, vy, num_classes=1000, source=base.source,
                               recipe=f"n={n_train}/{n_test}:seed={seed}")


@DATASETS.register("stacked-mnist")
def stacked_mnist(data_dir: str | None = None, n_train: int = STACKED_N_TRAIN, n_test: int = STACKED_N_TEST,
                  seed: int = STACKED_SEED, path: str | None = None) -> ImageDataset:
    """Stacked MNIST, 3x28x28, 1000 modes; 60k train from MNIST train, 10k test from MNIST test, seed 0."""
    return _stacked("stacked-mnist", mnist(data_dir, path), n_train, n_test, seed)


@DATASETS.register("stacked-fashion-mnist")
def stacked_fashion_mnist(data_dir: str | None = None, n_train: int = STACKED_N_TRAIN,
                          n_test: int = STACKED_N_TEST, seed: int = STACKED_SEED,
                          path: str | None = None) -> ImageDataset:
    """Stacked Fashion-MNIST, 3x28x28, 1000 modes; built like stacked-mnist."""
    return _stacked("stacked-fashion-mnist", fashion_mnist(data_dir, path), n_train, n_test, seed)


DIGITS_TEST, DIGITS_SPLIT_SEED = 300, 0


def _no_path(name: str, path: str | None) -> None:
    if path:
        raise GanbenchError(f"dataset {name!r} takes no path (got {name}:{path})")


@functools.lru_cache(maxsize=1)  # load_digits parses a CSV each call; datasets copy what they index
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # values 0..16 -> 0..255
    return x, d.target.astype(np.int64)


def _digits_dataset(name: str, x: np.ndarray, y: np.ndarray) -> ImageDataset:
    perm = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(x))
    test, train = perm[:DIGITS_TEST], perm[DIGITS_TEST:]
    return ImageDataset(name, x[train], y[train], x[test], y[test], num_classes=10,
                        source="sklearn.datasets.load_digits")


@DATASETS.register("digits")
def digits(data_dir: str | None = None, path: str | None = None) -> ImageDataset:
    """scikit-learn 8x8 digits, 1x8x8, 10 classes, 1497 train / 300 test (fixed split, seed 0)."""
    _no_path("digits", path)  # data_dir is ignored: the data ship with scikit-learn
    return _digits_dataset("digits", *_digits_arrays())


@DATASETS.register("digits32")
def digits32(data_dir: str | None = None, path: str | None = None) -> ImageDataset:
    """scikit-learn digits upsampled to 1x32x32 (PIL bilinear) so conv nets train on them offline."""
    _no_path("digits32", path)
    from PIL import Image

    x, y = _digits_arrays()
    up = np.stack([np.asarray(Image.fromarray(im[0]).resize((32, 32), Image.BILINEAR)) for im in x])[:, None]
    return _digits_dataset("digits32", up, y)


# --------------------------------------------------------------------------------------------
# Image sets from user files: folders, zips, .npz/.npy arrays.


def _fail(path: object, problem: str) -> GanbenchError:
    return GanbenchError(f"{path}: {problem}")


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _decode(items: Iterable[tuple[str, Callable[[], object]]], where: Path,
            resize: tuple[int, int] | None) -> np.ndarray:
    """Decode (name, open) pairs with PIL into one uint8 NCHW array, applying the module rules."""
    from PIL import Image, UnidentifiedImageError

    arrays: list[np.ndarray] = []  # H,W for grayscale, H,W,3 for colour
    first = None
    items = list(items)
    for name, opener in items:
        try:
            with Image.open(opener()) as im:  # reads the header only; pixels are decoded by convert()
                _check_pixels(name, im.size, len(arrays))
                if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                    raise _fail(name, f"{im.mode} images (16-bit or float) are not supported; save as 8-bit")
                im = im.convert("L") if im.mode in ("1", "L", "LA") else im.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError, zipfile.BadZipFile,
                Image.DecompressionBombError) as e:
            raise _fail(name, f"cannot read image ({e})") from None
        if resize is not None and im.size != (resize[1], resize[0]):
            im = im.resize((resize[1], resize[0]), Image.BICUBIC)
        if first is None:
            first = (name, im.size)
            # The set as arrays and then stacked: twice its pixels, checked before decoding the rest.
            check_memory(2 * len(items) * im.size[0] * im.size[1] * 3, f"{where}: {len(items)} images of "
                                                                       f"{im.size[0]}x{im.size[1]}")
        elif im.size != first[1]:
            raise _fail(where, f"mixed image sizes: {first[0]} is {first[1][0]}x{first[1][1]}, {name} is "
                               f"{im.size[0]}x{im.size[1]} (WxH); pass resize=(H, W) to resize them")
        arrays.append(np.asarray(im))
    if not arrays:
        raise _fail(where, f"no images ({'/'.join(s[1:] for s in IMAGE_SUFFIXES)}) found")
    if all(a.ndim == 2 for a in arrays):
        return np.stack(arrays)[:, None]
    # Some colour: grayscale ones become R=G=B, as PIL's L->RGB conversion does.
    x = np.stack([a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in arrays])
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _check_pixels(name: str, size: tuple[int, int], index: int) -> None:
    w, h = size
    if w * h > MAX_IMAGE_PIXELS:
        raise _fail(name, f"{w}x{h} pixels is over the limit of {MAX_IMAGE_PIXELS} "
                          "(GANBENCH_MAX_IMAGE_PIXELS); refusing to decode it")


def _warn_skipped(where: Path, skipped: int) -> None:
    if skipped:
        warnings.warn(f"{where}: skipped {skipped} non-image file(s)", stacklevel=3)


def _normalize_resize(resize: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if resize is None:
        return None
    return (resize, resize) if isinstance(resize, int) else (int(resize[0]), int(resize[1]))


def load_image_folder(path: str | os.PathLike, resize: int | tuple[int, int] | None = None) -> np.ndarray:
    """Every png/jpg/jpeg/webp/bmp under ``path`` (recursive, sorted by path) -> uint8 NCHW."""
    root = Path(path)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    files = sorted(p for p in _walk_files(root) if not p.name.startswith("."))
    names = [p for p in files if _is_image_name(p.name)]
    _warn_skipped(root, len(files) - len(names))
    return _decode(((str(p), lambda p=p: p) for p in names), root, _normalize_resize(resize))


def _walk_files(root: Path) -> list[Path]:
    """Every file under ``root``; an unreadable subfolder is an error, never a silent skip."""
    def fail(e: OSError) -> None:
        raise _fail(e.filename or root, f"cannot read folder ({e.strerror or e}); every file of a set must be "
                                        "readable, or the set is scored on a part of it") from None

    out = []
    for dirpath, _, filenames in os.walk(root, onerror=fail, followlinks=True):
        out.extend(Path(dirpath) / f for f in filenames)  # a dangling link stays, to fail when read
    return out


def load_image_zip(path: str | os.PathLike, resize: int | tuple[int, int] | None = None) -> np.ndarray:
    """Every image member of a zip archive (sorted by member name) -> uint8 NCHW."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = sorted(i.filename for i in zf.infolist()
                             if not i.is_dir() and not Path(i.filename).name.startswith(".")
                             and not i.filename.startswith("__MACOSX/"))
            names = [m for m in members if _is_image_name(m)]
            _warn_skipped(path, len(members) - len(names))
            _check_members(path, zf, names)
            return _decode(((f"{path}:{m}", lambda m=m: io.BytesIO(zf.read(m))) for m in names), path,
                           _normalize_resize(resize))
    except FileNotFoundError:
        raise DataNotFoundError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise _fail(path, f"not a readable zip archive ({e})") from None


def _check_members(path: Path, zf: zipfile.ZipFile, names: list[str]) -> None:
    # ZipExtFile stops at the declared size, so checking it bounds what a member can inflate to.
    for m in names:
        size = zf.getinfo(m).file_size
        if size > MAX_MEMBER_BYTES:
            raise _fail(f"{path}:{m}", f"inflates to {size / 2**20:.0f} MiB, over the limit of "
                                       f"{MAX_MEMBER_BYTES >> 20} MiB (GANBENCH_MAX_ZIP_MEMBER_BYTES)")


_X_KEYS, _Y_KEYS = ("x", "images", "arr_0"), ("y", "labels")


def load_image_array(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """A .npz (keys x/images/arr_0 or the only array; labels y/labels) or .npy -> (uint8 NCHW, labels|None)."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such file")
    y = None
    try:
        loaded = np.load(path, allow_pickle=False)  # allow_pickle=False: object arrays never unpickle
        if isinstance(loaded, np.ndarray):  # .npy
            x = loaded
        else:
            with loaded:
                x, y = _pick_arrays(path, loaded)
    except GanbenchError:
        raise
    except Exception as e:  # truncated zip/zlib stream, bad header, object dtype...: all one line
        raise _fail(path, f"cannot read array file, truncated or not .npz/.npy ({type(e).__name__}: {e})") from None
    x = to_uint8_nchw(x, path)
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer) or (len(y) and y.min() < 0):
            raise _fail(path, f"labels must be {len(x)} non-negative integers, got {y.dtype} {y.shape}")
        y = y.astype(np.int64)
    return x, y


def _pick_arrays(path: Path, data: "np.lib.npyio.NpzFile") -> tuple[np.ndarray, np.ndarray | None]:
    keys = list(data.keys())
    xk = next((k for k in _X_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
    if xk is None:
        raise _fail(path, f"cannot tell which array holds the images among {keys}; name it 'x' or 'images'")
    yk = next((k for k in _Y_KEYS if k in keys and k != xk), None)
    return data[xk], (data[yk] if yk else None)


def to_uint8_nchw(x: np.ndarray, where: object = "array") -> np.ndarray:
    """Validate an image array and return it as uint8 N,C,H,W (rules in the module docstring)."""
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[-1] in (3, 4) and x.shape[0] > 4:  # N,H,W with W = 3 is no real image set
        raise _fail(where, f"shape {x.shape} looks like one H,W,C image; add a leading batch axis")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise _fail(where, f"expected images N,C,H,W or N,H,W,C (or N,H,W), got ndim {x.ndim} shape {x.shape}")
    first, last = x.shape[1] in (1, 3), x.shape[-1] in (1, 3)
    if first and last:  # e.g. N,1,3,3: ganbench's channels-first, unless only channels-last reads square
        last = x.shape[1] == x.shape[2] != x.shape[3]
    if last:
        x = x.transpose(0, 3, 1, 2)
    elif not first:
        raise _fail(where, f"expected 1 or 3 channels first or last, got shape {x.shape}")
    if len(x) == 0 or 0 in x.shape:
        raise _fail(where, f"empty image array {x.shape}")
    if x.dtype != np.uint8:
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool):
            raise _fail(where, f"unsupported dtype {x.dtype}; expected uint8")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise _fail(where, "contains NaN or inf values")
        lo, hi = x.min(), x.max()
        if lo < 0 or hi > 255 or (np.issubdtype(x.dtype, np.floating) and not (x == np.round(x)).all()):
            raise _fail(where, f"{x.dtype} values in [{lo:g}, {hi:g}] are not 0..255 integers; save uint8 "
                               "images (e.g. ((x + 1) * 127.5).round().clip(0, 255).astype('uint8') for [-1, 1])")
        if hi <= 1:  # {0, 1}: 0..255 integers (near black) or a [0, 1] scale? Either guess can be wrong.
            raise _fail(where, f"{x.dtype} values are all 0 or 1: ambiguous (0..255 integers or a [0, 1] "
                               "scale); save uint8 images, e.g. (x * 255).astype('uint8') for [0, 1]")
        warnings.warn(f"{where}: read {x.dtype} values in [{lo:g}, {hi:g}] as 0..255 pixel values", stacklevel=2)
        x = x.astype(np.uint8)
    return np.ascontiguousarray(x)


def load_images(path: str | os.PathLike) -> np.ndarray:
    """Any image set: a folder, a .zip of images, or a .npz/.npy array -> uint8 NCHW (labels dropped)."""
    p = Path(path)
    if p.is_dir():
        return load_image_folder(p)
    if not p.exists():
        raise DataNotFoundError(f"{p}: no such file or folder")
    suffix = p.suffix.lower()
    if suffix in (".npz", ".npy"):
        return load_image_array(p)[0]
    if suffix == ".zip":
        return load_image_zip(p)
    raise _fail(p, "not an image set; expected a folder, a .zip of images, or a .npz/.npy array")


def _need_path(kind: str, path: str | None) -> Path:
    if not path:
        raise GanbenchError(f"dataset {kind!r} needs a path: use {kind}:PATH")
    return Path(path).expanduser()


@DATASETS.register("folder")
def folder(path: str | None = None, data_dir: str | None = None,
           resize: int | tuple[int, int] | None = None) -> ImageDataset:
    """folder:PATH, images found recursively (png/jpg/jpeg/webp/bmp), no labels."""
    p = _need_path("folder", path)
    return ImageDataset(f"folder:{path}", load_image_folder(p, resize), source=str(p.resolve()))


@DATASETS.register("zip")
def zip_(path: str | None = None, data_dir: str | None = None,
         resize: int | tuple[int, int] | None = None) -> ImageDataset:
    """zip:PATH, the images inside a zip archive, no labels."""
    p = _need_path("zip", path)
    return ImageDataset(f"zip:{path}", load_image_zip(p, resize), source=str(p.resolve()))


@DATASETS.register("npz")
def npz(path: str | None = None, data_dir: str | None = None) -> ImageDataset:
    """npz:PATH, a uint8 image array in .npz (keys x/images/arr_0; labels y/labels) or .npy."""
    p = _need_path("npz", path)
    x, y = load_image_array(p)
    num_classes = int(y.max()) + 1 if y is not None and len(y) else 0
    return ImageDataset(f"npz:{path}", x, y, num_classes=num_classes, source=str(p.resolve()))


__all__ = ["load_images", "load_image_folder", "load_image_zip", "load_image_array", "to_uint8_nchw",
           "read_idx", "load_cifar_batch", "safe_unpickle", "stack_digits", "CIFAR10", "MNIST", "FASHION_MNIST"]
