"""`ganbench stats SOURCE -o FILE`: reference statistics computed once, for `ganbench eval --ref FILE`.

SOURCE is a dataset (``--split``, ``-n`` images drawn with the fixed reference seed, as ``eval --ref
DATASET`` draws them), an image set, or a statistics file to convert (ganbench, pytorch-fid or
clean-fid ``.npz``). ``--format pytorch-fid`` writes ``mu``/``sigma`` only; ``--format clean-fid``
also writes ``FILE_kid.npz`` with the features (clean-fid's ``NAME_MODE_custom_na[_kid].npz`` pair).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from ganbench.cli.app import MODE_CHOICES, cli
from ganbench.refstats import FORMATS


@cli.command("stats")
@click.argument("source")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Statistics file to write (.npz).")
@click.option("--split", default="train", show_default=True, type=click.Choice(["train", "test"]),
              help="Dataset split.")
@click.option("--extractor", "--features", "extractor", default="inception", show_default=True,
              help="Feature extractor: inception, dinov2-vit-l14, dinov2-vit-b14, clip-vit-l14-336, domain.")
@click.option("--mode", default=None, type=click.Choice(MODE_CHOICES),
              help="Preprocessing [default: the extractor's own, legacy-tf].")
@click.option("-n", "--n", "n", type=int, default=None, help="Images: a seeded subset of the split [default: all].")
@click.option("--weights", "--inception-weights", "weights", default=None, type=click.Path(dir_okay=False),
              help="Extractor weights file.")
@click.option("--format", "fmt", default="ganbench", show_default=True, type=click.Choice(FORMATS),
              help="File format: ganbench (mu, sigma, features, protocol), pytorch-fid, clean-fid.")
@click.option("--no-features", is_flag=True, help="Keep mean and covariance only (enough for fid/fd).")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Images per forward pass.")
@click.option("--data-dir", default=None, help="Where to look for dataset files first.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
@click.option("--no-cache", is_flag=True, help="Do not read or write cached reference features.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def stats_cmd(source: str, **flags: Any) -> None:
    """Write the mean, covariance and features of SOURCE's features, with their protocol and hash."""
    from ganbench.evaluation.reference_stats import StatsOptions, reference_stats
    from ganbench.refstats import save_stats

    f = SimpleNamespace(**flags)
    options = StatsOptions(split=f.split, extractor=f.extractor, mode=f.mode, n=f.n, weights=f.weights,
                           keep_features=not f.no_features, batch_size=f.batch_size, data_dir=f.data_dir,
                           device=None if f.device == "auto" else f.device, cache=not f.no_cache,
                           progress=not f.quiet)
    st = reference_stats(source, options)
    written = save_stats(st, f.out, f.fmt)
    p = st.protocol
    click.echo(f"ganbench stats: {p.get('ref', source)} ({p.get('real_split') or 'images'}, "
               f"n={p.get('n_real', '?')}) in {p.get('extractor') or 'an unrecorded space'}, {len(st.mu)}-d")
    for w in written:
        click.echo(f"  wrote {w}")
    click.echo(f"  content sha256 {p.get('content_sha256')}")
