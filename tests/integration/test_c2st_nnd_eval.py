"""c2st and nnd as metrics like any other: the Python API, `ganbench eval --metrics c2st,nnd`
(with --metric-opt), training-time evaluation where a budget names them, check and the tables; bad
input is a one-line error. The nnd budgets here are tiny (seconds): these tests check the plumbing,
tests/unit/test_nnd.py the definitions."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from ganbench.errors import GanbenchError
from ganbench.records import read_records

from cli_fakes import register_pixel_extractor, run_cli  # tests/ is on sys.path (rootdir conftest)

EXT = register_pixel_extractor("test-pixels-c2st")
TINY = {"iters": 6, "batch_size": 8, "eval_iters": 2, "dim": 4}


def _images(n: int, seed: int, size: int = 16, lo: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(lo, 256, (n, 1, size, size), dtype=np.uint8)


class Copier(torch.nn.Module):
    """A generator returning images of a fixed set (latent z picks one)."""

    num_classes = 0

    def __init__(self, images: np.ndarray) -> None:
        super().__init__()
        self.z_dim = 3
        self.images = torch.from_numpy(images).float() / 127.5 - 1.0

    def forward(self, z):
        return self.images[(torch.special.ndtr(z[:, 0]) * len(self.images)).long().clamp(0, len(self.images) - 1)]


def test_api_c2st_with_its_protocol_interval_and_options():
    import ganbench

    r = ganbench.evaluate(_images(60, 0), _images(80, 1, lo=60), metrics=["fd", "c2st"], extractor=EXT, n_boot=0)
    assert set(r.values) >= {"fd", "c2st_accuracy", "c2st_p"} and r["c2st_accuracy"] > 0.8 and r["c2st_p"] < 1e-4
    lo, hi = r.intervals["c2st_accuracy"]
    assert lo <= r["c2st_accuracy"] <= hi
    p = r.protocol
    assert (p["c2st_classifier"], p["c2st_test_fraction"], p["c2st_seed"], p["c2st_n_per_class"]) == \
        ("logistic", 0.5, 0, 60)
    assert "Clopper-Pearson" in p["c2st_interval"] and p["metrics"] == ["fd", "c2st"]
    r1 = ganbench.evaluate(_images(60, 0), _images(80, 1), metrics=["c2st"], extractor=EXT, n_boot=0,
                           metric_options={"c2st": {"classifier": "1nn", "test_fraction": 0.4}})
    assert r1.protocol["c2st_classifier"] == "1nn" and r1.protocol["c2st_test_fraction"] == 0.4
    with pytest.raises(GanbenchError, match=r"metric 'c2st' has no option\(s\) k; its options: classifier"):
        ganbench.evaluate(_images(60, 0), _images(60, 1), metrics=["c2st"], extractor=EXT,
                          metric_options={"c2st": {"k": 3}})
    with pytest.raises(GanbenchError, match="unknown c2st classifier 'svm'"):
        ganbench.evaluate(_images(60, 0), _images(60, 1), metrics=["c2st"], extractor=EXT,
                          metric_options={"c2st": {"classifier": "svm"}})
    with pytest.raises(GanbenchError, match="options given for metric 'nnd', which is not among"):
        ganbench.evaluate(_images(60, 0), _images(60, 1), metrics=["c2st"], extractor=EXT,
                          metric_options={"nnd": {"budget": "paper"}})


def test_api_nnd_alone_builds_no_extractor_and_says_where_its_images_came_from():
    import ganbench

    r = ganbench.evaluate(_images(40, 0), _images(40, 1), metrics=["nnd"], metric_options={"nnd": TINY})
    assert set(r.values) == {"nnd", "nnd_train"} and np.isfinite(r["nnd"])
    p = r.protocol
    assert "extractor" not in p and p["metrics"] == ["nnd"] and p["ref"] == "array"
    assert (p["nnd_iters"], p["nnd_batch_size"], p["nnd_eval_iters"], p["nnd_width"]) == (6, 8, 2, 4)
    assert p["nnd_budget"] == "cpu" and p["nnd_protocol"].startswith("custom (iters 6, batch_size 8")
    assert "not the paper's" in p["nnd_protocol"]
    assert p["nnd_real"] == "the reference image set in two seeded halves of 20 and 20"
    assert p["nnd_generated"].startswith("an image set of 40 in two seeded halves")


def test_nnd_on_a_dataset_trains_on_one_split_and_scores_on_the_other():
    import ganbench
    from ganbench.data.base import ImageDataset

    ds = ImageDataset("toy", _images(50, 0), test_x=_images(30, 1))
    r = ganbench.evaluate(Copier(_images(12, 2)), ds, metrics=["fd", "nnd"], extractor=EXT, n=20, n_boot=0,
                          metric_options={"nnd": TINY})
    p = r.protocol
    assert p["nnd_real"] == "critic on toy train (50), held out: test (30)" and p["nnd_critic_split"] == "train"
    assert p["nnd_generated"].startswith("a generator: fresh latents") and p["metrics"] == ["fd", "nnd"]
    assert p["extractor"] == EXT and "fd" in r.values and "nnd" in r.values
    r2 = ganbench.evaluate(Copier(_images(12, 2)), ds, metrics=["nnd"],
                           metric_options={"nnd": {**TINY, "critic_split": "test", "eval_split": "test"}})
    assert r2.protocol["nnd_real"] == "toy test split in two seeded halves of 15 and 15"
    no_test = ImageDataset("toy2", _images(50, 0))
    with pytest.raises(GanbenchError, match=r"nnd needs its critic's and its held-out real images: .*no test split"):
        ganbench.evaluate(_images(40, 3), no_test, metrics=["nnd"], metric_options={"nnd": TINY})


def test_nnd_refuses_what_it_cannot_use(tmp_path):
    import ganbench
    from ganbench.data.mog import ring
    from ganbench.refstats import ReferenceStats

    with pytest.raises(GanbenchError,
                       match="nnd trains a convolutional critic on images; dataset 'ring' holds vectors"):
        ganbench.evaluate(_images(40, 0), ring(), metrics=["nnd"])
    stats = ReferenceStats(np.zeros(3), np.eye(3), None, {}, path="ref-stats.npz")
    with pytest.raises(GanbenchError,
                       match=re.escape("nnd needs real images; ref-stats.npz holds only feature statistics")):
        ganbench.evaluate(_images(40, 0), stats, metrics=["fid", "nnd"], extractor=EXT)
    with pytest.raises(GanbenchError, match="unknown nnd budget 'fast'"):
        ganbench.evaluate(_images(40, 0), _images(40, 1), metrics=["nnd"], metric_options={"nnd": {"budget": "fast"}})


def test_cli_eval_c2st_and_nnd_with_metric_options(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "s.npy", _images(60, 4, size=32))
    out = tmp_path / "r.jsonl"
    code, stdout, err = run_cli(capsys, "eval", tmp_path / "s.npy", "--ref", "digits32", "--features", EXT, "-q",
                                "--metrics", "c2st,nnd", "--bootstrap", 0, "--metric-opt", "c2st.classifier=1nn",
                                *[a for k, v in TINY.items() for a in ("--metric-opt", f"nnd.{k}={v}")],
                                "--json", out)
    assert code == 0, err
    (rec,) = read_records([out])
    assert {"c2st_accuracy", "c2st_p", "nnd", "nnd_train"} <= set(rec.metrics)
    assert rec.protocol["c2st_classifier"] == "1nn" and rec.protocol["nnd_iters"] == 6
    assert rec.protocol["nnd_real"].startswith("critic on digits32 train (1497), held out: test (300)")
    assert "c2st_accuracy's interval: one-sided exact binomial" in stdout
    # nnd alone builds no extractor: the default Inception is never loaded.
    import ganbench.evaluation.target as target

    def no_extractor(*a, **k):
        raise AssertionError("an extractor was built for nnd alone")

    monkeypatch.setattr(target, "make_extractor", no_extractor)
    code, stdout, err = run_cli(capsys, "eval", tmp_path / "s.npy", "--ref", "digits32", "--metrics", "nnd",
                                *[a for k, v in TINY.items() for a in ("--metric-opt", f"nnd.{k}={v}")],
                                "--json", tmp_path / "n.jsonl")
    assert code == 0, err
    (rec,) = read_records([tmp_path / "n.jsonl"])
    assert "extractor" not in rec.protocol and set(rec.metrics) == {"nnd", "nnd_train"}
    assert "nnd trains a critic for 6 iterations of batch 8" in err
    for bad, needle in ((["--metric-opt", "nnd=3"], "--metric-opt takes METRIC.KEY=VALUE"),
                        (["--metric-opt", "nnd.speed=3"], "metric 'nnd' has no option(s) speed")):
        code, _, err = run_cli(capsys, "eval", tmp_path / "s.npy", "--ref", "digits32", "--features", EXT, "-q",
                               "--metrics", "nnd", *bad)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and needle in lines[0], err


def test_check_and_tables_read_the_catalogue():
    from ganbench.check import REGRESSED, compare
    from ganbench.metrics.spec import compared_keys, direction, display_order, floor_of
    from ganbench.records import ResultRecord

    assert direction("c2st_accuracy") == "lower" and direction("nnd") == "lower"
    assert direction("c2st_p") is None and direction("nnd_train") is None
    order = display_order()
    assert order.index("coverage") < order.index("c2st_accuracy") < order.index("nnd")
    assert floor_of("c2st_accuracy") == 0.01 and floor_of("nnd") == 0.2
    keys = compared_keys()
    assert {"c2st_classifier", "c2st_test_fraction", "nnd_budget", "nnd_iters", "nnd_width"} <= set(keys)
    assert "c2st_seed" not in keys and "nnd_seed" not in keys

    proto = {"c2st_classifier": "logistic", "nnd_budget": "cpu", "nnd_iters": 1000}

    def recs(acc, div, **over):
        return [ResultRecord("g", "d", s, 0, {"c2st_accuracy": acc + 0.001 * s, "nnd": div + 0.01 * s},
                             {**proto, **over}) for s in range(3)]

    rows = {r.metric: r for r in compare(recs(0.55, 1.0), recs(0.70, 3.0)).rows}
    assert rows["c2st_accuracy"].status == REGRESSED and rows["nnd"].status == REGRESSED
    rows = {r.metric: r for r in compare(recs(0.70, 3.0), recs(0.55, 1.0)).rows}
    assert rows["c2st_accuracy"].status != REGRESSED and rows["nnd"].status != REGRESSED
    with pytest.raises(GanbenchError, match="c2st_classifier logistic \\(baseline\\) vs 1nn"):
        compare(recs(0.55, 1.0), recs(0.55, 1.0, c2st_classifier="1nn"))
    with pytest.raises(GanbenchError, match="nnd_budget cpu \\(baseline\\) vs paper"):
        compare(recs(0.55, 1.0), recs(0.55, 1.0, nnd_budget="paper"))


def test_report_table_shows_them_with_their_direction():
    from ganbench.records import ResultRecord
    from ganbench.report.tables import markdown_table

    recs = [ResultRecord(m, "fashion-mnist", s, 10, {"fid": f + s, "c2st_accuracy": a, "c2st_p": 1e-9, "nnd": d + s},
                         {"c2st_classifier": "logistic", "nnd_budget": "cpu"})
            for m, f, a, d in (("dcgan", 30.0, 0.8, 2.5), ("wgan-gp", 40.0, 0.9, 3.5)) for s in range(2)]
    md = markdown_table(recs)
    assert "fashion-mnist c2st_accuracy ↓" in md and "fashion-mnist nnd ↓" in md and "c2st_p ↓" not in md
    assert md.index("fid ↓") < md.index("c2st_accuracy ↓") < md.index("nnd ↓")
    assert "**0.800 ± 0.000**" in md and "**3.00 ± 0.71**" in md  # the lower is the better, in bold


def test_training_time_evaluation_where_a_budget_names_them(fmnist):
    """A budget's extra_metrics reach both evaluators; a budget without them gives the options it always gave."""
    from ganbench.config import load_recipe
    from ganbench.data.mog import ring
    from ganbench.evaluation.training import VectorEvaluator, image_options, make_evaluator
    from ganbench.generators import Generator

    recipe = load_recipe("gan")
    smoke = recipe.budget("smoke", "vector")
    plain = make_evaluator(ring(), smoke, 0)
    extra = make_evaluator(ring(), dataclasses.replace(smoke, extra_metrics=("c2st",),
                                                       metric_options={"c2st": {"classifier": "1nn"}}), 0)
    assert isinstance(extra, VectorEvaluator) and "c2st_classifier" not in plain.protocol
    assert extra.protocol["metrics"] == ["modes", "c2st"] and extra.protocol["c2st_classifier"] == "1nn"

    class RingSampler(torch.nn.Module):  # the real distribution: c2st near chance
        z_dim, num_classes = 2, 0

        def forward(self, z):
            return torch.from_numpy(ring().reference(len(z), int(z[0, 0].mul(1e4).abs()) + 7)[0])

    g: Generator = RingSampler()
    ev = extra.evaluate(g)
    assert "modes" in ev.values and 0.4 < ev.values["c2st_accuracy"] < 0.6 and ev.values["c2st_p"] > 0.001
    assert ev.values == {**plain.evaluate(g).values, **{k: v for k, v in ev.values.items() if k.startswith("c2st")}}
    with pytest.raises(GanbenchError, match="computes modes and c2st on raw vectors, not nnd"):
        make_evaluator(ring(), dataclasses.replace(smoke, extra_metrics=("nnd",)), 0)

    image_smoke = recipe.budget("smoke", "image")
    base = image_options(fmnist, image_smoke, 0, extractor=EXT)
    assert "metric_options" not in {f.name for f in dataclasses.fields(base) if getattr(base, f.name)}
    assert base.metrics == ("fid", "kid", "is", "pr", "dc")
    more = image_options(fmnist, dataclasses.replace(image_smoke, extra_metrics=("c2st", "nnd"),
                                                     metric_options={"nnd": TINY}), 0, extractor=EXT)
    assert more.metrics == ("fid", "kid", "is", "pr", "dc", "c2st", "nnd") and more.metric_options == {"nnd": TINY}
