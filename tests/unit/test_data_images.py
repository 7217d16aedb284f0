"""Image datasets and image-set loaders, on small files the tests write (no network)."""

from __future__ import annotations

import gzip
import pickle
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.data import get_dataset
from ganbench.data.images import (
    load_cifar_batch,
    load_image_array,
    load_image_folder,
    load_image_zip,
    load_images,
    read_idx,
    stacked_mnist,
    to_uint8_nchw,
)
from ganbench.errors import DataNotFoundError, GanbenchError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    for var in ("GANBENCH_DATA_DIR", "GANBENCH_CIFAR10_DIR", "GANBENCH_MNIST_DIR", "GANBENCH_FASHION_MNIST_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")


def one_line_error(exc_info, *needles: str) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, (n, msg)
    return msg


# ---------------------------------------------------------------- CIFAR-10 -------------------------------------


def write_cifar(root: Path, n: int = 4, protocol: int = 2) -> Path:
    """A CIFAR-10-format folder: batch b, image i has every pixel of channel c equal to 40*b + 10*c + i."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for b, name in enumerate(names):
        data = np.zeros((n, 3, 1024), np.uint8)
        for i in range(n):
            for c in range(3):
                data[i, c] = 40 * b + 10 * c + i
        d = {b"batch_label": name.encode(), b"labels": [(b + i) % 10 for i in range(n)],
             b"data": data.reshape(n, 3072), b"filenames": [f"{name}_{i}.png".encode() for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(d, protocol=protocol))
    return folder


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar10_loads_pickled_batches(tmp_path, protocol):
    write_cifar(tmp_path, n=4, protocol=protocol)
    ds = get_dataset("cifar10", data_dir=str(tmp_path))
    assert ds.shape == (3, 32, 32) and ds.num_classes == 10
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.train_x.dtype == np.uint8
    assert ds.test_x.shape == (4, 3, 32, 32)
    assert ds.train_x[5, 2, 31, 31] == 40 * 1 + 10 * 2 + 1  # batch 2, image 1, blue channel
    assert list(ds.train_y[:4]) == [0, 1, 2, 3] and list(ds.test_y) == [5, 6, 7, 8]
    assert ds.source == str(tmp_path / "cifar-10-batches-py")


def test_cifar10_data_dir_may_be_the_batches_folder_itself(tmp_path):
    folder = write_cifar(tmp_path, n=2)
    assert get_dataset("cifar10", data_dir=str(folder)).train_x.shape == (10, 3, 32, 32)
    assert get_dataset(f"cifar10:{tmp_path}").train_x.shape == (10, 3, 32, 32)  # name:PATH = explicit folder
    with pytest.raises(GanbenchError, match="takes no path"):
        get_dataset(f"digits:{tmp_path}")


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("nested", [False, True])
def test_malicious_cifar_pickle_is_refused_without_running(tmp_path, nested):
    folder = write_cifar(tmp_path, n=2)
    marker = tmp_path / "pwned"
    evil = Evil(marker)
    payload = {b"data": np.zeros((2, 3072), np.uint8), b"labels": evil} if nested else evil
    (folder / "data_batch_1").write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(GanbenchError) as e:
        get_dataset("cifar10", data_dir=str(tmp_path))
    one_line_error(e, "data_batch_1", "refusing to unpickle")
    assert not marker.exists()


def test_cifar_bad_batches_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2))
    with pytest.raises(GanbenchError) as e:
        load_cifar_batch(bad)
    one_line_error(e, str(bad), "uint8 [N, 3072]")
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(GanbenchError) as e:
        load_cifar_batch(bad)
    one_line_error(e, str(bad), "cannot read pickle")
    bad.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, protocol=2))
    with pytest.raises(GanbenchError, match=re.escape("integers in 0..9")):
        load_cifar_batch(bad)


def test_missing_cifar10_gives_the_resolver_error(tmp_path):
    with pytest.raises(DataNotFoundError) as e:
        get_dataset("cifar10", data_dir=str(tmp_path / "nothing"))
    one_line_error(e, "cifar10 not found; looked in:", "download skipped (GANBENCH_OFFLINE=1)",
                   "cifar-10-batches-py/", str(tmp_path / "cache" / "datasets" / "cifar10"))


def test_integration_smoke_cifar10_train_batch_in_model_space(tmp_path):
    write_cifar(tmp_path, n=3)
    ds = get_dataset("cifar10", data_dir=str(tmp_path))
    x, y = ds.train_batch(7, torch.Generator().manual_seed(0))
    assert x.shape == (7, 3, 32, 32) and x.dtype == torch.float32
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert y.shape == (7,) and y.dtype == torch.int64
    ref, _ = ds.reference(5, seed=0, split="test")
    assert ref.dtype == np.uint8 and ref.shape == (3, 3, 32, 32)  # n > size: the whole test split


# ---------------------------------------------------------------- IDX (MNIST family) ---------------------------


def idx_bytes(arr: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = bytes([0, 0, codes[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def write_mnist(folder: Path, n_train: int = 20, n_test: int = 10, size: int = 8, gz: bool = True) -> Path:
    """IDX files: image k of a split has all pixels = k (mod 256), label k % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = np.broadcast_to((np.arange(n) % 256).astype(np.uint8)[:, None, None], (n, size, size)).copy()
        y = (np.arange(n) % 10).astype(np.uint8)
        for kind, arr in (("images-idx3-ubyte", x), ("labels-idx1-ubyte", y)):
            data = idx_bytes(arr)
            name = f"{prefix}-{kind}"
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_idx_files(tmp_path, gz):
    write_mnist(tmp_path / "m", gz=gz)
    ds = get_dataset("mnist", data_dir=str(tmp_path / "m"))
    assert ds.train_x.shape == (20, 1, 8, 8) and ds.test_x.shape == (10, 1, 8, 8)
    assert ds.train_x.dtype == np.uint8 and ds.train_y.dtype == np.int64
    assert (ds.train_x[13] == 13).all() and ds.train_y[13] == 3
    assert ds.num_classes == 10


