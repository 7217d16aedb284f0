"""Atomic writes leave files with the permissions the user's umask gives, not mkstemp's 0600."""

from __future__ import annotations

import os
import stat

import pytest

from ganbench.io import atomic_write_text


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_follows_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "records.jsonl", "{}\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "records.jsonl").stat().st_mode) == mode
    assert (tmp_path / "records.jsonl").read_text() == "{}\n"
