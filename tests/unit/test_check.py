"""`ganbench check`: direction-aware comparison, allowances, exit codes, JUnit, and the scenario
"a degraded generator fails, the same generator with another seed passes" on the ring mixture."""

import json
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from ganbench.check import DEFAULT_RELATIVE, IMPROVED, MISSING, NOT_JUDGED, PASS, REGRESSED, compare, parse_tolerance
from ganbench.cli import main
from ganbench.data import get_dataset
from ganbench.errors import GanbenchError
from ganbench.evaluation.training import VectorEvaluator, eval_seed
from ganbench.records import ResultRecord, append_record

PROTO = {"n_gen": 1000, "n_real": 1000, "extractor": "inception-tf/legacy", "mode": "legacy_tensorflow"}


def rec(model="m", dataset="d", seed=0, step=100, protocol=None, **metrics):
    return ResultRecord(model, dataset, seed, step, metrics, dict(PROTO if protocol is None else protocol))


def recs(values: dict[str, list[float]], model="m", dataset="d", step=100, protocol=None, seed0=0):
    """One record per seed; ``values`` maps metric -> per-seed values."""
    n = len(next(iter(values.values())))
    return [rec(model, dataset, seed0 + i, step, protocol, **{k: v[i] for k, v in values.items()}) for i in range(n)]


def rows_by_metric(cmp):
    return {r.metric: r for r in cmp.rows}


# ---------------------------------------------------------------- tolerance syntax


def test_parse_tolerance_signed_relative_and_errors():
    t = parse_tolerance("fid=+2.0, precision=-0.02,kid=+10%,is=0.5")
    assert (t["fid"].amount, t["fid"].sign) == (2.0, 1)
    assert (t["precision"].amount, t["precision"].sign) == (0.02, -1)
    assert t["kid"].relative and t["kid"].allowed(0.02) == pytest.approx(0.002)
    assert t["is"].sign == 0
    assert parse_tolerance(None) == {} and parse_tolerance("") == {}
    for bad in ("fid", "fid=abc", "fid=+", "=2", "fid=+2;recall=-1", "fid==2"):
        with pytest.raises(GanbenchError, match="--tolerance"):
            parse_tolerance(bad)


def test_tolerance_pointing_the_wrong_way_or_naming_no_metric_is_bad_input():
    base = recs({"fid": [30.0, 31.0]})
    with pytest.raises(GanbenchError, match=r"fid=\+2"):
        compare(base, base, parse_tolerance("fid=-2"))
    with pytest.raises(GanbenchError, match=re.escape("precision=-0.1")):
        compare(recs({"precision": [0.5, 0.5]}), recs({"precision": [0.5, 0.5]}), parse_tolerance("precision=+0.1"))
    with pytest.raises(GanbenchError, match=r"'fdi'.*fid"):
        compare(base, base, parse_tolerance("fdi=+2"))


# ---------------------------------------------------------------- directions and allowances


def test_identical_records_pass_and_directions_are_respected():
    base = recs({"fid": [30.0, 31.0, 32.0], "precision": [0.70, 0.71, 0.72]})
    cmp = compare(base, base)
    assert not cmp.regressed and {r.status for r in cmp.rows} == {PASS}
    # Training spread of 3 + 3 seeds pooled (std 1 on both sides), 2 metrics judged (one-sided alpha
    # 0.05/2): t(0.975, 4) x 1 x sqrt(1/3 + 1/3) = 2.27 for FID. Rising beyond it regresses; falling as
    # much is an improvement.
    prec = [0.70, 0.71, 0.72]
    assert not compare(base, recs({"fid": [32.2, 33.2, 34.2], "precision": prec})).regressed
    worse = compare(base, recs({"fid": [32.3, 33.3, 34.3], "precision": prec}))
    assert rows_by_metric(worse)["fid"].status == REGRESSED and worse.regressed
    better = compare(base, recs({"fid": [25.0] * 3, "precision": [0.71] * 3}))
    assert rows_by_metric(better)["fid"].status == IMPROVED and not better.regressed
    # Higher precision is better: a drop regresses, a rise does not.
    drop = compare(base, recs({"fid": [31.0] * 3, "precision": [0.60] * 3}))
    assert rows_by_metric(drop)["precision"].status == REGRESSED
    rise = compare(base, recs({"fid": [31.0] * 3, "precision": [0.80] * 3}))
    assert rows_by_metric(rise)["precision"].status == IMPROVED


