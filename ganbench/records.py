"""ResultRecord: one JSON line per (model, dataset, seed, step), with its protocol and provenance."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import json
import math
import os
import platform
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench import faults
from ganbench.errors import GanbenchError
from ganbench.layout import RunLayout, SuiteLayout
from ganbench.version import __version__

SCHEMA_VERSION = 1


@dataclass
class ResultRecord:
    model: str
    dataset: str
    seed: int
    step: int
    metrics: dict[str, float | None]  # None: not finite (JSON has no NaN), see finite_metrics
    protocol: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    kind: str = "train-eval"  # "train-eval" | "eval"
    schema: int = SCHEMA_VERSION

    def key(self) -> tuple:
        return (self.kind, self.model, self.dataset, self.seed, self.step,
                json.dumps(self.protocol, sort_keys=True, default=str))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=_json_default)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResultRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {"model", "dataset", "seed", "step", "metrics"} - set(d)
        if missing:
            raise GanbenchError(f"not a ganbench record: missing {sorted(missing)}")
        return cls(**{k: v for k, v in d.items() if k in names})


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


def dedupe_key(d: dict[str, Any]) -> tuple:
    """What makes a record the same computation: (model, dataset, seed, step, kind) and which metrics
    it holds (the final evaluation and the memorisation check share a step)."""
    return (d.get("model"), d.get("dataset"), d.get("seed"), d.get("step"), d.get("kind", "train-eval"),
            tuple(sorted(d.get("metrics") or {})))


def _last_line_info(path: Path) -> tuple[int, bool]:
    """(number of lines, whether the file ends without a newline, i.e. a torn last line)."""
    with open(path, "rb") as f:
        data = f.read()
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1), bool(data) and not data.endswith(b"\n")


def cut_torn_tail(path: str | Path) -> tuple[int, int] | None:
    """Truncate a JSONL file after its last complete line; (torn line number, bytes cut) or None."""
    path = Path(path)
    with open(path, "rb+") as f:
        data = f.read()
        if not data or data.endswith(b"\n"):
            return None
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return data[:keep].count(b"\n") + 1, len(data) - keep


def check_appendable(path: str | Path) -> None:
    """Refuse a JSONL file whose last line is torn: a new line would be glued onto it."""
    path = Path(path)
    if not path.is_file() or not path.stat().st_size:
        return
    n_lines, torn = _last_line_info(path)
    if torn:
        raise GanbenchError(f"{path}: line {n_lines} is torn (the file does not end with a newline); "
                            "repair or remove that line, or write to another file")


def append_record(path: str | Path, rec: ResultRecord, key: Any = dedupe_key) -> bool:
    """Append one line and fsync, unless a record with the same ``key`` is already there.

    Idempotent, so a resumed run or a retried write never duplicates a line. A file whose last
    line is torn is refused, never glued onto. Returns whether a line was written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = rec.to_json()
    if path.exists() and path.stat().st_size:
        check_appendable(path)
        want = key(json.loads(line))
        if any(key(r.__dict__) == want for r in read_records([path])):
            return False
    with open(path, "a", encoding="utf-8") as f:
        f.write(line[: len(line) // 2])
        f.flush()
        faults.point("append")  # the tests' kill -9 in mid-line
        f.write(line[len(line) // 2:] + "\n")
        f.flush()
        os.fsync(f.fileno())
    return True


def _parse_jsonl(p: Path, text: str) -> list[Any]:
    items = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as e:
            torn = " (a torn line: an interrupted write)" if i == text.count("\n") + 1 else ""
            raise GanbenchError(f"{p}: not valid JSON/JSONL ({e.msg} at line {i}{torn})") from None
    return items


def read_records(paths: Iterable[str | Path]) -> list[ResultRecord]:
    """Read records from JSONL files, JSON lists, or run directories (their records.jsonl).

    A record repeated (a resumed run re-evaluating a step) keeps its last occurrence.
    """
    out: dict[tuple, ResultRecord] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            p = RunLayout(p).records  # a run's or a suite's: the same name
        if not p.exists():
            raise GanbenchError(f"no records at {p}")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise GanbenchError(f"{p}: cannot read records ({e})") from None
        if text.lstrip().startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as e:
                raise GanbenchError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
        else:
            items = _parse_jsonl(p, text)
        for d in items:
            if not isinstance(d, dict):
                raise GanbenchError(f"{p}: expected JSON objects, got {type(d).__name__}")
            r = ResultRecord.from_dict(d)
            out[r.key()] = r
    return list(out.values())


@functools.lru_cache(maxsize=1)
def _git_sha() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(**extra: Any) -> dict[str, Any]:
    """Who computed a record, where and with what: enough to reproduce or distrust it."""
    import numpy
    import torch

    dev = "cuda:" + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    p = {
        "ganbench": __version__,
        "git_sha": _git_sha(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "device": dev,
        "host_cpus": os.cpu_count(),
        "time_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    p.update(extra)
    return p


def finite_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Floats for JSON; NaN/inf become None so the JSONL stays standard JSON."""
    out: dict[str, float | None] = {}
    for k, v in metrics.items():
        v = float(v) if v is not None else None
        out[k] = v if v is not None and math.isfinite(v) else None
    return out


def run_records(layout: RunLayout) -> list[ResultRecord]:
    """One run's records (none yet: an empty list)."""
    return read_records([layout.records]) if layout.records.exists() else []


def write_summary(out: str | os.PathLike, records: Iterable[ResultRecord]) -> None:
    """A suite's summary records file (``<out>/records.jsonl``), rebuilt from ``records`` (atomic)."""
    from ganbench.io import atomic_write_text

    atomic_write_text(SuiteLayout(Path(out)).records, "".join(r.to_json() + "\n" for r in records))


def repair_run_records(out: str | os.PathLike) -> list[str]:
    """Cut torn last lines (a kill during an append) from every per-run records file; say what was cut."""
    notes = []
    for p in SuiteLayout(Path(out)).run_record_files():
        cut = cut_torn_tail(p)
        if cut:
            notes.append(f"{p}: cut a torn last line (line {cut[0]}, {cut[1]} bytes) left by an interrupted write")
    return notes


def collect_run_records(out: str | os.PathLike) -> list[ResultRecord]:
    """Every per-run record under a suite's ``out`` directory: the one source its summaries are rebuilt from."""
    files = SuiteLayout(Path(out)).run_record_files()
    return read_records(files) if files else []
