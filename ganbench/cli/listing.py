"""`ganbench list`: what can be named on the command line."""

from __future__ import annotations

import click

from ganbench.cli.app import cli
from ganbench.registry import ARCHITECTURES, BUDGETS, DATASETS, EXTRACTORS, METRICS, MODELS


@cli.command("list")
def list_cmd() -> None:
    """List models, datasets, metrics, budgets, architectures and feature extractors."""
    for title, reg in (("models", MODELS), ("datasets", DATASETS), ("metrics", METRICS),
                       ("budgets", BUDGETS), ("architectures", ARCHITECTURES), ("feature extractors", EXTRACTORS)):
        names = reg.names()
        click.secho(f"{title}:", bold=True)
        width = max((len(n) for n in names), default=0)
        for n in names:
            click.echo(f"  {n:<{width}}  {reg.help(n)}")
    click.echo("\nDatasets also accept folder:PATH and npz:PATH where the image loaders are installed.")
