"""`ganbench data`: which datasets are available here, and where each was found."""

from __future__ import annotations

import importlib.util

import click

from ganbench.cli.app import cli
from ganbench.errors import GanbenchError
from ganbench.registry import DATASETS


def _status(name: str, data_dir: str | None) -> str:
    """Where the files are, without loading them or importing torch (the no-argument listing)."""
    kind = DATASETS.meta(name, "kind", "plugin")
    if kind == "generated":
        return "ok       generated on demand"
    if kind == "sklearn":
        found = importlib.util.find_spec("sklearn") is not None
        return "ok       ships with scikit-learn" if found else "missing  scikit-learn is not installed"
    if kind == "plugin":
        origin = DATASETS.origin(name) or {}
        return f"?        from {origin.get('distribution')}: `ganbench data {name}` loads it"
    from ganbench.data.images import SOURCES
    from ganbench.data.sources import locate

    base = kind.partition(":")[2] or name
    folder, tried = locate(SOURCES[base], data_dir)
    if folder is None:
        return f"missing  not found locally (downloaded on first use where allowed); looked in: {', '.join(tried)}"
    return f"ok       {folder}" + (f" (stacked from {base})" if base != name else "")


def _loaded(name: str, data_dir: str | None) -> str:
    from ganbench.data import get_dataset

    ds = get_dataset(name, data_dir)
    info = ds.describe()
    n_train = len(getattr(ds, "train_x", [])) or "generated"
    test = getattr(ds, "test_x", None)
    n_test = len(test) if test is not None else "-"
    return (f"ok       train {n_train}, test {n_test}, shape {tuple(info['shape'])}, "
            f"classes {info['num_classes']}; {getattr(ds, 'source', '')}")


@cli.command("data")
@click.argument("names", nargs=-1)
@click.option("--data-dir", default=None, help="Where to look for dataset files first.")
def data_cmd(names: tuple[str, ...], data_dir: str | None) -> None:
    """Show each dataset's status. Without NAMES: where each one's files are found (fast, nothing
    loaded or downloaded). With NAMES: load them (downloading if needed) and show sizes and shapes."""
    if not names:
        for name in DATASETS.registered():
            if DATASETS.meta(name, "kind") != "path":
                click.echo(f"{name:<22} {_status(name, data_dir)}")
        return

    for name in names:
        DATASETS.get(name.partition(":")[0] if ":" in name else name)
        try:
            click.echo(f"{name:<22} {_loaded(name, data_dir)}")
        except GanbenchError as e:
            click.echo(f"{name:<22} missing  {e}")
