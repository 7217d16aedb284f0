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
    from ganbench.features import weights

    monkeypatch.setenv("GANBENCH_OFFLINE", value)
    src = sources.Source(name="x", files=("x.bin",), remotes=(
        sources.Remote(filename="x.bin", urls=(f"file://{tmp_path}/missing.bin",)),))
    reason = sources._download_all(src, tmp_path / "cache")
    data_skipped = reason is not None and "skipped" in reason
    assert data_skipped is offline()
    assert weights.offline is offline and sources.offline is offline  # both resolvers call the same function


@pytest.mark.parametrize("value", ["false", "0", "", "1", "yes"])
def test_weights_download_follows_the_same_rule(monkeypatch, tmp_path, value):
    """GANBENCH_OFFLINE=false leaves weights online exactly as it leaves datasets online."""
    import torch

    from ganbench.errors import DataNotFoundError
    from ganbench.features.weights import WeightsSpec, resolve_weights

    monkeypatch.setenv("GANBENCH_OFFLINE", value)
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    spec = WeightsSpec("test-net", "w.pth", f"file://{tmp_path}/missing.pth", "0" * 64)
    with pytest.raises(DataNotFoundError) as e:
        resolve_weights(spec, progress=False)
    weights_skipped = "download skipped (offline" in str(e.value)
    assert weights_skipped is offline() is (value in ("1", "yes"))
    if not weights_skipped:
        assert "missing.pth" in str(e.value)  # the download was tried
    src = sources.Source(name="x", files=("x.bin",), remotes=(
        sources.Remote(filename="x.bin", urls=(f"file://{tmp_path}/missing.bin",)),))
    assert ("skipped" in (sources._download_all(src, tmp_path / "c2") or "")) is weights_skipped


def test_one_download_and_one_timeout(monkeypatch):
    import ganbench.data.sources as data_sources
    import ganbench.features.weights as weights
    from ganbench import io

    assert data_sources.download is io.download and weights.download is io.download
    monkeypatch.setenv("GANBENCH_DOWNLOAD_TIMEOUT", "3.5")
    assert io.download_timeout() == 3.5
    monkeypatch.setenv("GANBENCH_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(Exception, match="not a number of seconds"):
        io.download_timeout()
