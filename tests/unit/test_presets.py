"""Protocol presets (ganbench/presets.py, data in ganbench/presets.toml) and stated checkpoint selection (ganbench/selection.py)."""

import pytest

from ganbench.config import load_recipe
from ganbench.errors import GanbenchError, UnknownNameError
from ganbench.presets import PRESETS, STATISTICS, apply_preset, get_preset, preset_fields, training_preset
from ganbench.records import ResultRecord
from ganbench.selection import best_over_training, min_over_eval_seeds, selection_labels, training_selection


def test_published_presets_fix_counts_split_extractor_mode_and_statistic():
    assert {"fid10k_test", "fid50k_train", "fid5k_test", "kid50k_train", "pr50k3_train", "cpu2k_train"} <= set(PRESETS)
    p = get_preset("fid10k_test")
    assert (p.n_gen, p.n_real, p.split, p.extractor, p.mode) == (10_000, 10_000, "test", "inception", "legacy-tf")
    assert get_preset("fid50k_train").split == "train" and get_preset("fid50k_train").eval_seeds == 3
    for name in PRESETS:
        q = get_preset(name)
        assert q.statistic in STATISTICS and q.source
    fields = preset_fields("pr50k3_train")
    assert fields["preset"] == "pr50k3_train" and fields["preset_protocol"]["metrics"] == ["pr"]
    with pytest.raises(UnknownNameError, match="did you mean 'fid10k_test'"):
        get_preset("fid10k_tset")


def test_preset_table_with_a_typo_or_unknown_statistic_is_refused():
    from ganbench.presets import _preset_from_table

    good = dict(metrics=["fid"], n_gen=10, n_real=10, split="test", extractor="inception", mode="legacy-tf",
                statistic="final step", eval_seeds=1, source="test")
    assert _preset_from_table("ok", good).metrics == ("fid",)
    assert _preset_from_table("whole_split", {k: v for k, v in good.items() if k != "n_real"}).n_real is None
    with pytest.raises(ValueError, match=r"\[typo\]: unknown \['n_gens'\]"):
        _preset_from_table("typo", {**{k: v for k, v in good.items() if k != "n_gen"}, "n_gens": 10})
    with pytest.raises(ValueError, match="statistic 'best'"):
        _preset_from_table("stat", {**good, "statistic": "best"})


def test_apply_preset_fills_options_and_refuses_contradictions():
    opts = {"metrics": ["fid", "kid", "is", "pr", "dc"], "n": None, "n_real": None, "split": "train",
            "features": "inception", "mode": "legacy-tf"}
    o = apply_preset("fid10k_test", opts, explicit=set())
    assert (o["n"], o["n_real"], o["split"], o["metrics"]) == (10_000, 10_000, "test", ["fid"])
    # Extra metrics asked for explicitly ride along; a contradicting option is an error.
    assert apply_preset("fid10k_test", {**opts, "metrics": ["fid", "kid"]}, {"metrics"})["metrics"] == ["fid", "kid"]
    with pytest.raises(GanbenchError, match="fixes --split to test"):
        apply_preset("fid10k_test", {**opts, "split": "train"}, {"split"})
    with pytest.raises(GanbenchError, match="fixes -n to 10000"):
        apply_preset("fid10k_test", {**opts, "n": 500}, {"n"})


def test_budgets_name_their_preset_and_records_say_when_it_is_not_followed():
    for budget, preset in (("smoke", "smoke32_train"), ("cpu", "cpu2k_train"), ("paper", "fid50k_train")):
        b = load_recipe("dcgan").budget(budget, "image")
        assert b.preset == preset
        p = get_preset(preset)
        assert (b.n_eval, b.n_real) == (p.n_gen, p.n_real)  # the budget evaluates what its preset fixes
        assert training_preset(b.preset, b.n_eval, b.n_real, "train", "inception", "legacy-tf")["preset"] == preset
    off = training_preset("cpu2k_train", 1000, 1000, "train", "domain", "legacy-tf")
    assert off["preset"] is None and "n_gen 1000 (preset 2000)" in off["preset_not_followed"]


def _rec(step, fid, kind="train-eval", seed=0):
    return ResultRecord("m", "d", seed, step, {"fid": fid}, {"steps": 300}, kind=kind)


def test_selection_is_stated_with_how_many_evaluations():
    assert training_selection(300, 300) == "final step" and training_selection(100, 300) == "step 100 of 300"
    best = best_over_training([_rec(100, 40.0), _rec(200, 31.0), _rec(300, 35.0)], "fid")
    assert best.step == 200 and best.protocol["selection"] == "best over training by fid (of 3 evaluations)"
    m = min_over_eval_seeds([_rec(0, 30.2, "eval", s) for s in range(3)] + [_rec(0, 29.9, "eval", 3)], "fid")
    assert m.seed == 3 and m.protocol["selection_evaluations"] == 4 and "minimum over evaluation seeds" in \
        m.protocol["selection"]
    assert selection_labels([best, _rec(1, 1.0)]) == ["best over training by fid (of 3 evaluations)", "not stated"]
    with pytest.raises(GanbenchError, match="no record has a value"):
        best_over_training([_rec(1, None)], "fid")


def test_eval_preset_contradiction_is_one_line_exit_2(tmp_path, capsys):
    import numpy as np

    from ganbench.cli import main

    x = tmp_path / "x.npz"
    np.savez(x, x=np.zeros((4, 1, 8, 8), np.uint8))
    with pytest.raises(SystemExit) as e:
        main(["eval", str(x), "--ref", str(x), "--preset", "fid10k_test", "--split", "train", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "--preset fid10k_test fixes --split to test" in err[0]

