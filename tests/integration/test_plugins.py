"""Installed packages register models, steps, objectives (any registry) through entry points:
`ganbench list` shows them with the package they come from, `ganbench run` trains them by name, and
two packages registering one name are refused in one line. The package here is a dist-info folder
on the path, as pip leaves one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ganbench.errors import GanbenchError
from ganbench.registry import Registry

PLUGIN = '''
"""A test plugin: a recipe, a step and an objective."""
from pathlib import Path

import torch.nn.functional as F

from ganbench.losses import Objective
from ganbench.training.method import AlternatingStep

SOFT = Objective(lambda real, fake: F.softplus(-real).mean(-1) + F.softplus(fake).mean(-1),
                 lambda fake: F.softplus(-fake).mean(-1))


class PluginStep(AlternatingStep):
    """the plugin's step: alternating updates"""


def recipe():
    return {"description": "the plugin's model", "objective": "soft-ns", "update": "plugin-step",
            "vector": {"update": "plugin-step"}}
'''


def _site(tmp_path: Path, dist: str = "ganbench_testplugin", version: str = "0.3", model: str = "plugin-gan") -> Path:
    site = tmp_path / f"site-{dist}"
    (site / dist).mkdir(parents=True)
    (site / dist / "__init__.py").write_text(PLUGIN)
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(f"""\
        [ganbench.models]
        {model} = {dist}:recipe
        [ganbench.steps]
        plugin-step = {dist}:PluginStep
        [ganbench.objectives]
        soft-ns = {dist}:SOFT
        """))
    return site


def test_a_registry_lists_and_loads_an_installed_packages_entries(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_site(tmp_path)))
    steps = Registry("training step", "steps")
    steps.declare("alternating", "ganbench.training.method", "n_dis critic steps, then G")
    assert steps.names() == ["alternating", "plugin-step"]
    assert steps.origin("plugin-step")["distribution"] == "ganbench-testplugin"
    assert steps.origin("plugin-step")["version"] == "0.3" and steps.origin("alternating") is None
    assert steps.get("plugin-step").__name__ == "PluginStep"
    assert steps.help("plugin-step") == "the plugin's step: alternating updates"


def test_two_packages_registering_one_name_are_refused(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_site(tmp_path)))
    monkeypatch.syspath_prepend(str(_site(tmp_path, "ganbench_otherplugin", "1.0")))
    models = Registry("model", "models")
    with pytest.raises(GanbenchError, match=r"model 'plugin-gan' is registered twice: by ganbench-\w+ and by "
                                            r"ganbench-\w+ .*uninstall one"):
        models.names()


def test_a_package_may_not_take_a_name_ganbench_has(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_site(tmp_path, model="gan")))
    models = Registry("model", "models")
    models.register("gan", Path("gan.toml"))
    with pytest.raises(GanbenchError, match="'gan' is registered twice: by ganbench itself and by ganbench-testplugin"):
        models.names()


def test_list_and_run_an_installed_method_by_name(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_site(tmp_path)), *sys.path]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganbench.cli"]
    out = subprocess.run(cmd + ["list"], env=env, capture_output=True, text=True, check=True).stdout
    assert "plugin-gan" in out and "[from ganbench-testplugin 0.3]" in out and "plugin-step" in out
    assert "the plugin's model  [from ganbench-testplugin 0.3]" in out  # a model's help: its recipe's description
    r = subprocess.run(cmd + ["run", "--models", "plugin-gan,gan", "--dataset", "ring", "--budget", "smoke",
                              "--seeds", "0", "--steps", "20", "--eval-every", "20", "--quiet", "--no-tensorboard",
                              "--out", str(tmp_path / "run")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    recs = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    mine = next(x for x in recs if x["model"] == "plugin-gan")
    parts = mine["protocol"]["method_parts"]
    assert parts["update"]["distribution"] == parts["objective"]["distribution"] == "ganbench-testplugin"
    assert mine["protocol"]["update"] == "plugin-step" and mine["protocol"]["objective"] == "soft-ns"
    assert {x["model"] for x in recs} == {"plugin-gan", "gan"}
