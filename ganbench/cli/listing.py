"""`ganbench list`: what can be named on the command line (no torch import: see ganbench.catalog)."""

from __future__ import annotations

import click

from ganbench import catalog
from ganbench.cli.app import cli


def _section(title: str, rows: list[tuple[str, str]]) -> None:
    click.secho(f"{title}:", bold=True)
    width = max((len(n) for n, _ in rows), default=0)
    for name, text in rows:
        click.echo(f"  {name:<{width}}  {text}")


def _budget_rows() -> list[tuple[str, str]]:
    from ganbench.config import BUDGET_INFO, default_budget_steps

    rows = []
    for name, info in BUDGET_INFO.items():
        steps = default_budget_steps(name)
        rows.append((name, f"{info.purpose}; {steps}"))
        rows.append(("", f"per run, 2 CPU cores: {info.cpu_time}; GPU: {info.gpu_time}"))
    return rows


@cli.command("list")
def list_cmd() -> None:
    """List models, datasets, metrics, budgets, architectures and feature extractors."""
    from ganbench.config import recipe_descriptions

    _section("models", sorted(recipe_descriptions().items()))
    _section("datasets", sorted((n, e.help) for n, e in catalog.DATASETS.items()))
    _section("metrics", sorted(catalog.METRICS.items()))
    _section("budgets", _budget_rows())
    _section("architectures", sorted(catalog.ARCHITECTURES.items()))
    _section("feature extractors", sorted(catalog.EXTRACTORS.items()))
    click.echo("\nDatasets also accept folder:PATH and npz:PATH where the image loaders are installed.")
