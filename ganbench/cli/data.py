"""`ganbench data`: which datasets are available here, and where each was found."""

from __future__ import annotations

import click

from ganbench.cli.app import cli
from ganbench.errors import GanbenchError
from ganbench.registry import DATASETS

PATH_KINDS = {"folder", "zip", "npz"}  # need a PATH; nothing to check without one


@cli.command("data")
@click.argument("names", nargs=-1)
@click.option("--data-dir", default=None, help="Where to look for dataset files first.")
def data_cmd(names: tuple[str, ...], data_dir: str | None) -> None:
    """Show each dataset's status: found (size, shape, source) or what was tried."""
    from ganbench.data import get_dataset

    for name in names or [n for n in DATASETS.names() if n not in PATH_KINDS]:
        DATASETS.get(name.partition(":")[0] if ":" in name else name)
        try:
            ds = get_dataset(name, data_dir)
        except GanbenchError as e:
            click.echo(f"{name:<22} missing  {e}")
            continue
        info = ds.describe()
        n_train = len(getattr(ds, "train_x", [])) or "generated"
        test = getattr(ds, "test_x", None)
        n_test = len(test) if test is not None else "-"
        src = getattr(ds, "source", "")
        click.echo(f"{name:<22} ok       train {n_train}, test {n_test}, shape {tuple(info['shape'])}, "
                   f"classes {info['num_classes']}; {src}")
