"""The names of everything ganbench writes into a run directory, in one place.

``ganbench run --out OUT`` writes ``SuiteLayout(OUT)``: the summaries (records, tables, report,
plan, error log, lock) and one ``RunLayout`` per (model, dataset, seed) under
``OUT/<model>/<dataset>/seed<k>/`` (checkpoint, records, final samples, nearest-neighbour grid,
task state, TensorBoard events). Every reader and writer asks these objects for paths, so a file
is found by the layout, never by searching for its name. This module imports nothing of ganbench:
records are read and written by ``ganbench.records`` at the paths the layout names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

RECORDS = "records.jsonl"
CHECKPOINT = "checkpoint.pt"
SAMPLES = "samples.npz"          # the final evaluation samples, for plots
NN_GRID = "nn_grid.png"          # final samples beside their nearest training images
TASK_STATE = "task.json"         # a sweep task's state (ganbench.sweep.state)
TENSORBOARD = "tensorboard"
PLAN = "plan.json"               # the suite's plan, for `ganbench status` and `run-task`
ERRORS = "errors.log"
TABLE = "table.md"
REPORT = "report.html"
LOCK = ".ganbench.lock"
COMPARE_MD = "compare.md"        # `ganbench compare --out DIR`: the comparison, readable
COMPARE_JSON = "compare.json"    # ... the same, what --json writes
RANKING_JSON = "ranking.json"    # ... the rankings across datasets


def dataset_dirname(dataset: str) -> str:
    """A dataset spec as one path component ("npz:/a/b.npz" -> "npz__a_b.npz")."""
    return dataset.replace(":", "_").replace("/", "_")


@dataclass(frozen=True)
class _Layout:
    """A directory whose files are named in ``FILES``: ``layout.records`` is ``layout.root / RECORDS``."""

    root: Path
    FILES: ClassVar[dict[str, str]] = {}

    def __getattr__(self, name: str) -> Path:
        # Called only for names not found otherwise; "root" is absent while unpickling.
        if name not in type(self).FILES or "root" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} has no {name!r}")
        return self.__dict__["root"] / type(self).FILES[name]


@dataclass(frozen=True)
class RunLayout(_Layout):
    """One run's directory: ``<out>/<model>/<dataset>/seed<k>/``: records, checkpoint, samples,
    nn_grid, task_state, tensorboard."""

    FILES: ClassVar[dict[str, str]] = {"records": RECORDS, "checkpoint": CHECKPOINT, "samples": SAMPLES,
                                       "nn_grid": NN_GRID, "task_state": TASK_STATE, "tensorboard": TENSORBOARD}

    @classmethod
    def of(cls, out: str | os.PathLike, model: str, dataset: str, seed: int) -> RunLayout:
        return cls(Path(out) / model / dataset_dirname(dataset) / f"seed{seed}")


@dataclass(frozen=True)
class SuiteLayout(_Layout):
    """The ``--out`` directory of ``ganbench run``: records, plan, errors, table, report, lock."""

    FILES: ClassVar[dict[str, str]] = {"records": RECORDS, "plan": PLAN, "errors": ERRORS, "table": TABLE,
                                       "report": REPORT, "lock": LOCK}

    def run(self, model: str, dataset: str, seed: int) -> RunLayout:
        return RunLayout.of(self.root, model, dataset, seed)

    def run_record_files(self) -> list[Path]:
        """Per-run records files (``<model>/<dataset>/seed<k>/records.jsonl``), sorted."""
        return sorted(p for p in self.root.glob(f"*/*/seed*/{RECORDS}") if p.is_file())


@dataclass(frozen=True)
class CompareLayout(_Layout):
    """The ``--out`` directory of ``ganbench compare``: compare.md, compare.json, ranking.json and the
    figures (per-seed points, probability-of-improvement matrices, critical-difference diagrams)."""

    FILES: ClassVar[dict[str, str]] = {"markdown": COMPARE_MD, "json": COMPARE_JSON, "ranking": RANKING_JSON}

    def figure(self, kind: str, stem: str) -> Path:
        """``seeds_<stem>.png``, ``poi_<stem>.png`` or ``cd_<stem>.png``."""
        if kind not in ("seeds", "poi", "cd"):
            raise ValueError(f"unknown comparison figure {kind!r}")
        return self.root / f"{kind}_{stem}.png"
