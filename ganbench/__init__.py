"""ganbench: a GAN benchmark and evaluation harness.

``ganbench.evaluate`` (score samples or a generator) and ``ganbench.train`` (train a method under a
budget, beside the baselines) are the Python API (``ganbench.api``), imported on first use so that
``import ganbench`` stays light (no torch).
"""

from ganbench.version import __version__

__all__ = ["__version__", "evaluate", "train"]


def __getattr__(name: str):
    if name in ("evaluate", "train", "Method", "Step"):
        from ganbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")
