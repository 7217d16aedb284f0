"""Resource limits checked before work starts: a tiny file or a big number must not exhaust memory.

A 12 KB PNG can claim 9500x9500 pixels, a 1 MB zip can inflate to gigabytes, and ``-n 2000000000``
asks for terabytes of latents and features. Each is refused in one line before anything is
allocated. The environment variables raise the fixed limits when a data set needs more.
"""

from __future__ import annotations

import os

from ganbench.errors import GanbenchError

MAX_IMAGE_PIXELS = int(os.environ.get("GANBENCH_MAX_IMAGE_PIXELS") or 4096 * 4096)
MAX_MEMBER_BYTES = int(os.environ.get("GANBENCH_MAX_ZIP_MEMBER_BYTES") or 256 << 20)


def available_memory() -> int | None:
    """Bytes of memory available now (Linux /proc/meminfo, else sysconf), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(n_bytes: float, what: str) -> None:
    """Refuse work that needs more memory than is available, in one line, before allocating it."""
    avail = available_memory()
    if avail is not None and n_bytes > avail:
        raise GanbenchError(f"{what} needs about {n_bytes / 2**30:.1f} GiB of memory; "
                            f"{avail / 2**30:.1f} GiB is available")
