"""Where ganbench keeps files, and the one way it writes them: atomically.

A reader (or a resumed run) must never see a half-written checkpoint, cache entry or record
file, so every write goes to a temporary file in the same folder and is then ``os.replace``d.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from ganbench import faults


def cache_root() -> Path:
    """``$GANBENCH_CACHE`` or ``~/.cache/ganbench``; never inside the installed package."""
    env = os.environ.get("GANBENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganbench"


OFFLINE_ENV = "GANBENCH_OFFLINE"
_FALSE = ("", "0", "false", "no", "off")


def offline() -> bool:
    """True when ``$GANBENCH_OFFLINE`` forbids downloads: one rule for datasets and weights alike
    (unset, 0, false, no and off mean online; anything else means offline)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in _FALSE


def _umask() -> int:
    try:  # Linux reports it without changing it (os.umask would, for a moment, for every thread)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_open(dest: str | os.PathLike, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """Open a temporary file beside ``dest`` for binary writing; on success it replaces ``dest``.

    An exception inside the block (a failed checksum, a kill) removes the temporary file and
    leaves ``dest`` as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=suffix)
    try:
        # mkstemp creates 0600; the result should be what open() would give: 0666 less the umask.
        os.chmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        faults.point("atomic-write")  # the tests' kill -9 before the rename
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(dest: str | os.PathLike, data: bytes) -> None:
    with atomic_open(dest) as f:
        f.write(data)


def atomic_write_text(dest: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(dest, text.encode("utf-8"))
