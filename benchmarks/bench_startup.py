"""Startup time of the light commands: `ganbench --help`, `ganbench list`, `ganbench data`.

Each command runs in a fresh interpreter (what a user waits for), measured as the child's CPU time
(user + system, from os.wait4) as well as wall time, because wall time on shared cores is inflated
by other work. Side by side: a bare interpreter, and `import torch`, the cost the light path avoids.
Target: under 2 s each on 2 cores.

Run: .venv/bin/python -m pytest benchmarks/bench_startup.py -o python_files=bench_*.py --benchmark-only -q
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TARGET_S = 2.0
COMMANDS = {
    "ganbench --help": [sys.executable, "-m", "ganbench.cli", "--help"],
    "ganbench list": [sys.executable, "-m", "ganbench.cli", "list"],
    "ganbench data": [sys.executable, "-m", "ganbench.cli", "data"],
    "python (bare)": [sys.executable, "-c", "pass"],
    "import torch": [sys.executable, "-c", "import torch"],
}


def _cpu_seconds(argv: list[str]) -> float:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.returncode == 0, err[-500:]
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("name", list(COMMANDS))
def test_startup(benchmark, name):
    benchmark.group = "startup (fresh interpreter)"
    cpu: list[float] = []
    benchmark.pedantic(lambda: cpu.append(_cpu_seconds(COMMANDS[name])), rounds=5, warmup_rounds=1)
    benchmark.extra_info["cpu_s_min"] = round(min(cpu), 3)
    if name.startswith("ganbench"):
        assert min(cpu) < TARGET_S, f"{name}: {min(cpu):.2f} s of CPU time, target {TARGET_S} s"
