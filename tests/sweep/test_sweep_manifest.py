"""The task manifest: stable ids, one task per (model, dataset, seed), round trip, clear errors."""

import dataclasses
import json
import sys

import pytest

from ganbench.config import RunConfig
from ganbench.errors import GanbenchError
from ganbench.suite import grid
from ganbench.sweep.executors import ExecutorOptions
from ganbench.sweep.manifest import build_plan, load_plan

BASE = RunConfig(model="gan", dataset="grid", budget="smoke", budget_overrides={"steps": 40})


def _plan(tmp_path, **changes):
    base = dataclasses.replace(BASE, out_dir=tmp_path / "run", **changes)
    return build_plan(grid(["gan", "wgan-gp"], ["grid", "ring"], [0, 1], base))


def test_one_task_per_model_dataset_seed_with_stable_distinct_ids(tmp_path):
    a, b = _plan(tmp_path), _plan(tmp_path)
    assert len(a.tasks) == 8
    assert {(t.model, t.dataset, t.seed) for t in a.tasks} == {(m, d, s) for m in ("gan", "wgan-gp")
                                                              for d in ("grid", "ring") for s in (0, 1)}
    assert [t.id for t in a.tasks] == [t.id for t in b.tasks]
    assert len({t.id for t in a.tasks}) == 8
    assert all(t.run_dir.startswith(str((tmp_path / "run").resolve())) for t in a.tasks)


@pytest.mark.parametrize("changes", [{"budget_overrides": {"steps": 41}},
                                     {"recipe_overrides": {"optimizer": {"lr_g": 1e-4}}},
                                     {"eval_options": {"n_boot": 3}}])
def test_the_id_changes_with_whatever_changes_the_numbers(tmp_path, changes):
    assert _plan(tmp_path).tasks[0].id != _plan(tmp_path, **changes).tasks[0].id


def test_the_id_does_not_depend_on_the_output_directory(tmp_path):
    other = build_plan(grid(["gan"], ["grid"], [0], dataclasses.replace(BASE, out_dir=tmp_path / "elsewhere")))
    assert other.tasks[0].id == _plan(tmp_path).tasks[0].id


def test_plan_round_trip_rebuilds_each_config(tmp_path):
    plan = _plan(tmp_path)
    loaded = load_plan(plan.write(tmp_path / "plan.json"))
    assert loaded.tasks == plan.tasks
    cfg = loaded.config(5)
    assert (cfg.model, cfg.dataset, cfg.seed) == (plan.tasks[5].model, plan.tasks[5].dataset, plan.tasks[5].seed)
    assert cfg.resume and cfg.budget_overrides == {"steps": 40} and str(cfg.run_dir()) == plan.tasks[5].run_dir


def test_bad_plans_and_indices_are_one_line_errors(tmp_path):
    with pytest.raises(GanbenchError, match="no plan at"):
        load_plan(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "ganbench-plan/1", "tasks": [{"index": 0}]}))
    with pytest.raises(GanbenchError, match="not a valid ganbench plan"):
        load_plan(bad)
    plan = load_plan(_plan(tmp_path).write(tmp_path / "plan.json"))
    with pytest.raises(GanbenchError, match="out of range"):
        plan.config(8)


@pytest.mark.parametrize("name,module", [("ray", "ray"), ("slurm", "submitit")])
def test_a_missing_extra_names_it(monkeypatch, name, module):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(GanbenchError, match=rf"pip install 'ganbench\[{name}\]'"):
        ExecutorOptions(name=name).check()


def test_slurm_without_sbatch_is_a_one_line_error(monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GanbenchError, match="sbatch not found"):
        ExecutorOptions(name="slurm").check()
    ExecutorOptions(name="slurm", slurm_cluster="local").check()  # the local executor needs no Slurm