def test_mnist_torchvision_layout_and_fashion_env_var(tmp_path, monkeypatch):
    write_mnist(tmp_path / "root" / "MNIST" / "raw")
    assert get_dataset("mnist", data_dir=str(tmp_path / "root")).train_x.shape == (20, 1, 8, 8)
    write_mnist(tmp_path / "fm", n_train=30)
    monkeypatch.setenv("GANBENCH_FASHION_MNIST_DIR", str(tmp_path / "fm"))
    ds = get_dataset("fashion-mnist")  # the env var comes before the Debian location
    assert len(ds.train_x) == 30 and ds.source == str(tmp_path / "fm")


def test_read_idx_other_dtype_and_errors(tmp_path):
    p = tmp_path / "ints-idx2"
    arr = np.arange(12, dtype=">i4").reshape(3, 4)
    p.write_bytes(idx_bytes(arr))
    got = read_idx(p)
    assert got.tolist() == arr.tolist() and got.dtype.byteorder in ("=", "|", "<")
    good = idx_bytes(np.zeros((5, 4, 4), np.uint8))
    p.write_bytes(good[:-3])
    with pytest.raises(GanbenchError) as e:
        read_idx(p)
    one_line_error(e, str(p), "truncated IDX file")
    p.write_bytes(b"\x08\x03\x00\x00" + good[4:])
    with pytest.raises(GanbenchError) as e:
        read_idx(p)
    one_line_error(e, "bad magic number")
    p.write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(GanbenchError) as e:
        read_idx(p)
    one_line_error(e, str(p), "cannot read")


