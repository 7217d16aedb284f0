"""Reliability corpus, part 1: hostile inputs to `ganbench eval` and the files it reads and writes.

Each case asserts the exit code, at most 2 stderr lines, no traceback, nothing earlier lost and
no wrong number written (see _harness.judge). Runs in-process with a cheap pixel extractor.
"""

from __future__ import annotations

import os
import pickle
import sys
import zipfile

import numpy as np
import pytest
from _harness import EXT, images, judge, run_cli, save_pngs
from PIL import Image

from ganbench.records import read_records

# --------------------------------------------------------------------------------------------
# Sample sets: each builder returns the path of a bad (or borderline) generated set.


def _png_folder(d, n=8):
    return save_pngs(images(n, 1), d / "gen")


def unreadable_subfolder(d, monkeypatch):
    gen = _png_folder(d)
    save_pngs(images(8, 2), gen / "locked")
    real = os.scandir

    def scandir(path="."):  # chmod 000 does not stop root: refuse the folder as the kernel would
        if str(path).rstrip("/").endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return gen


def dangling_link(d, monkeypatch):
    gen = _png_folder(d)
    os.symlink(d / "nowhere.png", gen / "zz.png")
    return gen


def text_as_png(d, monkeypatch):
    gen = _png_folder(d)
    (gen / "zz.png").write_text("not a png")
    return gen


