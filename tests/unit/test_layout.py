"""The run directory's names live in ganbench.layout: everything `ganbench run` writes is named there."""

from __future__ import annotations

from pathlib import Path

from ganbench import layout
from ganbench.config import RunConfig
from ganbench.layout import RunLayout, SuiteLayout
from ganbench.records import read_records

from cli_fakes import run_cli


def test_run_config_directory_is_the_layout():
    cfg = RunConfig(model="gan", dataset="npz:/data/x.npz", seed=2, out_dir=Path("out"))
    assert cfg.run_dir() == RunLayout.of("out", "gan", "npz:/data/x.npz", 2).root == \
        Path("out/gan/npz__data_x.npz/seed2")
    assert cfg.layout().records == cfg.run_dir() / layout.RECORDS
    assert SuiteLayout(Path("out")).run("gan", "npz:/data/x.npz", 2) == cfg.layout()


def test_every_file_a_run_writes_is_named_by_the_layout(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "run", "--models", "gan", "--dataset", "ring", "--budget", "smoke", "--seeds", "0",
                           "--steps", "20", "--eval-every", "10", "--out", out, "--quiet")
    assert code == 0, err
    suite, run = SuiteLayout(out), SuiteLayout(out).run("gan", "ring", 0)
    names = {v for k, v in vars(layout).items() if k.isupper() and isinstance(v, str)}
    top = {p.name for p in out.iterdir() if p.is_file()}
    assert top <= names | {"table.csv", "table.tex", "table.html", "mog_samples.png"}, top - names
    assert {p.name for p in run.root.iterdir()} <= names, {p.name for p in run.root.iterdir()} - names
    assert run.checkpoint.is_file() and run.samples.is_file() and suite.plan.is_file()
    # The summary is rebuilt from the per-run records, written through the layout.
    assert [r.step for r in read_records([suite.records])] == [r.step for r in read_records([run.records])] == [10, 20]
    assert suite.run_record_files() == [run.records]
