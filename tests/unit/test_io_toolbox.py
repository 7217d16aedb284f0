"""ganbench.io is the one toolbox for files ganbench does not make: one download, one sha256,
one TorchScript sniffer, one safe loader, one uint8-image check, one pick_device."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ganbench import io
from ganbench.errors import GanbenchError

PACKAGE = Path(io.__file__).parent


@pytest.mark.parametrize("pattern", [
    r"urllib\.request\.urlopen\(",  # the download
    r"constants\.pkl",  # the TorchScript sniffer
    r"def (pick_device|sha256_file|file_sha256|_hash_file|_sha256)\b",
    r"torch\.load\((?!weights_only)",  # the safe loader (prose naming the flag aside)
    r"def download\w*\(",
    r"DOWNLOAD_TIMEOUT\w* = ",
])
def test_each_helper_is_defined_once_in_io(pattern):
    hits = [f"{p.relative_to(PACKAGE)}:{i}" for p in sorted(PACKAGE.rglob("*.py"))
            for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(pattern, line)]
    homes = {h.split(":")[0] for h in hits}
    assert homes == {"io.py"}, hits


def test_check_uint8_images_one_line_errors():
    ok = np.zeros((2, 1, 4, 4), np.uint8)
    assert io.check_uint8_images(ok) is ok
    assert io.check_uint8_images(torch.zeros(2, 3, 28, 28, dtype=torch.uint8), channels=(3,), size=(28, 28)) is not None
    for bad, match in [(np.zeros((2, 1, 4, 4), np.float32),
                        r"expected uint8 images \[N, 1\|3, H, W\] \(NCHW with 1 or 3 channels\) \(0..255\), "
                        r"got float32"),
                       (np.zeros((2, 5, 4, 4), np.uint8), r"got shape \(2, 5, 4, 4\)"),
                       (torch.zeros(1, 4, 4, dtype=torch.uint8), "NCHW"),
                       (np.zeros((2, 3, 32, 32), np.uint8), None)]:
        with pytest.raises(GanbenchError, match=match or r"\[N, 3, 28, 28\]") as e:
            io.check_uint8_images(bad, "x", **({} if match else {"channels": (3,), "size": (28, 28)}))
        assert "\n" not in str(e.value) and str(e.value).startswith("x: ")


def test_torchscript_sniffer_and_safe_loader(tmp_path):
    ts, sd = tmp_path / "m.pt", tmp_path / "sd.pt"
    torch.jit.script(nn.Linear(2, 2)).save(str(ts))
    torch.save(nn.Linear(2, 2).state_dict(), sd)
    assert io.torch_zip_members(ts) == (True, True) and io.torch_zip_members(sd) == (True, False)
    assert io.is_torchscript(ts.read_bytes()) and not io.is_torchscript(sd.read_bytes())
    assert io.torch_zip_members(tmp_path / "missing") == (False, False)
    assert set(io.load_tensor_dict(sd, "weights")) == {"weight", "bias"}
    with pytest.raises(GanbenchError, match="TorchScript archive"):
        io.load_tensor_dict(ts, "weights")
    evil = tmp_path / "evil.pt"
    torch.save({"x": Path.cwd}, evil)
    with pytest.raises(GanbenchError, match=r"not a safe weights file \(it references .*refusing"):
        io.load_tensor_dict(evil, "weights file")


def test_read_verified_and_sha256(tmp_path):
    f = tmp_path / "b"
    f.write_bytes(b"abc")
    sha = io.sha256_file(f)
    assert io.read_verified(f, sha) == b"abc"
    f.write_bytes(b"abd")
    with pytest.raises(GanbenchError, match="changed since it was verified"):
        io.read_verified(f, sha)
