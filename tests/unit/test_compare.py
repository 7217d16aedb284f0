"""`ganbench compare`: best groups, pairs, spreads, selection rules, one-line errors on incomparable
input, the JSON fields, and the tables and report.html reading the same groups (issue 20)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from ganbench.cli import main
from ganbench.compare.result import compare_records
from ganbench.compare.seeds import UNSTATED
from ganbench.errors import GanbenchError
from ganbench.records import ResultRecord, append_record, read_records
from ganbench.report import tables
from ganbench.report.write import write_run_report

ROOT = Path(__file__).resolve().parents[2]
PROTO = {"budget": "cpu", "n_gen": 2500, "selection": "final step", "ci_level": 0.95}
# Per model, per seed: grid modes (higher is better). a and b do not differ; c is far below.
MODES = {"a": [24.0, 23.0, 25.0, 24.0, 22.0], "b": [23.0, 25.0, 22.0, 24.0, 23.0], "c": [15.0, 16.0, 14.0, 17.0, 15.0]}


def rec(model, seed, metrics, step=100, dataset="grid", **proto):
    return ResultRecord(model, dataset, seed, step, metrics, {**PROTO, **proto})


def mode_records(values=MODES, **proto):
    return [rec(m, s, {"modes": v}, **proto) for m, vals in values.items() for s, v in enumerate(vals)]


def write(path, records):
    for r in records:
        append_record(path, r)
    return path


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
        raise SystemExit(0)
    out = capsys.readouterr()
    return e.value.code or 0, out.out, out.err


def one_line_error(code, err, needle):
    assert code == 2 and err.startswith("ganbench: error:") and len(err.strip().splitlines()) == 1, err
    assert needle in err, err


# ---------------------------------------------------------------- the comparison


def test_best_group_holds_the_models_not_significantly_worse():
    (col,) = compare_records(mode_records()).columns
    assert col.best == "a" and col.best_group == ["a", "b"] and col.untested == [] and col.no_test is None
    assert [m.model for m in col.models] == ["a", "b", "c"]  # best mean first
    pairs = {(p.a, p.b): p for p in col.pairs}
    assert pairs[("a", "c")].p_adj < 0.05 <= pairs[("a", "b")].p_adj
    assert pairs[("a", "c")].prob_improvement == 1.0 and pairs[("b", "c")].hedges_g > 3
    # P(a > b): 25 pairs of seeds, a wins 12, ties 4 -> (12 + 2) / 25.
    assert pairs[("a", "b")].prob_improvement == pytest.approx(14 / 25)
    # Holm over the 3 pairs: the smallest p times 3, the next times 2 (made monotone).
    p = sorted(q.p for q in col.pairs)
    assert sorted(q.p_adj for q in col.pairs) == pytest.approx([p[0] * 3, max(p[0] * 3, p[1] * 2), min(1, max(
        p[0] * 3, p[1] * 2, p[2]))])
    a = col.models[0]
    assert a.ci_t[0] < a.mean < a.ci_t[1] and a.ci_bootstrap[0] <= a.mean <= a.ci_bootstrap[1]
    assert pairs[("a", "c")].seeds_for_power == 2 and pairs[("a", "b")].seeds_for_power > 20


def test_lower_and_closer_to_zero_metrics_compare_in_their_direction():
    recs = [rec(m, s, {"fid": f, "ct": c}) for m, fids, cts in
            (("low", [10.0, 11, 12], [-0.2, 0.1, 0.0]), ("high", [30.0, 31, 32], [3.0, -3.2, 2.9])) for s, (f, c)
            in enumerate(zip(fids, cts, strict=True))]
    cols = {c.metric: c for c in compare_records(recs).columns}
    assert cols["fid"].best == "low" and cols["fid"].best_group == ["low"]
    # C_T: closer to 0 is better, so |-3.2| counts as far as 3.2.
    assert cols["ct"].best == "low" and cols["ct"].best_group == ["low"]
    assert cols["ct"].pairs[0].prob_improvement == 1.0


def test_training_against_evaluation_spread_from_the_records_intervals():
    # Seeds spread by sd 1; each evaluation's 95% interval is ±1.96 x 0.1 (clipped at 25 on one side).
    vals = [20.0, 21.0, 22.0, 19.0, 23.0]
    recs = [rec("a", s, {"modes": v, "modes_ci_low": v - 0.196, "modes_ci_high": min(25.0, v + 0.196)})
            for s, v in enumerate(vals)] + mode_records({"b": [1.0, 2.0, 1.0]})
    (col,) = compare_records(recs).columns
    sp = {m.model: m.spread for m in col.models}
    assert sp["a"]["evaluation_var"] == pytest.approx(0.01, rel=1e-4)
    assert sp["a"]["between_seeds_var"] == pytest.approx(np.var(vals, ddof=1))
    assert sp["a"]["dominant"] == "training" and sp["b"] is None  # b's records carry no interval
    noisy = [rec("a", s, {"modes": v, "modes_ci_low": v - 3.92, "modes_ci_high": v + 3.92}) for s, v in
             enumerate(vals)] + mode_records({"b": [1.0, 2.0, 1.0]})
    (col,) = compare_records(noisy).columns
    assert col.models[0].spread["dominant"] == "evaluation"


def test_a_model_with_one_seed_is_shown_not_tested():
    recs = mode_records({"a": [24.0, 23.0, 25.0], "b": [23.0, 25.0, 22.0], "solo": [30.0]})
    (col,) = compare_records(recs).columns
    assert col.untested == ["solo"] and col.best == "a" and col.best_group == ["a", "b"]
    solo = next(m for m in col.models if m.model == "solo")
    assert solo.mean == 30.0 and solo.seeds == 1 and solo.in_best_group is False
    assert next(p for p in col.pairs if "solo" in (p.a, p.b)).p_adj is None
    (alone,) = compare_records(mode_records({"a": [24.0], "b": [20.0]})).columns
    assert alone.best_group is None and "no test can reach the level" in alone.no_test and alone.best == "a"


def test_selection_final_stated_and_unstated():
    recs = [rec("a", s, {"modes": v}, step=st, selection=sel) for s, v in enumerate([24.0, 23.0, 25.0])
            for st, sel in ((50, "step 50 of 100"), (100, "final step"))]
    # b's records carry no selection (stacked runs): its last step counts as final, and the output says so.
    recs += [ResultRecord("b", "grid", s, st, {"modes": v + st / 100}, {"budget": "cpu", "n_gen": 2500})
             for s, v in enumerate([20.0, 21.0, 19.0]) for st in (50, 100)]
    (col,) = compare_records(recs).columns
    assert {m.model: m.selection for m in col.models} == {"a": "final step", "b": UNSTATED}
    assert {m.model: m.values for m in col.models}["b"] == [21.0, 22.0, 20.0]
    assert any("records without a stated selection (b)" in n for n in col.notes)


def test_a_stated_other_selection_is_used_and_not_mixed_with_final():
    best = "best over training by modes (of 2 evaluations)"
    recs = [rec(m, s, {"modes": v}, selection=best) for m, vals in MODES.items() for s, v in enumerate(vals)]
    (col,) = compare_records(recs).columns
    assert {m.selection for m in col.models} == {best}
    mixed = mode_records({"a": MODES["a"]}) + [rec("b", s, {"modes": v}, selection=best)
                                               for s, v in enumerate(MODES["b"])]
    with pytest.raises(GanbenchError, match=r"selected differently: final step \(a\) vs best over training"):
        compare_records(mixed)


# ---------------------------------------------------------------- bad input: one line


@pytest.mark.parametrize("records, needle", [
    (mode_records({"a": MODES["a"]}) + mode_records({"b": MODES["b"]}, n_gen=1000),
     "grid/modes: protocol differs in n_gen: 1000 (b) vs 2500 (a); records of different protocols are not comparable"),
    (mode_records({"a": MODES["a"]}) + mode_records({"b": MODES["b"]}, budget="smoke"),
     "grid/modes: mixed budgets: cpu (a) vs smoke (b); compare runs trained under one budget"),
    (mode_records({"a": MODES["a"]}) + mode_records({"b": MODES["b"]}, hq_radius_sigmas=2.0),
     "protocol differs in hq_radius_sigmas"),  # the metric catalogue's own compared key
    (mode_records() + [rec("a", 9, {"modes": 3.0}, selection="step 50 of 100")],
     "a/grid seed 9: its last record is 'step 50 of 100', not the final step (an unfinished run)"),
])
def test_incomparable_records_are_one_line_errors(tmp_path, capsys, records, needle):
    with pytest.raises(GanbenchError, match=re.escape(needle)):
        compare_records(records)
    code, _, err = run_cli(["compare", write(tmp_path / "r.jsonl", records)], capsys)
    one_line_error(code, err, needle)


def test_metric_no_record_has_and_nothing_to_compare(tmp_path, capsys):
    path = write(tmp_path / "r.jsonl", mode_records())
    code, _, err = run_cli(["compare", path, "--metrics", "modes,fid"], capsys)
    one_line_error(code, err, "no record has metric 'fid' (metrics here: modes)")
    code, _, err = run_cli(["compare", path, "--alpha", "1.5"], capsys)
    one_line_error(code, err, "--alpha must be between 0 and 1")
    one = write(tmp_path / "one.jsonl", mode_records({"a": MODES["a"]}))
    code, _, err = run_cli(["compare", one], capsys)
    one_line_error(code, err, "nothing to compare: no (dataset, metric) has two or more models")
    # Two models of one seed each: their values are printed, then the command fails: nothing was tested.
    single = write(tmp_path / "single.jsonl", mode_records({"a": [24.0], "b": [20.0]}))
    code, out, err = run_cli(["compare", single], capsys)
    one_line_error(code, err, "compared nothing: no test could be made")
    assert re.search(r"\| a +\| 1 +\| 24 +\|", out) and "no test can reach the level" in out


# ---------------------------------------------------------------- the command and its outputs


def test_cli_prints_writes_json_with_every_documented_field_and_figures(tmp_path, capsys):
    path = write(tmp_path / "r.jsonl", mode_records() + mode_records(dataset="ring"))
    code, out, err = run_cli(["compare", path, "--json", tmp_path / "c.json", "--out", tmp_path / "cmp"], capsys)
    assert code == 0, err
    assert "## grid / modes (↑ higher is better)" in out and "Best group (2 of 3" in out and "Holm" in out
    data = json.loads((tmp_path / "c.json").read_text())
    assert [(c["dataset"], c["metric"]) for c in data] == [("grid", "modes"), ("ring", "modes")]
    c = data[0]
    assert c["best"] == "a" and c["best_group"] == ["a", "b"] and c["direction"] == "higher"
    assert set(c) == {"dataset", "metric", "direction", "alpha", "test", "correction", "effect_size", "power",
                      "best", "best_group", "untested", "no_test", "models", "pairs", "notes"}
    assert set(c["pairs"][0]) == {"a", "b", "p", "p_adj", "prob_improvement", "hedges_g", "cohens_d",
                                  "seeds_for_power", "seeds_for_power_family"}
    assert set(c["models"][0]) == {"model", "seeds", "runs", "mean", "sd", "ci_t", "ci_bootstrap", "in_best_group",
                                   "selection", "spread", "values", "seed_ids"}
    assert c["models"][0]["values"] == MODES["a"] and c["models"][0]["seed_ids"] == [0, 1, 2, 3, 4]
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text()) == data
    for f in ("compare.md", "ranking.json", "poi_grid_modes.png", "seeds_ring_modes.png"):
        assert (tmp_path / "cmp" / f).is_file(), f
    ranking = json.loads((tmp_path / "cmp" / "ranking.json").read_text())
    assert ranking[0]["name"] == "modes" and ranking[0]["mean_rank"]["c"] == 3.0


# ---------------------------------------------------------------- tables and report.html


def test_tables_mark_the_whole_best_group_and_name_the_test(tmp_path):
    recs = mode_records()
    md = tables.markdown_table(recs)
    assert "**23.6 ± 1.1**" in md and "**23.4 ± 1.1**" in md and "**15.4" not in md  # a and b, not c
    assert "Bold: each column's best group" in md and "Welch's t-test, two-sided" in md and "Holm" in md
    assert "α = 0.05" in md
    tex = tables.latex_table(recs)
    assert tex.count(r"\textbf{") == 2 and r"$\alpha$ = 0.05" in tex
    html = tables.html_table(recs)
    assert html.count(" best\"") == 2 and "group-note" in html
    csv = tables.csv_table(recs)
    assert csv.splitlines()[0].endswith("best,best_group") and csv.count(",True,True") == 1
    written = write_run_report(tmp_path / "rep", recs)
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "Model comparisons" in page and "P(row better than column)" in page
    assert "grid / modes: each model&#x27;s value per training seed; best group: a, b" in page
    pngs = [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]
    assert len(pngs) >= 2 and all(p.startswith(b"\x89PNG") for p in pngs)
    assert (tmp_path / "rep" / "plots" / "poi_grid_modes.png").is_file() and written["report"]


def test_incomparable_columns_get_no_group_in_tables_but_still_render():
    recs = mode_records({"a": MODES["a"]}) + mode_records({"b": MODES["b"], "c": MODES["c"]}, budget="smoke")
    t = tables.table_cells(recs)
    assert not t.best.to_numpy().any()
    assert "No group (nothing marked) in grid modes (records not comparable: mixed budgets" in tables.group_note(t)


def test_mog_cpu_grid_hq_share_no_longer_singles_out_gan():
    """Issue 20's example: on results/mog-cpu (3 seeds) table.md bolded gan's grid HQ share 0.813
    against pacgan2's 0.702; over 3 seeds they are not told apart."""
    recs = read_records([ROOT / "results" / "mog-cpu" / "records.jsonl"])
    cols = {(c.dataset, c.metric): c for c in compare_records(recs).columns}
    grid = cols[("grid", "hq_share")]
    assert grid.best == "gan" and set(grid.best_group) == {"gan", "pacgan2"}


def test_committed_mog_full_cpu_comparison_and_table_are_current():
    """results/mog-full-cpu: compare/compare.json and table.md's bold cells hold the groups the code
    computes now from the committed records (a change in the test or the records must re-render them)."""
    folder = ROOT / "results" / "mog-full-cpu"
    recs = read_records([folder / "records.jsonl"])
    fresh = {(c.dataset, c.metric): c.best_group for c in compare_records(recs, detail=False).columns}
    committed = json.loads((folder / "compare" / "compare.json").read_text())
    assert {(c["dataset"], c["metric"]): c["best_group"] for c in committed} == fresh
    assert fresh[("grid", "modes")] == ["pacgan2", "pacgan3", "pacgan4", "sngan"]
    table = (folder / "table.md").read_text()
    assert table.count("**") == 2 * sum(len(g) for g in fresh.values())
    assert "Holm-corrected over every pair of models in the column" in table
