"""`ganbench run-task`: idempotent, resumes a killed task exactly; `ganbench status` and `report` over it.
A task is a (model, dataset)'s seeds stacked where the recipe allows (gan here), else one seed."""

import signal
import subprocess
import time

import pytest
from conftest import CMD, cli_env, cli_inproc, metrics_by_key, run_cli

import ganbench.training.run
from ganbench.generators.checkpoint import load_checkpoint
from ganbench.layout import CHECKPOINT
from ganbench.sweep.plan import load_plan
from ganbench.sweep.state import read_state, run_task_of_plan

SMALL = ["--models", "gan", "--dataset", "grid,ring", "--seeds", "0,1", "--budget", "smoke",
         "--steps", "40", "--eval-every", "20", "--quiet"]


def test_plan_writes_tasks_without_training(tmp_path):
    r = run_cli("run", *SMALL, "--out", tmp_path / "run", "--plan", tmp_path / "plan.json")
    assert "wrote 2 tasks" in r.stderr
    assert (tmp_path / "run" / "plan.json").read_text() == (tmp_path / "plan.json").read_text()
    assert not list((tmp_path / "run").rglob(CHECKPOINT)) and not (tmp_path / "run" / "gan").exists()


def test_plan_tasks_are_seed_groups(tmp_path, capsys):
    cli_inproc(capsys, "run", *SMALL, "--out", tmp_path / "run", "--plan", tmp_path / "plan.json")
    plan = load_plan(tmp_path / "plan.json")
    assert [(t.dataset, t.seeds) for t in plan.tasks] == [("grid", (0, 1)), ("ring", (0, 1))]
    assert plan.tasks[1].label == "gan/ring/seeds 0,1"


def test_run_task_twice_does_no_work_the_second_time(tmp_path, monkeypatch, capsys):
    cli_inproc(capsys, "run", *SMALL, "--out", tmp_path / "run", "--plan", tmp_path / "plan.json")
    first = run_task_of_plan(tmp_path / "plan.json", 1, threads=1)
    assert [o.cfg.seed for o in first] == [0, 1]
    assert not any(o.error or o.skipped for o in first) and all({r["step"] for r in o.records} == {20, 40}
                                                                for o in first)
    ck = tmp_path / "run" / "gan" / "ring" / "seed1" / CHECKPOINT
    stamp = ck.stat().st_mtime_ns

    def no_training(*a, **k):
        raise AssertionError("a finished task was run again")

    monkeypatch.setattr(ganbench.training.run.TaskRun, "run", no_training)
    second = run_task_of_plan(tmp_path / "plan.json", 1, threads=1)
    assert all(o.skipped for o in second) and [o.records for o in second] == [o.records for o in first]
    assert ck.stat().st_mtime_ns == stamp and read_state(ck.parent)["attempt"] == 1
    code, out, _ = cli_inproc(capsys, "run-task", tmp_path / "plan.json", "--index", 1)
    assert code == 0 and "already done, skipped" in out


@pytest.mark.slow
def test_killed_task_resumes_to_the_records_of_an_uninterrupted_one(tmp_path, capsys):
    long = ["--models", "gan", "--dataset", "ring", "--seeds", "0", "--budget", "smoke", "--steps", "600",
            "--eval-every", "200", "--checkpoint-every", "20", "--quiet"]
    for name in ("cut", "full"):
        cli_inproc(capsys, "run", *long, "--out", tmp_path / name, "--plan", tmp_path / f"{name}.json")
    ck = tmp_path / "cut" / "gan" / "ring" / "seed0" / CHECKPOINT
    p = subprocess.Popen(CMD + ["run-task", str(tmp_path / "cut.json"), "--index", "0", "--threads", "1"],
                         env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not ck.exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    step_at_kill = load_checkpoint(ck)["step"]
    assert 0 < step_at_kill < 600, "the kill must land mid-way for this test to mean anything"
    assert "1 interrupted" in cli_inproc(capsys, "status", tmp_path / "cut")[1]

    run_cli("run-task", tmp_path / "cut.json", "--index", "0", "--threads", "1")
    run_cli("run-task", tmp_path / "full.json", "--index", "0", "--threads", "1")
    cut, full = metrics_by_key(ck.parent), metrics_by_key(tmp_path / "full" / "gan" / "ring" / "seed0")
    assert set(cut) == set(full) and {k[-1] for k in cut} == {200, 400, 600}
    assert cut == full
    assert read_state(ck.parent)["attempt"] == 2 and read_state(ck.parent)["state"] == "done"


def test_status_and_report_over_a_run_directory_without_a_driver(tmp_path, capsys):
    """Tasks run one by one (as an array job would): status counts them, report gathers their records."""
    cli_inproc(capsys, "run", *SMALL, "--out", tmp_path / "run", "--plan", tmp_path / "plan.json")
    out = cli_inproc(capsys, "status", tmp_path / "run")[1]
    assert "2 tasks: 0 done" in out and "2 pending" in out
    run_cli("run-task", tmp_path / "plan.json", "--index", 0)
    ck = tmp_path / "run" / "gan" / "ring" / "seed1" / CHECKPOINT  # task 1 finds a damaged checkpoint
    ck.parent.mkdir(parents=True)
    ck.write_bytes(b"not a checkpoint")
    bad = run_cli("run-task", tmp_path / "plan.json", "--index", 1, check=False)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "checkpoint" in bad.stderr
    error = bad.stderr.split("failed: ")[1].strip()
    out = cli_inproc(capsys, "status", tmp_path / "run")[1]
    assert "1 done, 0 running, 1 failed" in out and error in out
    assert not (tmp_path / "run" / "records.jsonl").exists()
    code, out, _ = cli_inproc(capsys, "report", tmp_path / "run", "--format", "md")
    assert code == 0 and "| gan " in out
    assert {k[-1] for k in metrics_by_key(tmp_path / "run" / "gan" / "grid" / "seed0")} == {20, 40}


@pytest.mark.parametrize("args,needle", [(["--index", "7"], "out of range"), ([], "--index")])
def test_run_task_errors_are_one_line(tmp_path, args, needle, capsys, monkeypatch):
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID", raising=False)
    cli_inproc(capsys, "run", *SMALL, "--out", tmp_path / "run", "--plan", tmp_path / "plan.json")
    code, _, err = cli_inproc(capsys, "run-task", tmp_path / "plan.json", *args)
    assert code != 0 and needle in err and err.count("\n") == 1


def test_a_resume_rewrites_a_plan_of_an_older_format(tmp_path, capsys):
    """A run directory from before seed-group tasks holds a ganbench-plan/1 file, which `status` and
    `run-task` cannot read; resuming the run writes the current plan."""
    import json

    from ganbench.sweep.plan import PLAN_FORMAT

    cli_inproc(capsys, "run", *SMALL, "--out", tmp_path / "run", "--plan", tmp_path / "plan.json")
    old = json.loads((tmp_path / "run" / "plan.json").read_text())
    (tmp_path / "run" / "plan.json").write_text(json.dumps({**old, "format": "ganbench-plan/1"}))
    code, _, err = cli_inproc(capsys, "run", *SMALL, "--out", tmp_path / "run", "--resume")
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "plan.json").read_text())["format"] == PLAN_FORMAT
    assert "2 tasks: 2 done" in cli_inproc(capsys, "status", tmp_path / "run")[1]
