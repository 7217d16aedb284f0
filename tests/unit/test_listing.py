"""The light catalog (ganbench list / data without torch) names exactly what the registries hold."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from ganbench import catalog
from ganbench.registry import ARCHITECTURES, DATASETS, EXTRACTORS, METRICS


@pytest.mark.parametrize("light, live", [
    (catalog.DATASETS, DATASETS), (catalog.METRICS, METRICS),
    (catalog.ARCHITECTURES, ARCHITECTURES), (catalog.EXTRACTORS, EXTRACTORS),
], ids=["datasets", "metrics", "architectures", "extractors"])
def test_catalog_matches_registry(light, live):
    names = {n for n in live.names() if not n.startswith("test-")}  # other tests register "test-*" entries
    assert set(light) == names, (f"ganbench/catalog.py is out of date for {live.kind}s: add "
                                 f"{sorted(names - set(light))}, remove {sorted(set(light) - names)}")
    for n in names:
        text = light[n].help if isinstance(light[n], catalog.DatasetEntry) else light[n]
        assert text == live.help(n), f"{live.kind} {n!r}: help differs from the registered one"


def test_catalog_source_datasets_have_sources():
    from ganbench.data import images

    for name, entry in catalog.DATASETS.items():
        if entry.kind == "files":
            assert images.SOURCES[name].name == name
        if entry.kind.startswith("stacked:"):
            assert catalog.DATASETS[entry.kind.partition(":")[2]].kind == "files"


@pytest.mark.parametrize("argv", [["list"], ["data"], ["--help"]])
def test_light_commands_import_no_torch(argv):
    # The startup time itself is in benchmarks/bench_startup.py; here: what makes it slow stays out.
    code = ("import sys; from ganbench.cli import main\n"
            "try:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('torch', 'scipy', 'sklearn', 'pandas', 'matplotlib') if m in sys.modules)\n"
            "print('HEAVY', heavy)" % argv)
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
        row = re.search(rf"^  {name} +{re.escape(info.purpose)}; (.*)$", out, re.M)
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
