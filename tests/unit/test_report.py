"""Reporting: tables (best per column, intervals, md/csv/tex/html), plots, the self-contained HTML
report, and `ganbench report`."""

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganbench.cli import main
from ganbench.records import ResultRecord, append_record
from ganbench.report import plots, tables
from ganbench.report.html import protocol_tables
from ganbench.report.write import write_run_report

IMG_PROTO = {"budget": "smoke", "n_gen": 64, "n_real": 64, "split": "test", "extractor": "inception-tf/legacy",
             "mode": "legacy_tensorflow"}
# Per model: FID (lower better) and precision/recall (higher better) at the final step, per seed.
FINAL = {"dcgan": {"fid": [40.0, 42.0, 44.0], "precision": [0.60, 0.62, 0.64], "recall": [0.30, 0.32, 0.34]},
         "sngan": {"fid": [30.0, 31.0, 32.0], "precision": [0.55, 0.56, 0.57], "recall": [0.50, 0.52, 0.54]}}


def image_records() -> list[ResultRecord]:
    out = []
    for model, vals in FINAL.items():
        for s in range(3):
            for step, scale in ((10, 2.0), (20, 1.0)):
                m = {k: (v[s] * scale if k == "fid" else v[s] / scale) for k, v in vals.items()}
                m.update(fid_ci_low=m["fid"] - 1.0, fid_ci_high=m["fid"] + 1.5, train_g_loss=1.0, kid=None)
                out.append(ResultRecord(model, "fashion-mnist", s, step, m, {**IMG_PROTO, "sample_seed": 10_000 + s},
                                        {"ganbench": "0.1.0", "torch": "2.x", "device": "cpu"}))
    return out


def colourful_images(n=16, c=3, hw=28, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, c, hw, hw), dtype=np.uint8)


def make_image_run(root):
    """A run directory as `ganbench run` lays it out, with uint8 samples and a nearest-neighbour grid."""
    recs = image_records()
    for r in recs:
        append_record(root / "records.jsonl", r)
    for i, model in enumerate(FINAL):
        d = root / model / "fashion-mnist" / "seed0"
        d.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(d / "samples.npz", samples=colourful_images(c=1 if i else 3, seed=i))
    Image.new("RGB", (120, 60), (255, 0, 255)).save(root / "dcgan" / "fashion-mnist" / "seed0" / "nn_grid.png")
    return recs


def make_mog_run(root):
    from ganbench.data import get_dataset

    ds = get_dataset("ring")
    recs = []
    for model, noise in (("gan", 1.0), ("wgan", 3.0)):
        for s in range(2):
            rng = np.random.default_rng(s)
            x = ds.centers[rng.integers(0, 8, 500)] + noise * ds.sigma * rng.standard_normal((500, 2))
            for step in (50, 100):
                r = ResultRecord(model, "ring", s, step, {"modes": 8.0, "hq_share": 0.99 / noise,
                                                          "reverse_kl": 0.01 * noise}, {"n_gen": 500})
                recs.append(r)
                append_record(root / "records.jsonl", r)
            d = root / model / "ring" / f"seed{s}"
            d.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(d / "samples.npz", samples=x.astype(np.float32))
    return recs


# ---------------------------------------------------------------- tables


def test_summary_final_step_mean_std_and_intervals():
    s = tables.summary(image_records()).set_index(["model", "metric"])
    fid = s.loc[("sngan", "fid")]
    assert fid["mean"] == pytest.approx(31.0) and fid["std"] == pytest.approx(1.0) and fid["n_seeds"] == 3
    # t(0.975, 2) = 4.303; half-width 4.303 / sqrt(3)
    assert fid["seed_ci_high"] - fid["mean"] == pytest.approx(4.3027 / np.sqrt(3), rel=1e-3)
    assert (fid["ci_low"], fid["ci_high"]) == (pytest.approx(30.0), pytest.approx(32.5))
    metrics = set(s.index.get_level_values("metric"))
    assert "fid_ci_low" not in metrics and "train_g_loss" not in metrics and "kid" in metrics
    assert np.isnan(s.loc[("sngan", "kid")]["mean"]) and s.loc[("sngan", "kid")]["n_runs"] == 3