def truncated_png(d, monkeypatch):
    gen = _png_folder(d)
    data = (gen / "000.png").read_bytes()
    (gen / "zz.png").write_bytes(data[: len(data) // 2])
    return gen


def huge_dimensions_png(d, monkeypatch):
    gen = d / "gen"
    gen.mkdir()
    Image.new("1", (4200, 4200)).save(gen / "big.png")  # a few KB on disk, 17.6 M pixels
    return gen


def zip_member_over_limit(d, monkeypatch):
    monkeypatch.setattr("ganbench.data.images.MAX_MEMBER_BYTES", 1 << 20, raising=False)
    with zipfile.ZipFile(d / "gen.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.png", b"\0" * (3 << 20))  # 3 MiB of zeros: a few KB compressed
    return d / "gen.zip"


def corrupt_zip(d, monkeypatch):
    (d / "gen.zip").write_bytes(b"PK\x03\x04 not really a zip")
    return d / "gen.zip"


def zip_without_images(d, monkeypatch):
    with zipfile.ZipFile(d / "gen.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    return d / "gen.zip"


def _npz(d, x, name="gen.npz"):
    np.savez(d / name, x=x)
    return d / name


def float_zero_one(d, monkeypatch):
    return _npz(d, (images(8, 1) > 128).astype(np.float32))


def float_unit_scale(d, monkeypatch):
    return _npz(d, images(8, 1).astype(np.float32) / 255)


def float_signed_scale(d, monkeypatch):
    return _npz(d, images(8, 1).astype(np.float32) / 127.5 - 1)


def bool_array(d, monkeypatch):
    return _npz(d, images(8, 1) > 128)


def float_with_nan(d, monkeypatch):
    x = images(8, 1).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    return _npz(d, x)


def truncated_npz(d, monkeypatch):
    p = _npz(d, images(8, 1))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def object_array_npz(d, monkeypatch):
    np.savez(d / "gen.npz", x=np.array([{"a": 1}] * 8, dtype=object))
    return d / "gen.npz"


def empty_array(d, monkeypatch):
    return _npz(d, np.zeros((0, 3, 16, 16), np.uint8))


def five_channels(d, monkeypatch):
    return _npz(d, np.zeros((8, 5, 16, 16), np.uint8))


def ambiguous_keys(d, monkeypatch):
    np.savez(d / "gen.npz", a=images(8, 1), b=images(8, 2))
    return d / "gen.npz"


def one_image_shape(d, monkeypatch):
    return _npz(d, images(1, 1)[0].transpose(1, 2, 0))  # H,W,C without the batch axis


def values_over_255(d, monkeypatch):
    return _npz(d, images(8, 1).astype(np.int32) * 2)


def text_file_target(d, monkeypatch):
    (d / "gen.txt").write_text("hello")
    return d / "gen.txt"


def missing_target(d, monkeypatch):
    return d / "nowhere.npz"


def malicious_pickle(d, monkeypatch):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {d / 'PWNED'}",))

    (d / "gen.pt").write_bytes(pickle.dumps(Evil()))
    return d / "gen.pt"


BAD_SETS = [
    (unreadable_subfolder, "cannot read folder"),
    (dangling_link, "cannot read image"),
    (text_as_png, "cannot read image"),
    (truncated_png, "cannot read image"),
    (huge_dimensions_png, "over the limit"),
    (zip_member_over_limit, "over the limit"),
    (corrupt_zip, "zip"),
    (zip_without_images, "no images"),
    (float_zero_one, "ambiguous"),
    (float_unit_scale, "not 0..255 integers"),
    (float_signed_scale, "not 0..255 integers"),
    (bool_array, "ambiguous"),
    (float_with_nan, "NaN"),
    (truncated_npz, "truncated"),
    (object_array_npz, "cannot read array file"),
    (empty_array, "empty"),
    (five_channels, "1 or 3 channels"),
    (ambiguous_keys, "which array holds the images"),
    (one_image_shape, "batch axis"),
    (values_over_255, "not 0..255 integers"),
    (text_file_target, "not"),
    (missing_target, "no such file"),
    (malicious_pickle, "not a safe checkpoint"),
]


@pytest.mark.parametrize("make,needle", BAD_SETS, ids=[m.__name__ for m, _ in BAD_SETS])
def test_bad_generated_set_is_refused(make, needle, tmp_path, capsys, monkeypatch):
    ref = save_pngs(images(8, 5), tmp_path / "ref")
    target = make(tmp_path, monkeypatch)
    json_out = tmp_path / "rec.json"
    res = run_cli(capsys, "eval", target, "--ref", ref, "--features", EXT, "-q", "--bootstrap", 0,
                  "--json", json_out)
    judge(res, 2, needle)
    assert not json_out.exists()  # no number written for a set that was not read whole
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("make,needle", BAD_SETS[:8], ids=[m.__name__ for m, _ in BAD_SETS[:8]])
def test_bad_reference_set_is_refused(make, needle, tmp_path, capsys, monkeypatch):
    gen = save_pngs(images(8, 5), tmp_path / "good")
    ref = make(tmp_path, monkeypatch)
    judge(run_cli(capsys, "eval", gen, "--ref", ref, "--features", EXT, "-q", "--bootstrap", 0), 2, needle)


def test_integral_floats_say_how_they_were_read(tmp_path, capsys):
    ref = save_pngs(images(8, 5), tmp_path / "ref")
    x = images(8, 1)
    np.savez(tmp_path / "u8.npz", x=x)
    np.savez(tmp_path / "f.npz", x=x.astype(np.float64))
    res = run_cli(capsys, "eval", tmp_path / "f.npz", "--ref", ref, "--features", EXT, "-q", "--bootstrap", 0,
                  "--json", tmp_path / "f.json")
    lines = judge(res, 0, "as 0..255 pixel values")
    assert any("warning" in ln for ln in lines)
    judge(run_cli(capsys, "eval", tmp_path / "u8.npz", "--ref", ref, "--features", EXT, "-q", "--bootstrap", 0,
                  "--json", tmp_path / "u8.json"), 0)
    (a,), (b,) = read_records([tmp_path / "f.json"]), read_records([tmp_path / "u8.json"])
    assert a.metrics == b.metrics  # the same pixels, the same numbers


# --------------------------------------------------------------------------------------------
# Output paths are checked before any computation; JSONL appends never glue onto a torn line.


def _file_in_the_way(d):
    (d / "afile").write_text("x")
    return d / "afile" / "out.json"


@pytest.mark.parametrize("flag", ["--json", "--save-samples"])
@pytest.mark.parametrize("where", ["parent_is_file", "is_a_folder", "under_proc"])
def test_unwritable_output_fails_before_work(flag, where, tmp_path, capsys, monkeypatch):
    ref = save_pngs(images(8, 5), tmp_path / "ref")
    np.savez(tmp_path / "gen.npz", x=images(8, 1))
    target = {"parent_is_file": lambda: _file_in_the_way(tmp_path),
              "is_a_folder": lambda: tmp_path,
              "under_proc": lambda: "/proc/ganbench-test/out.npz"}[where]()
    computed = []
    import ganbench.evaluation.engine as ev

    real = ev.compute_image_metrics
    monkeypatch.setattr(ev, "compute_image_metrics", lambda *a, **k: computed.append(1) or real(*a, **k))
    res = run_cli(capsys, "eval", tmp_path / "gen.npz", "--ref", ref, "--features", EXT, "-q", "--bootstrap", 0,
                  flag, target)
    judge(res, 2, flag)
    assert not computed  # refused before the metrics were computed


def test_jsonl_with_torn_last_line_is_not_glued(tmp_path, capsys):
    ref = save_pngs(images(8, 5), tmp_path / "ref")
    np.savez(tmp_path / "gen.npz", x=images(8, 1))
    log = tmp_path / "log.jsonl"
    args = ("eval", tmp_path / "gen.npz", "--ref", ref, "--features", EXT, "-q", "--bootstrap", 0, "--json", log)
    judge(run_cli(capsys, *args), 0)
    good = log.read_bytes()
    log.write_bytes(good + good[:40])  # an interrupted append
    before = log.read_bytes()
    judge(run_cli(capsys, *args), 2, "line 2")
    assert log.read_bytes() == before


def test_jsonl_append_keeps_earlier_records(tmp_path, capsys):
    ref = save_pngs(images(8, 5), tmp_path / "ref")
    np.savez(tmp_path / "gen.npz", x=images(8, 1))
    log = tmp_path / "log.jsonl"
    base = ("eval", tmp_path / "gen.npz", "--ref", ref, "--features", EXT, "-q", "--json", log)
    judge(run_cli(capsys, *base, "--bootstrap", 0), 0)
    first = log.read_text()
    judge(run_cli(capsys, *base, "--bootstrap", 2), 0)
    text = log.read_text()
    assert text.startswith(first) and len(text.splitlines()) == 2


# --------------------------------------------------------------------------------------------
# Options checked before work.

BAD_OPTIONS = [
    (["-n", "1"], "-n"),
    (["--n-real", "1"], "--n-real"),
    (["--batch-size", "0"], "--batch-size"),
    (["--bootstrap", "1"], "--bootstrap"),
    (["--bootstrap", "-3"], "--bootstrap"),
    (["--metrics", "fid,kdi"], "did you mean"),
    (["--metrics", ""], None),
    (["--features", "incpetion"], "did you mean"),
    (["--output-range", "0,2"], "--output-range"),
    (["--arch-opt", "width"], "KEY=VALUE"),
    (["--ref", "cifar1O"], "did you mean"),
    (["--ref", "nowhere/ref.npz"], "no such file"),
    (["--mode", "bicubic"], "bicubic"),
]


@pytest.mark.parametrize("args,needle", BAD_OPTIONS, ids=[" ".join(a) or "empty" for a, _ in BAD_OPTIONS])
def test_bad_eval_option(args, needle, tmp_path, capsys):
    ref = save_pngs(images(8, 5), tmp_path / "ref")
    np.savez(tmp_path / "gen.npz", x=images(8, 1))
    refs = [] if "--ref" in args else ["--ref", ref]
    judge(run_cli(capsys, "eval", tmp_path / "gen.npz", *refs, "--features", EXT, "-q", *args), 2, needle)


# --------------------------------------------------------------------------------------------
# Entry-point generators: stated or detected output range, memory, failures.

GEN_MODULE = '''
import torch
from torch import nn


class G(nn.Module):
    z_dim = {z}
    num_classes = 0

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear({z}, 3 * 16 * 16)

    def forward(self, z):
        x = self.lin(z).view(-1, 3, 16, 16)
        return {expr}


def make():
    torch.manual_seed(0)
    return G()


def broken():
    raise RuntimeError("cannot build")
'''


def _entry(tmp_path, monkeypatch, name, expr, z=8):
    (tmp_path / f"{name}.py").write_text(GEN_MODULE.format(z=z, expr=expr))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return f"{name}:make"


ENTRY_CASES = [
    ("gen01", "torch.sigmoid(x)", [], 2, "--output-range"),
    ("gen01s", "torch.sigmoid(x)", ["--output-range", "0,1"], 0, None),
    ("gen01c", "torch.sigmoid(x)", ["--output-range", "-1,1"], 0, None),
    ("gen11", "torch.tanh(x)", [], 0, None),
    ("gen255", "torch.sigmoid(x) * 255", [], 2, "--output-range"),
    ("gennan", "x * float('nan')", [], 2, "NaN"),
    ("genbig", "torch.tanh(x)", ["-n", "2000000000"], 2, "memory"),
    ("genz", "torch.tanh(x)", ["--z-dim", "5"], 2, "--z-dim"),
]


@pytest.mark.parametrize("name,expr,args,code,needle", ENTRY_CASES, ids=[c[0] for c in ENTRY_CASES])
def test_entry_point_generator(name, expr, args, code, needle, tmp_path, capsys, monkeypatch):
    ref = save_pngs(images(8, 5), tmp_path / "ref")
    spec = _entry(tmp_path, monkeypatch, name, expr, z=64 if name == "genbig" else 8)
    n = [] if "-n" in args else ["-n", "16"]
    res = run_cli(capsys, "eval", spec, "--ref", ref, "--features", EXT, "-q", "--bootstrap", 0, *n, *args,
                  "--json", tmp_path / "r.json")
    judge(res, code, needle)
    assert (tmp_path / "r.json").exists() == (code == 0)


def test_entry_point_factory_that_raises(tmp_path, capsys, monkeypatch):
    ref = save_pngs(images(8, 5), tmp_path / "ref")
    spec = _entry(tmp_path, monkeypatch, "genraise", "x").replace(":make", ":broken")
    judge(run_cli(capsys, "eval", spec, "--ref", ref, "--features", EXT, "-q"), 2, "cannot build")


def test_state_dict_without_arch(tmp_path, capsys):
    import torch

    ref = save_pngs(images(8, 5), tmp_path / "ref")
    torch.save({"w": torch.zeros(3)}, tmp_path / "g.pt")
    judge(run_cli(capsys, "eval", tmp_path / "g.pt", "--ref", ref, "--features", EXT, "-q"), 2, "--arch")


# --------------------------------------------------------------------------------------------
# Verified caches and weights.


def _digits_eval(capsys, tmp_path, name):
    np.save(tmp_path / "s.npy", images(20, 3, 32)[:, :1])
    res = run_cli(capsys, "eval", tmp_path / "s.npy", "--ref", "digits32", "--features", EXT, "-q",
                  "--n-real", 40, "--bootstrap", 0, "--json", tmp_path / name)
    return res


def _cache_files():
    from ganbench.io import cache_root

    return sorted((cache_root() / "features").glob("*.npz"))


@pytest.mark.parametrize("tamper", ["other_features", "garbage", "other_key"])
def test_tampered_feature_cache_is_rebuilt(tamper, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    judge(_digits_eval(capsys, tmp_path, "a.json"), 0)
    (entry,) = _cache_files()
    if tamper == "garbage":
        entry.write_bytes(b"garbage")
    else:
        with np.load(entry) as z:
            data = {k: z[k] for k in z.files}
        if tamper == "other_features":  # a valid npz under the right key, holding other numbers
            data = {k: (v + 1.0 if v.dtype.kind == "f" else v) for k, v in data.items()}
        else:
            data = {k: v for k, v in data.items() if not k.startswith("__")}
        np.savez(entry, **data)
    lines = judge(_digits_eval(capsys, tmp_path, "b.json"), 0)
    assert sum("warning" in ln for ln in lines) == 1
    (a,), (b,) = read_records([tmp_path / "a.json"]), read_records([tmp_path / "b.json"])
    assert a.metrics == b.metrics  # no wrong number from the tampered entry


def test_weights_hash_is_not_fooled_by_size_and_mtime(tmp_path, monkeypatch):
    from ganbench.io import sha256_file as file_sha256

    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "weights.pth"
    f.write_bytes(b"A" * 1000)
    assert file_sha256(f) == __import__("hashlib").sha256(b"A" * 1000).hexdigest()
    st = f.stat()
    f.write_bytes(b"B" * 1000)  # same name and size; the timestamp put back
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert file_sha256(f) == __import__("hashlib").sha256(b"B" * 1000).hexdigest()
