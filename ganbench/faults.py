"""Fault injection for the reliability tests: kill -9 at a named point of a write.

``GANBENCH_FAULT=NAME:K`` makes the K-th pass of a process through ``point(NAME)`` kill the run
abruptly: a suite worker kills its parent (the ``ganbench run`` process) and then itself, as
``kill -9`` of the run would leave it; any other process kills itself. Points: ``append`` (half of
a record line written), ``atomic-write`` (a checkpoint or samples file written, not yet renamed).
Unset, ``point`` costs one dictionary lookup.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter

_passes: Counter[str] = Counter()


def point(name: str) -> None:
    spec = os.environ.get("GANBENCH_FAULT")
    if not spec:
        return
    want, _, k = spec.partition(":")
    if want != name:
        return
    _passes[name] += 1
    if _passes[name] == int(k or 1):
        if multiprocessing.parent_process() is not None:
            os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
