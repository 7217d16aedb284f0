"""Generators ganbench did not train, loaded without unpickling code.

``load_generator(spec, ...)`` accepts:
- a ganbench checkpoint (``checkpoint.pt`` of ``ganbench run``): the networks are rebuilt from
  the recipe stored inside; its dataset becomes the default reference;
- a TorchScript file (``torch.jit.save``; a zip archive holding ``code/``), loaded with
  ``torch.jit.load``, which reads TorchScript, not Python pickles;
- a state dict (``.pt``/``.pth``/``.bin``, read with ``torch.load(weights_only=True)``) or a
  ``.safetensors`` file, plus ``arch`` (a registered architecture) built for ``shape`` with
  ``z_dim``/``num_classes``/``arch_options``;
- an entry point ``package.module:factory``: the module is imported and ``factory()`` must return
  the generator. This runs the user's own code, at their explicit request (the current directory
  is searched first, like ``python -m``).

Anything else that is a pickle is refused ("not a safe checkpoint") and never executed.
Generators are wrapped (``ExternalGenerator``) so that ganbench sees ``G(z[, y])`` images in
[-1, 1]: ``output_range`` "-1,1", "0,1" or "0,255" says what the user's network returns (uint8
outputs are read as 0..255), channels-last outputs are transposed, NaN outputs are an error.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganbench.errors import DataNotFoundError, GanbenchError
from ganbench.generators.checkpoint import is_checkpoint, rebuild_generator
from ganbench.io import safe_torch_load as _safe_load, sha256_file, torch_zip_members
from ganbench.registry import ARCHITECTURES

OUTPUT_RANGES: dict[str, tuple[float, float]] = {"-1,1": (-1.0, 1.0), "0,1": (0.0, 1.0), "0,255": (0.0, 255.0)}
ENTRY_POINT = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
SAFETENSORS_SUFFIXES = (".safetensors",)
# Nested state dicts seen in the wild: {"generator": {...}} and friends.
STATE_DICT_KEYS = ("generator", "g_ema", "G", "netG", "state_dict", "model", "gen")


# --------------------------------------------------------------------------------------------
# What a target is


def target_kind(spec: str | os.PathLike) -> str:
    """"samples" (folder, .npz/.npy, zip of images), "entry-point", "torchscript", "safetensors"
    or "torch" (a torch.save file: a ganbench checkpoint or a state dict)."""
    s = os.fspath(spec)
    p = Path(s).expanduser()
    if p.is_dir():
        return "samples"
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix in SAFETENSORS_SUFFIXES:
            return "safetensors"
        if suffix in (".npz", ".npy"):
            return "samples"
        torch_zip, script = torch_zip_members(p)
        if script:
            return "torchscript"
        if suffix == ".zip" and not torch_zip:
            return "samples"
        return "torch"
    if ENTRY_POINT.match(s):
        return "entry-point"
    raise DataNotFoundError(f"{s}: no such file or folder (and not a package.module:factory entry point)")


# --------------------------------------------------------------------------------------------
# The wrapper every external generator goes through


def parse_output_range(spec: str | tuple[float, float]) -> tuple[float, float]:
    if isinstance(spec, tuple):
        return float(spec[0]), float(spec[1])
    key = str(spec).replace(" ", "").replace("[", "").replace("]", "")
    if key in ("uint8", "0..255"):
        key = "0,255"
    if key not in OUTPUT_RANGES:
        raise GanbenchError(f"--output-range must be one of {', '.join(OUTPUT_RANGES)}, got {spec!r}")
    return OUTPUT_RANGES[key]


def parse_shape(spec: str | tuple[int, ...] | list[int] | None) -> tuple[int, ...] | None:
    """"3,32,32" (or "3x32x32") -> (3, 32, 32); C in {1, 3}."""
    if spec is None:
        return None
    if isinstance(spec, str):
        try:
            shape = tuple(int(v) for v in re.split(r"[,x ]+", spec.strip()) if v)
        except ValueError:
            raise GanbenchError(f"--shape must be C,H,W integers, got {spec!r}") from None
    else:
        shape = tuple(int(v) for v in spec)
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) < 1:
        raise GanbenchError(f"--shape must be C,H,W with C 1 or 3, got {spec!r}")
    return shape


class ExternalGenerator(nn.Module):
    """``inner(z[, y])`` in ``output_range`` -> ganbench images in [-1, 1], NCHW."""

    def __init__(self, inner: Callable[..., torch.Tensor], z_dim: int, num_classes: int = 0,
                 output_range: str | tuple[float, float] | None = "-1,1") -> None:
        super().__init__()
        self.inner = inner  # an nn.Module (also TorchScript) registers as a submodule: eval() reaches it
        self.z_dim, self.num_classes = int(z_dim), int(num_classes)
        # None: [-1, 1] assumed, not stated by the user, so the first batch is checked against it.
        self.range_stated = output_range is not None
        self.lo, self.hi = parse_output_range(output_range if output_range is not None else "-1,1")

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        try:
            out = self.inner(z, y) if y is not None else self.inner(z)
        except GanbenchError:
            raise
        except Exception as e:  # noqa: BLE001  usually a wrong --z-dim or --num-classes: say so in one line
            first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
            labels = f" and labels of shape {tuple(y.shape)}" if y is not None else " without labels"
            raise GanbenchError(f"the generator failed on z of shape {tuple(z.shape)}{labels} "
                                f"({type(e).__name__}: {first[:200]}); check --z-dim and --num-classes") from None
        if isinstance(out, (tuple, list)):  # e.g. (images, extras)
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise GanbenchError(f"the generator returned a {type(out).__name__}, expected a tensor of images")
        if out.dim() != 4:
            raise GanbenchError(f"the generator returned shape {tuple(out.shape)}; expected images N,C,H,W")
        if out.shape[1] not in (1, 3) and out.shape[-1] in (1, 3):
            out = out.permute(0, 3, 1, 2)  # channels-last output
        is_uint8 = out.dtype == torch.uint8
        lo, hi = (0.0, 255.0) if is_uint8 else (self.lo, self.hi)
        out = out.float()
        if not torch.isfinite(out).all():
            raise GanbenchError("the generator produced NaN or infinite values")
        # A range off by more than its own width is a wrong --output-range, not overshoot.
        width = hi - lo
        vmin, vmax = float(out.min()), float(out.max())
        if vmin < lo - width or vmax > hi + width:
            raise GanbenchError(
                f"generator outputs lie in [{vmin:.3g}, {vmax:.3g}], which does not fit --output-range "
                f"{lo:g},{hi:g}; pass the range the network produces (-1,1 | 0,1 | 0,255)")
        if not self.range_stated and not is_uint8 and vmin >= 0 and out.numel() >= 64:
            # Images in [-1, 1] have dark pixels below 0; none at all means another scale.
            raise GanbenchError(
                f"generator outputs lie in [{vmin:.3g}, {vmax:.3g}], not the assumed [-1, 1]; pass --output-range "
                f"{'0,1' if vmax <= 1 else '0,255'} (or --output-range -1,1 if that is really its range)")
        self.range_stated = True  # checked once: later batches may legitimately lack dark pixels
        return (out - lo) * (2.0 / width) - 1.0


@dataclass
class LoadedGenerator:
    """A generator ready for ganbench.generators.sample, and what to record about it."""

    generator: ExternalGenerator
    kind: str  # "ganbench-checkpoint" | "torchscript" | "state-dict" | "safetensors" | "entry-point"
    name: str  # record's model name
    step: int = 0
    seed: int | None = None  # training seed of a ganbench checkpoint
    dataset: str | None = None  # training dataset of a ganbench checkpoint (the default reference)
    provenance: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Loaders per kind


def _attr_int(obj: Any, name: str) -> int | None:
    v = getattr(obj, name, None)
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def _dims(inner: Any, z_dim: int | None, num_classes: int | None, what: str) -> tuple[int, int]:
    z = z_dim if z_dim is not None else _attr_int(inner, "z_dim")
    if z is None:
        raise GanbenchError(f"{what}: cannot tell the latent size; pass --z-dim N")
    k = num_classes if num_classes is not None else (_attr_int(inner, "num_classes") or 0)
    if z < 1 or k < 0:
        raise GanbenchError(f"--z-dim must be >= 1 and --num-classes >= 0, got {z} and {k}")
    return z, k


def load_torchscript(path: Path, device: str | torch.device = "cpu") -> nn.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit deprecation notice
            return torch.jit.load(str(path), map_location=device)
    except Exception as e:  # noqa: BLE001  (whatever torch.jit raises means "not loadable", said in one line)
        raise GanbenchError(f"{path}: cannot load TorchScript ({type(e).__name__}: "
                            f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else ''})") from None


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file or a torch.save state dict (weights_only=True: no code runs)."""
    if path.suffix.lower() in SAFETENSORS_SUFFIXES:
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as e:  # noqa: BLE001  SafetensorError (name varies across versions), OSError, ...: all unreadable
            raise GanbenchError(f"{path}: not a readable safetensors file ({e})") from None
    return extract_state_dict(safe_torch_load(path), path)


