"""No function in ganbench/ is over 60 lines or takes over 8 parameters (self/cls not counted;
``*args``/``**kwargs`` count one each): a longer list is an options object waiting to be written."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "ganbench"
MAX_LINES, MAX_PARAMS = 60, 8


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + (a.vararg is not None) + (a.kwarg is not None)


def violations(source: str, where: str = "<source>") -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            params = _params(node)
            if lines > MAX_LINES or params > MAX_PARAMS:
                out.append(f"{where}:{node.lineno} {node.name}: {lines} lines, {params} parameters")
    return out


def test_no_long_function_and_no_long_parameter_list():
    files = sorted(PKG.rglob("*.py"))
    assert len(files) > 50  # the package was read
    found = [v for p in files for v in violations(p.read_text(encoding="utf-8"), str(p.relative_to(PKG.parent)))]
    assert not found, "\n".join(found)


def test_the_check_catches_both():
    nine = "def f(a, b, c, d, e, f, g, h, i):\n    pass\n"
    assert violations(nine) == ["<source>:1 f: 2 lines, 9 parameters"]
    assert violations("class A:\n    def m(self, a, b, c, d, e, f, g, *h):\n        pass\n") == []
    assert len(violations("def g(*, a, b, c, d, e, f, g, h, **k):\n    pass\n")) == 1
    long = "def g():\n" + "    x = 1\n" * 60
    assert violations(long) == ["<source>:1 g: 61 lines, 0 parameters"]
    assert violations("def g():\n" + "    x = 1\n" * 59) == []
