"""Mode coverage on stacked datasets: 1000 modes (docs/reference.md section 4, "Stacked MNIST").

Each channel of a [N, 3, 28, 28] sample is classified separately by the domain classifier of the
base dataset (``ganbench.features.classifier``); the mode is 100*d_R + 10*d_G + d_B. Reported:
``modes`` (distinct modes seen, of 1000), ``kl_to_uniform`` = KL(p_gen || Uniform(1000)) (the
VEEGAN/PacGAN setting, on 26,000 or 25,600 samples there) and ``classifier_accuracy`` (its
test accuracy on the base dataset, since mode counts are only as good as the classifier).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganbench.errors import GanbenchError
from ganbench.io import check_uint8_images
from ganbench.metrics.modes import kl_to_uniform

NUM_MODES = 1000
_WEIGHTS = np.array([100, 10, 1], np.int64)


def _check_stacked(images: Any) -> np.ndarray:
    x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    check_uint8_images(x, "stacked mode counting", channels=(3,), size=(28, 28))
    if len(x) == 0:
        raise GanbenchError("stacked mode counting got no images")
    return x


def stacked_modes(images_uint8: Any, classifier: Any) -> np.ndarray:
    """Mode index 100*d_R + 10*d_G + d_B in 0..999 per sample, from per-channel predictions."""
    x = _check_stacked(images_uint8)
    digits = classifier.predict(x.reshape(len(x) * 3, 1, 28, 28)).reshape(len(x), 3)
    return digits @ _WEIGHTS


def stacked_mode_metrics(images_uint8: Any, base_dataset: str = "mnist", data_dir: str | None = None,
                         classifier: Any = None) -> dict[str, float]:
    """``modes`` (of 1000), ``kl_to_uniform`` and ``classifier_accuracy`` for stacked samples.

    ``base_dataset``: "mnist" or "fashion-mnist" (the stacked names are accepted too);
    ``classifier``: a ``DomainClassifier`` to use instead of ``get_classifier(base_dataset)``.
    """
    if classifier is None:
        from ganbench.features.classifier import get_classifier

        classifier = get_classifier(base_dataset, data_dir)
    counts = np.bincount(stacked_modes(images_uint8, classifier), minlength=NUM_MODES)
    return {"modes": float((counts > 0).sum()), "kl_to_uniform": kl_to_uniform(counts),
            "classifier_accuracy": float(classifier.test_accuracy)}


def stacked_protocol(classifier: Any) -> dict[str, Any]:
    """Settings a record stores beside the stacked mode numbers."""
    return {"num_modes": NUM_MODES, "mode_rule": "each channel classified separately; mode = 100*d_R + 10*d_G + d_B",
            **classifier.protocol()}


__all__ = ["NUM_MODES", "stacked_modes", "stacked_mode_metrics", "stacked_protocol"]


def _compute(real: Any, fake: Any, base_dataset: str = "mnist", data_dir: str | None = None) -> dict[str, float]:
    return stacked_mode_metrics(fake, base_dataset, data_dir)


def _register() -> None:
    from ganbench.metrics.spec import MetricSpec
    from ganbench.registry import METRICS

    help_ = "stacked datasets: modes covered of 1000 and KL to uniform (per-channel domain CNN)"
    METRICS.register("stacked_modes", MetricSpec(
        "stacked_modes", ("images",),
        # classifier_accuracy describes the judge, not the generator: no direction.
        {"modes": "higher", "kl_to_uniform": "lower", "classifier_accuracy": None},
        _compute, {"base_dataset": "mnist"}, help=help_, uses_real=False, protocol={},
        kind="images"), help=help_)


_register()
