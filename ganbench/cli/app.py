"""The click group every subcommand attaches to, and small shared option parsers."""

from __future__ import annotations

import click

from ganbench import __version__
from ganbench.errors import GanbenchError


# Preprocessing modes, spelled here so that --help needs no torch import; a test keeps this tuple
# equal to ganbench.features.inception.MODES plus ganbench.features.vit.RESIZE_MODES (DINOv2, CLIP).
MODE_CHOICES = ("legacy-tf", "clean", "legacy-pytorch", "edm2", "pil-bicubic")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ganbench")
def cli() -> None:
    """ganbench: train reference GAN baselines under fixed budgets and score any generator.

    Errors are one line; add --debug to any command for the full traceback.
    """


def parse_int_list(spec: str, what: str) -> list[int]:
    try:
        out = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise GanbenchError(f"{what} must be comma-separated integers, got {spec!r}") from None
    if not out:
        raise GanbenchError(f"{what} is empty")
    return out