def test_best_value_per_column_follows_direction():
    t = tables.table_cells(image_records())
    best = {m: [model for model in t.best.index if t.best.loc[model, ("fashion-mnist", m, "value")]]
            for m in ("fid", "precision", "recall")}
    assert best == {"fid": ["sngan"], "precision": ["dcgan"], "recall": ["sngan"]}
    assert not t.best[("fashion-mnist", "fid", "ci")].any()  # the CI column is never "best"
    assert t.cells.loc["sngan", ("fashion-mnist", "fid", "value")] == "31.0 ± 1.0"
    assert t.cells.loc["sngan", ("fashion-mnist", "fid", "ci")] == "[30.0, 32.5]"
    assert t.cells.loc["sngan", ("fashion-mnist", "kid", "value")] == "n/a"


def test_markdown_marks_best_in_bold_and_arrows_in_headers():
    md = tables.markdown_table(image_records())
    assert "fashion-mnist fid ↓" in md and "fashion-mnist precision ↑" in md and "fid evaluation 95% CI" in md
    assert "**31.0 ± 1.0**" in md and "**0.620 ± 0.020**" in md and "**42.0" not in md
    ci = tables.markdown_table(image_records(), interval="ci")
    assert re.search(r"\*\*31\.0 \[28\.5, 33\.5\]\*\*", ci)  # 31 ± 4.303/sqrt(3)
    assert tables.markdown_table([]) == "(no records)"


def test_single_seed_ties_counts_and_partial_values():
    recs = [ResultRecord("a", "ring", 0, 1, {"modes": 8.0, "reverse_kl": 0.1}),
            ResultRecord("a", "ring", 1, 1, {"modes": 8.0, "reverse_kl": None}),
            ResultRecord("b", "ring", 0, 1, {"modes": 8.0, "reverse_kl": 0.3})]
    t = tables.table_cells(recs)
    assert t.cells.loc["a", ("ring", "modes", "value")] == "8 ± 0"
    assert t.cells.loc["b", ("ring", "modes", "value")] == "8.00"
    assert not t.best[("ring", "modes", "value")].any()  # all equal: nothing to mark
    assert t.cells.loc["a", ("ring", "reverse_kl", "value")] == "0.100 (1/2 seeds)"
    # One finite seed a model: no test can tell them apart, so no cell is marked best (issue 20: the
    # old table bolded a's 0.100 against b's 0.300 from one seed each); the values still show.
    assert not t.best[("ring", "reverse_kl", "value")].any()
    assert t.cells.loc["b", ("ring", "reverse_kl", "value")] == "0.300"
    assert "No group (nothing marked) in ring modes (no test" in tables.group_note(t)
    assert "ring reverse_kl (no test: fewer than 2 models with 2 or more seeds)" in tables.group_note(t)


def test_csv_is_tidy_numeric_with_best_flag():
    df = pd.read_csv(io.StringIO(tables.csv_table(image_records())))
    row = df[(df.model == "sngan") & (df.metric == "fid")].iloc[0]
    assert row["mean"] == pytest.approx(31.0) and row["direction"] == "lower" and bool(row["best"])
    assert {"std", "n_seeds", "ci_low", "ci_high", "seed_ci_low", "seed_ci_high"} <= set(df.columns)


def test_latex_and_html_tables():
    tex = tables.latex_table(image_records(), caption="FID and PRDC")
    assert r"\toprule" in tex and r"\textbf{31.0 $\pm$ 1.0}" in tex and r"fid $\downarrow$" in tex
    assert r"\multicolumn{" in tex and r"\caption{FID and PRDC}" in tex
    assert "fashion-mnist" in tex and "fid_ci" not in tex  # underscores only escaped
    assert tables.latex_escape("hq_share 50%") == r"hq\_share 50\%"
    html = tables.html_table(image_records())
    assert "<table" in html and 'class="data row1 col0 best"' in html and "fid ↓" in html


# ---------------------------------------------------------------- plots


def test_sample_grid_tiles_and_enlarges(tmp_path):
    p = plots.sample_grid(colourful_images(n=10, c=1, hw=8), tmp_path / "g.png", nrow=4)
    im = Image.open(p)
    # 3 rows x 4 cols of 8px cells with 2px padding = 42 x 32, scaled x8 (cells >= 64 px).
    assert im.size == (42 * 8, 32 * 8) and im.mode == "RGB"
    with pytest.raises(ValueError):
        plots.sample_grid(np.zeros((2, 3, 8, 8), np.float32), tmp_path / "x.png")


