"""The declared FeatureExtractor interface: what each registered extractor takes is declared, and
an option it does not take is a one-line error (never silently dropped into a wrong record)."""

from __future__ import annotations

import re

import pytest
import torch

from ganbench.cli.app import MODE_CHOICES
from ganbench.errors import GanbenchError
from ganbench.features.base import (
    ExtractorOptions,
    ExtractorSpec,
    FeatureExtractor,
    as_extractor,
    extractor_spec,
    pick_device,
)
from ganbench.registry import EXTRACTORS


def test_every_registered_extractor_declares_its_options():
    for name in EXTRACTORS.names():
        spec = EXTRACTORS.get(name)
        assert isinstance(spec, ExtractorSpec) and spec.name == name
        assert set(spec.modes) <= set(MODE_CHOICES), name
    assert extractor_spec("domain").modes == () and extractor_spec("domain").per_dataset
    assert "clean" in extractor_spec("inception").modes and extractor_spec("inception").takes_weights
    assert "edm2" in extractor_spec("dinov2-vit-b14").modes and "clean" not in extractor_spec("dinov2-vit-b14").modes


@pytest.mark.parametrize("name, opts, message", [
    ("domain", ExtractorOptions(mode="clean"), "own preprocessing"),
    ("domain", ExtractorOptions(weights="w.pth"), "takes no weights"),
    ("dinov2-vit-b14", ExtractorOptions(mode="clean"), "unknown preprocessing mode 'clean'"),
    ("inception", ExtractorOptions(mode="edm2"), "unknown preprocessing mode 'edm2'"),
])
def test_an_option_the_extractor_does_not_take_is_an_error(name, opts, message):
    with pytest.raises(GanbenchError, match=message):
        extractor_spec(name).check(opts)


def test_keyword_build_refuses_unknown_options_and_the_domain_extractor_needs_a_dataset():
    with pytest.raises(GanbenchError, match=r"unknown option\(s\) \['resize'\]"):
        EXTRACTORS.get("inception")(resize="clean")
    with pytest.raises(GanbenchError, match="built for one dataset"):
        EXTRACTORS.get("domain")()


def test_undeclared_objects_are_refused_in_one_line():
    class Duck:
        name, mode, weights_sha256 = "duck", None, None

        def __call__(self, x):
            return {"pool3": x}

    with pytest.raises(GanbenchError, match=re.escape("must subclass ganbench.features.FeatureExtractor")):
        as_extractor(Duck())


def test_protocol_comes_from_the_interface():
    class Pix(FeatureExtractor):
        name, mode, weights_sha256, dims = "pix", "m", "ab", {"pool3": 3}

        @property
        def preprocessing(self):
            return "none"

        def extra_protocol(self):
            return {"mode": "overridden?", "accuracy": 0.5}

        def __call__(self, x):
            return {"pool3": torch.as_tensor(x).float().mean(dim=(2, 3))}

    p = as_extractor(Pix()).protocol()
    # Extras never overwrite the identity the cache and the guard compare.
    assert p == {"extractor": "pix", "weights_sha256": "ab", "mode": "m", "preprocessing": "none", "accuracy": 0.5}
    assert "gives ['pool3'], not ['logits']" in Pix().missing_reason(["logits"])


def test_run_cli_accepts_the_vit_modes_and_refuses_the_others():
    from ganbench.cli.run import _eval_options

    assert _eval_options("dinov2-vit-b14", "edm2", None, None)["mode"] == "edm2"
    with pytest.raises(GanbenchError, match="own preprocessing"):
        _eval_options("domain", "clean", None, None)
    with pytest.raises(GanbenchError, match="unknown preprocessing mode"):
        _eval_options("clip-vit-l14-336", "legacy-pytorch", None, None)


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