def test_allowance_precedence_tolerance_then_spread_then_default():
    from scipy.stats import norm, t

    spread = recs({"fid": [30.0, 31.0, 32.0]})  # std 1; training records: a retrained model
    r = rows_by_metric(compare(spread, spread))["fid"]
    assert r.allowed == pytest.approx(t.ppf(0.95, 4) * 1.0 * math.sqrt(2 / 3)) and "training spread" in r.source

    with_ci = recs({"fid": [30.0, 31.0, 32.0], "fid_ci_low": [29.0] * 3, "fid_ci_high": [30.0] * 3})
    # Retrained: the intervals (evaluation spread) are not used, the seeds' spread is.
    assert "training spread" in rows_by_metric(compare(with_ci, with_ci))["fid"].source
    assert "fid_ci_low" not in rows_by_metric(compare(with_ci, with_ci))  # companions are not judged
    # Re-evaluation: se per seed 0.5/1.96, of the 3-seed mean /sqrt(3), both sides, one metric: z = 1.645.
    r = rows_by_metric(compare(with_ci, with_ci, kind="re-evaluation"))["fid"]
    se = 0.5 / 1.959964 / math.sqrt(3)
    assert r.allowed == pytest.approx(norm.ppf(0.95) * se * math.sqrt(2), rel=1e-5) and "evaluation spread" in r.source

    r = rows_by_metric(compare(with_ci, with_ci, parse_tolerance("fid=+5")))["fid"]
    assert r.allowed == 5.0 and "--tolerance" in r.source

    one_seed = recs({"fid": [40.0]})
    r = rows_by_metric(compare(one_seed, one_seed))["fid"]
    assert r.allowed == pytest.approx(DEFAULT_RELATIVE * 40.0) and "default" in r.source
    # 40 * 1.05 = 42: 41.9 passes, 42.1 fails.
    assert not compare(one_seed, recs({"fid": [41.9]})).regressed
    assert compare(one_seed, recs({"fid": [42.1]})).regressed


def test_reevaluation_is_detected_from_eval_records_of_the_same_file():
    def ev(seed, sha, fid):
        return ResultRecord("g", "d", seed, 0, {"fid": fid, "fid_ci_low": fid - 1, "fid_ci_high": fid + 1},
                            dict(PROTO), {"target_sha256": sha}, kind="eval")

    base = [ev(0, "aa", 30.0)]
    assert compare(base, [ev(1, "aa", 30.5)]).kinds[("g", "d")] == "re-evaluation"
    assert compare(base, [ev(1, "bb", 30.5)]).kinds[("g", "d")] == "retrained"
    assert compare(recs({"fid": [30.0]}), recs({"fid": [30.0]})).kinds[("m", "d")] == "retrained"


def test_ct_and_kl_to_uniform_are_judged_in_their_direction():
    base = recs({"ct": [0.5, -0.5, 0.0], "kl_to_uniform": [0.10, 0.11, 0.12]})
    worse = recs({"ct": [-9.0, -8.0, -10.0], "kl_to_uniform": [0.5, 0.6, 0.55]})
    rows = rows_by_metric(compare(base, worse))
    assert rows["ct"].status == REGRESSED and rows["kl_to_uniform"].status == REGRESSED
    under = recs({"ct": [9.0, 8.0, 10.0], "kl_to_uniform": [0.10, 0.11, 0.12]})
    assert rows_by_metric(compare(base, under))["ct"].status == REGRESSED  # C_T is best near 0
    better = recs({"ct": [0.1, 0.0, -0.1], "kl_to_uniform": [0.01, 0.01, 0.01]})
    assert not compare(base, better).regressed


