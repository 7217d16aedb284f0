import os

import pytest

# Tests never reach the internet and never write into the user's cache.
os.environ.setdefault("GANBENCH_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    if "GANBENCH_CACHE_FOR_TESTS" in os.environ:  # share a warm cache across tests when asked
        monkeypatch.setenv("GANBENCH_CACHE", os.environ["GANBENCH_CACHE_FOR_TESTS"])
    else:
        monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
