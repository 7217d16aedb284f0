"""`ganbench eval --preset P` runs the evaluations P's statistic is over: mimicry's fid50k_train is a
mean ± std over 3 evaluation seeds, EDM2's FD a minimum over 3 (ganbench/presets.py). Tested with
small presets of the same statistics on a test extractor (50k images do not fit a unit test)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganbench.config import RunConfig
from ganbench.presets import MEAN_EVAL, MIN_EVAL, PRESETS, Preset

from cli_fakes import (  # tests/ is on sys.path (rootdir conftest)
    register_pixel_extractor,
    run_cli,
)

EXT = register_pixel_extractor("test-pixels-preset-seeds", pool=4)


def _preset(name: str, statistic: str) -> str:
    if name not in PRESETS:
        PRESETS.register(name, Preset(name, ("fid",), 32, 32, "train", EXT, "legacy-tf", statistic, 3, "test only"))
    return name


MEAN3, MIN3 = _preset("test_mean3_train", MEAN_EVAL), _preset("test_min3_train", MIN_EVAL)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from ganbench.training.run import seed_loop

    cfg = RunConfig(model="dcgan", dataset="digits32", budget="smoke", out_dir=tmp_path_factory.mktemp("runs"),
                    progress=False, recipe_overrides={"arch": {"image": {"width": 8, "z_dim": 12}}})
    return seed_loop(cfg).save()[0]


def _eval(capsys, tmp_path, target, *args) -> dict:
    out = tmp_path / f"rec{len(list(tmp_path.glob('rec*')))}.jsonl"
    code, _, err = run_cli(capsys, "eval", target, "--ref", "digits32", *args, "--json", out, "-q")
    assert code == 0, err
    return json.loads(out.read_text().splitlines()[0])


def test_mean_over_three_evaluation_seeds(checkpoint, capsys, tmp_path):
    rec = _eval(capsys, tmp_path, checkpoint, "--preset", MEAN3, "--seed", "5")
    per = rec["protocol"]["per_eval_seed"]["fid"]
    assert rec["protocol"]["eval_seeds"] == [5, 6, 7] and len(set(per)) == 3  # three different samplings
    assert rec["metrics"]["fid"] == pytest.approx(np.mean(per), rel=1e-12)
    assert rec["metrics"]["fid_std"] == pytest.approx(np.std(per, ddof=1), rel=1e-12)
    assert "fid_ci_low" not in rec["metrics"] and "ci_level" not in rec["protocol"]  # one evaluation's interval
    assert rec["protocol"]["selection"] == "mean ± std over 3 evaluation seeds"
    assert rec["protocol"]["preset"] == MEAN3
    # each entry is the plain evaluation with that sampling seed
    one = _eval(capsys, tmp_path, checkpoint, "-n", 32, "--n-real", 32, "--metrics", "fid", "--features", EXT,
                "--seed", "6")
    assert one["metrics"]["fid"] == pytest.approx(per[1], rel=1e-12)
    assert one["protocol"]["selection"] == "single evaluation"


def test_minimum_over_three_evaluation_seeds(checkpoint, capsys, tmp_path):
    rec = _eval(capsys, tmp_path, checkpoint, "--preset", MIN3)
    per = rec["protocol"]["per_eval_seed"]["fid"]
    assert rec["metrics"]["fid"] == min(per) and len(set(per)) == 3
    assert rec["protocol"]["selection"] == "minimum over evaluation seeds by fid (of 3 evaluations)"


def test_a_sample_set_is_evaluated_once_and_says_so(capsys, tmp_path):
    x = np.random.default_rng(0).integers(0, 256, size=(32, 3, 32, 32), dtype=np.uint8)
    np.savez(tmp_path / "set.npz", x=x)
    rec = _eval(capsys, tmp_path, tmp_path / "set.npz", "--preset", MEAN3)
    assert "per_eval_seed" not in rec["protocol"] and "fid_ci_low" in rec["metrics"]
    assert "no sampling seed" in rec["protocol"]["selection_note"]
