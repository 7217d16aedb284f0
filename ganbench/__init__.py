"""ganbench: a GAN benchmark and evaluation harness."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ganbench.evaluate is imported on first use, so `import ganbench` stays light (no torch).
    if name == "evaluate":
        from ganbench.api import evaluate

        return evaluate
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")