def test_statistical_allowance_has_a_floor_but_explicit_tolerance_does_not():
    same = recs({"hq_share": [0.9972, 0.9972, 0.9972], "modes": [8.0, 8.0, 8.0]})
    cur = recs({"hq_share": [0.9951, 0.9960, 0.9955], "modes": [8.0, 8.0, 8.0]})
    cmp = compare(same, cur)
    assert not cmp.regressed and "floored" in rows_by_metric(cmp)["hq_share"].source
    assert compare(same, cur, parse_tolerance("hq_share=-0.001")).regressed
    # Losing one mode in every seed is a regression: no spread on either side, and the floor for modes
    # is 1% of 8. Losing it in one seed of three is within the seeds' pooled spread.
    assert compare(same, recs({"hq_share": [0.9972] * 3, "modes": [7.0, 7.0, 7.0]})).regressed
    assert not compare(same, recs({"hq_share": [0.9972] * 3, "modes": [8.0, 7.0, 8.0]})).regressed


def test_final_step_and_mean_over_seeds_are_compared():
    base = recs({"fid": [30.0, 30.0]}, step=100) + recs({"fid": [90.0, 90.0]}, step=50)
    cur = recs({"fid": [29.0, 31.0]}, step=100, seed0=7) + recs({"fid": [10.0, 10.0]}, step=50, seed0=7)
    r = rows_by_metric(compare(base, cur))["fid"]
    assert (r.baseline, r.current, r.baseline_n, r.current_n) == (30.0, 30.0, 2, 2)


def test_missing_metric_fails_unknown_metric_is_not_judged_unless_signed():
    base = recs({"fid": [30.0, 31.0], "precision": [0.7, 0.7], "foo": [1.0, 1.0]})
    cur = recs({"fid": [30.0, 31.0], "foo": [5.0, 5.0]})
    cmp = compare(base, cur)
    rows = rows_by_metric(cmp)
    assert rows["precision"].status == MISSING and rows["precision"].failed and cmp.regressed
    assert rows["foo"].status == NOT_JUDGED and not rows["foo"].failed and "direction unknown" in rows["foo"].note
    # A signed tolerance names the direction of an unknown metric: "+" may rise, so lower is better.
    rows = rows_by_metric(compare(base, cur, parse_tolerance("foo=+1")))
    assert rows["foo"].status == REGRESSED and rows["foo"].better == "lower"
    # A metric with no value (None) in every current seed is missing too.
    none_cur = [rec(seed=s, fid=None, precision=0.7, foo=1.0) for s in (0, 1)]
    assert rows_by_metric(compare(base, none_cur))["fid"].status == MISSING


def test_a_value_undefined_in_some_current_seeds_fails_instead_of_leaving_the_mean():
    """A collapsed seed has no reverse KL (no high-quality sample); averaging the other seeds alone
    would make the current run look better than it is."""
    base = recs({"reverse_kl": [0.2, 0.3, 0.25], "modes": [8.0, 8.0, 7.0]})
    cur = [rec(seed=0, reverse_kl=0.2, modes=8.0), rec(seed=1, reverse_kl=0.3, modes=8.0),
           rec(seed=2, reverse_kl=None, modes=0.0)]
    rows = rows_by_metric(compare(base, cur))
    assert rows["reverse_kl"].status == MISSING and "1 of 3 current seeds" in rows["reverse_kl"].note
    # Undefined on the baseline side too: nothing to hold against the current run.
    base_gap = base[:2] + [rec(seed=2, reverse_kl=None, modes=1.0)]
    assert rows_by_metric(compare(base_gap, cur))["reverse_kl"].status != MISSING


