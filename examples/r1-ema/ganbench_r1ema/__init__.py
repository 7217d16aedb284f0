"""A GAN with an R1 penalty on real data (Mescheder, Geiger & Nowozin 2018) and an exponential
moving average of the generator's weights for evaluation (Yazici et al. 2019), as a ganbench method.

``recipe`` is what the ``ganbench.models`` entry point gives ganbench: the path of the recipe file.
"""

from pathlib import Path


def recipe() -> Path:
    """The method's recipe (``r1-ema.toml``, installed with the package)."""
    return Path(__file__).with_name("r1-ema.toml")
