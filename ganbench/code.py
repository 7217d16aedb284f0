"""Code a user names: ``package.module:Name`` references, imported only when the user names them,
and described in records and checkpoints as what they are.

A recipe (or an installed package's entry point) may name its own networks, objective or training
step. ganbench imports such a name when the run starts (never because a checkpoint names it), and
records where it came from: the module and name, plus the installed distribution and its version
when there is one, else a sha256 of the module's file, so a record says which code made it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.metadata
import inspect
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError

REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_reference(spec: object) -> bool:
    """Whether ``spec`` reads as ``package.module:Name``."""
    return isinstance(spec, str) and bool(REFERENCE.match(spec))


def _import_root(recipe: Path) -> str:
    """The folder a recipe's code is imported from: the recipe's own folder, or, when that folder is
    a package (it holds ``__init__.py``), the folder above its top package (as Python finds a package)."""
    folder = recipe.resolve().parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return str(folder)


def import_reference(ref: str, where: str, beside: str = "") -> Any:
    """The object ``ref`` (``package.module:Name``) names; a one-line error naming ``where`` (the
    file and field that named it) when it does not import or has no such name. ``beside``: a recipe
    file whose folder (or package root: ``_import_root``) is searched too, so code kept beside its
recipe imports without being installed."""
    if not is_reference(ref):
        raise GanbenchError(f"{where}: {ref!r} is not a registered name or a package.module:Name reference")
    module_name, _, attr = ref.partition(":")
    folder = _import_root(Path(beside)) if beside and Path(beside).is_file() else None
    if folder and folder not in sys.path:
        sys.path.insert(0, folder)
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # the current directory, as `python -m` searches it
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001  (whatever the user's module raises, said in one line)
        first = str(e).splitlines()[0] if str(e) else ""
        raise GanbenchError(f"{where}: {ref!r} does not import ({type(e).__name__}: {first})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise GanbenchError(f"{where}: {ref!r}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    return obj


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_origin(obj: Any, ref: str | None = None) -> dict[str, Any]:
    """What ``obj`` is: ``{"ref", "module", "name"}`` plus ``distribution`` and ``version`` when an
    installed distribution provides its top-level package, else ``sha256`` of its module's file."""
    module = getattr(obj, "__module__", None) or type(obj).__module__
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    out: dict[str, Any] = {"ref": ref or f"{module}:{name}", "module": module, "name": name}
    dists = _distributions().get(module.split(".")[0], [])
    if dists:
        out["distribution"] = dists[0]
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out["version"] = importlib.metadata.version(dists[0])
    try:
        source = inspect.getsourcefile(obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj))
    except TypeError:
        source = None
    if source and Path(source).is_file():
        out["sha256"] = _file_sha256(source)
    return out