def safe_torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)``: tensors and plain containers only; anything that would run
    code on unpickling is refused with one line naming what it would have called."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise DataNotFoundError(f"{path}: no such file") from None
    except OSError as e:
        raise GanbenchError(f"{path}: cannot read ({e})") from None
    if head[:4] != b"PK\x03\x04" and head[:1] != b"\x80":  # neither a torch zip archive nor a pickle
        raise GanbenchError(f"{path}: not a generator file (not a torch.save/TorchScript archive, .safetensors "
                            "or pickle) and not an image set (folder, .zip, .npz, .npy)")
    return _safe_load(path, "checkpoint", hint=": save G.state_dict(), a TorchScript file or .safetensors")


def _is_tensor_dict(d: Any) -> bool:
    return isinstance(d, dict) and bool(d) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                   for k, v in d.items())


def extract_state_dict(obj: Any, path: Path | str) -> dict[str, torch.Tensor]:
    """The generator's tensors from a loaded file: the dict itself or one of STATE_DICT_KEYS."""
    if _is_tensor_dict(obj):
        return obj
    if isinstance(obj, dict):
        for k in STATE_DICT_KEYS:
            if _is_tensor_dict(obj.get(k)):
                return obj[k]
        keys = ", ".join(repr(k) for k in list(obj)[:8])
        raise GanbenchError(f"{path}: a dict without a generator state dict (keys {keys}); save "
                            f"G.state_dict() or {{'generator': G.state_dict()}}")
    raise GanbenchError(f"{path}: holds a {type(obj).__name__}, not a state dict of tensors")