def test_mnist_label_count_mismatch_is_an_error(tmp_path):
    folder = write_mnist(tmp_path / "m", gz=False)
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(19, np.uint8)))
    with pytest.raises(GanbenchError) as e:
        get_dataset("mnist", data_dir=str(folder))
    one_line_error(e, "train-labels-idx1-ubyte", "expected 20 labels")


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_debian_package():
    ds = get_dataset("fashion-mnist")
    assert ds.source == str(DEBIAN_FASHION)
    assert ds.train_x.shape == (60000, 1, 28, 28) and ds.test_x.shape == (10000, 1, 28, 28)
    assert ds.train_x.dtype == np.uint8
    assert np.bincount(ds.train_y).tolist() == [6000] * 10
    assert np.bincount(ds.test_y).tolist() == [1000] * 10


# ---------------------------------------------------------------- Stacked MNIST --------------------------------


def test_stacked_mnist_is_deterministic_with_three_digit_labels(tmp_path):
    write_mnist(tmp_path / "m", n_train=50, n_test=20)
    a = stacked_mnist(str(tmp_path / "m"), n_train=300, n_test=40, seed=0)
    b = stacked_mnist(str(tmp_path / "m"), n_train=300, n_test=40, seed=0)
    c = stacked_mnist(str(tmp_path / "m"), n_train=300, n_test=40, seed=1)
    assert a.train_x.shape == (300, 3, 8, 8) and a.test_x.shape == (40, 3, 8, 8) and a.num_classes == 1000
    assert np.array_equal(a.train_x, b.train_x) and np.array_equal(a.train_y, b.train_y)
    assert a.identity() == b.identity() != c.identity()
    assert "n=300/40:seed=0" in a.identity()
    assert not np.array_equal(a.train_x, c.train_x)
    for x, y in ((a.train_x, a.train_y), (a.test_x, a.test_y)):
        digits = x[:, :, 0, 0].astype(np.int64) % 10  # each source image's pixels equal its index k; label k % 10
        assert np.array_equal(y, 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2])
        assert y.min() >= 0 and y.max() <= 999
    assert a.test_x[:, :, 0, 0].max() < 20  # the test split is drawn from the test images only
    assert len(np.unique(a.train_y)) > 100


def test_stacked_registered_defaults(tmp_path):
    write_mnist(tmp_path / "m", n_train=30, n_test=10, size=4)
    ds = get_dataset("stacked-mnist", data_dir=str(tmp_path / "m"))
    assert ds.train_x.shape == (60000, 3, 4, 4) and ds.test_x.shape == (10000, 3, 4, 4)
    assert "n=60000/10000:seed=0" in ds.identity()


# ---------------------------------------------------------------- digits ---------------------------------------


def test_digits_and_digits32():
    d = get_dataset("digits")
    assert d.shape == (1, 8, 8) and len(d.train_x) == 1497 and len(d.test_x) == 300
    assert d.train_x.max() == 255 and d.train_x.min() == 0 and d.num_classes == 10
    assert np.array_equal(get_dataset("digits").test_y, d.test_y)  # fixed split
    d32 = get_dataset("digits32")
    assert d32.shape == (1, 32, 32) and len(d32.train_x) == 1497
    assert np.array_equal(d32.train_y, d.train_y)


# ---------------------------------------------------------------- folder / zip / npz ---------------------------