def test_run_images_are_only_those_of_the_records_given(tmp_path):
    from ganbench.records import ResultRecord
    from ganbench.report.write import find_run_images

    for name in ("a/ring/seed0/nn_grid.png", "a/ring/seed0/zzz.png", "b/fashion-mnist/seed0/nn_grid.png",
                 "mog_samples.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    rec = ResultRecord(model="a", dataset="ring", seed=0, step=1, metrics={}, protocol={}, provenance={})
    # b's grid sits under the same root but belongs to another run: it is not this report's figure.
    assert [lbl for lbl, _ in find_run_images([rec], [tmp_path])] == ["a/ring/seed0/nn_grid.png"]
    assert find_run_images([], [tmp_path]) == []


# ---------------------------------------------------------------- whole report


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    recs = make_image_run(root) + make_mog_run(root)
    written = write_run_report(root, recs, wall_s=1.5)
    return root, written


def test_write_run_report_writes_tables_plots_and_html(report_dir):
    root, written = report_dir
    assert "sngan" in written["table_text"] and written["report"] == root / "report.html"
    for name in ("table.md", "table.csv", "table.tex", "table.html", "report.html", "mog_samples.png",
                 "plots/curves_fashion-mnist.png", "plots/curves_ring.png", "plots/precision_recall.png",
                 "plots/samples_dcgan_fashion-mnist.png", "plots/samples_sngan_fashion-mnist.png"):
        assert (root / name).stat().st_size > 200, name
    md = (root / "table.md").read_text()
    assert "±" in md and "Protocol:" in md and "- n_gen: 500, 64" in md and "wall time: 1.5 s" in md


def test_html_report_is_self_contained(report_dir):
    root, _ = report_dir
    page = (root / "report.html").read_text()
    srcs = re.findall(r'src="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(href|src)="(https?:|file:|/)', page)  # nothing outside the file
    # 2 curves + PR + 2 sample grids + MoG + the nn grid, and per (dataset, metric) with two models
    # (fid, precision, recall; modes, hq_share, reverse_kl) the per-seed points and the probability-of-
    # improvement matrix (issue 20)
    assert len(srcs) == 7 + 2 * 6
    for s in srcs:
        Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))).verify()
    assert "dcgan/fashion-mnist/seed0/nn_grid.png" in page
    for needle in ("Results", "Training curves", "Precision vs recall", "Samples", "Mixture of Gaussians",
                   "Model comparisons", "P(row better than column)",
                   "Protocol", "Provenance", "legacy_tensorflow", "inception-tf/legacy", "n_real", "wall time 1.5 s"):
        assert needle in page, needle


def test_protocol_tables_span_shared_values_and_list_per_model_ones():
    recs = image_records()
    recs.append(ResultRecord("other", "fashion-mnist", 0, 20, {"fid": 1.0}, {**IMG_PROTO, "n_gen": 1000}))
    models, rows = protocol_tables(recs)["fashion-mnist"]
    rows = dict(rows)
    assert models == ["dcgan", "sngan", "other"]
    assert rows["n_gen"] == ["64", "64", "1000"] and rows["extractor"] == ["inception-tf/legacy"] * 3
    assert rows["seeds"] == ["0, 1, 2", "0, 1, 2", "0"] and rows["sample_seed"][0] == "10000, 10001, 10002"


# ---------------------------------------------------------------- CLI


def test_cli_report_formats_and_errors(tmp_path, capsys):
    run = tmp_path / "run"
    make_mog_run(run)
    out = tmp_path / "rep"
    with pytest.raises(SystemExit) as e:
        main(["report", str(run / "records.jsonl"), "--out", str(out), "--format", "md,csv"])
        raise SystemExit(0)
    assert e.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("ring:") and "modes ↑" in printed  # the compact terminal table
    assert (out / "table.md").exists() and (out / "table.csv").exists()
    assert not (out / "table.tex").exists() and not (out / "report.html").exists()
    assert (out / "mog_samples.png").exists()  # samples found next to the JSONL file
    for args, needle in ((["report", str(run), "--format", "pdf"], "--format"),
                         (["report", str(tmp_path / "nope")], "no records at")):
        with pytest.raises(SystemExit) as e:
            main(args)
        assert e.value.code == 2 and needle in capsys.readouterr().err
