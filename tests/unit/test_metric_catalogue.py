"""The metric catalogue (ganbench.metrics.spec): what a metric means lives on its MetricSpec, and
`ganbench check` and the report read it from there (issue 10)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ganbench.check import REGRESSED, compare, direction, protocol_keys
from ganbench.errors import GanbenchError
from ganbench.evaluation.images import compute_image_metrics
from ganbench.metrics import inception_score, kid
from ganbench.metrics.spec import HIGHER, LOWER, ZERO, MetricSpec, display_order
from ganbench.records import ResultRecord
from ganbench.registry import METRICS
from ganbench.report.tables import metric_order

PROTO = {"n_gen": 100, "n_real": 100, "extractor": "x", "budget": "smoke", "steps": 10}


def recs(metrics: dict[str, list[float]], protocol: dict | None = None) -> list[ResultRecord]:
    seeds = len(next(iter(metrics.values())))
    return [ResultRecord("m", "d", s, 10, {k: v[s] for k, v in metrics.items()}, protocol=dict(protocol or PROTO))
            for s in range(seeds)]


def _specs() -> list[MetricSpec]:
    return [METRICS.get(n) for n in METRICS.names()]


def test_check_judges_every_output_the_way_its_spec_says():
    judged = {k: v for s in _specs() for k, v in s.better.items() if v is not None}
    assert judged["ct"] == ZERO and judged["kl_to_uniform"] == LOWER and judged["nn_dist_median"] == HIGHER
    for output, better in judged.items():
        assert direction(output) == better, output
    # Descriptions of the measurement are not judged.
    assert direction("ct_cells_used") is None and direction("classifier_accuracy") is None


def test_nn_distance_is_judged_higher_is_better():
    base = recs({"nn_dist_median": [5.0, 5.2, 5.1]})
    closer = recs({"nn_dist_median": [1.0, 1.1, 0.9]})  # samples moved onto the training set
    rows = {r.metric: r for r in compare(base, closer).rows}
    assert rows["nn_dist_median"].better == HIGHER and rows["nn_dist_median"].status == REGRESSED


def test_guard_compares_exactly_the_keys_specs_declare():
    keys = protocol_keys()
    declared = {k for s in _specs() for k in s.compared}
    assert declared <= set(keys) and {"pr_k", "dc_k", "kid_subset_size", "hq_radius_sigmas"} <= declared
    # A sampling seed is written, never compared: a re-evaluation under other seeds stays comparable.
    assert "kid_seed" not in keys and "is_shuffle_seed" not in keys
    for key in sorted(declared):
        with pytest.raises(GanbenchError, match=f"protocol differs for m/d: {key} 1 \\(baseline\\) vs 2"):
            compare(recs({"fid": [30.0]}, {**PROTO, key: 1}), recs({"fid": [30.0]}, {**PROTO, key: 2}))
    same = compare(recs({"fid": [30.0]}, {**PROTO, "kid_seed": 1}), recs({"fid": [30.0]}, {**PROTO, "kid_seed": 2}))
    assert not same.protocol_diffs


def test_records_with_different_pr_k_fail_the_guard():
    with pytest.raises(GanbenchError, match="pr_k 3 \\(baseline\\) vs 5"):
        compare(recs({"precision": [0.5]}, {**PROTO, "pr_k": 3}), recs({"precision": [0.5]}, {**PROTO, "pr_k": 5}))


def test_display_order_is_the_specs_and_tables_follow_it():
    order = display_order()
    assert order[:3] == ["modes", "hq_share", "reverse_kl"] and order.index("fid") < order.index("kid") \
        < order.index("is") < order.index("precision") < order.index("coverage")
    assert metric_order(["zeta", "coverage", "fid", "modes"]) == ["modes", "fid", "coverage", "zeta"]


@pytest.mark.parametrize("name,param,key", [("kid", "seed", "kid_seed"), ("is", "seed", "is_shuffle_seed")])
def test_seed_in_the_protocol_is_the_seed_used(monkeypatch, name, param, key):
    """Change a metric's default seed: the record says the new one, and the value is the one drawn with it."""
    rng = np.random.default_rng(0)
    real = {"pool3": rng.normal(size=(40, 6)), "logits": rng.normal(size=(40, 10))}
    fake = {"pool3": rng.normal(size=(30, 6)) + 0.2, "logits": rng.normal(size=(30, 10))}
    spec = METRICS.get(name)
    changed = dataclasses.replace(spec, params={**spec.params, param: 7})
    with METRICS.temporarily(name, changed):
        values, proto = compute_image_metrics(real, fake, [name], n_boot=0)
    assert proto[key] == 7
    if name == "kid":
        expected = kid.kid_from_features(real["pool3"], fake["pool3"], subset_size=30, num_subsets=100, seed=7)[0]
        assert values["kid"] == pytest.approx(expected, rel=1e-12)
        assert proto["kid_subset_size"] == 30  # the subset size used: the smaller set, not the default 1000
    else:
        expected = inception_score.inception_score_from_logits(fake["logits"], splits=10, seed=7)[0]
        assert values["is"] == pytest.approx(expected, rel=1e-12)


def test_spec_rejects_an_unknown_direction():
    with pytest.raises(ValueError, match="unknown direction"):
        MetricSpec("x", ("pool3",), {"x": "smaller"}, lambda r, f: {"x": 0.0})
