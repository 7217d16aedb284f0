"""The HTML report renders in headless Chromium: tables and embedded images show, the page is not blank."""

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from ganbench.cli import main
from ganbench.records import ResultRecord, append_record

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if shutil.os.path.exists("/usr/bin/chromium") else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")

MAGENTA = (255, 0, 255)  # the stand-in nearest-neighbour grid: a colour nothing else on the page uses
BEST_CELL = (220, 241, 218)  # td.best background in ganbench/report/html.py (#dcf1da)
PROTO = {"n_gen": 256, "n_real": 256, "split": "test", "extractor": "inception-tf/legacy", "mode": "legacy_tensorflow"}


def make_eval_run(root):
    """What `ganbench eval` leaves: one final step per seed, uint8 samples, an nn_grid.png."""
    vals = {"dcgan": (40.0, 0.62, 0.31), "sngan": (30.0, 0.55, 0.52)}
    for model, (fid, p, r) in vals.items():
        for s in range(3):
            m = {"fid": fid + s, "fid_ci_low": fid + s - 1, "fid_ci_high": fid + s + 1.5, "precision": p + 0.01 * s,
                 "recall": r + 0.01 * s}
            append_record(root / "records.jsonl", ResultRecord(model, "fashion-mnist", s, 0, m,
                                                               {**PROTO, "sample_seed": 10_000 + s}, kind="eval"))
        d = root / model / "fashion-mnist" / "seed0"
        d.mkdir(parents=True)
        rng = np.random.default_rng(len(model))
        np.savez_compressed(d / "samples.npz", samples=rng.integers(0, 256, (32, 3, 28, 28), dtype=np.uint8))
    Image.new("RGB", (240, 120), MAGENTA).save(root / "dcgan" / "fashion-mnist" / "seed0" / "nn_grid.png")


def screenshot(html_path, png_path, profile):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={png_path}", "--window-size=1280,2000",
           f"file://{html_path}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert png_path.exists(), f"chromium wrote no screenshot (rc {r.returncode}): {r.stderr[-2000:]}"


def near(a: np.ndarray, colour, tol=6) -> np.ndarray:
    return (np.abs(a.astype(int) - np.array(colour)) <= tol).all(axis=-1)


def test_report_html_renders_tables_and_images_in_chromium(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    make_eval_run(run)
    with pytest.raises(SystemExit) as e:
        main(["report", str(run)])
        raise SystemExit(0)
    assert e.value.code == 0
    assert "fid ↓" in capsys.readouterr().out
    shot = tmp_path / "shot.png"
    screenshot(run / "report.html", shot, tmp_path / "profile")

    a = np.asarray(Image.open(shot).convert("RGB"))
    assert a.shape[:2] == (2000, 1280)
    # Not blank: many colours, a fair share of non-white pixels.
    colours = np.unique(a.reshape(-1, 3), axis=0)
    assert len(colours) > 500, len(colours)
    non_white = (a < 245).any(axis=-1).mean()
    assert non_white > 0.05, non_white
    # The results table rendered: its best cells carry their background colour.
    assert near(a, BEST_CELL, tol=3).sum() > 1000
    # Embedded images rendered: the magenta nn grid as a solid block of about its size ...
    mag = near(a, MAGENTA, tol=10)
    rows, cols = np.nonzero(mag.sum(axis=1) >= 200)[0], np.nonzero(mag.sum(axis=0) >= 100)[0]
    assert len(rows) and len(cols), mag.sum()
    assert 220 <= cols.max() - cols.min() + 1 <= 260 and 110 <= rows.max() - rows.min() + 1 <= 130
    assert mag[rows.min():rows.max() + 1, cols.min():cols.max() + 1].mean() > 0.95
    # ... and the sample grid of random colour images: a 64 x 64 block of saturated, varied pixels.
    sat = (a.max(axis=-1).astype(int) - a.min(axis=-1)) > 80
    h, w = (a.shape[0] // 64) * 64, (a.shape[1] // 64) * 64
    blocks = sat[:h, :w].reshape(h // 64, 64, w // 64, 64).mean(axis=(1, 3))
    assert (blocks > 0.5).sum() >= 4, blocks.max()
