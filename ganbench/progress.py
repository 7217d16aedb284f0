"""Progress, live in a terminal and as plain lines elsewhere, and the one display of a suite.

``bar(...)`` is every progress bar of ganbench: tqdm's live bar when stderr is a terminal; in a log
file, a Slurm job or CI (no terminal) a ``PlainProgress`` that prints one plain line (done/total,
rate, ETA) every ``GANBENCH_PROGRESS_INTERVAL`` seconds (30 by default) and at the end, as pip and
Ray do, instead of tqdm's cursor codes.

``SuiteDisplay``: each active run's step, rate and ETA, and the suite's total. Workers (other
processes) report through a queue (``QueueMonitor`` in ganbench.training.monitor); the main process
draws the bars with tqdm positions: position 0 is the suite (generator steps over all runs), then
one bar per active run. Warnings from the workers and the main process are written above the bars
(tqdm.write) instead of breaking them. Without a terminal, the suite prints plain lines.
"""

from __future__ import annotations

import contextlib
import os
import queue as queue_mod
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

from tqdm.auto import tqdm

STOP = ("stop",)
DEFAULT_INTERVAL = 30.0  # seconds between plain progress lines


def is_terminal(stream: Any = None) -> bool:
    """Whether progress goes to a terminal (live bars) rather than a file or pipe (plain lines)."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("GANBENCH_PROGRESS_INTERVAL", DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def _eta(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class PlainProgress:
    """tqdm's interface, written as plain lines (``desc: 40/100 step (40%), 12.3 step/s, ETA 0:05``)
    at most every ``interval`` seconds and once at the end: no carriage returns, no cursor codes."""

    def __init__(self, total: float | None = None, initial: float = 0, desc: str = "", unit: str = "it",
                 disable: bool = False, interval: float | None = None, file: Any = None, **_: Any) -> None:
        self.total, self.n, self.desc, self.unit, self.disable = total, initial, desc, unit, disable
        self.interval = _interval() if interval is None else interval
        self.file = file
        self.postfix = ""
        self._start = self._last = time.monotonic()
        self._n0 = self._shown = initial

    def _line(self) -> str:
        elapsed = time.monotonic() - self._start
        rate = (self.n - self._n0) / elapsed if elapsed > 0 else 0.0
        done = f"{self.n:,.0f}" + (f"/{self.total:,.0f}" if self.total else "") + f" {self.unit}"
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        eta = f", ETA {_eta((self.total - self.n) / rate)}" if self.total and rate > 0 and self.n < self.total else ""
        post = f"; {self.postfix}" if self.postfix else ""
        return f"{self.desc}: {done}{pct}, {rate:.3g} {self.unit}/s{eta}{post}"

    def _emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.disable or not (force or now - self._last >= self.interval):
            return
        self._last, self._shown = now, self.n
        print(self._line(), file=self.file or sys.stderr, flush=True)

    def update(self, n: float = 1) -> None:
        self.n += n
        self._emit()

    def refresh(self) -> None:
        self._emit()

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kw: Any) -> None:
        items = {**(ordered_dict or {}), **kw}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description_str(self, desc: str = "", refresh: bool = True) -> None:
        self.desc = desc

    def close(self) -> None:
        if not self.disable and self.n != self._shown:  # the last state, unless just written
            self._emit(force=True)
        self.disable = True

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def write(text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def bar(**kw: Any) -> Any:
    """A progress bar: tqdm's in a terminal, ``PlainProgress`` lines otherwise (same arguments)."""
    if is_terminal():
        return tqdm(dynamic_ncols=True, **kw)
    kw.pop("position", None)
    kw.pop("leave", None)
    return PlainProgress(**kw)


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
        self.live = enabled and is_terminal()  # one bar per active run; otherwise their state in the lines
        self.active: dict[str, str] = {}
        self.suite = bar(total=sum(totals.values()), unit="step", desc=self._suite_desc(), position=0,
                         disable=not enabled)
        self._lock = threading.Lock()

    def _suite_desc(self) -> str:
        return f"suite: {self.done}/{len(self.totals)} runs done, steps"

    def write(self, text: str) -> None:
        if self.live:
            tqdm.write(text)
        else:
            print(text, file=sys.stderr, flush=True)

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
        if key not in self.bars and self.live:
            pos = self.free.pop(0) if self.free else len(self.bars) + 1
            self.bars[key] = tqdm(total=total, initial=step, unit="step", desc=key, dynamic_ncols=True,
                                  position=pos, leave=False)
            self.bars[key].pos_ = pos
        if not self.live:
            self.active[key] = f"{key} {step:,}/{total:,}" + (f" {note}" if note and note != "training" else "")
            self.suite.set_postfix_str("; ".join(self.active.values()), refresh=False)
        run_bar = self.bars.get(key)
        if run_bar is not None:
            run_bar.set_postfix_str(note, refresh=False)
            run_bar.update(step - run_bar.n) if step != run_bar.n else run_bar.refresh()
        self.suite.update(max(0, step - self.steps.get(key, 0)))
        self.steps[key] = max(step, self.steps.get(key, 0))

    def _done(self, key: str, note: str) -> None:
        run_bar = self.bars.pop(key, None)
        if run_bar is not None:
            self.free.append(run_bar.pos_)
            self.free.sort()
            run_bar.close()
        self.active.pop(key, None)
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
