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


# Real Fashion-MNIST (Debian's dataset-fashion-mnist, which `make test` installs) and the domain
# classifier trained on it once per session, shared by the classifier, stacked and memorisation tests.
FMNIST = "/usr/share/datasets/fashion-mnist"


def _session_cache(tmp_path_factory) -> str:
    # The folder _isolated_cache points GANBENCH_CACHE at, so one training serves every test.
    return os.environ.get("GANBENCH_CACHE_FOR_TESTS") or str(tmp_path_factory.getbasetemp() / "cache")


@pytest.fixture(scope="session")
def fmnist(tmp_path_factory):
    if not os.path.isdir(FMNIST):
        pytest.skip(f"{FMNIST} missing (apt-get install dataset-fashion-mnist)")
    from ganbench.data.images import fashion_mnist

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_CACHE", _session_cache(tmp_path_factory))
        return fashion_mnist()


@pytest.fixture(scope="session")
def clf(fmnist, tmp_path_factory):
    from ganbench.features.classifier import get_classifier

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANBENCH_CACHE", _session_cache(tmp_path_factory))
        return get_classifier("fashion-mnist", dataset=fmnist, progress=False)
