"""examples/r1-ema, the worked example of docs/your-method.md, runs by recipe path beside a baseline
(its step imported from beside the recipe, not installed) and checks its own [params]."""

from __future__ import annotations

import json
from pathlib import Path

from cli_fakes import run_cli  # tests/ is on sys.path (rootdir conftest)

RECIPE = Path(__file__).resolve().parents[2] / "examples" / "r1-ema" / "ganbench_r1ema" / "r1-ema.toml"
ARGS = ["--dataset", "ring", "--budget", "smoke", "--seeds", "0,1", "--steps", "40", "--eval-every", "40", "--quiet",
        "--no-tensorboard"]


def test_the_example_trains_beside_gan_by_recipe_path(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", "--models", f"{RECIPE},gan", *ARGS, "--out", tmp_path / "run")
    assert code == 0, err
    recs = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    mine = [r for r in recs if r["model"] == "r1-ema"]
    assert len(mine) == 2 and {r["seed"] for r in mine} == {0, 1}
    p = mine[0]["protocol"]
    assert p["update"] == "ganbench_r1ema.step:R1EMAStep" and p["params"] == {"r1": 10.0, "ema_beta": 0.999}
    assert p["method_parts"]["update"]["module"] == "ganbench_r1ema.step" and p["vectorised_seeds"] == 2
    assert "r1-ema" in out


def test_the_example_refuses_bad_params_in_one_line(tmp_path, capsys):
    bad = tmp_path / "ganbench_r1ema"
    bad.mkdir()
    (bad / "__init__.py").write_text("")
    (bad / "step.py").write_text((RECIPE.parent / "step.py").read_text())
    (bad / "r1-ema.toml").write_text(RECIPE.read_text().replace("ema_beta = 0.999", "ema_beta = 1.5"))
    code, _, err = run_cli(capsys, "run", "--models", bad / "r1-ema.toml", *ARGS, "--out", tmp_path / "run")
    lines = [ln for ln in err.splitlines() if ln.startswith("ganbench: error")]
    assert code == 2 and len(lines) == 1 and "params.ema_beta must be in [0, 1), got 1.5" in lines[0], err
    assert str(bad / "r1-ema.toml") in lines[0] and not (tmp_path / "run").exists()  # before anything is written
