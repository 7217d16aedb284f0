"""`ganbench run` on the real Fashion-MNIST (Debian dataset-fashion-mnist): image metrics with the
extractor named in every record, memorisation record and nn_grid.png, report.html; and a stacked
Fashion-MNIST run whose records carry the 1000-mode coverage and the classifier's accuracy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ganbench.records import read_records

CMD = [sys.executable, "-m", "ganbench.cli"]
FASHION = Path("/usr/share/datasets/fashion-mnist")

pytestmark = pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
                                reason=f"Fashion-MNIST not installed at {FASHION} (Debian dataset-fashion-mnist)")


def _run(args: list[str], out: Path) -> list:
    r = subprocess.run(CMD + ["run", *args, "--data-dir", str(FASHION), "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return read_records([out / "records.jsonl"])


def test_run_dcgan_wgan_gp_on_fashion_mnist_smoke(tmp_path):
    out = tmp_path / "run"
    recs = _run(["--models", "dcgan,wgan-gp", "--dataset", "fashion-mnist", "--budget", "smoke", "--seeds", "0"], out)
    for model in ("dcgan", "wgan-gp"):
        mine = [r for r in recs if r.model == model]
        evals = [r for r in mine if "fid" in r.metrics]
        memo = [r for r in mine if "copy_share" in r.metrics]
        assert evals and len(memo) == 1, [r.metrics for r in mine]
        for r in evals:
            assert {"fid", "precision", "recall"} <= set(r.metrics)
            # smoke budget: Inception features, named (with weights hash and mode) in the protocol
            assert r.protocol["extractor"].startswith("inception-tf[") and r.protocol["mode"] == "legacy-tf"
        m = memo[0]
        assert m.kind == "train-eval" and m.step == max(r.step for r in evals)
        assert 0.0 <= m.metrics["copy_share"] <= 1.0 and m.metrics["nn_dist_median"] > 0
        from ganbench.config import load_recipe

        smoke = load_recipe(model).budget("smoke", "image")
        assert m.protocol["n_train"] == smoke.memo_n_train and m.protocol["heldout_split"] == "test"
        assert m.protocol["ct_space"] == "pixels" and "copy_rule" in m.protocol
        assert (out / model / "fashion-mnist" / "seed0" / "nn_grid.png").stat().st_size > 0
    assert (out / "report.html").is_file()


def test_run_stacked_fashion_mnist_records_modes(tmp_path):
    out = tmp_path / "run"
    recs = _run(["--models", "dcgan", "--dataset", "stacked-fashion-mnist", "--budget", "smoke", "--seeds", "0",
                 "--steps", "2", "--features", "domain", "--bootstrap", "0"], out)
    evals = [r for r in recs if "fid" in r.metrics]
    assert [r.step for r in evals] == [2]
    r = evals[0]
    assert 0 <= r.metrics["modes"] <= 1000 and r.metrics["modes"] == int(r.metrics["modes"])
    assert 0.5 < r.metrics["classifier_accuracy"] <= 1.0
    assert r.metrics["classifier_accuracy"] == pytest.approx(r.protocol["classifier_test_accuracy"], abs=1e-6)
    assert r.protocol["extractor"].startswith("domain-cnn[fashion-mnist:") and "stacked_modes" in r.protocol["metrics"]
    assert r.protocol["bootstrap"] == 0
    memo = [x for x in recs if "copy_share" in x.metrics]
    assert len(memo) == 1 and memo[0].protocol["ct_space"] == "features"
    assert "copy_share_features" in memo[0].metrics
