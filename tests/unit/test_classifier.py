"""Domain classifier: trained once per dataset, cached by checksum, reported accuracy; the
"domain" feature extractor built from it."""

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.errors import GanbenchError
from ganbench.features.classifier import (
    FEATURE_DIM, TrainSettings, classifier_dir, clear_memo, domain, get_classifier,
)

FMNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian dataset-fashion-mnist (`make test` installs it)


# fmnist and clf: session fixtures in tests/conftest.py


def test_accuracy_sidecar_and_identity(clf, fmnist):
    # 90.6% measured with the default settings; 0.88 leaves room for other CPUs' float rounding.
    assert clf.test_accuracy >= 0.88
    assert clf.path.parent == classifier_dir()
    assert re.fullmatch(r"fashion-mnist-[0-9a-f]{16}\.safetensors", clf.path.name)
    info = json.loads(clf.path.with_suffix(".json").read_text())
    assert info["weights_sha256"] == clf.identity == hashlib.sha256(clf.path.read_bytes()).hexdigest()
    assert info["data_identity"] == fmnist.identity()
    assert info["settings"]["epochs"] == 2 and info["settings"]["batch_size"] == 128
    assert info["test_accuracy"] == clf.test_accuracy
    # The reported accuracy is what predict() gives on the test split.
    acc = float((clf.predict(fmnist.test_x) == fmnist.test_y).mean())
    assert acc == pytest.approx(clf.test_accuracy, abs=1e-4)
    f = clf.features(fmnist.test_x[:10])
    assert f.shape == (10, FEATURE_DIM) and f.dtype == np.float32
    assert clf.protocol()["classifier_test_accuracy"] == round(clf.test_accuracy, 6)
    assert clf.name == f"domain-cnn[fashion-mnist:{clf.identity[:8]}]"


def test_second_get_reads_the_cache(clf, fmnist):
    assert get_classifier("fashion-mnist", dataset=fmnist) is clf  # in-process memo
    clear_memo()
    t0 = time.perf_counter()
    again = get_classifier("fashion-mnist", dataset=fmnist, progress=False)
    assert time.perf_counter() - t0 < 15  # loading: hash + safetensors; training takes ~30-60 s
    assert again.origin == "cache" and again is not clf
    assert again.identity == clf.identity and again.test_accuracy == clf.test_accuracy
    for (k, a), (_, b) in zip(clf.net.state_dict().items(), again.net.state_dict().items()):
        assert torch.equal(a, b), k
    np.testing.assert_array_equal(again.predict(fmnist.test_x[:500]), clf.predict(fmnist.test_x[:500]))


TINY = TrainSettings(epochs=1, n_train=1000)  # a different cache key, seconds to train


def test_corrupt_files_are_retrained_to_the_same_weights(fmnist):
    first = get_classifier("fashion-mnist", dataset=fmnist, settings=TINY, progress=False)
    assert first.origin == "trained" and first.path.is_file()
    data = bytearray(first.path.read_bytes())
    data[-3] ^= 0xFF  # flip bits inside a weight tensor: same size, same format, wrong numbers
    first.path.write_bytes(bytes(data))
    clear_memo()
    with pytest.warns(UserWarning, match="not usable .*sha256"):
        second = get_classifier("fashion-mnist", dataset=fmnist, settings=TINY, progress=False)
    assert second.origin == "trained"
    # Single-threaded seeded training: retraining reproduces the weights bit for bit.
    assert second.identity == first.identity
    assert hashlib.sha256(second.path.read_bytes()).hexdigest() == second.identity

    second.path.with_suffix(".json").write_text("{not json")
    clear_memo()
    with pytest.warns(UserWarning, match="sidecar"):
        third = get_classifier("fashion-mnist", dataset=fmnist, settings=TINY, progress=False)
    assert third.origin == "trained" and third.identity == first.identity
    clear_memo()
    assert get_classifier("fashion-mnist", dataset=fmnist, settings=TINY).origin == "cache"