def test_retrained_allowance_is_a_pooled_t_test_at_its_nominal_rate():
    """Simulated retrained runs, 3 seeds a side, seed-to-seed values N(100, 5): an unchanged recipe
    fails at about the one-sided 5% (one metric judged: measured 5.1%), and a mean worse by 3 standard
    deviations fails in 90% of draws (the earlier baseline-only t(2) allowance: 76%, same draws)."""
    rng = np.random.default_rng(0)
    reps = 1500

    def fail_rate(shift):
        failed = 0
        for _ in range(reps):
            b, c = rng.normal(100, 5, 3), rng.normal(100 + shift, 5, 3)
            cmp = compare(recs({"fid": list(b)}), recs({"fid": list(c)}), kind="retrained")
            failed += cmp.regressed
        return failed / reps

    null = fail_rate(0.0)
    assert 0.03 <= null <= 0.07, null
    assert fail_rate(15.0) >= 0.85


def test_training_losses_and_all_nan_baselines_are_not_compared():
    base = recs({"fid": [30.0, 31.0], "train_g_loss": [1.0, 2.0], "reverse_kl": [None, None]})
    cur = recs({"fid": [30.0, 31.0], "train_g_loss": [9.0, 9.0]})
    assert set(rows_by_metric(compare(base, cur))) == {"fid"}


def test_protocol_mismatch_is_refused_naming_the_keys_unless_allowed():
    base = recs({"fid": [30.0, 31.0]})
    cur = recs({"fid": [30.0, 31.0]}, protocol={**PROTO, "n_gen": 500, "mode": "clean"})
    with pytest.raises(GanbenchError, match=r"n_gen 1000 \(baseline\) vs 500.*mode.*--allow-protocol-mismatch"):
        compare(base, cur)
    cmp = compare(base, cur, allow_protocol_mismatch=True)
    assert not cmp.regressed and "n_gen" in cmp.rows[0].note and cmp.protocol_diffs
    # Keys outside the comparability list (the per-seed sample seed) do not count.
    cur2 = recs({"fid": [30.0, 31.0]}, protocol={**PROTO, "sample_seed": 123})
    assert not compare(base, cur2).protocol_diffs
    # Keys records write: a different k for precision/recall is a different protocol.
    with pytest.raises(GanbenchError, match="pr_k 3 \\(baseline\\) vs 5"):
        compare(recs({"fid": [30.0]}, protocol={**PROTO, "pr_k": 3}),
                recs({"fid": [30.0]}, protocol={**PROTO, "pr_k": 5}))
    # Different presets are never compared, not even with --allow-protocol-mismatch.
    with pytest.raises(GanbenchError, match="different presets are never compared"):
        compare(recs({"fid": [30.0]}, protocol={**PROTO, "preset": "fid10k_test"}),
                recs({"fid": [30.0]}, protocol={**PROTO, "preset": "fid50k_train"}), allow_protocol_mismatch=True)


def test_no_overlap_and_empty_inputs_are_bad_input():
    with pytest.raises(GanbenchError, match="no \\(model, dataset\\) in common"):
        compare(recs({"fid": [1.0]}, model="a"), recs({"fid": [1.0]}, model="b"))
    with pytest.raises(GanbenchError, match="no records"):
        compare([], recs({"fid": [1.0]}))


def test_groups_present_on_one_side_only_are_listed_not_failed():
    base = recs({"fid": [30.0]}, model="a") + recs({"fid": [30.0]}, model="b")
    cmp = compare(base, recs({"fid": [30.0]}, model="a"))
    assert not cmp.regressed and cmp.baseline_only == [("b", "d")]


# ---------------------------------------------------------------- CLI: exit codes, table, JUnit


def write_jsonl(path, records):
    for r in records:
        append_record(path, r)
    return path


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return e.value.code or 0, out.out, out.err


