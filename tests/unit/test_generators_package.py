"""ganbench.generators: loading is a table of loaders (one per target kind), and the checkpoint
format has one home that training writes and loading reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganbench.errors import GanbenchError
from ganbench.generators import checkpoint, loading


def test_every_target_kind_has_a_loader(tmp_path):
    ts, sd, st, npz = tmp_path / "g.pt", tmp_path / "sd.pt", tmp_path / "g.safetensors", tmp_path / "x.npz"
    torch.jit.script(nn.Linear(2, 2)).save(str(ts))
    torch.save(nn.Linear(2, 2).state_dict(), sd)
    st.write_bytes(b"")
    np.savez(npz, x=np.zeros((1, 1, 2, 2), np.uint8))
    kinds = {loading.target_kind(p) for p in (ts, sd, st, npz, tmp_path)} | {loading.target_kind("pkg.mod:make")}
    assert kinds == set(loading.LOADERS) == {"torchscript", "torch", "safetensors", "samples", "entry-point"}
    with pytest.raises(GanbenchError, match="is an image set, not a generator"):
        loading.load_generator(npz)
    with pytest.raises(GanbenchError, match="name its architecture with --arch"):
        loading.load_generator(sd)


def test_checkpoint_format_has_one_home(tmp_path):
    import ganbench.training.loop as train
    from ganbench import layout

    # The trainer uses the one loader; the file's name has one home (the run directory's layout).
    assert train.load_checkpoint is checkpoint.load_checkpoint and checkpoint.CHECKPOINT == layout.CHECKPOINT
    assert not hasattr(train, "CHECKPOINT")
    ck = {"format": checkpoint.FORMAT, "generator": {"w": torch.zeros(1)}}
    checkpoint.atomic_save(ck, tmp_path / checkpoint.CHECKPOINT)
    back = checkpoint.load_checkpoint(tmp_path / checkpoint.CHECKPOINT)
    assert checkpoint.is_checkpoint(back) and torch.equal(back["generator"]["w"], torch.zeros(1))
    assert not checkpoint.is_checkpoint({"generator": {}})
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(GanbenchError, match="not a ganbench checkpoint"):
        checkpoint.load_checkpoint(tmp_path / "other.pt")
