"""The click group every subcommand attaches to, and small shared option parsers."""

from __future__ import annotations

import click

from ganbench.errors import GanbenchError

# Preprocessing modes (ganbench.evaluation.options, torch-free so that --help stays light).
from ganbench.evaluation.options import MODE_CHOICES  # noqa: F401  (re-exported to the commands)
from ganbench.version import __version__


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
