"""One live display of a suite: each active run's step, rate and ETA, and the suite's total.

Workers (other processes) report through a queue (``QueueMonitor`` in ganbench.monitor); the main
process draws the bars with tqdm positions: position 0 is the suite (generator steps over all
runs), then one bar per active run. Warnings from the workers and the main process are written
above the bars (tqdm.write) instead of breaking them.
"""

from __future__ import annotations

import contextlib
import queue as queue_mod
import threading
import warnings
from typing import Any, Iterator

from tqdm.auto import tqdm

STOP = ("stop",)


def route_warnings(send: Any) -> None:
    """Make this process's warnings call ``send(text)`` (one line) instead of printing to stderr."""

    def show(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        send(f"warning: {category.__name__}: {message} ({filename.rsplit('/', 1)[-1]}:{lineno})")

    warnings.showwarning = show


def worker_setup(q: Any) -> None:
    """In a worker process: its warnings go to the display through ``q``."""
    if q is not None:
        route_warnings(lambda text: q.put(("warn", "", 0, 0, text)))


class SuiteDisplay:
    """Bars for a suite of runs; feed it with ``handle(message)`` or a queue (``listen``)."""

    def __init__(self, totals: dict[str, int], enabled: bool = True) -> None:
        self.totals = dict(totals)
        self.enabled = enabled
        self.steps = {k: 0 for k in totals}
        self.bars: dict[str, Any] = {}
        self.free = list(range(1, len(totals) + 1))
        self.done = 0
        self.suite = tqdm(total=sum(totals.values()), unit="step", desc=self._suite_desc(), dynamic_ncols=True,
                          position=0, disable=not enabled)
        self._lock = threading.Lock()

    def _suite_desc(self) -> str:
        return f"suite: {self.done}/{len(self.totals)} runs done, steps"

    def write(self, text: str) -> None:
        if self.enabled:
            tqdm.write(text)
        else:
            import sys

            print(text, file=sys.stderr)

    def handle(self, msg: tuple) -> None:
        kind, key, step, total, note = msg
        with self._lock:
            if kind == "warn":
                self.write(note)
            elif kind == "step":
                self._step(key, step, total, note)
            elif kind == "done":
                self._done(key, note)

    def _step(self, key: str, step: int, total: int, note: str) -> None:
        if total and total != self.totals.get(key):
            self.suite.total += total - self.totals.get(key, 0)
            self.totals[key] = total
        if key not in self.bars and self.enabled:
            pos = self.free.pop(0) if self.free else len(self.bars) + 1
            self.bars[key] = tqdm(total=total, initial=step, unit="step", desc=key, dynamic_ncols=True,
                                  position=pos, leave=False)
            self.bars[key].pos_ = pos
        bar = self.bars.get(key)
        if bar is not None:
            bar.set_postfix_str(note, refresh=False)
            bar.update(step - bar.n) if step != bar.n else bar.refresh()
        self.suite.update(max(0, step - self.steps.get(key, 0)))
        self.steps[key] = max(step, self.steps.get(key, 0))

    def _done(self, key: str, note: str) -> None:
        bar = self.bars.pop(key, None)
        if bar is not None:
            self.free.append(bar.pos_)
            self.free.sort()
            bar.close()
        # A run that fails or resumes finished counts its remaining steps as done.
        self.suite.update(max(0, self.totals.get(key, 0) - self.steps.get(key, 0)))
        self.steps[key] = self.totals.get(key, 0)
        self.done += 1
        self.suite.set_description_str(self._suite_desc())
        if note:
            self.write(note)

    @contextlib.contextmanager
    def listen(self, q: Any) -> Iterator[None]:
        """Drain ``q`` on a thread while the block runs; warnings of this process go above the bars."""
        def loop() -> None:
            while True:
                try:
                    msg = q.get(timeout=0.2)
                except queue_mod.Empty:
                    continue
                except (EOFError, OSError):
                    return
                if msg == STOP:
                    return
                self.handle(msg)

        old = warnings.showwarning
        route_warnings(lambda text: self.handle(("warn", "", 0, 0, text)))
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        try:
            yield
        finally:
            q.put(STOP)
            t.join(timeout=5)
            warnings.showwarning = old

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.suite.close()
