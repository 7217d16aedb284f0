"""Progress outside a terminal (a log file, a Slurm job, CI) is plain lines at a steady interval,
without tqdm's carriage returns and cursor codes; a terminal keeps the live bars."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from ganbench.progress import PlainProgress, SuiteDisplay, bar, is_terminal

CURSOR = re.compile(r"\r|\x1b\[")


def test_a_run_logged_to_a_file_holds_plain_progress_lines(tmp_path):
    log = tmp_path / "run.log"
    env = {**os.environ, "GANBENCH_PROGRESS_INTERVAL": "0", "OMP_NUM_THREADS": "1"}
    with open(log, "w") as f:
        r = subprocess.run([sys.executable, "-m", "ganbench.cli", "run", "--models", "gan", "--dataset", "ring",
                            "--budget", "smoke", "--seeds", "0", "--steps", "60", "--eval-every", "30",
                            "--no-tensorboard", "--out", str(tmp_path / "run")], stdout=f, stderr=subprocess.STDOUT,
                           env=env)
    text = log.read_text()
    assert r.returncode == 0, text[-2000:]
    assert not CURSOR.search(text), repr(CURSOR.search(text))
    lines = [ln for ln in text.splitlines() if ln.startswith("suite: ")]
    assert len(lines) >= 2, text[-2000:]  # the suite's steps, a line per update at interval 0
    assert re.search(r"suite: \d+/1 runs done, steps: [\d,]+/60 step \(\d+%\), [\d.e+-]+ step/s", lines[-1]), lines[-1]
    assert any("gan/ring/seed0" in ln for ln in lines)  # the active run is named in the line


def test_plain_progress_writes_at_most_every_interval_and_once_at_the_end(monkeypatch):
    out, now = io.StringIO(), [0.0]
    monkeypatch.setattr("ganbench.progress.time.monotonic", lambda: now[0])
    p = PlainProgress(total=100, desc="steps", unit="step", interval=10.0, file=out)
    for _ in range(95):
        now[0] += 1.0  # one second per update
        p.update(1)
    p.close()
    lines = out.getvalue().splitlines()
    assert [ln.split(" step")[0] for ln in lines] == [f"steps: {n}/100" for n in (*range(10, 91, 10), 95)]
    assert lines[0] == "steps: 10/100 step (10%), 1 step/s, ETA 1:30"
    assert lines[-1].startswith("steps: 95/100 step (95%)") and not CURSOR.search(out.getvalue())


def test_a_terminal_keeps_live_bars(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    assert is_terminal()
    assert not isinstance(bar(total=3, desc="x", disable=True), PlainProgress)
    assert SuiteDisplay({"a": 3}, enabled=True).live
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(bar(total=3, desc="x"), PlainProgress) and not SuiteDisplay({"a": 3}).live
