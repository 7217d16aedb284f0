"""`ganbench run` end to end on the mixtures, and its one-line errors."""

import subprocess
import sys

import pytest

from ganbench.records import read_records

CMD = [sys.executable, "-m", "ganbench.cli"]


def test_run_writes_records_table_and_plot(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run(CMD + ["run", "--models", "gan,wgan-gp", "--dataset", "grid", "--budget", "smoke",
                              "--seeds", "0,1", "--steps", "40", "--eval-every", "20", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    recs = read_records([out / "records.jsonl"])
    assert {(x.model, x.seed, x.step) for x in recs} == {(m, s, st) for m in ("gan", "wgan-gp")
                                                          for s in (0, 1) for st in (20, 40)}
    rec = recs[0]
    assert {"modes", "hq_share", "reverse_kl"} <= set(rec.metrics)
    assert rec.protocol["n_gen"] == 2500 and rec.protocol["budget"] == "smoke" and "hq_rule" in rec.protocol
    assert {"ganbench", "torch", "device", "wall_s", "git_sha"} <= set(rec.provenance)
    table = (out / "table.md").read_text()
    assert "| gan " in table and "grid modes" in table and "±" in table
    assert (out / "mog_samples.png").stat().st_size > 5000
    assert "grid:" in r.stdout and "modes ↑" in r.stdout  # the terminal's compact table, one block per dataset


@pytest.mark.parametrize("args,needle", [
    (["--models", "gam"], "did you mean 'gan"),
    (["--models", "gan", "--dataset", "rnig"], "did you mean 'ring'"),
    (["--models", "gan", "--budget", "smok"], "did you mean 'smoke'"),
    (["--models", "gan", "--seeds", "a,b"], "--seeds"),
    (["--models", "gan", "--set", "optimizer.lr_g"], "KEY=VALUE"),
])
def test_bad_names_give_one_line_and_nonzero_exit(args, needle, tmp_path):
    r = subprocess.run(CMD + ["run", *args, "--out", str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()  # nothing ran


def test_list_shows_every_registry():
    r = subprocess.run(CMD + ["list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for word in ("models:", "datasets:", "metrics:", "budgets:", "wgan-gp", "grid", "smoke", "paper"):
        assert word in r.stdout