def test_settings_and_data_change_the_cache_key(fmnist):
    a = get_classifier("fashion-mnist", dataset=fmnist, settings=TINY, progress=False)
    b = get_classifier("fashion-mnist", dataset=fmnist, settings=TrainSettings(epochs=1, n_train=1000, seed=1),
                       progress=False)
    assert a.path != b.path and a.identity != b.identity


def test_training_leaves_the_global_rng_and_threads_alone(fmnist):
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    expected = torch.rand(3)
    torch.manual_seed(123)
    get_classifier("fashion-mnist", dataset=fmnist, settings=TrainSettings(epochs=1, n_train=500, seed=7),
                   progress=False)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_bad_names_and_inputs(clf):
    with pytest.raises(GanbenchError, match="no domain classifier for dataset 'cifar10'"):
        get_classifier("cifar10")
    with pytest.raises(GanbenchError, match="no domain classifier"):
        domain(dataset="digits")
    with pytest.raises(GanbenchError, match="uint8"):
        clf.predict(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(GanbenchError, match=r"\[N, 1, 28, 28\]"):
        clf.features(np.zeros((2, 3, 28, 28), np.uint8))


def test_domain_extractor(clf, fmnist):
    from ganbench.features import extract_features
    from ganbench.features.cache import extractor_identity
    from ganbench.metrics.fid import fid_from_features
    from ganbench.registry import EXTRACTORS

    ext = EXTRACTORS.get("domain")(dataset="fashion-mnist")
    assert ext.classifier.identity == clf.identity
    # Named so that no record can pass it off as Inception FID ("inception-tf[...]").
    assert ext.name == f"domain-cnn[fashion-mnist:{clf.identity[:8]}]" and "inception" not in ext.name
    assert extractor_identity(ext) == {"extractor": ext.name, "weights_sha256": clf.identity, "mode": "gray"}
    assert ext.has_logits is False and "Inception Score" in ext.logits_unavailable_reason
    assert ext.dims == {"pool3": FEATURE_DIM}

    x = fmnist.test_x[:1200]
    f = extract_features(x, ext, batch_size=100, progress=False)["pool3"]
    np.testing.assert_allclose(f, clf.features(x), rtol=1e-5, atol=1e-5)
    assert fid_from_features(f, f) < 1e-6
    same = fid_from_features(f[:600], f[600:])             # two real halves: sampling noise only
    noise = np.random.default_rng(0).integers(0, 256, x.shape, dtype=np.uint8)
    far = fid_from_features(f, extract_features(noise, ext, progress=False)["pool3"])
    assert far > 20 * same

    with pytest.raises(GanbenchError, match=r"\[N, 1, 28, 28\]"):
        ext(np.zeros((2, 3, 28, 28), np.uint8))


def test_stacked_domain_extractor_concatenates_channels(clf, fmnist):
    ext = domain(dataset="stacked-fashion-mnist")
    assert ext.name.startswith(clf.name) and ext.name.endswith("/per-channel-x3")
    assert ext.mode == "per-channel-concat" and ext.dims == {"pool3": 3 * FEATURE_DIM}
    x = fmnist.test_x[:30].reshape(10, 3, 28, 28)
    f = ext(x)["pool3"].numpy()
    per = [clf.features(np.ascontiguousarray(x[:, c:c + 1])) for c in range(3)]
    np.testing.assert_allclose(f, np.concatenate(per, axis=1), rtol=1e-5, atol=1e-5)
    with pytest.raises(GanbenchError, match=r"\[N, 3, 28, 28\]"):
        ext(fmnist.test_x[:2])


def test_mnist_classifier_when_available(tmp_path_factory):
    from ganbench.data.images import mnist
    from ganbench.errors import DataNotFoundError

    try:
        ds = mnist()
    except DataNotFoundError:
        pytest.skip("MNIST not available offline")
    c = get_classifier("stacked-mnist", dataset=ds, progress=False)
    assert c.dataset == "mnist" and c.test_accuracy >= 0.98
