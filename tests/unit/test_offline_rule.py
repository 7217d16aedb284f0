"""GANBENCH_OFFLINE means the same for datasets and for weights (one rule, ganbench.io.offline)."""

import pytest

from ganbench.data import sources
from ganbench.io import offline


@pytest.mark.parametrize("value,expected", [("", False), ("0", False), ("false", False), ("No", False),
                                            ("off", False), ("1", True), ("true", True), ("yes", True)])
def test_offline_values(monkeypatch, value, expected):
    monkeypatch.setenv("GANBENCH_OFFLINE", value)
    assert offline() is expected


@pytest.mark.parametrize("value", ["false", "0", "1", "yes"])
def test_datasets_and_weights_read_the_same_rule(monkeypatch, tmp_path, value):
    """The dataset resolver skips downloads exactly when the weights resolver does."""
    from ganbench.features import inception

    monkeypatch.setenv("GANBENCH_OFFLINE", value)
    src = sources.Source(name="x", files=("x.bin",), remotes=(
        sources.Remote(filename="x.bin", urls=(f"file://{tmp_path}/missing.bin",)),))
    reason = sources._download_all(src, tmp_path / "cache")
    data_skipped = reason is not None and "skipped" in reason
    assert data_skipped is offline()
    assert inception.offline is offline  # the weights resolver calls the same function
