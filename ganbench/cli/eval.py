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
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np

from ganbench.cli.app import MODE_CHOICES, cli
from ganbench.errors import GanbenchError

DEFAULT_N_GENERATOR = 10_000  # Lucic et al. 2018 compare 10k vs 10k (docs/reference.md section 2)


def _parse_arch_opts(items: tuple[str, ...]) -> dict[str, Any]:
    from ganbench.config import parse_overrides

    opts = parse_overrides(items)
    for k, v in opts.items():
        if isinstance(v, dict):
            raise GanbenchError(f"--arch-opt takes flat KEY=VALUE pairs, got {k}.…")
    return opts


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
    from ganbench.records import check_appendable
    from ganbench.rundir import check_output_file

    check_output_file(json_out, "--json")
    check_output_file(save_samples, "--save-samples")
    if json_out is not None and json_out.suffix.lower() == ".jsonl":
        check_appendable(json_out)


def _check_generator_memory(n: int, n_real: int | None, z_dim: int, shape: tuple, keep: bool) -> None:
    from ganbench.limits import check_memory

    # Latents (float32) and features (pool3 2048 + logits 1008, float32) per generated sample;
    # the generated images too when they are kept for --save-samples; reference features likewise.
    per = 4 * (z_dim + 2048 + 1008) + (int(np.prod(shape)) if keep and len(shape) == 3 else 0)
    check_memory(n * per + (n_real or n) * 4 * (2048 + 1008), f"-n {n}")


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
    if "is_unavailable" in protocol:
        lines.append(f"\nIS: unavailable: {protocol['is_unavailable']}")
    lines.append("\nprotocol:")
    skip = {"metrics_requested"}
    for k, v in protocol.items():
        if k not in skip and k != "is_unavailable":
            lines.append(f"  {k}: {v}")
    return "\n".join(lines)


def _default_n(dev: Any) -> int:
    """The protocol's count on a GPU; on a CPU a smaller stated count (the estimate says what -n N costs)."""
    from ganbench.estimate import CPU_DEFAULT_N

    if dev.type == "cuda":
        return DEFAULT_N_GENERATOR
    click.echo(f"ganbench eval: on a CPU -n defaults to {CPU_DEFAULT_N} generated images (the protocol's "
               f"{DEFAULT_N_GENERATOR} is the default on a GPU; pass -n {DEFAULT_N_GENERATOR} for it)", err=True)
    return CPU_DEFAULT_N


def _estimate(fake: Any, reference: Any, n: int | None, n_real: int | None, ext: Any,
              shape: tuple[int, ...], dev: Any) -> str:
    """The estimate line, from timing the extractor (and the generator) on a few images."""
    from ganbench.estimate import CPU_DEFAULT_N, eval_estimate, extractor_seconds_per_image, \
        generator_seconds_per_image

    is_gen = not isinstance(fake, np.ndarray)
    n_gen = int(n) if is_gen else len(fake[:n] if n is not None else fake)
    from ganbench.refstats import ReferenceStats

    if isinstance(reference, ReferenceStats):  # precomputed: no reference images to extract
        n_ref = 0
        if not is_gen:
            shape = tuple(fake.shape[1:])
        elif len(shape) != 3:
            from ganbench.generators import sample_all

            shape = tuple(sample_all(fake, 1, seed=0, batch_size=1)[0].shape[1:])
    elif isinstance(reference, np.ndarray):
        n_ref = len(reference[:n_real] if n_real is not None else reference)
    else:
        n_avail = len(reference.split_arrays("train")[0]) if hasattr(reference, "split_arrays") else n_gen
        n_ref = min(n_real if n_real is not None else n_gen, n_avail)
    s_ext = extractor_seconds_per_image(ext, shape)
    s_gen = generator_seconds_per_image(fake) if is_gen else 0.0
    alt = (DEFAULT_N_GENERATOR if n_gen == CPU_DEFAULT_N else CPU_DEFAULT_N) if is_gen else None
    return eval_estimate(n_gen, n_ref, s_ext, s_gen, dev, alt_n=alt)


PRESET_OPTIONS = ("metrics", "n", "n_real", "split", "features", "mode")


def _preset_options(preset: str, options: dict[str, Any], ref: str | None) -> dict[str, Any]:
    """The options --preset fixes (an explicit option that contradicts it is an error); a preset's
    "auto" extractor becomes the domain CNN where the reference dataset has one."""
    from ganbench.evaluate_images import resolve_features
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
                   "fd, cmmd, cdc (clipped density/coverage), vendi.")
