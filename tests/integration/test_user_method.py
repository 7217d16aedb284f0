"""A method that is not ganbench's, defined in this file, trained beside a baseline: through
``--models recipe.toml``, through ``ganbench.train`` with a method object, resumed after a kill,
and refused in one line when it is broken."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganbench.training.method import AlternatingStep

from cli_fakes import run_cli  # tests/ is on sys.path (rootdir conftest)

HERE = Path(__file__).resolve()
SMOKE = ["--dataset", "ring", "--budget", "smoke", "--seeds", "0,1", "--steps", "40", "--eval-every", "20", "--quiet",
         "--no-tensorboard"]


class HalfR1EMA(AlternatingStep):
    """The test's own method: the non-saturating GAN with R1 on real data and an EMA generator."""

    def start(self, players):
        self.ema = {k: v.detach().clone() for k, v in players.g_params().items()}

    def discriminator_loss(self, players, x_real, y_real, x_fake, y_fake):
        x_real = x_real.detach().requires_grad_(True)
        real, _ = players.d(x_real)
        fake, _ = players.d(x_fake)
        (grad,) = torch.autograd.grad(real.sum(), x_real, create_graph=True)
        penalty = (players.example_norms(grad) ** 2).mean(-1)
        return self.objective.d_loss(real, fake) + self.recipe.params["r1"] * penalty

    def generator_step(self, players):
        loss = super().generator_step(players)
        with torch.no_grad():
            for k, v in players.g_params().items():
                self.ema[k].lerp_(v.detach(), 1 - self.recipe.params["beta"])
        return loss

    def state(self, players):
        return self.ema

    def load_state(self, players, state):
        self.ema = {k: v.clone() for k, v in state.items()}

    def eval_state(self, players):
        return {**players.g_state(), **self.ema}


class NoLosses(AlternatingStep):
    def __call__(self, players, n_dis):
        super().__call__(players, n_dis)
        return {}


class NaNLoss(AlternatingStep):
    def __call__(self, players, n_dis):
        out = super().__call__(players, n_dis)
        return {**out, "g_loss": out["g_loss"] * float("nan")}


def _recipe(tmp_path: Path, name: str = "mine", update: str = f"{HERE.stem}:HalfR1EMA", **extra: str) -> Path:
    lines = [f'name = "{name}"', 'description = "the test\'s own method"', f'update = "{update}"',
             *(f"{k} = {v}" for k, v in extra.items()), "[params]", "r1 = 0.1", "beta = 0.9"]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _records(out: Path) -> dict:
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    return {(r["model"], r["dataset"], r["seed"], r["step"]): r for r in recs}


def test_a_recipe_file_trains_beside_a_baseline_and_says_what_code_it_ran(tmp_path, capsys):
    code, _out, err = run_cli(capsys, "run", "--models", f"{_recipe(tmp_path)},gan", *SMOKE, "--out", tmp_path / "run")
    assert code == 0, err
    recs = _records(tmp_path / "run")
    assert {k[0] for k in recs} == {"mine", "gan"} and {k[3] for k in recs} == {20, 40}
    mine = recs[("mine", "ring", 1, 40)]
    part = mine["protocol"]["method_parts"]["update"]
    assert part["ref"] == f"{HERE.stem}:HalfR1EMA" and part["sha256"] == hashlib.sha256(HERE.read_bytes()).hexdigest()
    assert mine["protocol"]["update"] == part["ref"] and mine["protocol"]["params"] == {"r1": 0.1, "beta": 0.9}
    assert mine["protocol"]["vectorised_seeds"] == 2 and mine["protocol"]["selection"] == "final step"
    assert set(mine["protocol"]) - {"method_parts", "params"} == set(recs[("gan", "ring", 1, 40)]["protocol"])
    assert "| mine " in (tmp_path / "run" / "table.md").read_text()
    ck = torch.load(tmp_path / "run" / "mine" / "ring" / "seed1" / "checkpoint.pt", weights_only=True)
    assert set(ck["step_state"]) == {k for k in ck["generator"] if "running" not in k and "num_batches" not in k}


def test_the_python_interface_gives_the_records_of_the_cli(tmp_path, capsys):
    import ganbench
    from ganbench.config import load_recipe

    assert run_cli(capsys, "run", "--models", _recipe(tmp_path), *SMOKE, "--out", tmp_path / "cli")[0] == 0
    recipe = load_recipe("gan")
    recipe.name, recipe.params = "mine", {"r1": 0.1, "beta": 0.9}
    method = ganbench.Method(recipe, step=HalfR1EMA)  # no file: the step is this file's class
    result = ganbench.train(method, "ring", seeds=[0, 1], budget="smoke", steps=40, eval_every=20,
                            out=tmp_path / "api", tensorboard=False)
    a, b = _records(tmp_path / "cli"), _records(tmp_path / "api")
    assert a.keys() == b.keys() and result.out == tmp_path / "api" and len(result.records) == len(b)
    for k in a:
        assert a[k]["metrics"] == b[k]["metrics"], k
        assert {**a[k]["protocol"], "method_parts": None} == {**b[k]["protocol"], "method_parts": None}, k
    assert any(line.startswith("mine ") for line in result.table.splitlines())


