"""`ganbench list` and `ganbench data` read the registries' declarations without torch; every declared
name loads an object of its module, and every name ganbench's modules register is declared."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest

from ganbench.registry import ALL, BUDGETS


@pytest.mark.parametrize("group", sorted(ALL))
def test_every_declared_name_loads_and_every_registered_name_is_declared(group):
    reg = ALL[group]
    declared = {n: e.module for n, e in reg._entries.items() if e.module}
    for name in declared:
        assert reg.get(name) is not None, f"{reg.kind} {name!r} does not load"
        assert reg.help(name), f"{reg.kind} {name!r} has no help line"
    for module in set(declared.values()):
        importlib.import_module(module)
    # Names ganbench's own modules register (not tests', not installed packages') are all declared, so
    # `ganbench list` shows them without importing torch. Models are the recipe files themselves.
    undeclared = {n for n, e in reg._entries.items()
                  if not e.module and e.entry_point is None and not n.startswith("test-") and group != "models"}
    assert not undeclared, f"declare these {reg.kind}s in ganbench/registry.py: {sorted(undeclared)}"


def test_a_declaration_its_module_does_not_register_is_a_bug():
    from ganbench.registry import Registry

    r: Registry = Registry("thing")
    r.declare("ghost", "ganbench.errors", "declared but never registered")
    with pytest.raises(ValueError, match="does not register"):
        r.get("ghost")


@pytest.mark.parametrize("argv", [["list"], ["data"], ["--help"]])
def test_light_commands_import_no_torch(argv):
    # The startup time itself is in benchmarks/bench_startup.py; here: what makes it slow stays out.
    code = ("import sys; from ganbench.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('torch', 'scipy', 'sklearn', 'pandas', 'matplotlib') if m in sys.modules)\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout[-500:]


def test_list_shows_each_budget_purpose_steps_and_times():
    from click.testing import CliRunner

    from ganbench.cli import cli
    from ganbench.config import BUDGET_INFO

    out = CliRunner().invoke(cli, ["list"]).output
    assert "str(object=" not in out
    for name, info in BUDGET_INFO.items():
        row = re.search(rf"^  {name} +{re.escape(BUDGETS.help(name))}; (.*)$", out, re.M)
        assert row, f"no row for budget {name!r}"
        assert re.search(r"(vector \d+(-\d+)? steps, )?image \d+(-\d+)? steps", row.group(1))
        assert info.cpu_time in out


def test_data_status_locates_without_loading(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ganbench.cli import cli

    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "mnist").mkdir()
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
              "t10k-labels-idx1-ubyte"):
        (tmp_path / "mnist" / f).write_bytes(b"")  # located by name only: nothing is read
    monkeypatch.setenv("GANBENCH_MNIST_DIR", str(tmp_path / "mnist"))
    lines = {ln.split()[0]: ln for ln in CliRunner().invoke(cli, ["data"]).output.splitlines()}
    assert "ok" in lines["mnist"] and str(tmp_path / "mnist") in lines["mnist"]
    assert "stacked from mnist" in lines["stacked-mnist"]
    assert "missing" in lines["cifar10"] and "GANBENCH_CIFAR10_DIR" in lines["cifar10"]
    assert "generated" in lines["ring"]
    assert "folder" not in lines  # needs a PATH


def test_list_shows_presets_and_suites():
    from click.testing import CliRunner

    from ganbench.cli import cli
    from ganbench.presets import PRESETS
    from ganbench.suites import SUITES

    out = CliRunner().invoke(cli, ["list"]).output
    for name in [*PRESETS.names(), *SUITES]:
        assert re.search(rf"^  {re.escape(name)} ", out, re.M), f"{name} is not listed"
    assert "fid10k_test" in out and "training steps" in out and "objectives" in out