@click.option("--preset", default=None,
              help="Evaluation protocol preset (ganbench/presets.py: fid10k_test, fid50k_train, fid5k_test, "
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
def eval_cmd(target: str, ref: str | None, metrics: str, preset: str | None, n: int | None, n_real: int | None,
             split: str, mode: str | None,
             inception_weights: str | None, features: str, batch_size: int, seed: int, n_boot: int,
             json_out: Path | None, arch: str | None, arch_opts: tuple[str, ...], z_dim: int | None,
             num_classes: int | None, shape: str | None, output_range: str | None, save_samples: Path | None,
             name: str | None, data_dir: str | None, device: str, no_cache: bool, quiet: bool) -> None:
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
    from ganbench import external
    from ganbench.data.base import Dataset
    from ganbench.evaluate_images import build_extractor, evaluate_images, parse_image_metrics, resolve_reference
    from ganbench.features.inception import pick_device
    from ganbench.records import ResultRecord, finite_metrics, provenance
    from ganbench.registry import EXTRACTORS

    t0 = time.perf_counter()
    # Cheap checks first: a typo must not cost a model load or minutes of features.
    names = parse_image_metrics(metrics)
    if preset is not None:
        o = _preset_options(preset, {"metrics": names, "n": n, "n_real": n_real, "split": split,
                                     "features": features, "mode": mode}, ref)
        names, n, n_real, split, features, mode = (o[k] for k in PRESET_OPTIONS)
    EXTRACTORS.get(features)
    if batch_size < 1:
        raise GanbenchError(f"--batch-size must be >= 1, got {batch_size}")
    if n_boot < 0 or n_boot == 1:
        raise GanbenchError(f"--bootstrap must be 0 (off) or >= 2, got {n_boot}")
    if n is not None and n < 2:
        raise GanbenchError(f"-n must be at least 2, got {n}")
    if n_real is not None and n_real < 2:
        raise GanbenchError(f"--n-real must be at least 2, got {n_real}")
    if output_range is not None:
        external.parse_output_range(output_range)
    _check_outputs(json_out, save_samples)
    opts = _parse_arch_opts(arch_opts)
    dev = pick_device(None if device == "auto" else device)
    if dev.type == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise GanbenchError(f"--device {device}: CUDA is not available here; use --device cpu")

    kind = external.target_kind(target)
    caught: list[warnings.WarningMessage] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        loaded = None
        if ref is None:
            if kind in ("samples", "torchscript", "safetensors", "entry-point"):
                raise GanbenchError("--ref REF is required: a dataset name or an image set to compare with")
            loaded = external.load_generator(target, arch, z_dim, num_classes, output_range, shape=shape,
                                              arch_options=opts, device=dev)
            if loaded.dataset is None:
                raise GanbenchError("--ref REF is required: a dataset name or an image set to compare with")
            ref = loaded.dataset
        reference = resolve_reference(ref, data_dir)
        ref_shape = tuple(reference.shape) if hasattr(reference, "shape") and not isinstance(reference, np.ndarray) \
            else tuple(reference.shape[1:])

        if kind == "samples":
            from ganbench.data.images import load_images

            fake: Any = load_images(target)
            model, step, rec_seed = Path(target).name or target, 0, seed
            prov: dict[str, Any] = {"target": target, "target_kind": "samples"}
            if Path(target).is_file():
                from ganbench.records import sha256_file

                prov["target_sha256"] = sha256_file(target)
        else:
            if loaded is None:
                loaded = external.load_generator(target, arch, z_dim, num_classes, output_range,
                                                 shape=shape or ref_shape, arch_options=opts, device=dev)
            fake = loaded.generator
            n = n if n is not None else _default_n(dev)
            _check_generator_memory(n, n_real, fake.z_dim, ref_shape, save_samples is not None)
            model, step = loaded.name, loaded.step
            rec_seed = loaded.seed if loaded.seed is not None else seed
            prov = dict(loaded.provenance)

        ext = build_extractor(features, mode=mode, weights=inception_weights, device=dev, data_dir=data_dir,
                              dataset=reference if isinstance(reference, Dataset) else None)
        if not quiet:
            click.echo(f"ganbench eval: {_estimate(fake, reference, n, n_real, ext, ref_shape, dev)}", err=True)
        kept: list[np.ndarray] | None = [] if save_samples is not None else None
        info: dict[str, Any] = {}
        values, protocol = evaluate_images(
            fake, reference, names, n=n, extractor=ext, mode=mode, seed=seed, n_real=n_real, split=split,
            data_dir=data_dir, weights=inception_weights, batch_size=batch_size, n_boot=n_boot, device=dev,
            progress=not quiet, cache=not no_cache, save_samples=kept, info=info)
    for w in caught:
        if issubclass(w.category, UserWarning):
            click.echo(f"ganbench: warning: {w.message}", err=True)

    protocol["ref"] = str(ref)
    from ganbench.presets import preset_fields

    protocol.update(preset_fields(preset))
    protocol["selection"] = "single evaluation"
    if save_samples is not None and kept:
        from ganbench.io import atomic_open

        with atomic_open(save_samples) as f:
            np.savez_compressed(f, x=np.concatenate(kept))
    dataset_name = str(ref) if not Path(str(ref)).exists() else Path(str(ref)).name
    rec = ResultRecord(model=name or model, dataset=dataset_name, seed=int(rec_seed), step=int(step),
                       metrics=finite_metrics(values), protocol=protocol,
                       provenance=provenance(**prov, **info, wall_s=round(time.perf_counter() - t0, 3),
                                             device_used=str(dev)),
                       kind="eval")
    click.echo(f"ganbench eval: {rec.model} vs {rec.dataset} (step {rec.step})")
    click.echo(format_results(values, protocol))
    if json_out is not None:
        wrote = _write_json(json_out, rec)
        click.echo(f"\nrecord: {json_out}" + ("" if wrote else " (already there with this protocol; not repeated)"))
    click.echo(f"wall time {time.perf_counter() - t0:.1f} s", err=True)
