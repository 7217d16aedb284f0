"""Tables from records with pandas: mean +- std over seeds at each run's final step."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ganbench.records import ResultRecord

# Metrics shown first when present, in this order; anything else follows alphabetically.
PREFERRED = ("modes", "hq_share", "reverse_kl", "fid", "kid", "is", "precision", "recall", "density", "coverage")


def records_frame(records: Iterable[ResultRecord]) -> pd.DataFrame:
    """One row per (record, metric) with the record's identity columns."""
    rows = [{"kind": r.kind, "model": r.model, "dataset": r.dataset, "seed": r.seed, "step": r.step,
             "metric": k, "value": np.nan if v is None else float(v)}
            for r in records for k, v in r.metrics.items()]
    return pd.DataFrame(rows, columns=["kind", "model", "dataset", "seed", "step", "metric", "value"])


def final_frame(records: Iterable[ResultRecord]) -> pd.DataFrame:
    """Only each (model, dataset, seed)'s last evaluated step."""
    df = records_frame(records)
    if df.empty:
        return df
    last = df.groupby(["kind", "model", "dataset", "seed"])["step"].transform("max")
    return df[df["step"] == last]


def summary(records: Iterable[ResultRecord], metrics: list[str] | None = None) -> pd.DataFrame:
    """mean, std (ddof=1) and seed count per (model, dataset, metric) at the final step."""
    df = final_frame(records)
    if metrics:
        df = df[df["metric"].isin(metrics)]
    df = df[~df["metric"].str.startswith("train_")]
    g = df.groupby(["model", "dataset", "metric"], sort=False)["value"]
    out = g.agg(mean="mean", std="std", n_seeds="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def metric_order(names: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    return [m for m in PREFERRED if m in names] + sorted(m for m in names if m not in PREFERRED)


def _fmt(mean: float, std: float, n: int) -> str:
    if np.isnan(mean):
        return "n/a"
    digits = 1 if abs(mean) >= 10 else 3 if abs(mean) < 1 else 2
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def wide_table(records: Iterable[ResultRecord], metrics: list[str] | None = None) -> pd.DataFrame:
    """Models as rows, (dataset, metric) as columns, cells "mean ± std" over seeds."""
    s = summary(records, metrics)
    if s.empty:
        return pd.DataFrame()
    s["cell"] = [_fmt(m, sd, n) for m, sd, n in zip(s["mean"], s["std"], s["n_seeds"])]
    wide = s.pivot(index="model", columns=["dataset", "metric"], values="cell")
    datasets = list(dict.fromkeys(s["dataset"]))
    order = [(d, m) for d in datasets for m in metric_order(s["metric"]) if (d, m) in wide.columns]
    models = list(dict.fromkeys(s["model"]))
    return wide.reindex(index=models, columns=pd.MultiIndex.from_tuples(order)).fillna("")


def markdown_table(records: Iterable[ResultRecord], metrics: list[str] | None = None) -> str:
    wide = wide_table(list(records), metrics)
    if wide.empty:
        return "(no records)"
    flat = wide.copy()
    flat.columns = [f"{d} {m}" for d, m in wide.columns]
    return flat.to_markdown()
