"""Where dataset files come from (weights: ``features.weights``; both download with ``io.download``
under the one offline rule ``io.offline``).

Lookup order (docs/design.md, "Where data and weights come from"): explicit path argument (``--data-dir``) >
``$GANBENCH_<NAME>_DIR`` > ``$GANBENCH_DATA_DIR`` > cache (``$GANBENCH_CACHE`` or
``~/.cache/ganbench``)/<kind>/<name> > known local locations > download into that cache
(checksum verified, skipped when ``GANBENCH_OFFLINE=1``) > a one-line ``DataNotFoundError`` that
lists what was tried. Local files are not checksummed: packagers recompress them (Debian's
Fashion-MNIST .gz files differ from upstream's md5s while the decompressed bytes are the same).
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.io import OFFLINE_ENV, cache_root, download, offline


@dataclass(frozen=True)
class Remote:
    """One file to download: mirrors tried in order, verified by md5 and/or sha256."""

    filename: str
    urls: tuple[str, ...]
    md5: str | None = None
    sha256: str | None = None
    extract: bool = False  # a tarball unpacked into the cache directory, then deleted


@dataclass(frozen=True)
class Source:
    """Where the files of one named resource may be and what they are called.

    ``files`` are paths relative to the directory that holds them; an entry may be a tuple of
    alternatives (e.g. ``("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz")``).
    ``subdirs`` are tried under every location (and under ``location/<name>``), so a user may
    point at the files themselves or at a parent folder (e.g. torchvision's ``MNIST/raw``).
    """

    name: str
    files: tuple[str | tuple[str, ...], ...]
    subdirs: tuple[str, ...] = ("",)
    local: tuple[str, ...] = ()
    remotes: tuple[Remote, ...] = ()
    hint: str = "the files"  # what to put where, for the error message
    kind: str = "datasets"  # cache subfolder; "weights" later
    env: str = field(default="")  # per-resource variable; derived from the name when empty

    @property
    def env_var(self) -> str:
        return self.env or "GANBENCH_" + "".join(c if c.isalnum() else "_" for c in self.name.upper()) + "_DIR"


def find_file(folder: Path, spec: str | tuple[str, ...]) -> Path | None:
    """The first existing alternative of ``spec`` inside ``folder``."""
    for name in (spec,) if isinstance(spec, str) else spec:
        if (folder / name).is_file():
            return folder / name
    return None


def _first_name(spec: str | tuple[str, ...]) -> str:
    return spec if isinstance(spec, str) else spec[0]


def _search(src: Source, base: Path) -> tuple[Path | None, str]:
    """The folder under ``base`` holding every required file, else None and why (for the error)."""
    note = ""
    for sub in src.subdirs + tuple(f"{src.name}/{s}".rstrip("/") for s in src.subdirs):
        folder = base / sub if sub else base
        missing = [_first_name(f) for f in src.files if find_file(folder, f) is None]
        if not missing:
            return folder, ""
        if len(missing) < len(src.files) and not note:
            note = f" (incomplete: {folder} lacks {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''})"
    return None, note


def locate(src: Source, data_dir: str | os.PathLike | None = None) -> tuple[Path | None, list[str]]:
    """The folder holding every file of ``src`` among the local candidates (no download), and what was tried."""
    tried: list[str] = []
    candidates: list[tuple[str, str | None]] = [
        ("--data-dir", None if data_dir is None else str(data_dir)),
        (f"${src.env_var}", os.environ.get(src.env_var) or None),
        ("$GANBENCH_DATA_DIR", os.environ.get("GANBENCH_DATA_DIR") or None),
    ]
    for label, value in candidates:
        if value is None:
            tried.append(f"{label} ({'not given' if label.startswith('--') else 'unset'})")
            continue
        found, note = _search(src, Path(value).expanduser())
        if found:
            return found, tried
        tried.append(f"{label} {value}{note}")
    for base in (cache_root() / src.kind / src.name, *map(Path, src.local)):
        found, note = _search(src, base)
        if found:
            return found, tried
        tried.append(f"{base}{note}")
    return None, tried


def resolve(src: Source, data_dir: str | os.PathLike | None = None) -> Path:
    """The folder that holds all of ``src.files``; downloads into the cache when allowed."""
    found, tried = locate(src, data_dir)
    if found:
        return found
    cache = cache_root() / src.kind / src.name
    if src.remotes:
        reason = _download_all(src, cache)
        if reason is None:
            found, note = _search(src, cache)
            if found:
                return found
            reason = f"downloaded files lack the expected layout{note}"
        tried.append(f"download {reason}")
    raise DataNotFoundError(
        f"{src.name} not found; looked in: {', '.join(tried)}: put {src.hint} under one of these "
        f"or pass --data-dir")


def _download_all(src: Source, cache: Path) -> str | None:
    """Fetch every remote into ``cache``; None on success, else a short reason for the error."""
    if offline():
        return f"skipped ({OFFLINE_ENV}={os.environ.get(OFFLINE_ENV, '').strip()})"
    for r in src.remotes:
        dest = cache / r.filename
        if not dest.is_file():
            errors = []
            for url in r.urls:
                try:
                    download(url, dest, md5=r.md5, sha256=r.sha256)
                    break
                except GanbenchError as e:
                    errors.append(str(e))
            else:
                return f"failed ({'; '.join(errors)})"
        if r.extract:
            try:
                extract_tar(dest, cache)
            except (tarfile.TarError, OSError) as e:
                return f"failed (cannot unpack {dest}: {e})"
            dest.unlink()
    return None


def extract_tar(archive: Path, into: Path) -> None:
    """Unpack a tarball refusing absolute paths, '..', links out of ``into`` and device files."""
    with tarfile.open(archive) as tf:
        tf.extractall(into, filter="data")
