"""A run directory with one owner, outputs checked before any work, and processes that die together.

- ``RunDirLock``: ``<out>/.ganbench.lock`` holds the owner's pid and host under an exclusive
  ``flock``. The kernel drops the lock when its process dies, so a stale lock (a killed run) is
  taken over; a live owner makes a second writer fail with one line naming it.
- ``check_output_dir`` / ``check_output_file``: every output path is checked (a file in the way,
  a read-only folder) before minutes of computing are spent and then lost.
- ``die_with_parent``: run in each worker; the worker ends when the process that started it
  ends, so a killed suite leaves no orphans writing into the run directory.
- ``collect_run_records``: the per-run records of a run directory, the one source its summaries
  are rebuilt from.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from ganbench.errors import GanbenchError
from ganbench.layout import LOCK, SuiteLayout

LOCK_NAME = LOCK


def _first_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Refuse a directory that cannot be created or written, before any work starts."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise GanbenchError(f"{flag} {path}: exists and is not a folder")
    base = _first_existing(path)
    if not base.is_dir():
        raise GanbenchError(f"{flag} {path}: {base} is a file, so the folder cannot be created")
    try:  # a real write, not os.access: root passes access() on read-only mounts and /proc
        tempfile.TemporaryFile(dir=base).close()
    except OSError as e:
        raise GanbenchError(f"{flag} {path}: cannot write in {base} ({e.strerror or e})") from None
    return path


def check_output_file(path: str | os.PathLike | None, flag: str) -> Path | None:
    """Refuse an output file whose folder cannot be created or written, or that is a folder."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise GanbenchError(f"{flag} {path}: is a folder; name a file")
    if path.exists() and not os.access(path, os.W_OK):
        raise GanbenchError(f"{flag} {path}: exists and is not writable")
    check_output_dir(path.parent, flag)
    return path


class RunDirLock:
    """Exclusive owner of a run directory for the life of this process (see the module docstring)."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.path = Path(out) / LOCK_NAME
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


# --------------------------------------------------------------------------------------------
# Workers die with their parent

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None, poll_s: float = 0.5) -> None:
    """End this process when ``parent_pid`` (default: the current parent) ends.

    Linux: the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG). Everywhere, a
    daemon thread also polls the parent's pid, covering other systems and the race where the
    parent died before prctl ran.
    """
    parent = parent_pid if parent_pid is not None else os.getppid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="ganbench-parent-watch", daemon=True).start()


# --------------------------------------------------------------------------------------------
# Summaries come from the per-run records


def run_record_files(out: str | os.PathLike) -> list[Path]:
    """Per-run ``records.jsonl`` files under ``out`` (``<model>/<dataset>/seed<k>/``), sorted."""
    return SuiteLayout(Path(out)).run_record_files()


def repair_run_records(out: str | os.PathLike) -> list[str]:
    """Cut torn last lines (a kill during an append) from every per-run records file; say what was cut."""
    from ganbench.records import cut_torn_tail

    notes = []
    for p in run_record_files(out):
        cut = cut_torn_tail(p)
        if cut:
            notes.append(f"{p}: cut a torn last line (line {cut[0]}, {cut[1]} bytes) left by an interrupted write")
    return notes


def collect_run_records(out: str | os.PathLike) -> list:
    from ganbench.records import read_records

    files = run_record_files(out)
    return read_records(files) if files else []