def save(path: Path, arr: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def rgb(v: int, size=(6, 5)) -> np.ndarray:
    return np.full((*size, 3), v, np.uint8)


def test_folder_recursive_rgb_and_nonimage_files_skipped(tmp_path):
    save(tmp_path / "f" / "b.png", rgb(10))
    save(tmp_path / "f" / "sub" / "c.BMP", rgb(20))
    save(tmp_path / "f" / "a.webp", rgb(30), lossless=True)
    (tmp_path / "f" / "notes.txt").write_text("hello")
    with pytest.warns(UserWarning, match="skipped 1 non-image file"):
        x = load_image_folder(tmp_path / "f")
    assert x.shape == (3, 3, 6, 5) and x.dtype == np.uint8
    assert x[:, 0, 0, 0].tolist() == [30, 10, 20]  # sorted by path: a.webp, b.png, sub/c.BMP


def test_folder_grayscale_kept_and_mixed_converted(tmp_path):
    save(tmp_path / "g" / "a.png", np.full((4, 4), 7, np.uint8))
    save(tmp_path / "g" / "b.jpg", np.full((4, 4), 200, np.uint8), quality=100)
    assert load_image_folder(tmp_path / "g").shape == (2, 1, 4, 4)
    save(tmp_path / "g" / "c.png", rgb(1, (4, 4)))
    x = load_image_folder(tmp_path / "g")
    assert x.shape == (3, 3, 4, 4) and (x[0] == 7).all()


def test_folder_bad_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanbenchError) as e:
        load_image_folder(tmp_path / "empty")
    one_line_error(e, str(tmp_path / "empty"), "no images")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.csv").write_text("1,2")
    with pytest.warns(UserWarning), pytest.raises(GanbenchError, match="no images"):
        load_image_folder(tmp_path / "text")
    save(tmp_path / "mixed" / "a.png", rgb(1, (8, 8)))
    save(tmp_path / "mixed" / "b.png", rgb(1, (16, 12)))
    with pytest.raises(GanbenchError) as e:
        load_image_folder(tmp_path / "mixed")
    one_line_error(e, "mixed image sizes", "8x8", "12x16", "a.png", "b.png")
    assert load_image_folder(tmp_path / "mixed", resize=(10, 9)).shape == (2, 3, 10, 9)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "x.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(GanbenchError) as e:
        load_image_folder(tmp_path / "corrupt")
    one_line_error(e, "x.png", "cannot read image")
    save(tmp_path / "deep" / "x.png", np.full((4, 4), 40000, np.uint16))
    with pytest.raises(GanbenchError, match="16-bit or float"):
        load_image_folder(tmp_path / "deep")
    with pytest.raises(DataNotFoundError):
        load_image_folder(tmp_path / "absent")


def test_zip_of_images(tmp_path):
    save(tmp_path / "src" / "1.png", rgb(5))
    save(tmp_path / "src" / "2.png", rgb(6))
    z = tmp_path / "s.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(tmp_path / "src" / "2.png", "imgs/2.png")
        zf.write(tmp_path / "src" / "1.png", "imgs/1.png")
        zf.writestr("README", "x")
    with pytest.warns(UserWarning, match="skipped 1"):
        x = load_image_zip(z)
    assert x.shape == (2, 3, 6, 5) and x[:, 0, 0, 0].tolist() == [5, 6]
    z.write_bytes(z.read_bytes()[:40])
    with pytest.raises(GanbenchError) as e:
        load_image_zip(z)
    one_line_error(e, str(z), "zip")


