"""ResultRecord: one JSON line per (model, dataset, seed, step), with its protocol and provenance."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import math
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ganbench import __version__
from ganbench.errors import GanbenchError

SCHEMA_VERSION = 1


@dataclass
class ResultRecord:
    model: str
    dataset: str
    seed: int
    step: int
    metrics: dict[str, float]
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
    def from_dict(cls, d: dict[str, Any]) -> "ResultRecord":
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


def append_record(path: str | Path, rec: ResultRecord) -> None:
    """Append one line and flush, so a crash later loses nothing already computed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(rec.to_json() + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_records(paths: Iterable[str | Path]) -> list[ResultRecord]:
    """Read records from JSONL files, JSON lists, or run directories (their records.jsonl).

    A record repeated (a resumed run re-evaluating a step) keeps its last occurrence.
    """
    out: dict[tuple, ResultRecord] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            p = p / "records.jsonl"
        if not p.exists():
            raise GanbenchError(f"no records at {p}")
        text = p.read_text(encoding="utf-8")
        try:
            if text.lstrip().startswith("["):
                items = json.loads(text)
            else:
                items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            raise GanbenchError(f"{p}: not valid JSON/JSONL ({e.msg} at line {e.lineno})") from None
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
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    p.update(extra)
    return p


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def finite_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Floats for JSON; NaN/inf become None so the JSONL stays standard JSON."""
    out: dict[str, float | None] = {}
    for k, v in metrics.items():
        v = float(v) if v is not None else None
        out[k] = v if v is not None and math.isfinite(v) else None
    return out
