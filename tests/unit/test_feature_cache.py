"""FeatureCache: keys, hits, atomic writes and recovery from corrupt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.features import cache as cache_mod
from ganbench.features.base import FeatureExtractor
from ganbench.features.cache import FeatureCache, array_fingerprint, extractor_identity

BASE = {"dataset": "cifar10/train", "data": "sha256:abc", "extractor": "inception-tf[fid-helper]/legacy-tf",
        "weights_sha256": "7ff4", "mode": "legacy-tf", "n": 10000, "seed": 0}


def _feats(seed=0):
    rng = np.random.default_rng(seed)
    return {"pool3": rng.standard_normal((5, 8)).astype(np.float32)}


class Counter:
    def __init__(self, seed=0):
        self.calls, self.seed = 0, seed

    def __call__(self):
        self.calls += 1
        return _feats(self.seed)


def _files(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != ".locks") if root.exists() else []


def test_key_changes_with_every_part_and_is_readable(tmp_path):
    c = FeatureCache(tmp_path)
    k = c.key(BASE)
    assert k.startswith("cifar10_train-inception-tf_fid-helper_legacy-tf-n10000-")
    assert c.key(dict(reversed(list(BASE.items())))) == k  # order does not matter
    for part, other in [("dataset", "mnist"), ("data", "sha256:abd"), ("extractor", "x"),
                        ("weights_sha256", "6726"), ("mode", "clean"), ("n", 9999), ("seed", 1)]:
        assert c.key({**BASE, part: other}) != k, part
    assert c.key({**BASE, "extra": None}) != k
    assert c.key({**BASE, "n": 10000.0}) != c.key({**BASE, "n": "10000.0"})
    assert c.key({**BASE, "n": np.int64(10000)}) == k  # numpy scalars are their values
    with pytest.raises(GanbenchError, match="unsupported type"):
        c.key({**BASE, "data": object()})
    with pytest.raises(GanbenchError):
        c.key({})


def test_second_call_hits(tmp_path):
    c, compute = FeatureCache(tmp_path), Counter()
    a = c.get_or_compute(BASE, compute)
    b = FeatureCache(tmp_path).get_or_compute(BASE, compute)
    assert compute.calls == 1
    np.testing.assert_array_equal(a["pool3"], b["pool3"])
    assert b["pool3"].dtype == np.float32 and set(b) == {"pool3"}
    assert _files(tmp_path) == [c.path(BASE).name]
    c.get_or_compute({**BASE, "seed": 1}, compute)
    assert compute.calls == 2


def test_compute_error_leaves_no_file(tmp_path):
    c = FeatureCache(tmp_path)

    def boom():
        raise RuntimeError("extractor crashed")

    with pytest.raises(RuntimeError):
        c.get_or_compute(BASE, boom)
    assert _files(tmp_path) == []


def test_write_is_atomic(tmp_path, monkeypatch):
    c = FeatureCache(tmp_path)

    def partial_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.np, "savez", partial_savez)
    with pytest.warns(UserWarning, match="could not write"):
        out = c.get_or_compute(BASE, Counter())  # features still returned
    assert out["pool3"].shape == (5, 8)
    assert _files(tmp_path) == []  # neither the final file nor the temp file


def test_corrupt_file_recomputes(tmp_path):
    c, compute = FeatureCache(tmp_path), Counter()
    c.get_or_compute(BASE, compute)
    c.path(BASE).write_bytes(b"garbage, not a zip")
    with pytest.warns(UserWarning, match="not valid"):
        out = c.get_or_compute(BASE, compute)
    assert compute.calls == 2
    np.testing.assert_array_equal(out["pool3"], _feats()["pool3"])
    assert c.load(BASE) is not None  # rewritten, readable again


def test_file_with_other_key_is_not_trusted(tmp_path):
    c = FeatureCache(tmp_path)
    other = {**BASE, "seed": 7}
    c.save(other, _feats(1))
    c.path(other).replace(c.path(BASE))  # as if two keys collided on the hash prefix
    with pytest.warns(UserWarning, match="stored key inputs differ"):
        assert c.load(BASE) is None


def test_default_root_is_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "gc"))
    c = FeatureCache()
    assert c.root == tmp_path / "gc" / "features"
    c.get_or_compute(BASE, Counter())
    assert c.path(BASE).parent == tmp_path / "gc" / "features" and c.path(BASE).is_file()


def test_identity_helpers():
    a = np.zeros((2, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 1
    assert array_fingerprint(a) == array_fingerprint(a.copy()) != array_fingerprint(b)
    assert array_fingerprint(a) != array_fingerprint(a.reshape(3, 2))

    class Ext(FeatureExtractor):
        name, weights_sha256, mode = "inception-tf[x]/clean", "abc", "clean"

        def __call__(self, x):
            raise NotImplementedError

    assert extractor_identity(Ext()) == {"extractor": "inception-tf[x]/clean",
                                         "weights_sha256": "abc", "mode": "clean"}


def test_entry_with_other_contents_is_rebuilt_with_one_warning(tmp_path):
    """A valid npz under the right key but holding other features fails its content hash."""
    c, compute = FeatureCache(tmp_path), Counter()
    c.get_or_compute(BASE, compute)
    with np.load(c.path(BASE)) as z:
        data = {k: z[k] for k in z.files}
    data["pool3"] = data["pool3"] + 1.0  # other features, same stored key
    np.savez(c.path(BASE), **data)
    with pytest.warns(UserWarning, match="fail their sha256") as caught:
        out = c.get_or_compute(BASE, compute)
    assert len(caught) == 1 and compute.calls == 2
    np.testing.assert_array_equal(out["pool3"], _feats()["pool3"])


def test_concurrent_writers_compute_once(tmp_path):
    """Two threads asking for one missing entry: the file lock makes the second read the first's."""
    import threading
    import time

    c, compute = FeatureCache(tmp_path), Counter()

    def slow():
        time.sleep(0.3)
        return compute()

    threads = [threading.Thread(target=c.get_or_compute, args=(BASE, slow)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert compute.calls == 1 and c.load(BASE) is not None
