"""`ganbench list`: what can be named on the command line, from the registries' declarations (no
torch import: ganbench.registry), with the entries installed packages add and where they come from."""

from __future__ import annotations

from typing import Any

import click

from ganbench.cli.app import cli


def _section(title: str, rows: list[tuple[str, str]]) -> None:
    click.secho(f"{title}:", bold=True)
    width = max((len(n) for n, _ in rows), default=0)
    for name, text in rows:
        click.echo(f"  {name:<{width}}  {text}")


def _help(registry: Any, name: str) -> str:
    """A model's help is its recipe's description (an installed package's too); other entries' their own."""
    if registry.kind == "model" and registry.origin(name):
        from ganbench.config import load_recipe
        from ganbench.errors import GanbenchError

        try:
            return load_recipe(name).description or registry.help(name)
        except GanbenchError as e:
            return f"(its recipe does not load: {e})"
    return str(registry.help(name))


def _rows(registry: Any) -> list[tuple[str, str]]:
    """Each name with its help, and the installed package it comes from when it is not ganbench's own."""
    rows = []
    for name in registry.names():
        origin = registry.origin(name)
        where = f"  [from {' '.join(str(x) for x in (origin['distribution'], origin.get('version')) if x)}]" \
            if origin else ""
        rows.append((name, _help(registry, name) + where))
    return rows


def _budget_rows() -> list[tuple[str, str]]:
    from ganbench.config import BUDGET_INFO, default_budget_steps
    from ganbench.registry import BUDGETS

    rows = []
    for name, info in BUDGET_INFO.items():
        rows.append((name, f"{BUDGETS.help(name)}; {default_budget_steps(name)}"))
        rows.append(("", f"per run, 2 CPU cores: {info.cpu_time}; GPU: {info.gpu_time}"))
    return rows


def _preset_rows() -> list[tuple[str, str]]:
    from ganbench.presets import PRESETS

    rows = []
    for name in PRESETS.names():
        p = PRESETS.get(name)
        ref = "the whole split" if p.n_real is None else f"{p.n_real:,}"
        rows.append((name, f"{', '.join(p.metrics)}: {p.n_gen:,} generated vs {ref} {p.split} images, "
                           f"{p.extractor}; {p.statistic}"))
    return rows


def _suite_rows() -> list[tuple[str, str]]:
    from ganbench.suites import DEFAULT_SUITE, SUITES

    return [(name, s.help + ("  (the default)" if name == DEFAULT_SUITE else "")) for name, s in SUITES.items()]


@cli.command("list")
def list_cmd() -> None:
    """List models, datasets, metrics, budgets, presets, suites, architectures, objectives, training
    steps and feature extractors (with the installed packages that add any)."""
    from ganbench.registry import ARCHITECTURES, DATASETS, EXTRACTORS, METRICS, MODELS, OBJECTIVES, STEPS

    _section("models", _rows(MODELS))
    _section("datasets", _rows(DATASETS))
    _section("metrics", _rows(METRICS))
    _section("budgets", _budget_rows())
    _section("presets (ganbench eval --preset)", _preset_rows())
    _section("suites (ganbench run --suite)", _suite_rows())
    _section("architectures", _rows(ARCHITECTURES))
    _section("objectives", _rows(OBJECTIVES))
    _section("training steps (a recipe's update)", _rows(STEPS))
    _section("feature extractors", _rows(EXTRACTORS))
    click.echo("\nDatasets also accept folder:PATH and npz:PATH; --models also takes recipe files "
               "(path/to/recipe.toml).")
