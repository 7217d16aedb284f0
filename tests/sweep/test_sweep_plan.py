"""The plan of a grid: stable ids, one task per (model, dataset) seed group (per seed where a recipe
cannot stack seeds), round trip, clear errors."""

import dataclasses
import json
import sys

import pytest

from ganbench.config import RunConfig
from ganbench.errors import GanbenchError
from ganbench.sweep.executors import ExecutorOptions
from ganbench.sweep.grid import grid
from ganbench.sweep.plan import PLAN_FORMAT, build_plan, load_plan

BASE = RunConfig(model="gan", dataset="grid", budget="smoke", budget_overrides={"steps": 40})


def _plan(tmp_path, **changes):
    base = dataclasses.replace(BASE, out_dir=tmp_path / "run", **changes)
    return build_plan(grid(["gan", "wgan-gp"], ["grid", "ring"], [0, 1], base))


def test_one_task_per_seed_group_with_stable_distinct_ids(tmp_path):
    a, b = _plan(tmp_path), _plan(tmp_path)
    assert len(a.tasks) == 4
    assert {(t.model, t.dataset, t.seeds) for t in a.tasks} == {(m, d, (0, 1)) for m in ("gan", "wgan-gp")
                                                               for d in ("grid", "ring")}
    assert [t.id for t in a.tasks] == [t.id for t in b.tasks]
    assert len({t.id for t in a.tasks}) == 4
    assert all(d.startswith(str((tmp_path / "run").resolve())) and d.endswith(f"seed{s}")
               for t in a.tasks for d, s in zip(t.run_dirs, t.seeds))


def test_a_recipe_that_cannot_stack_gets_one_task_per_seed(tmp_path):
    """sngan's spectral norm is not on the vectorised path: its seeds train one by one, so each is a task."""
    plan = build_plan(grid(["gan", "sngan"], ["grid"], [0, 1], dataclasses.replace(BASE, out_dir=tmp_path)))
    assert [(t.model, t.seeds) for t in plan.tasks] == [("gan", (0, 1)), ("sngan", (0,)), ("sngan", (1,))]


def test_the_id_depends_on_the_seed_group(tmp_path):
    one = build_plan(grid(["gan"], ["grid"], [0], dataclasses.replace(BASE, out_dir=tmp_path)))
    assert one.tasks[0].id != _plan(tmp_path).tasks[0].id


@pytest.mark.parametrize("changes", [{"budget_overrides": {"steps": 41}},
                                     {"recipe_overrides": {"optimizer": {"lr_g": 1e-4}}},
                                     {"eval_options": {"n_boot": 3}}])
def test_the_id_changes_with_whatever_changes_the_numbers(tmp_path, changes):
    assert _plan(tmp_path).tasks[0].id != _plan(tmp_path, **changes).tasks[0].id


def test_the_id_does_not_depend_on_the_output_directory(tmp_path):
    other = build_plan(grid(["gan"], ["grid"], [0, 1], dataclasses.replace(BASE, out_dir=tmp_path / "elsewhere")))
    assert other.tasks[0].id == _plan(tmp_path).tasks[0].id


def test_plan_round_trip_rebuilds_each_config(tmp_path):
    plan = _plan(tmp_path)
    loaded = load_plan(plan.write(tmp_path / "plan.json"))
    assert loaded.tasks == plan.tasks
    cfgs = loaded.configs(3)
    t = plan.tasks[3]
    assert [(c.model, c.dataset, c.seed) for c in cfgs] == [(t.model, t.dataset, s) for s in t.seeds]
    assert all(c.resume and c.budget_overrides == {"steps": 40} for c in cfgs)
    assert [str(c.run_dir()) for c in cfgs] == list(t.run_dirs)


def test_bad_plans_and_indices_are_one_line_errors(tmp_path):
    with pytest.raises(GanbenchError, match="no plan at"):
        load_plan(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": PLAN_FORMAT, "tasks": [{"index": 0}]}))
    with pytest.raises(GanbenchError, match="not a valid ganbench plan"):
        load_plan(bad)
    bad.write_text(json.dumps({"format": "ganbench-plan/1", "tasks": []}))  # per-seed tasks, before seed groups
    with pytest.raises(GanbenchError, match="from an older ganbench"):
        load_plan(bad)
    plan = load_plan(_plan(tmp_path).write(tmp_path / "plan.json"))
    with pytest.raises(GanbenchError, match="out of range"):
        plan.configs(4)


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
