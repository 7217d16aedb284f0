"""`ganbench eval TARGET --ref REF`: score a sample set or a generator ganbench did not train.

TARGET: an image folder (recursive png/jpg/...), a .npz/.npy uint8 array (NHWC or NCHW), a zip of
images, a ganbench checkpoint, a TorchScript file, a state dict / .safetensors plus --arch, or a
``package.module:factory`` entry point. REF: the same kinds of image set, or a dataset name
(default for a ganbench checkpoint: the dataset it was trained on).

--json OUT writes the ResultRecord (kind "eval"): OUT ending in .jsonl gets one JSON line appended
(so several evaluations accumulate); any other name is (over)written as a JSON list of one record.
Both are read by ``ganbench check`` / ``read_records``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import numpy as np

from ganbench.cli.app import MODE_CHOICES, cli
from ganbench.errors import GanbenchError

DEFAULT_N_GENERATOR = 10_000  # as ganbench.evaluation.target (kept light here: the help text needs it)


def _parse_arch_opts(items: tuple[str, ...]) -> dict[str, Any]:
    from ganbench.config import parse_overrides

    opts = parse_overrides(items)
    for k, v in opts.items():
        if isinstance(v, dict):
            raise GanbenchError(f"--arch-opt takes flat KEY=VALUE pairs, got {k}.…")
    return opts


def _parse_metric_opts(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``("nnd.budget=paper", "c2st.classifier=1nn")`` -> {"nnd": {"budget": "paper"}, "c2st": {...}}."""
    from ganbench.config import parse_overrides

    for item in items:
        key = item.partition("=")[0]
        if key.count(".") != 1 or not all(key.split(".")):
            raise GanbenchError(f"--metric-opt takes METRIC.KEY=VALUE (e.g. nnd.budget=paper), got {item!r}")
    return parse_overrides(items)


def _write_json(path: Path, rec: Any) -> bool:
    """Write the record; False when a .jsonl already holds the same evaluation (same key and protocol)."""
    from ganbench.io import atomic_write_text
    from ganbench.records import ResultRecord, append_record

    if path.suffix.lower() == ".jsonl":
        return append_record(path, rec, key=lambda d: ResultRecord.from_dict(d).key())
    atomic_write_text(path, json.dumps([json.loads(rec.to_json())], indent=1, sort_keys=True) + "\n")
    return True


def _check_outputs(json_out: Path | None, save_samples: Path | None) -> None:
    """Every output path is checked before minutes of features are computed and then lost."""
    from ganbench.io import check_output_file
    from ganbench.records import check_appendable

    check_output_file(json_out, "--json")
    check_output_file(save_samples, "--save-samples")
    if json_out is not None and json_out.suffix.lower() == ".jsonl":
        check_appendable(json_out)


def _fmt(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.4f}" if abs(v) < 1000 else f"{v:.1f}"


def format_results(values: dict[str, float], protocol: dict[str, Any]) -> str:
    """The metric table and the protocol, for the terminal."""
    from tabulate import tabulate

    rows = []
    for k, v in values.items():
        if k.endswith(("_ci_low", "_ci_high", "_std")):
            continue
        spread = ""
        if f"{k}_ci_low" in values:
            spread = f"[{_fmt(values[k + '_ci_low'])}, {_fmt(values[k + '_ci_high'])}]"
        elif f"{k}_std" in values:
            spread = f"± {_fmt(values[k + '_std'])} (std)"
        rows.append([k, _fmt(v), spread])
    level = protocol.get("ci_level")
    head = ["metric", "value", f"{int(round(level * 100))}% interval / std" if level else "std"]
    lines = [tabulate(rows, headers=head, tablefmt="simple", disable_numparse=True)]
    if level:
        lines.append(f"(intervals: {protocol.get('ci_method_text', protocol.get('ci_method'))}; evaluation "
                     "spread of this sample size, not of the training seed)")
    if "c2st_interval" in protocol and "c2st_accuracy_ci_low" in values:
        lines.append(f"(c2st_accuracy's interval: {protocol['c2st_interval']})")
    if "is_unavailable" in protocol:
        lines.append(f"\nIS: unavailable: {protocol['is_unavailable']}")
    lines.append("\nprotocol:")
    skip = {"metrics_requested"}
    for k, v in protocol.items():
        if k not in skip and k != "is_unavailable":
            lines.append(f"  {k}: {v}")
    return "\n".join(lines)


PRESET_OPTIONS = ("metrics", "n", "n_real", "split", "features", "mode")


