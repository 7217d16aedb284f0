"""Classifier two-sample test, C2ST (Lopez-Paz & Oquab, "Revisiting Classifier Two-Sample Tests", ICLR 2017).

Real samples get label 0, generated ones label 1. A classifier is fitted on one stratified part of
the pooled set and scored on the held-out rest. If the two distributions are equal, no classifier
beats chance on held-out points: the accuracy stays near 0.5. Above 0.5 the classifier found a
difference that generalises to points it never saw.

Works on any [N, D] features: raw mixture vectors, the domain CNN, Inception, DINOv2, CLIP.

The test (their section 2): under H0 the number of correct held-out predictions is
Binomial(n_te, 1/2), which they approximate by N(n_te/2, n_te/4). ganbench uses the exact
binomial tail instead (``scipy.stats.binomtest``, one-sided, "greater"): it is what the normal
curve approximates, it costs nothing, and it stays valid at the small n_te of CPU budgets, where the
normal tail is off. With balanced held-out classes the count is a sum of two binomials, whose
variance is at most n_te/4, so the binomial tail is exact when the classifier predicts "generated"
half of the time and conservative otherwise. The interval on the accuracy is Clopper-Pearson's
exact one (``binomtest(...).proportion_ci(method="exact")``), which covers at least its level.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.metrics.stats import check_features, check_same_dims

CLASSIFIERS = ("logistic", "1nn", "knn", "mlp")
# Fewest samples of each class in each part of the split: a classifier fitted on one point of a
# class, or a test on fewer than ten points, is not a test of anything.
MIN_PER_CLASS = 5
LEVEL = 0.95
# The two classifiers of Lopez-Paz & Oquab 2017's experiments (section 4): C2ST-NN, one hidden layer
# of 20 ReLU units trained with Adam for 100 epochs, and C2ST-KNN, k = floor(sqrt(n_tr)) neighbours.
MLP_HIDDEN = 20
MLP_EPOCHS = 100


def make_classifier(name: str, n_train: int, seed: int = 0) -> Any:
    """A scikit-learn pipeline: features standardised on the training part, then the classifier.

    logistic: LogisticRegression (linear; finds differences of the features' means and directions).
    1nn: the nearest neighbour (the classifier of Xu et al. 2018's 1-NN two-sample test, here scored on
      a held-out part): a sample that repeats one the classifier saw as generated is called generated,
      so a generator that returns copies is caught once more samples are drawn than it holds.
    knn: C2ST-KNN, k = floor(sqrt(n_train)) neighbours.
    mlp: C2ST-NN, one hidden layer of 20 ReLU units, Adam, 100 epochs.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "logistic":
        clf = LogisticRegression(max_iter=1000)
    elif name == "1nn":
        clf = KNeighborsClassifier(n_neighbors=1)
    elif name == "knn":
        clf = KNeighborsClassifier(n_neighbors=max(1, int(np.sqrt(n_train))))
    elif name == "mlp":
        clf = MLPClassifier(hidden_layer_sizes=(MLP_HIDDEN,), max_iter=MLP_EPOCHS, random_state=seed)
    else:
        raise GanbenchError(f"unknown c2st classifier {name!r}; use one of {', '.join(CLASSIFIERS)}")
    return make_pipeline(StandardScaler(), clf)


def balanced_split(real: Any, fake: Any, test_fraction: float = 0.5,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, X_test, y_train, y_test): m = min(n_real, n_fake) samples of each set (a seeded subset
    of the larger one), labels 0 real / 1 generated, split stratified with ``seed``."""
    from sklearn.model_selection import train_test_split

    a = check_features(real, "c2st real features")
    b = check_features(fake, "c2st generated features")
    check_same_dims(a, b)
    if not 0.0 < test_fraction < 1.0:
        raise GanbenchError(f"c2st test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    m = min(len(a), len(b))
    need = int(np.ceil(MIN_PER_CLASS / min(test_fraction, 1.0 - test_fraction)))
    if m < need:
        raise GanbenchError(f"c2st needs at least {need} real and {need} generated samples for a train/test split "
                            f"with {MIN_PER_CLASS} of each per part (test_fraction {test_fraction}); got "
                            f"{len(a)} real and {len(b)} generated")
    rng = np.random.default_rng(seed)
    if len(a) > m:
        a = a[np.sort(rng.choice(len(a), m, replace=False))]
    if len(b) > m:
        b = b[np.sort(rng.choice(len(b), m, replace=False))]
    x = np.concatenate([a, b]).astype(np.float64)
    y = np.repeat(np.array([0, 1]), m)
    return train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)


def c2st(real: Any, fake: Any, classifier: str = "logistic", test_fraction: float = 0.5, seed: int = 0,
         level: float = LEVEL) -> dict[str, float]:
    """The held-out accuracy of ``classifier`` telling ``real`` from ``fake`` [N, D] features, its
    one-sided exact binomial p-value under H0 (equal distributions) and its Clopper-Pearson interval.

    Returns c2st_accuracy, c2st_accuracy_ci_low, c2st_accuracy_ci_high, c2st_p.
    """
    from scipy.stats import binomtest
    from sklearn.exceptions import ConvergenceWarning

    if classifier not in CLASSIFIERS:  # before the split's work
        raise GanbenchError(f"unknown c2st classifier {classifier!r}; use one of {', '.join(CLASSIFIERS)}")
    x_tr, x_te, y_tr, y_te = balanced_split(real, fake, test_fraction, seed)
    clf = make_classifier(classifier, len(y_tr), seed)
    with warnings.catch_warnings():
        # An unconverged fit is still a fixed function of the training part: the held-out test stays valid.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_tr, y_tr)
    correct = int((clf.predict(x_te) == y_te).sum())
    n_te = len(y_te)
    ci = binomtest(correct, n_te).proportion_ci(confidence_level=level, method="exact")
    return {"c2st_accuracy": correct / n_te, "c2st_accuracy_ci_low": float(ci.low),
            "c2st_accuracy_ci_high": float(ci.high),
            "c2st_p": float(binomtest(correct, n_te, 0.5, alternative="greater").pvalue)}


TEST_TEXT = (f"one-sided exact binomial test of the held-out accuracy against 1/2; interval Clopper-Pearson "
             f"exact, {LEVEL:.0%}")


def _used(p: dict[str, Any], n_real: int, n_gen: int) -> dict[str, Any]:
    if p.get("classifier") not in CLASSIFIERS:  # before minutes of features, not after
        raise GanbenchError(f"unknown c2st classifier {p.get('classifier')!r}; use one of {', '.join(CLASSIFIERS)}")
    # The larger set is subsampled to the smaller: balanced classes, so chance is 1/2.
    return {**p, "n_per_class": min(n_real, n_gen), "interval": TEST_TEXT}


def _compute(real: Any, fake: Any, n_per_class: int | None = None, interval: str = "", **kw: Any) -> dict[str, float]:
    return c2st(real, fake, **kw)


def _register() -> None:
    from ganbench.metrics.spec import LOWER, MetricSpec
    from ganbench.registry import METRICS

    help_ = ("classifier two-sample test: held-out accuracy telling real from generated (0.5: indistinguishable), "
             "exact binomial p-value, Clopper-Pearson interval")
    # Floor: the binomial std of a held-out accuracy near 0.5 at n_te = 2,500 is 0.01.
    METRICS.register("c2st", MetricSpec(
        "c2st", ("pool3",), {"c2st_accuracy": LOWER, "c2st_p": None}, _compute,
        {"classifier": "logistic", "test_fraction": 0.5, "seed": 0},
        help=help_, adjust=_used, order=6, floors={"c2st_accuracy": 0.01},
        protocol={"classifier": "c2st_classifier", "test_fraction": "c2st_test_fraction", "seed": "c2st_seed",
                  "n_per_class": "c2st_n_per_class", "interval": "c2st_interval"},
        compared=("c2st_classifier", "c2st_test_fraction")), help=help_)
