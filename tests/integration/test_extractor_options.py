"""An option an extractor does not take is a one-line error, never silently dropped."""

import subprocess
import sys

import numpy as np
import pytest

from ganbench.cli.app import MODE_CHOICES
from ganbench.errors import GanbenchError

CMD = [sys.executable, "-m", "ganbench.cli"]


def test_mode_choices_are_the_defined_modes():
    from ganbench.features.preprocessing import MODES
    from ganbench.features.vit import RESIZE_MODES

    assert MODE_CHOICES == tuple(dict.fromkeys([*MODES, *RESIZE_MODES]))


def test_build_extractor_refuses_mode_for_domain():
    from ganbench.evaluation.images import build_extractor

    with pytest.raises(GanbenchError, match="own preprocessing"):
        build_extractor("domain", mode="clean", dataset="fashion-mnist")


@pytest.mark.parametrize("cmd", [
    ["run", "--models", "dcgan", "--dataset", "fashion-mnist", "--budget", "smoke", "--features", "domain",
     "--mode", "clean"],
    ["eval", "SAMPLES", "--ref", "fashion-mnist", "--features", "domain", "--mode", "clean"],
])
def test_domain_with_mode_exits_2_with_one_line(tmp_path, cmd):
    np.save(tmp_path / "s.npy", np.zeros((4, 28, 28, 1), np.uint8))
    cmd = [str(tmp_path / "s.npy") if c == "SAMPLES" else c for c in cmd]
    r = subprocess.run(CMD + cmd + (["--out", str(tmp_path / "o")] if cmd[0] == "run" else []),
                       capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and "own preprocessing" in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
