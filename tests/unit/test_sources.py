"""The file resolver: lookup order, its one-line error, and checksummed downloads (file:// URLs only)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from ganbench.data import sources
from ganbench.data.sources import Remote, Source, resolve
from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.io import download

FILES = ("a.bin", ("b.bin", "b.bin.gz"))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    for var in ("GANBENCH_DATA_DIR", "GANBENCH_TOY_DIR", "GANBENCH_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))


def populate(folder: Path, b_name: str = "b.bin") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.bin").write_bytes(b"a")
    (folder / b_name).write_bytes(b"b")
    return folder


def toy(**kw) -> Source:
    return Source(name="toy", files=FILES, hint="a.bin and b.bin", **kw)


def test_order_explicit_then_env_then_generic_env_then_cache_then_local(tmp_path, monkeypatch):
    explicit, own_env, generic = (populate(tmp_path / n) for n in ("explicit", "own", "generic"))
    cache = populate(tmp_path / "cache" / "datasets" / "toy")
    local = populate(tmp_path / "local")
    src = toy(local=(str(local),))
    monkeypatch.setenv("GANBENCH_TOY_DIR", str(own_env))
    monkeypatch.setenv("GANBENCH_DATA_DIR", str(generic))
    assert resolve(src, explicit) == explicit
    assert resolve(src) == own_env
    monkeypatch.delenv("GANBENCH_TOY_DIR")
    assert resolve(src) == generic
    monkeypatch.delenv("GANBENCH_DATA_DIR")
    assert resolve(src) == cache
    for f in cache.iterdir():
        f.unlink()
    assert resolve(src) == local


def test_explicit_dir_without_the_files_falls_through_to_later_locations(tmp_path):
    local = populate(tmp_path / "local")
    (tmp_path / "empty").mkdir()
    assert resolve(toy(local=(str(local),)), tmp_path / "empty") == local


def test_subdirs_name_folder_and_alternatives(tmp_path):
    src = toy(subdirs=("", "raw"))
    nested = populate(tmp_path / "d1" / "raw", b_name="b.bin.gz")  # the .gz alternative counts
    assert resolve(src, tmp_path / "d1") == nested
    by_name = populate(tmp_path / "d2" / "toy")  # <data-dir>/<name>/ also works
    assert resolve(src, tmp_path / "d2") == by_name
    by_name_raw = populate(tmp_path / "d3" / "toy" / "raw")
    assert resolve(src, tmp_path / "d3") == by_name_raw


def test_error_is_one_line_and_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_DATA_DIR", str(tmp_path / "nowhere"))
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "a.bin").write_bytes(b"a")
    with pytest.raises(DataNotFoundError) as e:
        resolve(toy(local=("/no/such/place",)), partial)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("toy not found; looked in: --data-dir ")
    assert f"(incomplete: {partial} lacks b.bin)" in msg
    assert "$GANBENCH_TOY_DIR (unset)" in msg
    assert f"$GANBENCH_DATA_DIR {tmp_path / 'nowhere'}" in msg
    assert str(tmp_path / "cache" / "datasets" / "toy") in msg
    assert "/no/such/place" in msg
    assert msg.endswith("put a.bin and b.bin under one of these or pass --data-dir")


def test_error_when_nothing_given():
    with pytest.raises(DataNotFoundError, match=r"--data-dir \(not given\), \$GANBENCH_TOY_DIR \(unset\), "
                                                r"\$GANBENCH_DATA_DIR \(unset\)"):
        resolve(toy())


def file_url(path: Path) -> str:
    return path.resolve().as_uri()


def served(tmp_path: Path, name: str, data: bytes) -> tuple[str, str, str]:
    p = tmp_path / "server" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return file_url(p), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


def test_download_verifies_checksums_and_writes_atomically(tmp_path):
    url, md5, sha = served(tmp_path, "blob.bin", b"x" * 5000)
    dest = download(url, tmp_path / "out" / "blob.bin", md5=md5, sha256=sha, progress=False)
    assert dest.read_bytes() == b"x" * 5000
    assert sorted(p.name for p in dest.parent.iterdir()) == ["blob.bin"]


def test_download_checksum_mismatch_leaves_no_file(tmp_path):
    url, _, sha = served(tmp_path, "blob.bin", b"tampered")
    out = tmp_path / "out"
    with pytest.raises(GanbenchError) as e:
        download(url, out / "blob.bin", md5="0" * 32, progress=False)
    assert "md5 mismatch" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(GanbenchError, match="sha256 mismatch"):
        download(url, out / "blob.bin", sha256=sha[::-1], progress=False)
    assert list(out.iterdir()) == []


def test_download_unreachable_is_one_line(tmp_path):
    with pytest.raises(GanbenchError, match="cannot download") as e:
        download(file_url(tmp_path / "missing.bin"), tmp_path / "out.bin", progress=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out.bin").exists()


def test_resolve_downloads_into_cache_trying_mirrors(tmp_path):
    url_a, md5_a, _ = served(tmp_path, "a.bin", b"a")
    url_b, md5_b, _ = served(tmp_path, "b.bin.gz", b"bb")
    dead = file_url(tmp_path / "dead" / "b.bin.gz")
    src = toy(remotes=(Remote("a.bin", (url_a,), md5=md5_a), Remote("b.bin.gz", (dead, url_b), md5=md5_b)))
    got = resolve(src)
    assert got == tmp_path / "cache" / "datasets" / "toy"
    assert (got / "b.bin.gz").read_bytes() == b"bb"
    assert resolve(src) == got  # second time: found in the cache, no download


def test_resolve_download_mismatch_reported_and_nothing_kept(tmp_path):
    url_a, _, _ = served(tmp_path, "a.bin", b"evil")
    src = toy(remotes=(Remote("a.bin", (url_a,), md5="0" * 32),))
    with pytest.raises(DataNotFoundError) as e:
        resolve(src)
    assert "download failed (md5 mismatch" in str(e.value) and "\n" not in str(e.value)
    cache = tmp_path / "cache" / "datasets" / "toy"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_offline_skips_download(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_OFFLINE", "1")
    url_a, md5_a, _ = served(tmp_path, "a.bin", b"a")
    called = []
    monkeypatch.setattr(sources, "download", lambda *a, **k: called.append(a))
    with pytest.raises(DataNotFoundError, match=r"download skipped \(GANBENCH_OFFLINE=1\)"):
        resolve(toy(remotes=(Remote("a.bin", (url_a,), md5=md5_a),)))
    assert called == []


def make_tar(path: Path, members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def test_resolve_downloads_and_unpacks_a_tarball(tmp_path):
    data = make_tar(tmp_path / "server" / "toy.tar.gz", {"toy-files/a.bin": b"a", "toy-files/b.bin": b"b"})
    src = toy(subdirs=("", "toy-files"),
              remotes=(Remote("toy.tar.gz", (file_url(tmp_path / "server" / "toy.tar.gz"),),
                              md5=hashlib.md5(data).hexdigest(), extract=True),))
    got = resolve(src)
    assert got == tmp_path / "cache" / "datasets" / "toy" / "toy-files"
    assert not (got.parent / "toy.tar.gz").exists()  # the archive is removed once unpacked


def test_tarball_escaping_the_cache_is_refused(tmp_path):
    data = make_tar(tmp_path / "server" / "evil.tar.gz", {"../escaped.bin": b"x"})
    src = toy(remotes=(Remote("evil.tar.gz", (file_url(tmp_path / "server" / "evil.tar.gz"),),
                              md5=hashlib.md5(data).hexdigest(), extract=True),))
    with pytest.raises(DataNotFoundError, match="cannot unpack"):
        resolve(src)
    assert not (tmp_path / "cache" / "datasets" / "escaped.bin").exists()
