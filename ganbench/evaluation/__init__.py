"""Evaluation: samples -> features -> metrics, with the protocol that makes the numbers comparable.

- ``options``: ``EvalOptions``, what one evaluation is asked to do (typed, validated).
- ``images``: the parts: metric names, extractors, features, reference features, metrics over features.
- ``engine``: ``evaluate(source, reference, options) -> Evaluation(values, protocol)``, the one engine.
- ``training``: thin adapters that score a generator at a training step (``make_evaluator``).

Names are loaded on first use, so importing ``ganbench.evaluation.options`` stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {"EvalOptions": "options", "evaluate": "engine", "Evaluation": "engine", "Reference": "engine",
         "make_evaluator": "training", "eval_seed": "training", "ImageEvaluator": "training",
         "VectorEvaluator": "training"}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"ganbench.evaluation.{_HOME[name]}"), name)
    raise AttributeError(f"module 'ganbench.evaluation' has no attribute {name!r}")