def _preset_options(preset: str, options: dict[str, Any], ref: str | None) -> dict[str, Any]:
    """The options --preset fixes (an explicit option that contradicts it is an error); a preset's
    "auto" extractor becomes the domain CNN where the reference dataset has one."""
    from ganbench.evaluation.images import resolve_features
    from ganbench.presets import apply_preset

    ctx = click.get_current_context()
    explicit = {k for k in PRESET_OPTIONS if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    out = apply_preset(preset, options, explicit)
    if out["features"] == "auto":
        out["features"] = resolve_features("auto", str(ref or ""))
        if out["features"] != "inception":
            out["mode"] = None  # the preprocessing mode is Inception's; the domain CNN takes none
    return out


@cli.command("eval")
@click.argument("target")
@click.option("--ref", "ref", default=None,
              help="Reference: a dataset name (cifar10, mnist, npz:PATH, ...) or an image set "
                   "(folder, zip, .npz/.npy) [default for a ganbench checkpoint: its dataset].")
@click.option("--metrics", default="fid,kid,is,pr,dc", show_default=True,
              help="Comma-separated: fid, kid, is, pr (precision/recall), dc (density/coverage), fd_inf (FD∞), "
                   "fd, cmmd, cdc (clipped density/coverage), vendi, c2st (classifier two-sample test), "
                   "nnd (neural-network divergence: a critic trained on pixels, minutes).")
@click.option("--metric-opt", "metric_opts", multiple=True, metavar="METRIC.KEY=VALUE",
              help="A metric's option, e.g. --metric-opt c2st.classifier=1nn, --metric-opt nnd.budget=paper "
                   "(repeatable; the record's protocol says the values used).")
@click.option("--preset", default=None,
              help="Evaluation protocol preset (ganbench/presets.toml: fid10k_test, fid50k_train, fid5k_test, "
                   "kid50k_train, pr50k3_train, cpu2k_train, ...): fixes metrics, -n, --n-real, --split, "
                   "--features and --mode; the record stores it.")
@click.option("-n", "--n", "n", type=int, default=None,
              help=f"Generated images: drawn from a generator [default {DEFAULT_N_GENERATOR} on a GPU, 2000 on a "
                   "CPU], the first N of a sample set [default: all].")
@click.option("--n-real", type=int, default=None,
              help="Reference images: a subset of a dataset split drawn with a fixed seed [default: as many as "
                   "generated], the first N of a set [default: all].")
@click.option("--split", default="train", show_default=True, type=click.Choice(["train", "test"]),
              help="Dataset split used as the reference.")
@click.option("--mode", default=None, type=click.Choice(MODE_CHOICES),
              help="Inception preprocessing: TF1 bilinear (legacy-tf, the default), clean-fid's PIL bicubic "
                   "(clean) or pytorch-fid's (legacy-pytorch). Inception only.")
@click.option("--inception-weights", "--weights", "inception_weights", type=click.Path(dir_okay=False), default=None,
              help="Extractor weights file (Inception: pt_inception-2015-12-05-6726825d.pth, which also gives IS).")
@click.option("--features", "--extractor", "features", default="inception", show_default=True,
              help="Feature extractor: inception, dinov2-vit-l14, dinov2-vit-b14, clip-vit-l14-336, or domain "
                   "(a classifier for 28x28 data).")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Images per forward pass.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed (and interval resampling seed).")
@click.option("--bootstrap", "n_boot", type=int, default=50, show_default=True,
              help="Half-sample resamples for the intervals of fid, kid, is, precision/recall, density/coverage; "
                   "0 disables.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the record: OUT.jsonl appends a line, any other name writes a JSON list.")
@click.option("--arch", default=None, help="Registered architecture for a state dict / safetensors file.")
@click.option("--arch-opt", "arch_opts", multiple=True, metavar="KEY=VALUE",
              help="Architecture option, e.g. --arch-opt width=32 (repeatable).")
@click.option("--recipe", type=click.Path(dir_okay=False), default=None,
              help="The recipe file of a checkpoint whose networks are your own code (imported from there).")
@click.option("--z-dim", type=int, default=None, help="Latent size (when the generator does not say).")
@click.option("--num-classes", type=int, default=None, help="Classes of a conditional generator (0: none).")
@click.option("--shape", default=None, help="Image shape C,H,W for --arch [default: the reference's].")
@click.option("--output-range", default=None,
              help="What the generator outputs: -1,1 | 0,1 | 0,255 [default: -1,1, checked on the first batch: "
                   "outputs with no negative value are refused until you state the range].")
@click.option("--save-samples", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the evaluated generated images as a uint8 NCHW .npz (key 'x').")
@click.option("--name", default=None, help="Model name in the record [default: the target's file name].")
@click.option("--data-dir", default=None, help="Where to look for dataset files first.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
@click.option("--no-cache", is_flag=True, help="Do not read or write cached reference features.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def eval_cmd(target: str, **flags: Any) -> None:
    """Score TARGET against REF with FID, KID, IS, precision/recall and density/coverage; print the
    metrics and their protocol; optionally write a record (--json).

    \b
    TARGET is a sample set: an image folder (recursive png/jpg/jpeg/webp/bmp), a .npz/.npy uint8
      array (N,C,H,W or N,H,W,C), a .zip of images; or a generator: a ganbench checkpoint, a
      TorchScript file, a state dict (.pt/.pth) or .safetensors file with --arch, or
      package.module:factory (imports and runs your module; --z-dim/--num-classes/--output-range
      describe it when it does not say). Pickles that would run code are refused.
    REF is a dataset name (cifar10, mnist, npz:PATH, ...; --split, --n-real) or a sample set.
    Images within a set must share one size (mixed sizes are an error); the sets may differ, as
    Inception resizes every image to 299x299.
    """
    from ganbench.estimate import eval_target_estimate
    from ganbench.evaluation.target import evaluate_over_seeds
    from ganbench.presets import FINAL, get_preset

    t0 = time.perf_counter()
    f = SimpleNamespace(**flags)
    options, spec = _parse(target, f)
    preset = get_preset(f.preset) if f.preset is not None else None
    # A preset that reports a statistic over evaluation seeds (fid50k_train: mimicry's mean ± std of
    # 3) gets that many evaluations; without a preset, one.
    scored = evaluate_over_seeds(spec, options, preset.eval_seeds if preset else 1,
                                 preset.statistic if preset else FINAL,
                                 lambda line: click.echo(f"ganbench eval: {line}", err=True), eval_target_estimate)
    for w in scored.warnings:
        click.echo(f"ganbench: warning: {w}", err=True)
    if f.save_samples is not None and scored.evaluation.samples is not None:
        from ganbench.io import atomic_open

        with atomic_open(f.save_samples) as out:
            np.savez_compressed(out, x=scored.evaluation.samples)
    rec = scored.record
    click.echo(f"ganbench eval: {rec.model} vs {rec.dataset} (step {rec.step})")
    click.echo(format_results(scored.evaluation.values, rec.protocol))
    if f.json_out is not None:
        wrote = _write_json(f.json_out, rec)
        click.echo(f"\nrecord: {f.json_out}" + ("" if wrote else " (already there with this protocol; not repeated)"))
    click.echo(f"wall time {time.perf_counter() - t0:.1f} s", err=True)


def _parse(target: str, f: SimpleNamespace) -> tuple[Any, Any]:
    """EvalOptions and TargetSpec from the flags, every name, number and path checked."""
    from ganbench.evaluation.options import EvalOptions
    from ganbench.evaluation.target import TargetSpec
    from ganbench.presets import preset_fields

    metrics = parse_metrics(f.metrics)  # a typo must not cost a model load or minutes of features
    if f.preset is not None:
        o = _preset_options(f.preset, {"metrics": metrics, "n": f.n, "n_real": f.n_real, "split": f.split,
                                       "features": f.features, "mode": f.mode}, f.ref)
        metrics, f.n, f.n_real, f.split, f.features, f.mode = (o[k] for k in PRESET_OPTIONS)
    options = EvalOptions(metrics=tuple(metrics), n_gen=f.n, n_real=f.n_real, split=f.split, extractor=f.features,
                          mode=f.mode, weights=f.inception_weights, seed=f.seed, n_boot=f.n_boot,
                          batch_size=f.batch_size, device=_device(f.device), data_dir=f.data_dir,
                          progress=not f.quiet, cache=not f.no_cache, keep_samples=f.save_samples is not None,
                          metric_options=_parse_metric_opts(f.metric_opts))
    spec = TargetSpec(target, f.ref, f.arch, _parse_arch_opts(f.arch_opts), f.z_dim, f.num_classes, f.shape,
                      f.output_range, f.name, preset_fields(f.preset), f.recipe)
    _check_target_flags(spec, options, f.json_out, f.save_samples)
    return options, spec


def parse_metrics(spec: str) -> list[str]:
    from ganbench.evaluation.images import parse_image_metrics

    return parse_image_metrics(spec)


def _device(device: str) -> Any:
    """--device as a torch.device; cuda where it is not available is an error now, not later."""
    import torch

    from ganbench.io import pick_device

    dev = pick_device(None if device == "auto" else device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise GanbenchError(f"--device {device}: CUDA is not available here; use --device cpu")
    return dev


def _check_target_flags(spec: Any, options: Any, json_out: Path | None, save_samples: Path | None) -> None:
    """Names and paths checked before a model load or minutes of features."""
    from ganbench.generators.loading import parse_output_range
    from ganbench.registry import EXTRACTORS

    if isinstance(options.extractor, str):
        EXTRACTORS.get(options.extractor)
    if spec.output_range is not None:
        parse_output_range(spec.output_range)
    _check_outputs(json_out, save_samples)
