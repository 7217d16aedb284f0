"""`ganbench.evaluate`: the README's example runs as written, and the API's contract."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganbench.errors import GanbenchError
from ganbench.features.base import FeatureExtractor

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    m = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert m, "README lost its API example"
    return m.group(1)


@pytest.mark.slow
def test_readme_example_runs(fmnist, tmp_path):
    out = subprocess.run([sys.executable, "-c", readme_example()], capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    fid, lo, hi = (float(v) for v in re.findall(r"[-\d.e+]+", lines[-2])[:3])
    assert fid > 0 and lo <= hi
    assert re.match(r"^fid\s", lines[0]) and "[" in lines[0]  # a value with its interval
    assert lines[-1].split()[1:] == ["100", "train"]


class Pixels(FeatureExtractor):
    name, weights_sha256, mode = "pixels-8x8", None, None

    def __init__(self) -> None:
        self.dims = {"pool3": 192}

    def __call__(self, x):
        x = torch.as_tensor(x).float()
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return {"pool3": F.adaptive_avg_pool2d(x / 255, 8).flatten(1)}


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 16, 16), dtype=np.uint8)


def test_evaluate_returns_values_intervals_and_protocol():
    import ganbench
    import ganbench.evaluation.engine  # (the engine loaded: ganbench.evaluate is still the API)

    r = ganbench.evaluate(_images(40, 0), _images(50, 1), metrics=["fd", "cdc", "vendi"], extractor=Pixels(),
                          n_boot=5)
    assert set(r.values) == {"fd", "clipped_density", "clipped_coverage", "vendi"}
    assert r["fd"] > 0 and 1 <= r["vendi"] <= 40
    assert r.protocol["extractor"] == "pixels-8x8" and r.protocol["n_gen"] == 40 and r.protocol["n_real"] == 50
    assert r.protocol["cdc_k"] == 5 and r.protocol["metrics"] == ["fd", "cdc", "vendi"]
    # Every two-sample number has its interval (vendi, generated set only, gets one with the
    # half-sample intervals that resample one set, as IS does).
    assert set(r.intervals) == set(r.values) - {"vendi"}
    assert all(lo <= hi for lo, hi in r.intervals.values())
    assert "fd" in str(r)


def test_evaluate_rejects_unknown_options_and_preset_conflicts():
    from ganbench.api import evaluate

    with pytest.raises(GanbenchError, match=r"unknown option.*n_sample"):
        evaluate(_images(4, 0), _images(4, 1), n_sample=3)
    with pytest.raises(GanbenchError):  # an unknown preset (or no presets at all): one line, no traceback
        evaluate(_images(4, 0), _images(4, 1), preset="no-such-preset")