def test_npz_layouts_keys_and_labels(tmp_path):
    nhwc = np.random.default_rng(0).integers(0, 256, (4, 5, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=nhwc, y=np.arange(4))
    x, y = load_image_array(tmp_path / "a.npz")
    assert x.shape == (4, 3, 5, 6) and np.array_equal(x, nhwc.transpose(0, 3, 1, 2)) and y.tolist() == [0, 1, 2, 3]
    np.savez(tmp_path / "b.npz", images=nhwc.transpose(0, 3, 1, 2), labels=np.arange(4))
    assert np.array_equal(load_image_array(tmp_path / "b.npz")[0], x)
    np.savez(tmp_path / "c.npz", nhwc)  # arr_0
    assert load_image_array(tmp_path / "c.npz")[1] is None
    np.savez(tmp_path / "d.npz", samples=nhwc[..., :1])  # the only array, whatever its name
    assert load_image_array(tmp_path / "d.npz")[0].shape == (4, 1, 5, 6)
    np.save(tmp_path / "e.npy", nhwc[..., 0])  # N,H,W grayscale
    assert load_image_array(tmp_path / "e.npy")[0].shape == (4, 1, 5, 6)
    np.save(tmp_path / "f.npy", nhwc.astype(np.float32))  # integral floats in 0..255 are accepted
    assert np.array_equal(load_image_array(tmp_path / "f.npy")[0], x)
    ds = get_dataset(f"npz:{tmp_path / 'a.npz'}")
    assert ds.shape == (3, 5, 6) and ds.num_classes == 4
    assert np.array_equal(load_images(tmp_path / "a.npz"), x)


@pytest.mark.parametrize("arr, problem", [
    (np.full((2, 4, 4, 3), 0.5, np.float32), "not 0..255 integers"),
    (np.full((2, 4, 4, 3), -1.0, np.float32), "not 0..255 integers"),
    (np.full((2, 4, 4, 3), np.nan, np.float32), "NaN"),
    (np.zeros((2, 4, 4, 5), np.uint8), "1 or 3 channels"),
    (np.zeros((2, 5, 4, 4), np.uint8), "1 or 3 channels"),
    (np.zeros((2, 16), np.uint8), "ndim 2"),
    (np.zeros((1, 2, 3, 4, 4), np.uint8), "ndim 5"),
    (np.zeros((0, 3, 4, 4), np.uint8), "empty"),
    (np.full((2, 4, 4), 300, np.int32), "not 0..255 integers"),
    (np.zeros((32, 32, 3), np.uint8), "one H,W,C image"),
])
def test_npz_bad_arrays(tmp_path, arr, problem):
    p = tmp_path / "bad.npz"
    np.savez(p, x=arr)
    with pytest.raises(GanbenchError) as e:
        load_image_array(p)
    one_line_error(e, str(p), problem)


def test_npz_bad_files(tmp_path):
    p = tmp_path / "t.npz"
    np.savez(p, x=np.zeros((50, 3, 8, 8), np.uint8))
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(GanbenchError) as e:
        load_image_array(p)
    one_line_error(e, str(p), "truncated")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(GanbenchError) as e:
        load_image_array(tmp_path / "o.npy")
    one_line_error(e, "o.npy")
    np.savez(tmp_path / "k.npz", foo=np.zeros((2, 3, 4, 4), np.uint8), bar=np.zeros(2))
    with pytest.raises(GanbenchError, match="cannot tell which array"):
        load_image_array(tmp_path / "k.npz")
    np.savez(tmp_path / "l.npz", x=np.zeros((2, 3, 4, 4), np.uint8), y=np.zeros(3, np.int64))
    with pytest.raises(GanbenchError, match="labels must be 2 non-negative integers"):
        load_image_array(tmp_path / "l.npz")
    with pytest.raises(DataNotFoundError):
        load_image_array(tmp_path / "absent.npz")


def test_load_images_dispatch(tmp_path):
    save(tmp_path / "dir" / "a.png", rgb(3))
    assert load_images(tmp_path / "dir").shape == (1, 3, 6, 5)
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        zf.write(tmp_path / "dir" / "a.png", "a.png")
    assert load_images(tmp_path / "s.zip").shape == (1, 3, 6, 5)
    (tmp_path / "x.txt").write_text("no")
    with pytest.raises(GanbenchError, match="not an image set"):
        load_images(tmp_path / "x.txt")
    with pytest.raises(DataNotFoundError):
        load_images(tmp_path / "nothing")
    ds = get_dataset(f"folder:{tmp_path / 'dir'}")
    assert ds.shape == (3, 6, 5) and ds.num_classes == 0
    assert get_dataset(f"zip:{tmp_path / 's.zip'}").shape == (3, 6, 5)
    with pytest.raises(GanbenchError, match="folder:PATH"):
        get_dataset("folder")


@pytest.mark.parametrize("shape, want", [
    ((2, 1, 3, 3), (2, 1, 3, 3)),  # both readings fit: channels-first, square
    ((2, 3, 3, 1), (2, 1, 3, 3)),  # only channels-last is square
    ((2, 28, 28, 1), (2, 1, 28, 28)),
    ((2, 3, 32, 32), (2, 3, 32, 32)),
])
def test_to_uint8_nchw_layouts(shape, want):
    x = np.arange(np.prod(shape)).reshape(shape).astype(np.uint8)
    got = to_uint8_nchw(x)
    assert got.shape == want and got.dtype == np.uint8 and got.flags.c_contiguous
