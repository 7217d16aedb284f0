"""Shared helpers of the reliability corpus: run the CLI in-process, judge its output.

Every case asserts: the exit code, at most 2 lines on stderr, no traceback anywhere, and (where it
applies) that nothing earlier was lost and no wrong number was written. The corpus imports only
what ganbench has had from the start (``ganbench.cli.main``, records, registries), so the same
cases also run against older code to count what changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from cli_fakes import register_pixel_extractor, run_cli  # noqa: F401 (run_cli re-exported; tests/ is on sys.path)

EXT = register_pixel_extractor("test-pixels-reliability")  # a cheap stand-in for Inception


def err_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.strip()]


def judge(result: tuple[int, str, str], code: int, needle: str | None = None) -> list[str]:
    """The corpus' common assertions; returns stderr's lines for case-specific ones."""
    got, out, err = result
    assert "Traceback" not in out + err, err
    lines = err_lines(err)
    assert got == code, f"exit {got}, expected {code}: {err}"
    assert len(lines) <= 2, err
    if needle is not None:
        assert needle in err, err
    return lines


def images(n: int, seed: int, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 80, (n, 3, size, size)).astype(np.uint8)
    for i in range(n):
        r, c = rng.integers(0, size - 5, 2)
        x[i, rng.integers(0, 3), r:r + 5, c:c + 5] = 255
    return x


def save_pngs(x: np.ndarray, folder: Path) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(x.transpose(0, 2, 3, 1)):
        Image.fromarray(im).save(folder / f"{i:03d}.png")
    return folder


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (except the lock and error log, which may change)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in (".ganbench.lock", "errors.log")}