def test_a_killed_run_of_a_user_method_resumes_to_the_uninterrupted_records(tmp_path):
    recipe = _recipe(tmp_path)
    args = ["run", "--models", str(recipe), "--dataset", "ring", "--budget", "smoke", "--seeds", "0,1",
            "--steps", "400", "--eval-every", "200", "--checkpoint-every", "20", "--workers", "1", "--quiet",
            "--no-tensorboard"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE.parent), *sys.path])}
    cmd = [sys.executable, "-m", "ganbench.cli"]
    ck = tmp_path / "cut" / "mine" / "ring" / "seed0" / "checkpoint.pt"
    p = subprocess.Popen(cmd + args + ["--out", str(tmp_path / "cut")], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while not ck.exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    step = torch.load(ck, weights_only=True)["step"]
    assert 0 < step < 400, "the kill must land mid-way for this test to mean anything"
    for out, extra in (("cut", ["--resume"]), ("full", [])):
        r = subprocess.run(cmd + args + ["--out", str(tmp_path / out), *extra], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    a, b = _records(tmp_path / "full"), _records(tmp_path / "cut")
    assert a.keys() == b.keys() and {k[3] for k in a} == {200, 400}
    assert all(a[k]["metrics"] == b[k]["metrics"] for k in a)
    full = torch.load(tmp_path / "full" / "mine" / "ring" / "seed0" / "checkpoint.pt", weights_only=True)
    cut = torch.load(ck, weights_only=True)
    for part in ("generator", "step_state"):
        assert all(torch.equal(full[part][k], cut[part][k]) for k in full[part]), part


@pytest.mark.parametrize("recipe, needle", [
    ({"update": '"no_such_module:Step"'}, "'no_such_module:Step' does not import"),
    ({"update": f'"{HERE.stem}:Nothing"'}, f"module '{HERE.stem}' has no 'Nothing'"),
    ({"update": f'"{HERE.stem}:HERE"'}, "is not a ganbench Step class"),
    ({"stepz": '"alternating"'}, "unknown recipe key 'stepz'"),
    ({"objective": '"nope"'}, "unknown objective 'nope'"),
])
def test_a_broken_method_is_one_line_naming_the_file_and_field_before_anything_is_written(tmp_path, capsys, recipe,
                                                                                          needle):
    path = tmp_path / "bad.toml"
    path.write_text("\n".join(f"{k} = {v}" for k, v in recipe.items()) + "\n")
    code, _, err = run_cli(capsys, "run", "--models", f"{path},gan", *SMOKE, "--out", tmp_path / "run")
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert str(path) in err or "bad" in err
    assert not (tmp_path / "run").exists()


class WrongShape(torch.nn.Module):
    def __init__(self, out_dim, num_classes=0, **_):
        super().__init__()
        self.z_dim, self.num_classes = 2, 0
        self.lin = torch.nn.Linear(2, out_dim + 1)

    def forward(self, z, y=None):
        return self.lin(z)


def test_networks_of_the_wrong_shape_are_refused_before_training(tmp_path, capsys):
    path = tmp_path / "shape.toml"
    path.write_text(f'[arch.vector]\ngenerator = "{HERE.stem}:WrongShape"\n')
    code, _, err = run_cli(capsys, "run", "--models", path, *SMOKE, "--out", tmp_path / "run")
    assert code == 2 and "returns (2, 3)" in err and "ring needs (2, 2)" in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("step, needle", [("NoLosses", "step 1 returned no losses"),
                                          ("NaNLoss", "step 1 returned a non-finite g_loss")])
def test_a_step_that_returns_no_or_non_finite_losses_fails_with_the_step_number(tmp_path, capsys, step, needle):
    path = _recipe(tmp_path, "broken", f"{HERE.stem}:{step}")
    code, _, err = run_cli(capsys, "run", "--models", path, *SMOKE, "--out", tmp_path / "run")
    error = [line for line in err.splitlines() if line.startswith("ganbench: error")]
    assert code == 2 and len(error) == 1 and needle in error[0] and str(path) in error[0], err


def test_two_models_of_one_name_are_refused(tmp_path, capsys):
    path = _recipe(tmp_path, "gan")
    code, _, err = run_cli(capsys, "run", "--models", f"{path},gan", *SMOKE, "--out", tmp_path / "run")
    assert code == 2 and "names 'gan' twice" in err


def test_a_checkpoint_never_imports_the_code_its_recipe_names(tmp_path, capsys):
    """`ganbench eval` of a checkpoint whose networks are a user's: refused without the recipe, not imported."""
    from ganbench.errors import GanbenchError
    from ganbench.generators.checkpoint import rebuild_generator

    ck = {"recipe": {"arch": {"image": {"generator": "evil_module:G", "discriminator": "dcgan"}}},
          "run": {"modality": "image", "shape": [1, 8, 8], "num_classes": 0}, "generator": {}}
    with pytest.raises(GanbenchError, match="does not import code that a checkpoint names"):
        rebuild_generator(ck, Path("ck.pt"))
    assert "evil_module" not in sys.modules
