"""Reliability corpus, part 2: `ganbench run` into existing run directories, locks, resume
identity, torn records, bad budgets and recipes, and the CLI's one error path.

A finished 2-seed smoke run is made once (in-process, one worker); every case works on a copy
and asserts that nothing in it was lost when the command fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
from _harness import judge, run_cli, snapshot

from ganbench.records import ResultRecord, append_record, read_records

RUN = ["run", "-m", "gan", "-d", "ring", "--seeds", "0,1", "-b", "smoke", "--steps", "20", "--eval-every", "10",
       "--checkpoint-every", "10", "--workers", "1", "-q"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    from ganbench.cli import main

    try:
        main([*RUN, "--out", str(out)])
    except SystemExit as e:
        assert e.code in (0, None)
    assert (out / "records.jsonl").is_file() and (out / "table.md").is_file()
    return out


@pytest.fixture
def run_dir(finished, tmp_path):
    d = tmp_path / "run"
    shutil.copytree(finished, d)
    return d


def _seed0(d):
    return d / "gan" / "ring" / "seed0"


# --------------------------------------------------------------------------------------------
# A failing command erases nothing (summaries only rebuilt after success).


def _truncate_checkpoint(d):
    ck = _seed0(d) / "checkpoint.pt"
    ck.write_bytes(ck.read_bytes()[:1000])


def _foreign_checkpoint(d):  # a checkpoint of another seed in this seed's folder
    shutil.copy(d / "gan" / "ring" / "seed1" / "checkpoint.pt", _seed0(d) / "checkpoint.pt")


def _malicious_checkpoint(d):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {d / 'PWNED'}",))

    (_seed0(d) / "checkpoint.pt").write_bytes(pickle.dumps(Evil()))


def _torn_middle_record(d):
    p = _seed0(d) / "records.jsonl"
    lines = p.read_text().splitlines()
    lines[0] = lines[0][:50]
    p.write_text("\n".join(lines) + "\n")


FAILING = [
    ("forgot_resume", None, [], "--resume"),
    ("resume_steps_0", None, ["--resume", "--steps", "0"], "--steps"),
    ("resume_truncated_checkpoint", _truncate_checkpoint, ["--resume"], "checkpoint"),
    ("resume_other_seed_checkpoint", _foreign_checkpoint, ["--resume"], "seed"),
    ("resume_refused_checkpoint", _malicious_checkpoint, ["--resume"], "not a safe checkpoint"),
    ("resume_other_recipe", None, ["--resume", "--set", "optimizer.lr_g=1e-3"], "lr_g"),
    ("resume_other_budget", None, ["--resume", "--batch-size", "32"], "batch_size"),
    ("resume_torn_middle_record", _torn_middle_record, ["--resume"], "line 1"),
]


@pytest.mark.parametrize("name,damage,args,needle", FAILING, ids=[c[0] for c in FAILING])
def test_failing_run_erases_nothing(name, damage, args, needle, run_dir, capsys):
    if damage:
        damage(run_dir)
    before = snapshot(run_dir)
    res = run_cli(capsys, *_with(RUN, args), "--out", run_dir)
    judge(res, 2, needle)
    out = res[1]
    assert "results in" not in out
    assert snapshot(run_dir) == before  # records, tables, report and checkpoints as they were
    assert not (run_dir / "PWNED").exists()


def _with(base, extra):
    """``base`` with the flags in ``extra`` replacing its own."""
    out, skip = [], set()
    flags = {a for a in extra if a.startswith("--")}
    for i, a in enumerate(base):
        if i in skip:
            continue
        if a in flags and i + 1 < len(base) and not base[i + 1].startswith("-"):
            skip.add(i + 1)
            continue
        out.append(a)
    return out + list(extra)


def test_resume_of_a_finished_run_changes_no_number(run_dir, capsys):
    recs = (run_dir / "records.jsonl").read_text()
    judge(run_cli(capsys, *RUN, "--out", run_dir, "--resume"), 0)
    assert (run_dir / "records.jsonl").read_text() == recs


def test_resume_cuts_a_torn_last_line_and_says_so(run_dir, capsys):
    p = _seed0(run_dir) / "records.jsonl"
    good = p.read_text()
    p.write_text(good + good.splitlines()[-1][:60])  # killed in mid-append
    lines = judge(run_cli(capsys, *RUN, "--out", run_dir, "--resume"), 0, "torn last line")
    assert any("line 3" in ln for ln in lines)
    assert p.read_text() == good


def test_duplicate_lines_do_not_reach_the_summary(run_dir, capsys):
    p = _seed0(run_dir) / "records.jsonl"
    p.write_text(p.read_text() * 2)  # an orphan worker appended the same records again
    judge(run_cli(capsys, *RUN, "--out", run_dir, "--resume"), 0)
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    keys = [(d["model"], d["seed"], d["step"], d["kind"]) for d in map(json.loads, lines)]
    assert len(keys) == len(set(keys)) == 4


def test_second_writer_is_refused_in_one_line(run_dir, capsys):
    lock = run_dir / ".ganbench.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    os.write(fd, json.dumps({"pid": 4242, "host": "elsewhere"}).encode())
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process owns the run
    try:
        before = snapshot(run_dir)
        judge(run_cli(capsys, *RUN, "--out", run_dir, "--resume"), 2, "in use by")
        assert snapshot(run_dir) == before
    finally:
        os.close(fd)


def test_stale_lock_of_a_dead_process_is_taken_over(run_dir, capsys):
    (run_dir / ".ganbench.lock").write_text(json.dumps({"pid": 999999, "host": "here"}))
    judge(run_cli(capsys, *RUN, "--out", run_dir, "--resume"), 0)


# --------------------------------------------------------------------------------------------
# Bad budgets, recipes and paths: one line, before any work (no output folder appears).

BAD_RUNS = [
    (["--workers", "-1"], "--workers"),
    (["--workers", "0"], "--workers"),
    (["--checkpoint-every", "0"], "--checkpoint-every"),
    (["--steps", "-5"], "--steps"),
    (["--batch-size", "0"], "--batch-size"),
    (["--eval-every", "-1"], "--eval-every"),
    (["--bootstrap", "-1"], "--bootstrap"),
    (["--set", "optimizer.lr_gg=1"], "did you mean 'optimizer.lr_g'"),
    (["--set", "optimizer.lr_g=abc"], "optimizer.lr_g"),
    (["--set", "n_dis=2.5"], "n_dis"),
    (["--set", "n_dis=true"], "n_dis"),
    (["--set", "nonsense=1"], "nonsense"),
    (["--set", "optimizer.lr_g"], "KEY=VALUE"),
    (["-m", "gam"], "did you mean"),
    (["-d", "rnig"], "did you mean"),
    (["-b", "smok"], "did you mean"),
    (["--seeds", "a,b"], "--seeds"),
    (["--inception-weights", "/nowhere/w.pth"], "no such file"),
    (["--resume"], "--resume needs --out"),
]


@pytest.mark.parametrize("args,needle", BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_bad_run_option(args, needle, tmp_path, capsys):
    out = [] if args == ["--resume"] else ["--out", tmp_path / "x"]
    judge(run_cli(capsys, *_with(RUN, args), *out), 2, needle)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("where", ["parent_is_file", "is_file", "under_proc"])
def test_unwritable_out(where, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    out = {"parent_is_file": tmp_path / "f" / "run", "is_file": tmp_path / "f",
           "under_proc": "/proc/ganbench-test/run"}[where]
    judge(run_cli(capsys, *RUN, "--out", out), 2, "--out")
    assert (tmp_path / "f").read_text() == "x"


# --------------------------------------------------------------------------------------------
# The one error path.


def test_unexpected_exception_is_one_line_and_a_log(tmp_path, capsys, monkeypatch):
    import ganbench.cli.run as run_mod

    def boom(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(run_mod, "get_suite", boom)
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    (line,) = judge(run_cli(capsys, *RUN, "--out", tmp_path / "x"), 1, "ZeroDivisionError")
    log = line.split("traceback in ")[1].split(")")[0]
    text = Path(log).read_text()
    assert "Traceback" in text and "a bug" in text


@pytest.mark.parametrize("command", ["run", "eval"])
def test_interrupt_hint_fits_the_command(command, tmp_path, capsys, monkeypatch):
    import ganbench.cli.run as run_mod

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    if command == "run":
        monkeypatch.setattr(run_mod, "_check_datasets", interrupt, raising=False)
        args = [*RUN, "--out", tmp_path / "x"]
    else:
        import ganbench.generators.loading as ext

        monkeypatch.setattr(ext, "target_kind", interrupt)
        args = ["eval", tmp_path / "x.npz", "--ref", "digits32"]
    (line,) = judge(run_cli(capsys, *args), 130, "interrupted")
    assert ("--resume" in line) == (command == "run")


# --------------------------------------------------------------------------------------------
# Records: idempotent appends, torn lines at their real line numbers.


def _rec(step, **kw):
    return ResultRecord(model="gan", dataset="ring", seed=0, step=step, metrics={"modes": 8.0}, **kw)


def test_append_is_idempotent(tmp_path):
    p = tmp_path / "r.jsonl"
    for _ in range(3):
        append_record(p, _rec(10))
    append_record(p, _rec(20))
    assert len(p.read_text().splitlines()) == 2


def test_torn_line_is_reported_at_its_real_line_number(tmp_path, capsys):
    p = tmp_path / "r.jsonl"
    p.write_text("".join(_rec(s).to_json() + "\n" for s in (10, 20, 30, 40)))
    lines = p.read_text().splitlines()
    lines[2] = lines[2][:30]
    p.write_text("\n".join(lines) + "\n")
    judge(run_cli(capsys, "report", p, "--out", tmp_path / "rep"), 2, "line 3")
    assert not (tmp_path / "rep" / "table.md").exists()
    with pytest.raises(Exception, match="line 3"):
        read_records([p])


def _records_file(tmp_path, torn_line=None):
    p = tmp_path / "r.jsonl"
    p.write_text("".join(_rec(s).to_json() + "\n" for s in (10, 20, 30, 40)))
    if torn_line:
        lines = p.read_text().splitlines()
        lines[torn_line - 1] = lines[torn_line - 1][:30]
        p.write_text("\n".join(lines) + "\n")
    return p


def test_check_reports_a_torn_line_at_its_number(tmp_path, capsys):
    good, bad = _records_file(tmp_path), tmp_path / "bad.jsonl"
    lines = good.read_text().splitlines()
    bad.write_text("\n".join([*lines[:3], lines[3][:30]]) + "\n")
    judge(run_cli(capsys, "check", bad, "--baseline", good), 2, "line 4")


def test_check_junit_under_a_file_fails_before_work(tmp_path, capsys):
    p = _records_file(tmp_path)
    (tmp_path / "f").write_text("x")
    judge(run_cli(capsys, "check", p, "--baseline", p, "--junit", tmp_path / "f" / "j.xml"), 2, "--junit")


def test_report_out_under_a_file(tmp_path, capsys):
    p = _records_file(tmp_path)
    (tmp_path / "f").write_text("x")
    judge(run_cli(capsys, "report", p, "--out", tmp_path / "f" / "rep"), 2, "--out")
    assert (tmp_path / "f").read_text() == "x"


def test_mixture_checkpoint_is_not_an_image_generator(finished, tmp_path, capsys):
    judge(run_cli(capsys, "eval", finished / "gan" / "ring" / "seed0" / "checkpoint.pt", "--ref", "digits32"), 2,
          "vector run")
