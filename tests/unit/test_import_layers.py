"""The import graph of ganbench: no cycles, no upward imports (docs/architecture.md, "Layers").

Two views of one graph:
- static: every ``import ganbench...`` statement of every module, at module level or inside a
  function (a deferred import is still a dependency), read with ``ast``;
- runtime: each module imported alone in a fresh forked interpreter (third-party libraries
  preloaded, no ganbench module), which fails on an import cycle that breaks initialisation and
  lists every ganbench module it loads.
A module may import its own layer and the layers below it; imports form no cycle, counting those
inside functions (a deferred import is a dependency all the same).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import pickle
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "ganbench"

# Lowest first. A module belongs to the layer of the longest name listed that prefixes it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("ganbench", "ganbench.version", "ganbench.errors", "ganbench.faults", "ganbench.limits",
              "ganbench.registry", "ganbench.code", "ganbench.io", "ganbench.layout", "ganbench.records",
              "ganbench.selection", "ganbench.suites", "ganbench.presets", "ganbench.progress", "ganbench.pictures")),
    ("inputs", ("ganbench.config", "ganbench.data", "ganbench.nets", "ganbench.losses", "ganbench.features",
                "ganbench.generators")),
    ("metrics", ("ganbench.metrics",)),
    ("evaluation", ("ganbench.evaluation", "ganbench.refstats", "ganbench.check", "ganbench.compare")),
    ("training", ("ganbench.training",)),
    ("runs", ("ganbench.sweep", "ganbench.estimate")),
    ("report", ("ganbench.report",)),
    ("interfaces", ("ganbench.api", "ganbench.cli", "ganbench.__main__")),
]
# The one deliberate upward import: ``ganbench.evaluate`` (the package attribute) is the Python API,
# loaded on first use by the package's __getattr__.
ALLOWED_UP = {("ganbench", "ganbench.api")}
# Third-party modules loaded once before the forks, so each child imports only ganbench code.
PRELOAD = ("numpy", "torch", "scipy", "scipy.linalg", "pandas", "click", "tabulate", "PIL.Image", "tqdm",
           "matplotlib")


def modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def layer_of(module: str) -> int:
    best, found = -1, None
    for i, (_, names) in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > best:
                best, found = len(n), i
    assert found is not None, f"{module} is in no layer (add it to LAYERS and docs/architecture.md)"
    return found


def _target(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def static_edges() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(module-level edges, all edges) between ganbench modules."""
    known = modules()
    top, every = set(), set()
    for mod, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        at_top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from pkg import sub``: a dependency on the submodule, not on the package's own code
                subs = [f"{node.module}.{a.name}" for a in node.names]
                names = subs if all(n in known for n in subs) else [node.module] + subs
            else:
                continue
            for n in names:
                t = _target(n, known) if n.startswith("ganbench") else None
                if t is None or t == mod:
                    continue
                every.add((mod, t))
                if id(node) in at_top:
                    top.add((mod, t))
    return top, every


def _cycle(edges: set[tuple[str, str]]) -> list[str] | None:
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        state[n] = 2
        stack.pop()
        return None

    for n in list(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def _upward(edges) -> list[str]:
    return sorted(f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
                  for a, b in edges if layer_of(b) > layer_of(a) and (a, b) not in ALLOWED_UP)


def test_every_module_has_a_layer():
    for m in modules():
        layer_of(m)


def test_no_upward_imports_and_no_cycles_counting_imports_inside_functions():
    top, every = static_edges()
    assert len(every) > 100 and len(every) > len(top)  # the graph was read, deferred imports included
    assert not _upward(every), "\n".join(_upward(every))
    cycle = _cycle(every)
    assert cycle is None, " -> ".join(cycle)


def test_the_checks_catch_a_cycle_and_an_upward_import():
    cycle = _cycle({("a", "b"), ("b", "c"), ("c", "a")})
    assert cycle is not None and set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1]
    assert _cycle({("a", "b"), ("b", "c")}) is None
    assert _upward({("ganbench.metrics.fid", "ganbench.evaluation.images")})


def _import_alone(module: str) -> tuple[str | None, list[str]]:
    """Import ``module`` in a forked child with no ganbench module loaded; (error, ganbench modules loaded)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            for m in [m for m in sys.modules if m == "ganbench" or m.startswith("ganbench.")]:
                del sys.modules[m]
            try:
                importlib.import_module(module)
                out = (None, sorted(m for m in sys.modules if m == "ganbench" or m.startswith("ganbench.")))
            except BaseException as e:  # reported to the parent
                out = (f"{type(e).__name__}: {e}", [])
            os.write(w, pickle.dumps(out))
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return pickle.loads(data)


def _check_alone(mods) -> list[str]:
    for m in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(m)
    problems = []
    for mod in mods:
        err, loaded = _import_alone(mod)
        if err:
            problems.append(f"{mod}: {err}")
            continue
        up = [m for m in loaded if layer_of(m) > layer_of(mod) and (mod, m) not in ALLOWED_UP]
        if up:
            problems.append(f"{mod} ({LAYERS[layer_of(mod)][0]}) loads {', '.join(up)}")
    return problems


# One module per layer, quick; the slow test below imports every module (about 1-2 s each).
SAMPLE = ("ganbench.layout", "ganbench.data.images", "ganbench.metrics", "ganbench.evaluation.engine",
          "ganbench.check", "ganbench.training.loop", "ganbench.sweep.local", "ganbench.report.tables",
          "ganbench.cli.eval")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_modules_of_each_layer_import_alone():
    problems = _check_alone(SAMPLE)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_each_module_imports_alone_and_loads_nothing_above_its_layer():
    problems = _check_alone([m for m in modules() if not m.endswith("__main__")])  # __main__ runs the CLI
    assert not problems, "\n".join(problems)


def test_architecture_doc_names_every_layer_in_order():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    order = re.findall(r"^\d+\. \*\*(\w+)\*\*", text, flags=re.M)
    assert order == [name for name, _ in LAYERS]
    for _, names in LAYERS:
        for n in names:
            assert f"`{n}`" in text, f"docs/architecture.md does not place {n}"
