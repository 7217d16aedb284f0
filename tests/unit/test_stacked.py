"""Stacked-dataset mode counting over 1000 modes (docs/reference.md section 4)."""

import math
from pathlib import Path

import numpy as np
import pytest

from ganbench.errors import GanbenchError
from ganbench.metrics.stacked import NUM_MODES, stacked_mode_metrics, stacked_modes, stacked_protocol

FMNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian dataset-fashion-mnist (`make test` installs it)


# fmnist and clf: session fixtures in tests/conftest.py


class _PixelClassifier:
    """Reads the class off pixel (0, 0): lets the mode arithmetic be checked exactly."""

    test_accuracy = 1.0

    def predict(self, x):
        return x[:, 0, 0, 0].astype(np.int64) % 10


def _stacked_with_digits(d: np.ndarray) -> np.ndarray:
    x = np.zeros((len(d), 3, 28, 28), np.uint8)
    x[:, :, 0, 0] = d
    return x


def test_mode_is_100r_10g_b_and_kl():
    d = np.array([[1, 2, 3], [9, 0, 0], [0, 0, 7]])
    assert stacked_modes(_stacked_with_digits(d), _PixelClassifier()).tolist() == [123, 900, 7]

    every = np.array([[a, b, c] for a in range(10) for b in range(10) for c in range(10)])
    m = stacked_mode_metrics(_stacked_with_digits(every), classifier=_PixelClassifier())
    assert m == {"modes": 1000.0, "kl_to_uniform": pytest.approx(0.0, abs=1e-12), "classifier_accuracy": 1.0}

    one = stacked_mode_metrics(_stacked_with_digits(np.full((50, 3), 4)), classifier=_PixelClassifier())
    assert one["modes"] == 1 and one["kl_to_uniform"] == pytest.approx(math.log(NUM_MODES))


def test_bad_input():
    with pytest.raises(GanbenchError, match=r"\[N, 3, 28, 28\]"):
        stacked_mode_metrics(np.zeros((4, 1, 28, 28), np.uint8), classifier=_PixelClassifier())
    with pytest.raises(GanbenchError, match="uint8"):
        stacked_mode_metrics(np.zeros((4, 3, 28, 28), np.float32), classifier=_PixelClassifier())
    with pytest.raises(GanbenchError, match="no domain classifier"):
        stacked_mode_metrics(np.zeros((4, 3, 28, 28), np.uint8), base_dataset="cifar10")


def test_real_stacked_samples_cover_at_least_900_modes(clf, fmnist):
    from ganbench.data.images import stack_digits

    # 10,000 held-out stacked samples (test split: the classifier never saw them). 10k uniform
    # draws over 1000 modes leave a mode empty with probability e^-10, so ~1000 are expected;
    # the 90%-accurate classifier moves samples between modes but empties almost none.
    x, _ = stack_digits(fmnist.test_x, fmnist.test_y, 10_000, seed=1)
    m = stacked_mode_metrics(x, "stacked-fashion-mnist", classifier=clf)
    assert m["modes"] >= 900
    assert m["kl_to_uniform"] < 0.2  # measured 0.048; a uniform 10k draw alone gives ~0.05
    assert m["classifier_accuracy"] == clf.test_accuracy


def test_generator_stuck_on_one_class_covers_few(clf, fmnist):
    from ganbench.data.images import stack_digits

    # Every channel drawn from class 1 (trouser): the generator has one mode, 111. The classifier
    # gets 98% of trousers right, so a sample lands elsewhere only through a channel error: one
    # wrong channel gives at most 3 x 9 = 27 other modes (~5% of samples), two wrong ones ~0.1%.
    # Hence <= 40 modes (measured 26 at 10k samples) and KL near log(1000) = 6.91 (measured 6.57).
    cls = 1
    keep = fmnist.test_y == cls
    x, _ = stack_digits(fmnist.test_x[keep], fmnist.test_y[keep], 5000, seed=2)
    m = stacked_mode_metrics(x, "fashion-mnist", classifier=clf)
    assert m["modes"] <= 40
    assert m["kl_to_uniform"] > 6.0
    modes = stacked_modes(x, clf)
    assert np.mean(modes == 111 * cls) > 0.9


def test_registered_metric_and_protocol(clf, fmnist):
    from ganbench.data.images import stack_digits
    from ganbench.registry import METRICS

    spec = METRICS.get("stacked_modes")
    assert spec.needs == ("images",) and not spec.uses_real
    x, _ = stack_digits(fmnist.test_x, fmnist.test_y, 500, seed=3)
    out = spec(None, x, base_dataset="fashion-mnist")
    assert set(out) == set(spec.higher_is_better)
    assert out == stacked_mode_metrics(x, classifier=clf)
    p = stacked_protocol(clf)
    assert p["num_modes"] == 1000 and p["classifier_sha256"] == clf.identity
    assert p["classifier_test_accuracy"] == round(clf.test_accuracy, 6)