def test_cli_exit_codes_table_and_junit(tmp_path, capsys):
    base = write_jsonl(tmp_path / "base.jsonl", recs({"fid": [30.0, 31.0, 32.0], "precision": [0.7, 0.71, 0.72],
                                                      "foo": [1.0, 1.0, 1.0]}))
    good = write_jsonl(tmp_path / "good.jsonl", recs({"fid": [31.5, 30.2, 31.0], "precision": [0.71] * 3,
                                                      "foo": [2.0] * 3}, seed0=5))
    bad = write_jsonl(tmp_path / "bad.jsonl", recs({"fid": [40.0] * 3, "precision": [0.71] * 3}, seed0=5))

    code, out, _ = run_cli(["check", str(good), "--baseline", str(base), "--junit", str(tmp_path / "ok.xml")], capsys)
    assert code == 0 and "PASS" in out and "fid ↓" in out and "precision ↑" in out and "not judged" in out
    root = ET.parse(tmp_path / "ok.xml").getroot()
    cases = root.findall("./testsuite/testcase")
    assert {c.get("name") for c in cases} == {"fid", "precision", "foo"}
    assert root.find("testsuite").get("failures") == "0" and root.find("testsuite").get("skipped") == "1"

    code, out, _ = run_cli(["check", str(bad), "--baseline", str(base), "--junit", str(tmp_path / "bad.xml")], capsys)
    assert code == 1 and "REGRESSED" in out and "FAIL" in out and "missing" in out
    suite = ET.parse(tmp_path / "bad.xml").getroot().find("testsuite")
    failed = {c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert failed == {"fid", "foo"} and suite.get("failures") == "2"

    # A generous explicit tolerance lets the same FID pass.
    code, _, _ = run_cli(["check", str(bad), "--baseline", str(base), "--tolerance", "fid=+10,foo=+5"], capsys)
    assert code == 1  # foo is still missing from bad
    code, _, _ = run_cli(["check", str(good), "--baseline", str(base), "--tolerance", "fid=+0.01"], capsys)
    assert code == 0  # good's mean FID (30.9) is below the baseline's (31.0)


@pytest.mark.parametrize("make,needle", [
    (lambda p: None, "no records at"),
    (lambda p: p.write_text("{not json\n"), "not valid JSON"),
    (lambda p: p.write_text(json.dumps({"model": "m"}) + "\n"), "missing"),
    (lambda p: p.write_text(json.dumps({"model": "m", "dataset": "d", "seed": 0, "step": 1,
                                        "metrics": {"fid": "high"}}) + "\n"), "not a number"),
    (lambda p: p.write_text(""), "no records"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, make, needle):
    base = write_jsonl(tmp_path / "base.jsonl", recs({"fid": [30.0]}))
    cur = tmp_path / "cur.jsonl"
    make(cur)
    code, _out, err = run_cli(["check", str(cur), "--baseline", str(base)], capsys)
    assert code == 2 and needle in err and err.startswith("ganbench: error:") and len(err.strip().splitlines()) == 1


def test_check_never_passes_on_nothing(tmp_path, capsys):
    """Issue 20: a baseline fid of NaN against a current 500 printed "PASS (0 metrics compared: )" and
    exited 0. A gate that compared no metric fails, in one line saying why."""
    nan_base = write_jsonl(tmp_path / "nan_base.jsonl", recs({"fid": [None, None, None]}))
    base = write_jsonl(tmp_path / "base.jsonl", recs({"fid": [30.0, 31.0, 32.0]}))
    cur = write_jsonl(tmp_path / "cur.jsonl", recs({"fid": [500.0] * 3}, seed0=5))
    nan_cur = write_jsonl(tmp_path / "nan_cur.jsonl", recs({"fid": [None] * 3}, seed0=5))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")

    code, out, err = run_cli(["check", str(cur), "--baseline", str(nan_base)], capsys)
    assert code == 2 and "PASS" not in out and len(err.strip().splitlines()) == 1
    assert err.startswith("ganbench: error: compared no metric (m/d fid: no finite value in the baseline")

    code, out, err = run_cli(["check", str(empty), "--baseline", str(base)], capsys)
    assert code == 2 and err.strip() == f"ganbench: error: no records in {empty}"

    code, out, err = run_cli(["check", str(nan_cur), "--baseline", str(base)], capsys)
    verdict = out.strip().splitlines()[-1]
    assert code == 1 and verdict.startswith("ganbench check: FAIL (1 metrics compared: 1 missing)")
    assert verdict.endswith("m/d fid missing: no finite value in current (null or NaN in every seed)")
    with pytest.raises(GanbenchError, match="compared no metric"):
        compare(recs({"fid": [None]}), recs({"fid": [500.0]}))


def test_cli_bad_tolerance_and_protocol_mismatch_exit_2(tmp_path, capsys):
    base = write_jsonl(tmp_path / "base.jsonl", recs({"fid": [30.0]}))
    other = write_jsonl(tmp_path / "other.jsonl", recs({"fid": [30.0]}, protocol={**PROTO, "extractor": "clip"}))
    code, _, err = run_cli(["check", str(base), "--baseline", str(base), "--tolerance", "fid:2"], capsys)
    assert code == 2 and "--tolerance" in err
    code, _, err = run_cli(["check", str(other), "--baseline", str(base)], capsys)
    assert code == 2 and "extractor" in err and "clip" in err
    code, _, err = run_cli(["check", str(other), "--baseline", str(base), "--allow-protocol-mismatch"], capsys)
    assert code == 0 and "protocol differs" in err


# ---------------------------------------------------------------- scenario on the ring mixture


class MixtureSampler(torch.nn.Module):
    """A fixed 'generator' for a Gaussian mixture: z[0] picks the mode (through the normal CDF, so
    modes are equally likely), z[1:] is the within-mode noise. ``noise`` scales sigma; ``collapse``
    sends every sample to mode 0."""

    num_classes = 0

    def __init__(self, centers, sigma, noise=1.0, collapse=False):
        super().__init__()
        self.register_buffer("centers", torch.as_tensor(centers, dtype=torch.float32))
        self.z_dim = 1 + self.centers.shape[1]
        self.sigma, self.noise, self.collapse = sigma, noise, collapse

    def forward(self, z, y=None):
        k = len(self.centers)
        u = 0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2)))
        idx = torch.zeros_like(u, dtype=torch.long) if self.collapse else (u * k).long().clamp(max=k - 1)
        return self.centers[idx] + self.noise * self.sigma * z[:, 1:]