def build_from_state_dict(sd: dict[str, torch.Tensor], arch: str, shape: tuple[int, ...], *, z_dim: int | None,
                          num_classes: int | None, arch_options: dict[str, Any] | None = None,
                          what: str = "state dict") -> nn.Module:
    """Instantiate ``arch``'s generator for ``shape`` and load ``sd`` strictly."""
    g_cls, _ = ARCHITECTURES.get(arch)
    kwargs: dict[str, Any] = dict(arch_options or {})
    if z_dim is not None:
        kwargs["z_dim"] = z_dim
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    try:
        g = g_cls(out_shape=tuple(shape), **kwargs)
    except GanbenchError:
        raise
    except TypeError as e:
        raise GanbenchError(f"architecture {arch!r}: bad options {sorted(kwargs)} ({e})") from None
    try:
        g.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = "; ".join(lines[1:3])[:300] if len(lines) > 1 else lines[0][:300]
        raise GanbenchError(
            f"{what} does not fit architecture {arch!r} for shape {'x'.join(map(str, shape))} with "
            f"{', '.join(f'{k}={v}' for k, v in sorted(kwargs.items())) or 'its defaults'} ({detail}); check "
            "--z-dim, --num-classes, --shape and --arch-opt") from None
    return g


def _import_entry_point(spec: str) -> Any:
    mod_name, _, attr = spec.partition(":")
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:  # like `python -m`: the user's own modules in the working directory
        sys.path.insert(0, cwd)
    try:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name and mod_name.startswith(e.name):
                raise GanbenchError(f"entry point {spec}: no module named {e.name!r} (check PYTHONPATH or the "
                                    "working directory)") from None
            raise
    finally:
        if added:
            sys.path.remove(cwd)
    obj: Any = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise GanbenchError(f"entry point {spec}: {mod_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise GanbenchError(f"entry point {spec}: {attr!r} is not callable")
    return mod, obj


@dataclass(frozen=True)
class LoadRequest:
    """How to turn a target into a generator (the options ``load_generator`` was given)."""

    spec: str
    path: Path
    arch: str | None
    z_dim: int | None
    num_classes: int | None
    output_range: str | None
    shape: tuple[int, ...] | None
    arch_options: dict[str, Any] | None
    device: str | torch.device
    recipe: str | None = None  # the user's recipe file that names a checkpoint's own network classes


def _load_entry_point(req: LoadRequest, prov: dict[str, Any]) -> LoadedGenerator:
    s = req.spec
    mod, factory = _import_entry_point(s)
    try:
        inner = factory()
    except GanbenchError:
        raise
    except Exception as e:  # noqa: BLE001  (whatever the user's factory raises, said in one line)
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
        raise GanbenchError(f"entry point {s}: the factory raised {type(e).__name__}: {first[:200]}") from None
    if not callable(inner):
        raise GanbenchError(f"entry point {s} returned a {type(inner).__name__}, not a generator module")
    prov["module_file"] = getattr(mod, "__file__", None)
    if prov["module_file"] and Path(prov["module_file"]).is_file():
        prov["module_sha256"] = sha256_file(Path(prov["module_file"]))
    z, k = _dims(inner, req.z_dim, req.num_classes, f"entry point {s}")
    if isinstance(inner, nn.Module):
        inner = inner.to(req.device)
    return LoadedGenerator(ExternalGenerator(inner, z, k, req.output_range), "entry-point", s, provenance=prov)


def _load_torchscript(req: LoadRequest, prov: dict[str, Any]) -> LoadedGenerator:
    inner = load_torchscript(req.path, req.device)
    z, k = _dims(inner, req.z_dim, req.num_classes, str(req.path))
    return LoadedGenerator(ExternalGenerator(inner, z, k, req.output_range), "torchscript", req.path.name,
                           provenance=prov)


def _load_checkpoint(req: LoadRequest, ck: dict[str, Any], prov: dict[str, Any]) -> LoadedGenerator:
    g, run = rebuild_generator(ck, req.path, req.recipe)
    # A ganbench checkpoint knows its output range ([-1, 1], tanh) and dimensions.
    # torch's Module.__getattr__ types them Tensor | Module; ganbench's generators set them as ints.
    gen = ExternalGenerator(g.to(req.device), g.z_dim, g.num_classes, "-1,1")  # type: ignore[arg-type]
    step = int(ck.get("step", 0))
    prov.update(target_kind="ganbench-checkpoint", recipe_model=run.get("model"), checkpoint_step=step)
    return LoadedGenerator(gen, "ganbench-checkpoint", str(run.get("model") or req.path.name), step=step,
                           seed=run.get("seed"), dataset=run.get("dataset"), provenance=prov)


def _load_torch(req: LoadRequest, prov: dict[str, Any]) -> LoadedGenerator:
    obj = safe_torch_load(req.path)  # a pickle with code is refused here, before anything runs
    if is_checkpoint(obj):
        return _load_checkpoint(req, obj, prov)
    prov["target_kind"] = "state-dict"
    return _from_state_dict(req, extract_state_dict(obj, req.path), "state-dict", prov)


def _load_safetensors(req: LoadRequest, prov: dict[str, Any]) -> LoadedGenerator:
    return _from_state_dict(req, load_state_dict_file(req.path), "safetensors", prov)


def _from_state_dict(req: LoadRequest, sd: dict[str, torch.Tensor], kind: str,
                     prov: dict[str, Any]) -> LoadedGenerator:
    path, arch, shape = req.path, req.arch, req.shape
    if arch is None:
        raise GanbenchError(f"{path} is a {kind.replace('-', ' ')}: name its architecture with --arch "
                            f"({', '.join(ARCHITECTURES.names())})")
    if shape is None:
        raise GanbenchError(f"{path}: building architecture {arch!r} needs the image shape; pass --shape C,H,W "
                            "or a --ref whose images give it")
    g = build_from_state_dict(sd, arch, shape, z_dim=req.z_dim, num_classes=req.num_classes,
                              arch_options=req.arch_options, what=str(path))
    z, k = _dims(g, req.z_dim, req.num_classes, str(path))
    prov.update(arch=arch, shape=list(shape), arch_options=dict(req.arch_options or {}))
    return LoadedGenerator(ExternalGenerator(g.to(req.device), z, k, req.output_range), kind, path.name,
                           provenance=prov)


def _refuse_samples(req: LoadRequest, prov: dict[str, Any]) -> LoadedGenerator:
    raise GanbenchError(f"{req.spec} is an image set, not a generator")


# target_kind -> loader; a new kind of generator file is one function and one line here.
LOADERS: dict[str, Callable[[LoadRequest, dict[str, Any]], LoadedGenerator]] = {
    "samples": _refuse_samples,
    "entry-point": _load_entry_point,
    "torchscript": _load_torchscript,
    "torch": _load_torch,
    "safetensors": _load_safetensors,
}


_BUILD_OPTIONS = ("arch", "z_dim", "num_classes", "output_range", "shape", "arch_options", "recipe")


def load_generator(spec: str | os.PathLike, device: str | torch.device = "cpu", **build: Any) -> LoadedGenerator:
    """Load any external generator (see the module docstring); never unpickles code.

    ``build``: how to build what a file does not describe itself: ``arch``, ``z_dim``, ``num_classes``,
    ``output_range`` ("-1,1" by default), ``shape``, ``arch_options``, and ``recipe``: the recipe file
    whose own network classes a ganbench checkpoint's recipe names (imported from there)."""
    unknown = sorted(set(build) - set(_BUILD_OPTIONS))
    if unknown:
        raise TypeError(f"load_generator: unknown options {unknown}")
    b = {"output_range": "-1,1", **build}
    kind = target_kind(spec)
    s = os.fspath(spec)
    req = LoadRequest(s, Path(s).expanduser(), b.get("arch"), b.get("z_dim"), b.get("num_classes"), b["output_range"],
                      parse_shape(b.get("shape")), b.get("arch_options"), device, b.get("recipe"))
    out_range = b["output_range"] if b["output_range"] is not None else "-1,1 (assumed, checked)"
    prov: dict[str, Any] = {"target": s, "target_kind": kind, "output_range": out_range}
    if kind not in ("entry-point", "samples"):
        prov["target_sha256"] = sha256_file(req.path)
    return LOADERS[kind](req, prov)


__all__ = ["LOADERS", "ExternalGenerator", "LoadRequest", "LoadedGenerator", "OUTPUT_RANGES", "build_from_state_dict",
           "extract_state_dict", "load_generator", "load_state_dict_file", "load_torchscript", "parse_output_range",
           "parse_shape", "target_kind"]
