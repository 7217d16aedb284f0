"""A run directory with one owner, and worker processes that die with the process that started them.

- ``RunDirLock``: ``<out>/.ganbench.lock`` holds the owner's pid and host under an exclusive
  ``flock``. The kernel drops the lock when its process dies, so a stale lock (a killed run) is
  taken over; a live owner makes a second writer fail with one line naming it.
- ``die_with_parent``: run in each worker; the worker ends when the process that started it
  ends, so a killed suite leaves no orphans writing into the run directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.layout import LOCK


class RunDirLock:
    """Exclusive owner of a run directory for the life of this process (see the module docstring)."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.path = Path(out) / LOCK
        self._fd: int | None = None
        self.took_over: dict | None = None  # the dead owner whose lock was taken over

    def acquire(self) -> RunDirLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = _read_owner(fd)
            os.close(fd)
            raise GanbenchError(f"{self.path.parent} is in use by {_describe(owner)}; wait for it to finish "
                                "or choose another --out") from None
        prev = _read_owner(fd)
        if prev.get("pid") and not (prev.get("pid") == os.getpid() and prev.get("host") == socket.gethostname()):
            self.took_over = prev
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "since": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode() + b"\n", 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_owner(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(owner: dict) -> str:
    if not owner.get("pid"):
        return "another ganbench process"
    return f"ganbench pid {owner['pid']} on {owner.get('host', '?')} (since {owner.get('since', '?')})"


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None, poll_s: float = 0.5) -> None:
    """End this process when ``parent_pid`` (default: the current parent) ends.

    Linux: the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG). Everywhere, a
    daemon thread also polls the parent's pid, covering other systems and the race where the
    parent died before prctl ran.
    """
    parent = parent_pid if parent_pid is not None else os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="ganbench-parent-watch", daemon=True).start()