def evaluate_to_jsonl(g, seeds, path, n_gen=2500):
    ds = get_dataset("ring")
    for s in seeds:
        ev = VectorEvaluator(ds, n_gen, eval_seed(s))
        append_record(path, ResultRecord("fixed", "ring", s, 0, ev(g), {"budget": "none", **ev.protocol},
                                         kind="eval"))
    return path


@pytest.mark.parametrize("degrade", [{"noise": 4.0}, {"collapse": True}], ids=["noise-added", "collapsed"])
def test_check_fails_degraded_generator_and_passes_reseeded_one(tmp_path, capsys, degrade):
    ds = get_dataset("ring")
    perfect = MixtureSampler(ds.centers, ds.sigma)
    degraded = MixtureSampler(ds.centers, ds.sigma, **degrade)
    base = evaluate_to_jsonl(perfect, [0, 1, 2], tmp_path / "baseline.jsonl")
    same = evaluate_to_jsonl(perfect, [3, 4, 5], tmp_path / "reseeded.jsonl")
    bad = evaluate_to_jsonl(degraded, [3, 4, 5], tmp_path / "degraded.jsonl")

    code, out, _ = run_cli(["check", str(same), "--baseline", str(base)], capsys)
    assert code == 0, out
    code, out, _ = run_cli(["check", str(bad), "--baseline", str(base), "--junit", str(tmp_path / "j.xml")], capsys)
    assert code == 1, out
    assert "REGRESSED" in out
    failing = {c.get("name") for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
               if c.find("failure") is not None}
    assert ("hq_share" in failing) if "noise" in degrade else ({"modes", "reverse_kl"} <= failing)


def test_perfect_mixture_sampler_is_perfect():
    ds = get_dataset("ring")
    m = VectorEvaluator(ds, 2500, 0)(MixtureSampler(ds.centers, ds.sigma))
    # PacGAN's strict Euclidean 3-sigma rule keeps 1 - exp(-9/2) = 98.9% of a 2-D Gaussian.
    assert m["modes"] == 8 and m["hq_share"] > 0.98 and m["reverse_kl"] < 0.01
    assert np.isfinite(list(m.values())).all()
