"""Networks only: architectures register a (Generator, Discriminator) pair in ARCHITECTURES.

A recipe's architecture section names its generator and discriminator: a registered architecture
(whose pair supplies the class) or a user's class as ``package.module:Name``, built with the same
keywords as ganbench's own (``out_dim``/``in_dim`` for vectors, ``out_shape``/``in_shape`` for images,
``num_classes``, ``conditional`` for D, and the section's other keys).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ganbench.code import code_origin, import_reference, is_reference
from ganbench.errors import GanbenchError, UnknownNameError
from ganbench.nets import dcgan, mlp, resnet  # noqa: F401  (register "dcgan", "mlp", "resnet")
from ganbench.registry import ARCHITECTURES

ROLES = ("generator", "discriminator")


def _class_of(name: str, role: int, allow_code: bool, where: str, beside: str = "") -> tuple[Any, dict[str, Any] | None]:
    """The class ``name`` gives for ``role`` (0: G, 1: D) and where it came from (None: ganbench's own)."""
    if is_reference(name):
        if not allow_code:
            raise GanbenchError(f"{where}: names code ({name}); ganbench does not import code that a "
                                "checkpoint names: pass the recipe that names it (--recipe FILE) or install "
                                "the package that registers it")
        cls = import_reference(name, f"{where}.{ROLES[role]}", beside)
        return cls, code_origin(cls, name)
    try:
        pair = ARCHITECTURES.get(name)
    except UnknownNameError as e:
        raise UnknownNameError(f"{where}.{ROLES[role]}: {e}") from None
    return pair[role], ARCHITECTURES.origin(name)


def build_networks(arch: dict[str, Any], shape: tuple[int, ...], num_classes: int = 0,
                   conditional: str = "", allow_code: bool = False, where: str = "architecture",
                   parts: dict[str, dict[str, Any]] | None = None, beside: str = "") -> tuple[nn.Module, nn.Module]:
    """Build G and D for data of ``shape`` from one modality's architecture section of a recipe.

    Image architectures pick their layer plan from the image size (8, 28, 32 or 64 pixels) and fail
    with one line listing the sizes. ``allow_code``: a ``package.module:Name`` may be imported (the
    user named it in a recipe); a checkpoint's recipe never imports code. ``parts`` collects where
    each class that is not ganbench's own came from."""
    classes = []
    for role, key in enumerate(ROLES):
        if key not in arch:
            raise GanbenchError(f"{where}: no {key} named")
        cls, origin = _class_of(str(arch[key]), role, allow_code, where, beside)
        if origin and parts is not None:
            parts[f"{key}"] = origin
        classes.append(cls)
    g_cls, d_cls = classes
    opts = {k: v for k, v in arch.items() if k not in ROLES}
    g_classes = num_classes if conditional else 0
    if len(shape) == 1:
        g = g_cls(out_dim=shape[0], num_classes=g_classes, **opts)
        d = d_cls(in_dim=shape[0], num_classes=g_classes, conditional=conditional, **opts)
    else:
        g = g_cls(out_shape=shape, num_classes=g_classes, **opts)
        d = d_cls(in_shape=shape, num_classes=g_classes, conditional=conditional, **opts)
    return g, d


class NetworkParts:
    """The networks builder of a method whose recipe names them: ``build_networks`` with the user's
    classes allowed (the user named the recipe), their origins recorded in ``parts``."""

    def __init__(self, where: str, parts: dict[str, dict[str, Any]], beside: str = "") -> None:
        self.where, self.parts, self.beside = where, parts, beside

    def __call__(self, arch: dict[str, Any], shape: tuple[int, ...], num_classes: int = 0,
                 conditional: str = "") -> tuple[nn.Module, nn.Module]:
        return build_networks(arch, shape, num_classes, conditional, allow_code=True, where=f"{self.where}: arch",
                              parts=self.parts, beside=self.beside)
